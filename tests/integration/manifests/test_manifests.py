"""The manifests under assets/ (CRDs, RBAC, the in-cluster Deployment), checked with the real
kubectl and the real ironboot, never a registry or a real cluster.

kubectl needs an API server's discovery to map a kind for `apply`/`create --dry-run=client`
(with or without --validate=false), and the embedded API serves only metal.sidero.dev. What
works offline: `label --local` parses every document of a file as a Kubernetes object, and
`set serviceaccount --local` / `set subject --local` decode a Deployment / (Cluster)RoleBinding
into kubectl's typed structs (a wrong type fails; an unknown field is dropped, which the
round trip below notices). `kubectl explain` runs against the embedded API, whose OpenAPI
carries the CRD schemas."""

import json
import os
import re
import subprocess
import tempfile

import pytest
import yaml

import netlab

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
KUBECTL = "/usr/bin/kubectl"
CRD_FILES = [os.path.join(ROOT, "assets", "crds", f) for f in ("server.yaml", "serverclass.yaml", "environment.yaml",
                                                                    "baremetalhost.yaml")]
RBAC_DIR = os.path.join(ROOT, "assets", "rbac")
DEPLOY_DIR = os.path.join(ROOT, "assets", "deploy")
MANIFESTS = CRD_FILES + sorted(
    os.path.join(d, f) for d in (RBAC_DIR, DEPLOY_DIR) for f in os.listdir(d) if f.endswith(".yaml"))
NAMESPACE = "ironboot-system"
SERVICE_ACCOUNT = {"kind": "ServiceAccount", "name": "ironboot", "namespace": NAMESPACE}

# What ironboot does with each resource (the informers list and watch; the write queue gets,
# then creates or updates; discovery records Events and holds a Lease; BMC credentials are
# Secrets). A verb ironboot starts using must be added here and in the manifest together.
CLUSTER_RULES = {
    ("metal.sidero.dev", "servers"): {"get", "list", "watch", "create", "update"},
    ("metal.sidero.dev", "servers/status"): {"update"},
    ("metal.sidero.dev", "serverclasses"): {"get", "list", "watch", "create"},
    ("metal.sidero.dev", "serverclasses/status"): {"update"},
    ("metal.sidero.dev", "environments"): {"get", "list", "watch"},
    ("metal.sidero.dev", "environments/status"): {"update"},
    # The BareMetalHost controller, across namespaces: hosts, their status, their Secret, Events.
    ("metal3.io", "baremetalhosts"): {"list", "watch"},
    ("metal3.io", "baremetalhosts/status"): {"patch"},
    ("", "secrets"): {"get"},
    ("", "events"): {"create", "patch"},
}
NAMESPACED_RULES = {
    (NAMESPACE, "ironboot"): {
        ("coordination.k8s.io", "leases"): {"get", "create", "update"},
        ("", "secrets"): {"get", "list", "watch", "create", "patch"},  # + bmc.auto_setup's <server>-bmc
    },
    ("default", "ironboot-events"): {
        ("", "events"): {"create", "patch"},
    },
}


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def objects():
    return [(path, d) for path in MANIFESTS for d in load(path)]


def find(kind, name, namespace=None):
    found = [d for _, d in objects() if d["kind"] == kind and d["metadata"]["name"] == name
             and d["metadata"].get("namespace") == namespace]
    assert len(found) == 1, f"{kind} {namespace}/{name}: {len(found)} in the manifests"
    return found[0]


@pytest.fixture(scope="module")
def offline_kubectl():
    """kubectl with a kubeconfig whose server refuses connections: a command that tried to reach
    an API server would fail instead of finding one."""
    workdir = tempfile.mkdtemp(prefix="ironboot-manifests-")
    kubeconfig = os.path.join(workdir, "kubeconfig")
    with open(kubeconfig, "w") as f:
        yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "offline",
                        "clusters": [{"name": "offline", "cluster": {"server": "https://127.0.0.1:9"}}],
                        "contexts": [{"name": "offline", "context": {"cluster": "offline", "user": "nobody"}}],
                        "users": [{"name": "nobody", "user": {}}]}, f)

    def run(*args, input=None):
        """The objects kubectl printed (-o json prints one JSON document per object)."""
        r = subprocess.run([KUBECTL, "--kubeconfig", kubeconfig, "--cache-dir", os.path.join(workdir, "cache"),
                            "--request-timeout", "5s", *args], capture_output=True, text=True, input=input, timeout=60)
        assert r.returncode == 0, f"kubectl {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
        decoder, text, pos, out = json.JSONDecoder(), r.stdout, 0, []
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos == len(text):
                return out
            obj, pos = decoder.raw_decode(text, pos)
            out += obj["items"] if obj.get("kind") == "List" else [obj]
    return run


