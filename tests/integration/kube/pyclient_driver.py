"""Scenarios run with the official Kubernetes Python client (Debian's python3-kubernetes)
against the embedded API. Run inside the lab's network namespace:
    python3 pyclient_driver.py KUBECONFIG SCENARIO
prints one JSON document with what the client saw. The client is a second real peer with
its own idea of the protocol: whatever it cannot do is a bug of ours."""

import json
import sys
import threading
import time

from kubernetes import client, config, dynamic, watch
from kubernetes.client.rest import ApiException

GROUP, VERSION = "metal.sidero.dev", "v1alpha2"


def server(name, hostname="node-1", accepted=False):
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Server", "metadata": {"name": name},
            "spec": {"accepted": accepted, "hostname": hostname}}


def error(e):
    body = {}
    try:
        body = json.loads(e.body)
    except (TypeError, ValueError):
        pass
    return {"status": e.status, "reason": body.get("reason"), "message": body.get("message")}


def custom_objects(api_client):
    api = client.CustomObjectsApi(api_client)
    name = "7d3e9a10-0000-4000-8000-000000000001"
    created = api.create_cluster_custom_object(GROUP, VERSION, "servers", server(name))
    listed = api.list_cluster_custom_object(GROUP, VERSION, "servers")
    patched = api.patch_cluster_custom_object(GROUP, VERSION, "servers", name, {"spec": {"accepted": True}})
    status = api.patch_cluster_custom_object_status(GROUP, VERSION, "servers", name,
                                                    {"status": {"ready": True, "power": "on"}})
    got = api.get_cluster_custom_object(GROUP, VERSION, "servers", name)
    try:
        api.create_cluster_custom_object(GROUP, VERSION, "servers", server(name))
        duplicate = None
    except ApiException as e:
        duplicate = error(e)
    deleted = api.delete_cluster_custom_object(GROUP, VERSION, "servers", name)
    try:
        api.get_cluster_custom_object(GROUP, VERSION, "servers", name)
        after_delete = None
    except ApiException as e:
        after_delete = error(e)
    return {
        "created_rv": created["metadata"].get("resourceVersion"),
        "listed": [i["metadata"]["name"] for i in listed["items"]],
        "list_rv": listed["metadata"].get("resourceVersion"),
        "patched_accepted": patched["spec"]["accepted"],
        "patched_generation": patched["metadata"]["generation"],
        "status": status.get("status"),
        "status_generation": status["metadata"]["generation"],
        "got_spec": got["spec"],
        "duplicate": duplicate,
        "deleted_status": deleted.get("status"),
        "after_delete": after_delete,
    }


def watch_servers(api_client):
    """The case from the bug report: watch=True with a resourceVersion sees every change."""
    api = client.CustomObjectsApi(api_client)
    name = "7d3e9a10-0000-4000-8000-000000000002"
    rv = api.list_cluster_custom_object(GROUP, VERSION, "servers")["metadata"]["resourceVersion"]
    seen = []
    ready = threading.Event()

    def run():
        w = watch.Watch()
        ready.set()
        for ev in w.stream(api.list_cluster_custom_object, GROUP, VERSION, "servers",
                           resource_version=rv, timeout_seconds=20):
            seen.append({"type": ev["type"], "name": ev["object"]["metadata"]["name"],
                         "accepted": ev["object"].get("spec", {}).get("accepted"),
                         "rv": ev["object"]["metadata"]["resourceVersion"]})
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    ready.wait()
    time.sleep(0.5)
    api.create_cluster_custom_object(GROUP, VERSION, "servers", server(name))
    api.patch_cluster_custom_object(GROUP, VERSION, "servers", name, {"spec": {"accepted": True}})
    api.delete_cluster_custom_object(GROUP, VERSION, "servers", name)
    t.join(25)
    return {"events": seen, "start_rv": rv}


def dynamic_client(api_client):
    dyn = dynamic.DynamicClient(api_client)
    servers = dyn.resources.get(api_version=f"{GROUP}/{VERSION}", kind="Server")
    name = "7d3e9a10-0000-4000-8000-000000000003"
    servers.create(body=server(name, hostname="dyn-1"))
    got = servers.get(name=name)
    listed = servers.get()
    patched = servers.patch(name=name, body={"metadata": {"labels": {"rack": "a"}}},
                            content_type="application/merge-patch+json")
    selected = servers.get(label_selector="rack=a")
    servers.delete(name=name)
    return {"hostname": got.spec.hostname, "listed": [i.metadata.name for i in listed.items],
            "labels": dict(patched.metadata.labels), "selected": [i.metadata.name for i in selected.items],
            "scope_namespaced": servers.namespaced}


