"""The official Python client (python3-kubernetes) against the embedded API: list, watch
(watch=True, as that client sends it), patch, status patch, delete, the dynamic client,
CoreV1 secrets and events, CoordinationV1 leases."""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "pyclient_driver.py")


def run(cluster, scenario):
    r = cluster.host.run(["/usr/bin/python3", DRIVER, cluster.kubectl_runner.kubeconfig, scenario],
                         check=False, timeout=90)
    assert r.returncode == 0, f"{scenario} failed:\n{r.stdout}\n{r.stderr}\n--- log ---\n{cluster.daemon.read_log()[-3000:]}"
    return json.loads(r.stdout)


def test_custom_objects_crud(cluster):
    r = run(cluster, "custom_objects")
    name = "7d3e9a10-0000-4000-8000-000000000001"
    assert name in r["listed"]
    assert int(r["list_rv"]) >= int(r["created_rv"])
    assert r["patched_accepted"] is True and r["patched_generation"] == 2
    assert r["status"] == {"ready": True, "power": "on"}
    assert r["status_generation"] == 2  # a status write leaves generation alone
    assert r["got_spec"]["accepted"] is True and r["got_spec"]["hostname"] == "node-1"
    assert r["duplicate"]["status"] == 409 and r["duplicate"]["reason"] == "AlreadyExists"
    assert r["deleted_status"] == "Success"
    assert r["after_delete"]["status"] == 404 and r["after_delete"]["reason"] == "NotFound"


def test_watch_true_sees_added_modified_deleted(cluster):
    r = run(cluster, "watch_servers")
    types = [e["type"] for e in r["events"]]
    assert types == ["ADDED", "MODIFIED", "DELETED"], r
    assert r["events"][1]["accepted"] is True
    rvs = [int(e["rv"]) for e in r["events"]]
    assert rvs == sorted(rvs) and rvs[0] > int(r["start_rv"])


def test_dynamic_client(cluster):
    r = run(cluster, "dynamic_client")
    name = "7d3e9a10-0000-4000-8000-000000000003"
    assert r["hostname"] == "dyn-1"
    assert name in r["listed"]
    assert r["labels"] == {"rack": "a"}
    assert r["selected"] == [name]
    assert r["scope_namespaced"] is False


def test_core_v1_secrets(cluster):
    r = run(cluster, "secrets")
    # stringData is folded into data on write and never returned.
    assert r["created_data"] == {"password": "czNjcjN0", "username": "YWRtaW4="}
    assert r["got_data"] == r["created_data"] and r["string_data"] is None
    assert r["type"] == "Opaque" and r["namespace"] == "ironboot-system"
    assert r["patched_labels"] == {"bmc": "yes"}
    assert r["listed"] == ["bmc-py"]
    assert "ironboot-system/bmc-py" in r["everywhere"]
    assert r["after_delete"]["status"] == 404


def test_core_v1_events_in_both_shapes(cluster):
    r = run(cluster, "events")
    assert r["listed"] == [["Registered", "py-server"]]
    assert r["count"] == 2
    assert r["regarding"] == "py-server" and r["note"] == "registered by a test" and r["deprecated_count"] == 2


def test_coordination_v1_leases(cluster):
    r = run(cluster, "leases")
    assert r["holder"] == "b" and r["transitions"] == 1 and r["updated_rv_changed"]
    assert r["conflict"]["status"] == 409 and r["conflict"]["reason"] == "Conflict"
