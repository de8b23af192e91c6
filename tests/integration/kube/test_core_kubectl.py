"""The built-in Kubernetes types of the embedded API (namespaces, secrets, configmaps, events,
leases) with the real kubectl, and over raw HTTPS where a check needs the exact wire form."""

import base64
import calendar
import json
import re
import time

from kubectl_output import table
from kubelab import line_reader, server_manifest, write_manifest

UUID = "4c4c4544-0035-4410-8057-b4c04f4a3532"


def api(cluster, method, path, obj=None, content_type="application/json"):
    extra = ["-X", method]
    if obj is not None:
        extra += ["-H", f"Content-Type: {content_type}", "--data-binary", json.dumps(obj)]
    code, body = cluster.curl(path, *extra)
    return code, (json.loads(body) if body.strip() else None)


def event(name, involved, reason="Registered", message="registered by discovery", type_="Normal"):
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name}, "involvedObject": involved,
            "reason": reason, "message": message, "type": type_, "source": {"component": "ironboot"},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1}




def test_initial_namespaces_and_secret_over_https(cluster):
    code, body = api(cluster, "GET", "/api/v1/namespaces")
    assert code == 200
    assert [i["metadata"]["name"] for i in body["items"]] == ["default", "ironboot-system", "kube-public", "kube-system"]
    assert all(i["status"]["phase"] == "Active" for i in body["items"])
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bmc-1"},
              "stringData": {"username": "admin", "password": "s3cret"}}
    code, body = api(cluster, "POST", "/api/v1/namespaces/ironboot-system/secrets", secret)
    assert code == 201, body
    assert body["type"] == "Opaque" and "stringData" not in body
    assert base64.b64decode(body["data"]["password"]) == b"s3cret"
    code, body = api(cluster, "POST", "/api/v1/namespaces/missing/secrets", secret)
    assert (code, body["message"]) == (404, 'namespaces "missing" not found')
    code, body = api(cluster, "POST", "/api/v1/namespaces/ironboot-system/secrets",
                     {**secret, "metadata": {"name": "bad"}, "data": {"k": "***"}})
    assert code == 422 and body["details"]["causes"][0]["field"] == "data[k]"
    # Durable like any write: still there after a restart, and the namespaces are not re-created.
    cluster.restart()
    code, body = api(cluster, "GET", "/api/v1/namespaces/ironboot-system/secrets/bmc-1")
    assert code == 200 and base64.b64decode(body["data"]["username"]) == b"admin"
    code, body = api(cluster, "GET", "/api/v1/namespaces/default")
    assert code == 200


