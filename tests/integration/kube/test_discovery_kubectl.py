"""The real kubectl's discovery and OpenAPI commands against the embedded API: api-versions,
api-resources and explain. Tests of a built-in Kubernetes type skip only when the embedded API
does not list that type in its discovery (checked through /api/v1 or /apis/{group}/{version}),
so they run as soon as the type is served."""

import json
import re

import pytest

from kubelab import write_manifest


def served(cluster, group_version, plural):
    """Whether discovery lists `plural` in `group_version` ("v1" is the core group)."""
    path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    code, body = cluster.curl(path)
    if code != 200:
        return False
    return any(r["name"] == plural for r in json.loads(body)["resources"])


def require(cluster, group_version, plural):
    if not served(cluster, group_version, plural):
        pytest.skip(f"{plural} ({group_version}) is not in the embedded API's discovery")


def explain(cluster, path):
    """`kubectl explain` output as (header fields, FIELD line, description text)."""
    out = cluster.kubectl("explain", path).stdout
    field = re.search(r"^FIELD:\s*(\S+)\s*<([^>]+)>", out, re.M)
    desc = re.search(r"^DESCRIPTION:\n(.*?)(?:\n\S|\Z)", out, re.M | re.S)
    header = dict(re.findall(r"^(GROUP|KIND|VERSION):[ \t]*(\S*)", out, re.M))
    return header, (field.group(1), field.group(2)) if field else None, (desc.group(1).strip() if desc else ""), out


def api_resources(cluster, *args):
    """`kubectl api-resources -o wide` rows as dicts by NAME (plus APIVERSION)."""
    out = cluster.kubectl("api-resources", "--no-headers=false", *args).stdout.splitlines()
    header = out[0]
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    rows = {}
    for line in out[1:]:
        cells = [line[s:(starts[i + 1] if i + 1 < len(starts) else None)].strip() for i, s in enumerate(starts)]
        row = dict(zip(names, cells))
        rows[(row["NAME"], row["APIVERSION"])] = row
    return rows


def test_api_versions_lists_every_group_version(cluster):
    versions = set(cluster.kubectl("api-versions").stdout.split())
    assert "metal.sidero.dev/v1alpha2" in versions
    code, body = cluster.curl("/apis")
    for group in json.loads(body)["groups"]:
        for v in group["versions"]:
            assert v["groupVersion"] in versions
    if served(cluster, "v1", "namespaces") or served(cluster, "v1", "secrets"):
        assert "v1" in versions


def test_api_resources_metal_group(cluster):
    rows = api_resources(cluster, "--api-group=metal.sidero.dev")
    assert set(rows) == {("servers", "metal.sidero.dev/v1alpha2"), ("serverclasses", "metal.sidero.dev/v1alpha2"),
                         ("environments", "metal.sidero.dev/v1alpha2")}
    for row in rows.values():
        assert row["NAMESPACED"] == "false"
    assert rows[("servers", "metal.sidero.dev/v1alpha2")]["KIND"] == "Server"


def test_explain_server_spec(cluster):
    header, field, _, out = explain(cluster, "server.spec")
    assert header == {"GROUP": "metal.sidero.dev", "KIND": "Server", "VERSION": "v1alpha2"}
    assert field == ("spec", "Object")
    assert re.search(r"^\s+bmc\s+<Object>", out, re.M), out
    header, field, _, out = explain(cluster, "server.spec.bmc")
    assert field == ("bmc", "Object")
    assert re.search(r"^\s+endpoint\s+<string>", out, re.M), out


def test_explain_server_metadata_is_object_meta(cluster):
    _, field, desc, out = explain(cluster, "server.metadata")
    assert field == ("metadata", "ObjectMeta")
    assert desc
    for f in ("labels", "annotations", "finalizers", "resourceVersion", "creationTimestamp"):
        assert re.search(rf"^\s+{f}\s+<", out, re.M), out
    _, field, desc, _ = explain(cluster, "server.metadata.labels")
    assert field == ("labels", "map[string]string")
    assert "select" in desc


def test_api_resources_core_types(cluster):
    require(cluster, "v1", "secrets")
    rows = api_resources(cluster, "--api-group=")
    expected = {"namespaces": ("ns", "false", "Namespace"), "secrets": ("", "true", "Secret"),
                "configmaps": ("cm", "true", "ConfigMap"), "events": ("ev", "true", "Event")}
    for plural, (short, namespaced, kind) in expected.items():
        if not served(cluster, "v1", plural):
            continue
        row = rows[(plural, "v1")]
        assert (row["SHORTNAMES"], row["NAMESPACED"], row["KIND"]) == (short, namespaced, kind), row


def test_explain_secret_data(cluster):
    require(cluster, "v1", "secrets")
    header, field, desc, _ = explain(cluster, "secret.data")
    assert header == {"KIND": "Secret", "VERSION": "v1"}  # no GROUP line for the core group
    assert field == ("data", "map[string]string")
    assert desc
    _, field, desc, _ = explain(cluster, "secret.metadata")
    assert field == ("metadata", "ObjectMeta")


def test_explain_lease_holder_identity(cluster):
    require(cluster, "coordination.k8s.io/v1", "leases")
    header, field, desc, _ = explain(cluster, "lease.spec.holderIdentity")
    assert header.get("GROUP") == "coordination.k8s.io" and header.get("KIND") == "Lease"
    assert field == ("holderIdentity", "string")
    assert desc


def test_explain_events_involved_object(cluster):
    require(cluster, "v1", "events")
    header, field, desc, _ = explain(cluster, "events.involvedObject")
    assert header == {"KIND": "Event", "VERSION": "v1"}  # core Event, not events.k8s.io's
    assert field is not None and field[0] == "involvedObject"
    assert desc


def test_apply_and_label_secret(cluster):
    # kubectl sends a strategic merge patch for a re-applied Secret (a kind it has compiled in)
    # and a JSON merge patch for label.
    require(cluster, "v1", "secrets")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bmc", "namespace": "default"},
              "stringData": {"user": "admin"}, "type": "Opaque"}
    if served(cluster, "v1", "namespaces") and cluster.kubectl("get", "namespace", "default", check=False).returncode != 0:
        cluster.kubectl("create", "namespace", "default")
    r = cluster.kubectl("apply", "-f", write_manifest(secret))
    assert r.stdout.strip() == "secret/bmc created"
    secret["stringData"] = {"user": "root"}
    secret["metadata"]["labels"] = {"role": "bmc"}
    r = cluster.kubectl("apply", "-f", write_manifest(secret))
    assert r.stdout.strip() == "secret/bmc configured"
    r = cluster.kubectl("label", "secret", "bmc", "-n", "default", "rack=a")
    assert r.stdout.strip() == "secret/bmc labeled"
    obj = json.loads(cluster.kubectl("get", "secret", "bmc", "-n", "default", "-o", "json").stdout)
    assert obj["metadata"]["labels"] == {"role": "bmc", "rack": "a"}
    assert obj["data"]["user"] == "cm9vdA=="  # "root"
