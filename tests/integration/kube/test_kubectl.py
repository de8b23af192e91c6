"""The real kubectl against the embedded API: every command operators use, with the output checked."""

import json
import re
import time

from kubectl_output import table
from kubelab import line_reader, server_manifest, write_manifest

UUID = "4c4c4544-0035-4410-8057-b4c04f4a3532"
UUID2 = "b5a0d4a2-1111-4a5b-9c3d-000000000002"
UUID3 = "b5a0d4a2-1111-4a5b-9c3d-000000000003"




def create(cluster, obj):
    r = cluster.kubectl("create", "-f", write_manifest(obj))
    assert r.stdout.strip() == f"server.metal.sidero.dev/{obj['metadata']['name']} created"


def test_discovery_and_empty_list(cluster):
    r = cluster.kubectl("get", "servers")
    assert "No resources found" in r.stderr
    r = cluster.kubectl("api-resources", "--api-group=metal.sidero.dev", "-o", "name")
    assert set(r.stdout.split()) == {"servers.metal.sidero.dev", "serverclasses.metal.sidero.dev",
                                     "environments.metal.sidero.dev"}
    code, body = cluster.curl("/version")
    assert code == 200 and json.loads(body)["minor"] == "32"


def test_unauthorized_without_token(cluster):
    code, body = cluster.curl("/apis/metal.sidero.dev/v1alpha2/servers", token=False)
    assert code == 401
    assert json.loads(body)["reason"] == "Unauthorized"
    code, _ = cluster.curl("/apis/metal.sidero.dev/v1alpha2/servers", "-H", "Authorization: Bearer wrong", token=False)
    assert code == 401