def micro_time(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def test_lease_taken_over_after_expiry_and_stale_holder_refused(cluster):
    """Leader election as client-go's leaderelection does it: node-a holds a 2 s lease and
    stops renewing; node-b sees it expired, takes it over with the resourceVersion it read;
    node-a, waking up with its old resourceVersion, is refused (409) and learns it lost."""
    leases = "/apis/coordination.k8s.io/v1/namespaces/ironboot-system/leases"
    now = time.time()
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "ironboot-leader"},
             "spec": {"holderIdentity": "node-a", "leaseDurationSeconds": 2, "acquireTime": micro_time(now),
                      "renewTime": micro_time(now), "leaseTransitions": 0}}
    code, held = api(cluster, "POST", leases, lease)
    assert code == 201, held
    time.sleep(2.2)
    code, seen = api(cluster, "GET", f"{leases}/ironboot-leader")
    renew = calendar.timegm(time.strptime(seen["spec"]["renewTime"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert renew + seen["spec"]["leaseDurationSeconds"] < time.time(), "node-b sees the lease expired"
    takeover = json.loads(json.dumps(seen))
    takeover["spec"].update({"holderIdentity": "node-b", "acquireTime": micro_time(time.time()),
                             "renewTime": micro_time(time.time()), "leaseTransitions": 1})
    code, body = api(cluster, "PUT", f"{leases}/ironboot-leader", takeover)
    assert code == 200 and body["spec"]["holderIdentity"] == "node-b" and body["spec"]["leaseTransitions"] == 1
    late = json.loads(json.dumps(held))  # node-a's renewal, from the resourceVersion it created
    late["spec"]["renewTime"] = micro_time(time.time())
    code, body = api(cluster, "PUT", f"{leases}/ironboot-leader", late)
    assert code == 409 and body["reason"] == "Conflict", body
    code, body = api(cluster, "GET", f"{leases}/ironboot-leader")
    assert body["spec"]["holderIdentity"] == "node-b"


def test_kubectl_create_secret_and_read_back(cluster):
    # `kubectl create secret|configmap` send protobuf bodies (typed client); `get` needs
    # core/v1 in discovery.
    r = cluster.kubectl("create", "secret", "generic", "bmc-1", "-n", "ironboot-system",
                        "--from-literal=username=admin", "--from-literal=password=hunter2")
    assert r.stdout.strip() == "secret/bmc-1 created"
    r = cluster.kubectl("get", "secret", "bmc-1", "-n", "ironboot-system", "-o", "jsonpath={.data.password}")
    assert base64.b64decode(r.stdout) == b"hunter2"
    rows = table(cluster.kubectl("get", "secrets", "-n", "ironboot-system").stdout)
    assert list(rows[0]) == ["NAME", "TYPE", "DATA", "AGE"]
    assert (rows[0]["NAME"], rows[0]["TYPE"], rows[0]["DATA"]) == ("bmc-1", "Opaque", "2")
    r = cluster.kubectl("create", "configmap", "boot", "-n", "ironboot-system", "--from-literal=a=1", "--from-literal=b=2")
    assert r.stdout.strip() == "configmap/boot created"
    rows = table(cluster.kubectl("get", "configmaps", "-n", "ironboot-system").stdout)
    assert (rows[0]["NAME"], rows[0]["DATA"]) == ("boot", "2")
    r = cluster.kubectl("get", "configmap", "boot", "-n", "ironboot-system", "-o", "jsonpath={.data.a}{.data.b}")
    assert r.stdout == "12"


def test_kubectl_create_namespace_and_typed_creates_in_it(cluster):
    # Protobuf bodies too (decoded by src/kube/kube_protobuf.cpp): the namespace gets the
    # name label, the kubernetes finalizer and phase Active like any other.
    r = cluster.kubectl("create", "namespace", "team-a")
    assert r.stdout.strip() == "namespace/team-a created"
    ns = json.loads(cluster.kubectl("get", "ns", "team-a", "-o", "json").stdout)
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    assert ns["spec"] == {"finalizers": ["kubernetes"]} and ns["status"] == {"phase": "Active"}
    r = cluster.kubectl("create", "configmap", "cfg", "-n", "team-a", "--from-literal=k=v w")
    assert r.stdout.strip() == "configmap/cfg created"
    r = cluster.kubectl("create", "secret", "generic", "tok", "-n", "team-a", "--type=example.com/token",
                        "--from-literal=t=\u00e9")
    assert r.stdout.strip() == "secret/tok created"
    cm = json.loads(cluster.kubectl("get", "configmap", "cfg", "-n", "team-a", "-o", "json").stdout)
    assert cm["data"] == {"k": "v w"} and cm["metadata"]["namespace"] == "team-a"
    secret = json.loads(cluster.kubectl("get", "secret", "tok", "-n", "team-a", "-o", "json").stdout)
    assert secret["type"] == "example.com/token"
    assert base64.b64decode(secret["data"]["t"]) == "\u00e9".encode()
    r = cluster.kubectl("create", "namespace", "team-a", check=False)
    assert r.returncode != 0 and 'namespaces "team-a" already exists' in r.stderr


def test_kubectl_namespaces_and_delete(cluster):
    rows = table(cluster.kubectl("get", "ns").stdout)
    assert [r["NAME"] for r in rows] == ["default", "ironboot-system", "kube-public", "kube-system"]
    assert list(rows[0]) == ["NAME", "STATUS", "AGE"] and rows[0]["STATUS"] == "Active"
    code, _ = api(cluster, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                          "metadata": {"name": "scratch"}})
    assert code == 201
    code, _ = api(cluster, "POST", "/api/v1/namespaces/scratch/secrets",
                  {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": "b"}})
    assert code == 201
    r = cluster.kubectl("delete", "ns", "scratch", timeout=30)
    assert r.stdout.strip() == 'namespace "scratch" deleted'
    r = cluster.kubectl("get", "ns", "scratch", check=False)
    assert r.returncode != 0 and 'namespaces "scratch" not found' in r.stderr
    code, _ = api(cluster, "GET", "/api/v1/namespaces/scratch/secrets/s")
    assert code == 404
    r = cluster.kubectl("delete", "ns", "default", check=False)
    assert r.returncode != 0 and "this namespace may not be deleted" in r.stderr


def test_kubectl_events_all_namespaces_and_watch(cluster):
    involved = {"kind": "Server", "apiVersion": "metal.sidero.dev/v1alpha2", "name": UUID}
    code, body = api(cluster, "POST", "/api/v1/namespaces/default/events", event("e1", involved))
    assert code == 201, body
    rows = table(cluster.kubectl("get", "events", "-A").stdout)
    assert list(rows[0]) == ["NAMESPACE", "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert (rows[0]["NAMESPACE"], rows[0]["TYPE"], rows[0]["REASON"], rows[0]["OBJECT"]) == \
        ("default", "Normal", "Registered", f"server/{UUID}")
    proc = cluster.kubectl_popen("get", "events", "-w")
    read_line = line_reader(proc)
    try:
        assert read_line().split()[:2] == ["LAST", "SEEN"]
        assert "Registered" in read_line()
        api(cluster, "POST", "/api/v1/namespaces/default/events",
            event("e2", involved, reason="PoweredOn", message="power on", type_="Warning"))
        line = read_line()
        assert "PoweredOn" in line and "Warning" in line
    finally:
        proc.kill()
        proc.wait()
    # The same events through events.k8s.io/v1.
    code, body = api(cluster, "GET", "/apis/events.k8s.io/v1/namespaces/default/events")
    assert code == 200 and sorted(i["note"] for i in body["items"]) == ["power on", "registered by discovery"]


def test_kubectl_describe_server_shows_its_events(cluster):
    r = cluster.kubectl("create", "-f", write_manifest(server_manifest(UUID, hostname="node-7")))
    assert "created" in r.stdout
    server = json.loads(cluster.kubectl("get", "server", UUID, "-o", "json").stdout)
    involved = {"kind": "Server", "apiVersion": "metal.sidero.dev/v1alpha2", "name": UUID,
                "uid": server["metadata"]["uid"]}
    for name, reason, message in [("d1", "Discovered", "hardware inventory received"),
                                  ("d2", "Accepted", "accepted by auto_accept")]:
        code, body = api(cluster, "POST", "/api/v1/namespaces/default/events", event(name, involved, reason, message))
        assert code == 201, body
    # An event about another object with the same name but another uid is not shown.
    api(cluster, "POST", "/api/v1/namespaces/default/events",
        event("other", {**involved, "uid": "00000000-0000-0000-0000-000000000000"}, "Stale", "not this one"))
    d = cluster.kubectl("describe", "server", UUID).stdout
    events = d[d.index("Events:"):]
    assert re.search(r"Normal\s+Discovered\s+\S+\s+ironboot\s+hardware inventory received", events), events
    assert "accepted by auto_accept" in events
    assert "not this one" not in events


def test_kubectl_leases(cluster):
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "ironboot-leader", "namespace": "ironboot-system"},
             "spec": {"holderIdentity": "node-a", "leaseDurationSeconds": 15}}
    r = cluster.kubectl("create", "-f", write_manifest(lease))
    assert r.stdout.strip() == "lease.coordination.k8s.io/ironboot-leader created"
    rows = table(cluster.kubectl("get", "leases", "-n", "ironboot-system").stdout)
    assert list(rows[0]) == ["NAME", "HOLDER", "AGE"]
    assert (rows[0]["NAME"], rows[0]["HOLDER"]) == ("ironboot-leader", "node-a")
    r = cluster.kubectl("patch", "lease", "ironboot-leader", "-n", "ironboot-system", "--type", "merge",
                        "-p", '{"spec":{"holderIdentity":"node-b"}}')
    assert "patched" in r.stdout
    stale = {**lease, "metadata": {**lease["metadata"], "resourceVersion": "1"}}
    r = cluster.kubectl("replace", "-f", write_manifest(stale), check=False)
    assert r.returncode != 0 and "the object has been modified" in r.stderr


def test_namespace_defaults_from_the_kubeconfig_context(cluster):
    # kubectl takes the namespace of its current context when -n is not given.
    cluster.kubectl("config", "set-context", "--current", "--namespace=ironboot-system")
    try:
        r = cluster.kubectl("create", "configmap", "ctx-default", "--from-literal=a=1")
        assert r.stdout.strip() == "configmap/ctx-default created"
        code, body = api(cluster, "GET", "/api/v1/namespaces/ironboot-system/configmaps/ctx-default")
        assert code == 200 and body["metadata"]["namespace"] == "ironboot-system"
        rows = table(cluster.kubectl("get", "configmaps").stdout)
        assert [r["NAME"] for r in rows] == ["ctx-default"]
        rows = table(cluster.kubectl("get", "configmaps", "-A").stdout)
        assert ("ironboot-system", "ctx-default") in [(r["NAMESPACE"], r["NAME"]) for r in rows]
    finally:
        cluster.kubectl("config", "set-context", "--current", "--namespace=")