def secrets(api_client):
    core = client.CoreV1Api(api_client)
    ns = "ironboot-system"
    body = client.V1Secret(metadata=client.V1ObjectMeta(name="bmc-py"), string_data={"username": "admin"},
                           data={"password": "czNjcjN0"}, type="Opaque")
    created = core.create_namespaced_secret(ns, body)
    got = core.read_namespaced_secret("bmc-py", ns)
    patched = core.patch_namespaced_secret("bmc-py", ns, {"metadata": {"labels": {"bmc": "yes"}}})
    listed = core.list_namespaced_secret(ns, label_selector="bmc=yes")
    everywhere = core.list_secret_for_all_namespaces()
    core.delete_namespaced_secret("bmc-py", ns)
    try:
        core.read_namespaced_secret("bmc-py", ns)
        after_delete = None
    except ApiException as e:
        after_delete = error(e)
    return {"created_data": created.data, "string_data": got.string_data, "got_data": got.data, "type": got.type,
            "namespace": got.metadata.namespace, "patched_labels": patched.metadata.labels,
            "listed": [s.metadata.name for s in listed.items],
            "everywhere": [f"{s.metadata.namespace}/{s.metadata.name}" for s in everywhere.items],
            "after_delete": after_delete}


def events(api_client):
    core = client.CoreV1Api(api_client)
    ref = client.V1ObjectReference(api_version=f"{GROUP}/{VERSION}", kind="Server", name="py-server",
                                   uid="0b4d5d7e-1c2b-4c3d-9e8f-000000000001")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    # With eventTime set (new-style, as client-go's events recorder writes them): this client
    # cannot read an events.k8s.io/v1 Event whose eventTime is null (it insists on one), which
    # a real apiserver returns for old-style core/v1 Events too.
    ev = client.CoreV1Event(metadata=client.V1ObjectMeta(name="py-server.1"), involved_object=ref, reason="Registered",
                            message="registered by a test", type="Normal", count=1,
                            first_timestamp=now, last_timestamp=now,
                            event_time=time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime()),
                            action="Register", reporting_component="pytest", reporting_instance="pytest-1",
                            source=client.V1EventSource(component="pytest"))
    core.create_namespaced_event("default", ev)
    listed = core.list_namespaced_event("default", field_selector="involvedObject.name=py-server")
    core.patch_namespaced_event("py-server.1", "default", {"count": 2})
    got = core.read_namespaced_event("py-server.1", "default")
    new_api = client.EventsV1Api(api_client)
    as_v1 = new_api.read_namespaced_event("py-server.1", "default")
    return {"listed": [(e.reason, e.involved_object.name) for e in listed.items], "count": got.count,
            "regarding": as_v1.regarding.name, "note": as_v1.note, "deprecated_count": as_v1.deprecated_count}


def leases(api_client):
    coord = client.CoordinationV1Api(api_client)
    ns = "ironboot-system"
    lease = client.V1Lease(metadata=client.V1ObjectMeta(name="py-leader"),
                           spec=client.V1LeaseSpec(holder_identity="a", lease_duration_seconds=15))
    created = coord.create_namespaced_lease(ns, lease)
    created.spec.holder_identity = "b"
    created.spec.lease_transitions = 1
    updated = coord.replace_namespaced_lease("py-leader", ns, created)
    stale = created  # still carries the old resourceVersion
    stale.spec.holder_identity = "c"
    try:
        coord.replace_namespaced_lease("py-leader", ns, stale)
        conflict = None
    except ApiException as e:
        conflict = error(e)
    got = coord.read_namespaced_lease("py-leader", ns)
    return {"holder": got.spec.holder_identity, "transitions": got.spec.lease_transitions,
            "updated_rv_changed": updated.metadata.resource_version != created.metadata.resource_version,
            "conflict": conflict}


SCENARIOS = {f.__name__: f for f in (custom_objects, watch_servers, dynamic_client, secrets, events, leases)}


def main():
    kubeconfig, scenario = sys.argv[1], sys.argv[2]
    api_client = config.new_client_from_config(config_file=kubeconfig)
    print(json.dumps(SCENARIOS[scenario](api_client), default=str))


if __name__ == "__main__":
    main()