def test_get_table_patch_accept_verbatim(cluster):
    create(cluster, server_manifest(UUID, hostname="rack1-u12"))
    # The command from the course material, verbatim: -n is ignored for cluster-scoped kinds.
    r = cluster.kubectl("get", "servers", "-n", "sidero-system")
    rows = table(r.stdout)
    assert list(rows[0]) == ["NAME", "HOSTNAME", "BMC", "STATE", "ACCEPTED", "CORDONED", "ALLOCATED", "CLEAN", "POWER",
                             "AGE"]
    assert len(rows) == 1
    row = rows[0]
    assert (row["NAME"], row["HOSTNAME"], row["ACCEPTED"]) == (UUID, "rack1-u12", "false")
    assert row["CORDONED"] == row["ALLOCATED"] == row["CLEAN"] == row["POWER"] == ""
    assert re.fullmatch(r"\d+s", row["AGE"])

    r = cluster.kubectl("patch", "server", UUID, "--type", "merge", "-p", '{"spec":{"accepted": true}}')
    assert r.stdout.strip() == f"server.metal.sidero.dev/{UUID} patched"
    r = cluster.kubectl("patch", "server", UUID, "--type", "merge", "-p", '{"spec":{"accepted": true}}')
    assert r.stdout.strip() == f"server.metal.sidero.dev/{UUID} patched (no change)"
    obj = json.loads(cluster.kubectl("get", "server", UUID, "-o", "json").stdout)
    assert obj["spec"]["accepted"] is True
    assert obj["metadata"]["generation"] == 2
    assert re.fullmatch(r"[0-9a-f-]{36}", obj["metadata"]["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", obj["metadata"]["creationTimestamp"])

    wide = table(cluster.kubectl("get", "servers", "-o", "wide").stdout)
    assert wide[0]["BMC"] == "10.0.0.5" and wide[0]["ACCEPTED"] == "true"
    assert cluster.kubectl("get", "servers", "-o", "name").stdout.strip() == f"server.metal.sidero.dev/{UUID}"
    y = cluster.kubectl("get", "server", UUID, "-o", "yaml").stdout
    assert "kind: Server" in y and "accepted: true" in y and "productName: PowerEdge R640" in y


def test_selectors_labels_chunks(cluster):
    create(cluster, server_manifest(UUID, labels={"rack": "a"}))
    create(cluster, server_manifest(UUID2, labels={"rack": "b"}))
    create(cluster, server_manifest(UUID3))
    assert cluster.kubectl("get", "servers", "-l", "rack=a", "-o", "name").stdout.split() == [f"server.metal.sidero.dev/{UUID}"]
    assert cluster.kubectl("get", "servers", "-l", "rack in (a,b)", "-o", "name").stdout.split() == [
        f"server.metal.sidero.dev/{UUID}", f"server.metal.sidero.dev/{UUID2}"]
    assert cluster.kubectl("get", "servers", "-l", "!rack", "-o", "name").stdout.split() == [f"server.metal.sidero.dev/{UUID3}"]
    rows = table(cluster.kubectl("get", "servers", "--show-labels").stdout)
    assert [row["LABELS"] for row in rows] == ["rack=a", "rack=b", "<none>"]
    # Pagination: one object per request, all three listed.
    r = cluster.kubectl("get", "servers", "--chunk-size=1", "-o", "name", "-v=6")
    assert len(r.stdout.split()) == 3
    assert r.stderr.count("limit=1") >= 3 and "continue=" in r.stderr

    assert cluster.kubectl("label", "server", UUID3, "rack=c").stdout.strip() == f"server.metal.sidero.dev/{UUID3} labeled"
    assert cluster.kubectl("get", "servers", "-l", "rack=c", "-o", "name").stdout.split() == [f"server.metal.sidero.dev/{UUID3}"]
    assert cluster.kubectl("label", "server", UUID3, "rack-").stdout.strip() == f"server.metal.sidero.dev/{UUID3} unlabeled"
    assert cluster.kubectl("annotate", "server", UUID3, "note=hello").stdout.strip() == f"server.metal.sidero.dev/{UUID3} annotated"
    obj = json.loads(cluster.kubectl("get", "server", UUID3, "-o", "json").stdout)
    assert obj["metadata"]["annotations"] == {"note": "hello"} and "labels" not in obj["metadata"] or obj["metadata"]["labels"] == {}
    # Label changes are metadata: the generation stays.
    assert obj["metadata"]["generation"] == 1


def test_describe_apply_delete(cluster):
    manifest = server_manifest(UUID, hostname="apply-me")
    path = write_manifest(manifest)
    assert cluster.kubectl("apply", "-f", path).stdout.strip() == f"server.metal.sidero.dev/{UUID} created"
    assert cluster.kubectl("apply", "-f", path).stdout.strip() == f"server.metal.sidero.dev/{UUID} unchanged"
    manifest["spec"]["hostname"] = "renamed"
    assert cluster.kubectl("apply", "-f", write_manifest(manifest)).stdout.strip() == f"server.metal.sidero.dev/{UUID} configured"
    d = cluster.kubectl("describe", "server", UUID).stdout
    assert re.search(r"^Name:\s+" + UUID, d, re.M) and "renamed" in d and "Kind:         Server" in d
    obj = json.loads(cluster.kubectl("get", "server", UUID, "-o", "json").stdout)
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]
    assert cluster.kubectl("delete", "server", UUID).stdout.strip() == f'server.metal.sidero.dev "{UUID}" deleted'
    r = cluster.kubectl("get", "server", UUID, check=False)
    assert r.returncode != 0
    assert f'Error from server (NotFound): servers.metal.sidero.dev "{UUID}" not found' in r.stderr