def assert_kept(sent, got, path="$"):
    """Every field of `sent` is in `got` with the same value: a field kubectl's typed struct
    does not have (a typo, a wrong level) is dropped in decoding and fails here."""
    if isinstance(sent, dict):
        assert isinstance(got, dict), f"{path}: not an object after decoding"
        for k, v in sent.items():
            assert k in got, f"{path}.{k}: dropped by kubectl (not a field of this kind)"
            assert_kept(v, got[k], f"{path}.{k}")
    elif isinstance(sent, list):
        assert isinstance(got, list) and len(got) == len(sent), f"{path}: list changed in decoding"
        for i, (a, b) in enumerate(zip(sent, got)):
            assert_kept(a, b, f"{path}[{i}]")
    else:
        assert sent == got, f"{path}: {sent!r} became {got!r}"


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: os.path.relpath(p, ROOT))
def test_kubectl_reads_every_document_as_an_object(offline_kubectl, path):
    got = offline_kubectl("label", "--local", "--dry-run=client", "-o", "json", "-f", path,
                          "ironboot.dev/manifest-check=1")
    want = load(path)
    assert [(o["apiVersion"], o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in got] == \
        [(o["apiVersion"], o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in want]
    for sent, out in zip(want, got):
        assert out["metadata"]["labels"].pop("ironboot.dev/manifest-check") == "1"
        if not out["metadata"]["labels"]:
            del out["metadata"]["labels"]
        assert out == sent


def test_kubectl_decodes_the_deployment_without_losing_a_field(offline_kubectl):
    path = os.path.join(DEPLOY_DIR, "deployment.yaml")
    (got,) = offline_kubectl("set", "serviceaccount", "--local", "--dry-run=client", "-o", "json",
                             "-f", path, "ironboot")
    (sent,) = load(path)
    assert_kept(sent, got)


@pytest.mark.parametrize("path", [os.path.join(RBAC_DIR, "clusterrole.yaml"), os.path.join(RBAC_DIR, "role.yaml")],
                         ids=os.path.basename)
def test_kubectl_decodes_the_bindings_without_losing_a_field(offline_kubectl, path):
    # set subject refuses the Roles of the file and prints only what it changed: give it the
    # bindings alone, add a user, then take it off again.
    sent = [d for d in load(path) if d["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    got = offline_kubectl("set", "subject", "--local", "--dry-run=client", "-o", "json", "-f", "-",
                          "--user=manifest-check", input=yaml.safe_dump_all(sent))
    assert len(got) == len(sent) >= 1
    for s, g in zip(sent, got):
        assert g["subjects"].pop() == {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "manifest-check"}
        assert_kept(s, g)


def rule_table(role):
    table = {}
    for rule in role["rules"]:
        assert set(rule) <= {"apiGroups", "resources", "verbs"}, f"unexpected keys in {rule}"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                assert (group, resource) not in table, f"{group}/{resource} in two rules"
                table[(group, resource)] = set(rule["verbs"])
    return table


def test_clusterrole_grants_exactly_what_ironboot_uses():
    assert rule_table(find("ClusterRole", "ironboot")) == CLUSTER_RULES


@pytest.mark.parametrize("namespace,name", sorted(NAMESPACED_RULES))
def test_roles_grant_exactly_what_ironboot_uses(namespace, name):
    assert rule_table(find("Role", name, namespace)) == NAMESPACED_RULES[(namespace, name)]


def test_no_other_roles_and_every_binding_binds_the_service_account():
    roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"])
             for _, d in objects() if d["kind"] in ("Role", "ClusterRole")}
    assert roles == {("ClusterRole", None, "ironboot")} | {("Role", ns, n) for ns, n in NAMESPACED_RULES}
    bound = set()
    for _, d in objects():
        if d["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        ref = d["roleRef"]
        assert ref["apiGroup"] == "rbac.authorization.k8s.io"
        assert d["subjects"] == [SERVICE_ACCOUNT]
        ns = d["metadata"].get("namespace")
        assert (ref["kind"] == "ClusterRole") == (d["kind"] == "ClusterRoleBinding"), \
            "a RoleBinding of the ClusterRole would grant it in one namespace only"
        bound.add((ref["kind"], ns, ref["name"]))
    assert bound == roles
    find("Namespace", NAMESPACE)
    find("ServiceAccount", "ironboot", NAMESPACE)


def http_port(config):
    return int(config.get("http", {}).get("listen", "0.0.0.0:8080").rsplit(":", 1)[1])


def deployment_parts():
    deployment = find("Deployment", "ironboot", NAMESPACE)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    config_map = find("ConfigMap", mounts["/etc/ironboot"]["configMap"]["name"], NAMESPACE)
    return deployment, pod, container, mounts, yaml.safe_load(config_map["data"]["ironboot.yaml"])


def test_deployment_runs_one_host_network_pod_as_the_service_account():
    deployment, pod, container, _, _ = deployment_parts()
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pod["hostNetwork"] is True
    assert pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert pod["serviceAccountName"] == "ironboot"
    assert container["args"] == ["serve", "--config", "/etc/ironboot/ironboot.yaml"]
    assert container["image"] and container["imagePullPolicy"] == "IfNotPresent"
    resources = container["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}


def test_deployment_container_has_only_the_capability_for_low_ports():
    _, pod, container, _, _ = deployment_parts()
    sc = container["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert "privileged" not in sc or sc["privileged"] is False
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "fsGroup" not in pod["securityContext"]  # it would make the agent token key group-readable


def test_deployment_probes_and_ports_are_those_of_the_config():
    _, _, container, _, config = deployment_parts()
    with open(os.path.join(ROOT, "assets", "ironboot.yaml")) as f:
        port = http_port(yaml.safe_load(f))
    assert http_port(config) == port
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}
    ports = {(p["containerPort"], p["protocol"]) for p in container["ports"]}
    dhcp, tftp = config.get("dhcp", {}), config.get("tftp", {})
    assert ports == {(dhcp.get("port", 67), "UDP"), (dhcp.get("pxe_port", 4011), "UDP"),
                     (tftp.get("port", 69), "UDP"), (port, "TCP")}


def test_deployment_mounts_a_writable_persistent_data_dir():
    _, _, container, mounts, config = deployment_parts()
    data_dir = config["cluster"]["embedded"]["data_dir"]
    claim = mounts[data_dir]["persistentVolumeClaim"]["claimName"]
    find("PersistentVolumeClaim", claim, NAMESPACE)
    writable = [m for m in container["volumeMounts"] if not m.get("readOnly")]
    assert [m["mountPath"] for m in writable] == [data_dir]


def test_configmap_config_is_in_cluster_and_passes_check_config(tmp_path):
    _, _, _, _, config = deployment_parts()
    assert config["cluster"]["mode"] == "in-cluster"
    config_map = find("ConfigMap", "ironboot-config", NAMESPACE)
    path = tmp_path / "ironboot.yaml"
    path.write_text(config_map["data"]["ironboot.yaml"])
    r = subprocess.run([netlab.IRONBOOT, "check-config", "--config", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "cluster in-cluster" in r.stdout


def properties(schema, path=""):
    """(dotted path, property schema) of every property, through array items and maps."""
    for name, prop in (schema.get("properties") or {}).items():
        yield path + "." + name, prop
        yield from properties(prop, path + "." + name)
    if isinstance(schema.get("items"), dict):
        yield from properties(schema["items"], path)
    if isinstance(schema.get("additionalProperties"), dict):
        yield from properties(schema["additionalProperties"], path)


def crd_schema(path):
    (crd,) = load(path)
    (version,) = crd["spec"]["versions"]
    return crd, version["schema"]["openAPIV3Schema"]


@pytest.mark.parametrize("path", CRD_FILES, ids=os.path.basename)
def test_every_crd_property_has_a_description(path):
    _, schema = crd_schema(path)
    found = list(properties(schema))
    assert len(found) > 10
    missing = [p for p, prop in found if not isinstance(prop.get("description"), str) or not prop["description"].strip()]
    assert missing == []


@pytest.mark.parametrize("path", CRD_FILES, ids=os.path.basename)
def test_crd_schema_is_structural(path):
    # What apiextensions.k8s.io/v1 requires of a schema: a type on every node.
    crd, schema = crd_schema(path)
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1" and crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == crd["spec"]["names"]["plural"] + "." + crd["spec"]["group"]
    assert schema["type"] == "object"
    for p, prop in properties(schema):
        assert prop.get("type") in ("object", "array", "string", "integer", "boolean", "number"), p
        if prop["type"] == "array":
            assert isinstance(prop.get("items"), dict) and "type" in prop["items"], p


def flat(text):
    return re.sub(r"\s+", " ", text).strip()


EXPLAINED = [
    ("servers", ".spec.bmc"), ("servers", ".spec.bmc.endpoint"), ("servers", ".spec.bmc.port"),
    ("servers", ".spec.bmc.user"), ("servers", ".spec.bmc.pass"), ("servers", ".spec.bmc.interface"),
    ("servers", ".spec.bmc.passFrom.secretKeyRef.namespace"), ("servers", ".spec.accepted"),
    ("servers", ".spec.hardware.compute.processors.speed"), ("servers", ".status.conditions.type"),
    ("serverclasses", ".spec.qualifiers.cpu.version"), ("serverclasses", ".spec.qualifiers.hardware.system.family"),
    ("environments", ".spec.kernel.url"),
]


def test_kubectl_explain_shows_the_crd_descriptions(cluster):
    schemas = {crd["spec"]["names"]["plural"]: dict(properties(schema))
               for crd, schema in (crd_schema(p) for p in CRD_FILES)}
    for resource, field in EXPLAINED:
        out = cluster.kubectl("explain", resource + field).stdout
        description = schemas[resource][field]["description"]
        assert flat(description) in flat(out), f"kubectl explain {resource}{field}:\n{out}"
    # A field's subfields are listed with their descriptions too.
    out = flat(cluster.kubectl("explain", "servers.spec.bmc").stdout)
    for sub in ("endpoint", "port", "user", "pass", "userFrom", "passFrom", "interface"):
        assert flat(schemas["servers"][".spec.bmc." + sub]["description"]) in out
