"""The real kubectl applies a Metal3-style registration (a Secret with username/password and a
metal3.io/v1alpha1 BareMetalHost naming it, as in the course material) against the embedded
API: the type is namespaced, found by its short name, shows Metal3's columns, prunes what it
does not know, refuses what its schema does not allow, and takes status through the status
subresource."""

import json

from kubectl_output import table
from kubelab import write_manifest
from metal3 import course_bmh_manifest

HOST = course_bmh_manifest()


def apply_host(cluster):
    cluster.kubectl("create", "namespace", "metal3")
    return cluster.kubectl("apply", "-f", "-", input=HOST)


def test_apply_the_course_manifest_and_get_bmh(cluster):
    out = apply_host(cluster).stdout
    assert "secret/worker-0-bmc-secret created" in out and "baremetalhost.metal3.io/worker-0 created" in out, out
    rows = table(cluster.kubectl("get", "bmh", "-n", "metal3").stdout)
    assert list(rows[0]) == ["NAME", "STATE", "CONSUMER", "ONLINE", "ERROR", "AGE"], rows
    assert (rows[0]["NAME"], rows[0]["ONLINE"]) == ("worker-0", "true"), rows
    wide = table(cluster.kubectl("get", "baremetalhosts", "-n", "metal3", "-o", "wide").stdout)[0]
    assert wide["BMC"] == "ipmi://10.0.100.10" and "STATUS" in wide, wide
    # Namespaced: not in default, and the object carries its namespace.
    r = cluster.kubectl("get", "bmh", check=False)
    assert r.returncode == 0 and r.stdout.strip() == "" and "No resources found" in r.stderr, (r.stdout, r.stderr)
    obj = json.loads(cluster.kubectl("get", "bmh", "worker-0", "-n", "metal3", "-o", "json").stdout)
    assert obj["metadata"]["namespace"] == "metal3"
    assert obj["spec"]["rootDeviceHints"] == {"deviceName": "/dev/sda", "minSizeGigabytes": 100}
    # Applying the same manifest again changes nothing.
    again = cluster.kubectl("apply", "-f", "-", input=HOST).stdout
    assert "baremetalhost.metal3.io/worker-0 unchanged" in again, again


def test_status_subresource_fills_state_and_error_columns(cluster):
    apply_host(cluster)
    status = {"status": {"operationalStatus": "error", "errorType": "registration error",
                         "errorMessage": "BMC: AuthFailed: RAKP 2: unauthorized name", "poweredOn": False,
                         "provisioning": {"state": "registering"}}}
    cluster.kubectl("patch", "bmh", "worker-0", "-n", "metal3", "--subresource", "status", "--type", "merge",
                    "-p", json.dumps(status))
    row = table(cluster.kubectl("get", "bmh", "-n", "metal3").stdout)[0]
    assert (row["STATE"], row["ERROR"]) == ("registering", "registration error"), row
    # A spec write does not touch status, and the schema refuses an unknown state.
    r = cluster.kubectl("patch", "bmh", "worker-0", "-n", "metal3", "--subresource", "status", "--type", "merge",
                        "-p", '{"status":{"provisioning":{"state":"sleeping"}}}', check=False)
    assert r.returncode != 0 and "state" in r.stderr, r.stderr


def test_schema_refuses_and_prunes(cluster):
    cluster.kubectl("create", "namespace", "metal3")
    bad = {"apiVersion": "metal3.io/v1alpha1", "kind": "BareMetalHost", "metadata": {"name": "w1", "namespace": "metal3"},
           "spec": {"online": "yes", "bmc": {"address": "ipmi://h"}}}
    r = cluster.kubectl("create", "-f", write_manifest(bad), check=False)
    assert r.returncode != 0 and "spec.online" in r.stderr and "credentialsName" in r.stderr, r.stderr
    extra = {"apiVersion": "metal3.io/v1alpha1", "kind": "BareMetalHost", "metadata": {"name": "w2", "namespace": "metal3"},
             "spec": {"online": False, "bmc": {"address": "redfish://10.0.0.9/redfish/v1/Systems/1",
                                               "credentialsName": "s"}, "firmware": {"sriovEnabled": False}}}
    cluster.kubectl("create", "-f", write_manifest(extra), "--validate=false")
    obj = json.loads(cluster.kubectl("get", "bmh", "w2", "-n", "metal3", "-o", "json").stdout)
    assert "firmware" not in obj["spec"] and obj["spec"]["online"] is False, obj


def test_explain(cluster):
    for path, kind in (("baremetalhosts.spec.bmc.credentialsName", "string"), ("bmh.spec.online", "boolean"),
                       ("bmh.status.provisioning.state", "string"), ("bmh.spec.rootDeviceHints.minSizeGigabytes",
                                                                      "integer")):
        out = cluster.kubectl("explain", path).stdout
        assert f"<{kind}>" in out, out