def test_json_patch_and_status_subresource(cluster):
    create(cluster, server_manifest(UUID))
    r = cluster.kubectl("patch", "server", UUID, "--type", "json", "-p", '[{"op":"replace","path":"/spec/hostname","value":"jp"}]')
    assert "patched" in r.stdout
    # Status in a main-resource patch is ignored; through the subresource it is applied.
    cluster.kubectl("patch", "server", UUID, "--type", "merge", "-p", '{"status":{"power":"on"}}')
    assert "power" not in json.loads(cluster.kubectl("get", "server", UUID, "-o", "json").stdout).get("status", {})
    cluster.kubectl("patch", "server", UUID, "--subresource", "status", "--type", "merge",
                    "-p", '{"status":{"power":"on","isClean":true,"inUse":false}}')
    obj = json.loads(cluster.kubectl("get", "server", UUID, "-o", "json").stdout)
    assert obj["status"] == {"power": "on", "isClean": True, "inUse": False}
    assert obj["spec"]["hostname"] == "jp" and obj["metadata"]["generation"] == 2
    row = table(cluster.kubectl("get", "servers").stdout)[0]
    assert (row["ALLOCATED"], row["CLEAN"], row["POWER"]) == ("false", "true", "on")
    r = cluster.kubectl("patch", "server", UUID, "--type", "json", "-p", '[{"op":"remove","path":"/spec/nothere"}]', check=False)
    assert r.returncode != 0


def test_errors_validation_and_pruning(cluster):
    create(cluster, server_manifest(UUID))
    r = cluster.kubectl("create", "-f", write_manifest(server_manifest(UUID)), check=False)
    assert f'Error from server (AlreadyExists): error when creating' in r.stderr and "already exists" in r.stderr
    r = cluster.kubectl("patch", "server", "missing", "--type", "merge", "-p", '{"spec":{"accepted":true}}', check=False)
    assert 'servers.metal.sidero.dev "missing" not found' in r.stderr
    r = cluster.kubectl("patch", "server", UUID, "--type", "merge", "-p", '{"spec":{"accepted":"yes"}}', check=False)
    assert "spec.accepted in body must be of type boolean" in r.stderr
    bad = server_manifest(UUID2, extra_spec={"colour": "blue"})
    r = cluster.kubectl("create", "-f", write_manifest(bad), check=False)
    assert r.returncode != 0 and 'unknown field "spec.colour"' in r.stderr
    # Without strict validation the unknown field is pruned.
    r = cluster.kubectl("create", "--validate=false", "-f", write_manifest(bad))
    obj = json.loads(cluster.kubectl("get", "server", UUID2, "-o", "json").stdout)
    assert "colour" not in obj["spec"]
    r = cluster.kubectl("create", "-f", write_manifest(server_manifest("Not_A_Name")), check=False)
    assert "is invalid" in r.stderr and "metadata.name" in r.stderr


def test_finalizers_delay_deletion(cluster):
    m = server_manifest(UUID)
    m["metadata"]["finalizers"] = ["storage.ironboot/wipe"]
    create(cluster, m)
    r = cluster.kubectl("delete", "server", UUID, "--wait=false")
    assert "deleted" in r.stdout
    obj = json.loads(cluster.kubectl("get", "server", UUID, "-o", "json").stdout)
    assert obj["metadata"]["deletionTimestamp"]
    cluster.kubectl("patch", "server", UUID, "--type", "merge", "-p", '{"metadata":{"finalizers":null}}')
    assert cluster.kubectl("get", "server", UUID, check=False).returncode != 0




def test_watch_table_stream(cluster):
    create(cluster, server_manifest(UUID, hostname="w1"))
    proc = cluster.kubectl_popen("get", "servers", "-w")
    read_line = line_reader(proc)
    try:
        header = read_line()
        assert header.split()[:2] == ["NAME", "HOSTNAME"]
        assert read_line().split()[:2] == [UUID, "w1"]
        cluster.kubectl("patch", "server", UUID, "--type", "merge", "-p", '{"spec":{"hostname":"w2"}}')
        assert read_line().split()[:2] == [UUID, "w2"]
        create(cluster, server_manifest(UUID2, hostname="w3"))
        assert read_line().split()[:2] == [UUID2, "w3"]
        assert proc.poll() is None  # the stream stays open
        # A quiet stream outlives the API's 30 s I/O timeout and still delivers: an operator
        # leaves `kubectl get servers -w` running for hours.
        time.sleep(35)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        cluster.kubectl("patch", "server", UUID, "--type", "merge", "-p", '{"spec":{"hostname":"w4"}}')
        assert read_line().split()[:2] == [UUID, "w4"]
    finally:
        proc.kill()
        proc.wait()
