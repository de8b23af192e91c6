"""Discovery end to end: the agent API over HTTP (curl in a client namespace), the embedded
API read and changed with the real kubectl, the boot policy answering /ipxe from the caches."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuidlib

import pytest

from kubectl_output import table

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import netlab  # noqa: E402
from kubectl_runner import Kubectl, write_kubeconfig  # noqa: E402

SUBNET = "10.83.0"
BASE = f"http://{SUBNET}.2:8080"


class Site:
    def __init__(self, lab, appliance, client, workdir, daemon):
        self.lab, self.appliance, self.client, self.workdir, self.daemon = lab, appliance, client, workdir, daemon
        self.kubectl_runner = Kubectl(appliance, write_kubeconfig(daemon.config_path, os.path.join(workdir, "kubeconfig")),
                                      lambda: self.daemon.read_log()[-4000:])

    def kubectl(self, *args, check=True, input=None):
        return self.kubectl_runner.run(*args, check=check, input=input)

    def get(self, kind, name):
        return self.kubectl_runner.get(kind, name)

    def curl(self, path, *args, body=None, token=None, method=None, timeout=90):
        """(status, body text) of a request from the client namespace."""
        cmd = ["curl", "-sS", "--noproxy", "*", "--max-time", str(timeout), "-w", "\n%{http_code}"]
        if method:
            cmd += ["-X", method]
        if token is not None:
            cmd += ["-H", f"Authorization: Bearer {token}"]
        if body is not None:
            path_file = os.path.join(self.workdir, f"body-{threading.get_ident()}.json")
            with open(path_file, "wb") as f:
                f.write(body if isinstance(body, bytes) else json.dumps(body).encode())
            cmd += ["-H", "Content-Type: application/json", "--data-binary", "@" + path_file]
        cmd += [*args, BASE + path]
        r = subprocess.run(self.client.cmd(cmd), capture_output=True, timeout=timeout + 10)
        text, _, code = r.stdout.decode(errors="replace").rpartition("\n")
        return int(code or 0), text

    def ipxe(self, uuid, mac):
        code, body = self.curl(f"/ipxe?uuid={uuid}&mac={mac.replace(':', '-')}&arch=x86_64&platform=pcbios")
        assert code in (200, 404), body
        return code, body

    def token(self, uuid, mac):
        """The token the real path hands out: the agent script's ironboot.token=."""
        code, script = self.ipxe(uuid, mac)
        m = re.search(r"ironboot\.token=(\S+)", script)
        assert code == 200 and m, script
        assert f"ironboot.mac={mac}" in script
        return m.group(1)

    def register(self, uuid, mac, body=None):
        """Registers with a fresh boot token; the session token of the answer."""
        code, text = self.curl("/agent/v1/register", body=body or register_body(uuid, mac), token=self.token(uuid, mac))
        assert code == 200, text
        session = json.loads(text)["session"]
        assert session.startswith("s2."), text
        return session, json.loads(text)

    def wait_for(self, what, predicate, timeout=10):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; last={last}\n{self.log_tail()}")

    def log_tail(self):
        """The daemon's log without the read requests kubectl makes while we wait."""
        lines = [l for l in self.daemon.read_log().splitlines() if "method=GET" not in l]
        return "\n".join(lines[-60:])


def condition(obj, ctype):
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c["type"] == ctype:
            return c
    return None


def register_body(uuid, mac, serial="8N4MD32", cpu="AMD EPYC 7543 32-Core Processor", vendor="Dell Inc."):
    return {
        "uuid": uuid, "bootMac": mac, "bootMode": "BIOS",
        "hardware": {
            "system": {"uuid": uuid, "manufacturer": vendor, "productName": "PowerEdge R6525", "version": "",
                       "serialNumber": serial, "skuNumber": "", "family": ""},
            "compute": {"totalCoreCount": 32, "totalThreadCount": 64, "processorCount": 2,
                        "processors": [{"manufacturer": "Intel", "productName": "Xeon Gold 6130", "serialNumber": "",
                                        "speed": 2100, "coreCount": 16, "threadCount": 32},
                                       {"manufacturer": "AMD", "productName": cpu, "serialNumber": "",
                                        "speed": 2800, "coreCount": 32, "threadCount": 64}]},
            "memory": {"totalSize": "64 GB", "moduleCount": 1,
                       "modules": [{"manufacturer": "", "productName": "", "serialNumber": "", "type": "DDR4",
                                    "size": 65536, "speed": 3200}]},
            "storage": {"totalSize": "960 GB", "deviceCount": 1,
                        "devices": [{"type": "NVMe", "size": 960197124096, "productName": "", "serialNumber": "",
                                     "name": "nvme0n1", "deviceName": "/dev/nvme0n1", "uuid": "", "wwid": ""}]},
            "network": {"interfaceCount": 1,
                        "interfaces": [{"index": 2, "name": "eth0", "flags": "up|broadcast", "mtu": 1500,
                                        "mac": mac, "addresses": ["10.83.0.50/24"]}]},
        },
        "firmware": {"vendor": "SeaBIOS", "version": "1.16.2", "date": "04/01/2014"},
        "pci": [{"address": "0000:00:03.0", "vendor": "1af4", "device": "1000", "class": "020000",
                 "description": "Ethernet controller"}],
    }




def server_row(site, name):
    for row in table(site.kubectl("get", "servers").stdout):
        if row["NAME"] == name:
            return row
    return None


@pytest.fixture(scope="module")
def site():
    workdir = tempfile.mkdtemp(prefix="ironboot-discovery-")
    os.chmod(workdir, 0o755)
    os.makedirs(os.path.join(workdir, "images"))  # file:// Environments come from here
    lab = netlab.Lab(subnet=SUBNET)
    try:
        appliance = lab.add_host("appliance", 2)
        client = lab.add_host("client", 10)
        cfg = netlab.agent_lab_config(
            workdir, SUBNET,
            environments={"local_dirs": [os.path.join(workdir, "images")]},
            # Every test asks /ipxe for boot tokens from the one client address.
            discovery={"boot_tokens_per_minute": 1000})
        daemon = netlab.Ironboot(appliance, cfg, workdir=workdir).start()
        try:
            s = Site(lab, appliance, client, workdir, daemon)
            s.wait_for("class any", lambda: s.get("serverclass", "any"))
            yield s
        finally:
            daemon.stop()
    finally:
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)


WORKER_LARGE = {
    "apiVersion": "metal.sidero.dev/v1alpha2", "kind": "ServerClass",
    "metadata": {"name": "worker-large"},
    "spec": {"qualifiers": {"cpu": [{"manufacturer": "AMD", "version": "EPYC.*"}],
                            "systemInformation": [{"manufacturer": "Dell Inc."}]},
             "selector": {"matchLabels": {"rack": "rack-a"}}},
}


def apply(site, obj):
    site.kubectl("apply", "-f", "-", input=json.dumps(obj))


def environment(site, name, kernel, initrd, kernel_sha=None, initrd_sha=None):
    spec = {"kernel": {"url": "file://" + kernel, "args": ["console=ttyS0", "talos.platform=metal"]},
            "initrd": {"url": "file://" + initrd}}
    if kernel_sha:
        spec["kernel"]["sha512"] = kernel_sha
    if initrd_sha:
        spec["initrd"]["sha512"] = initrd_sha
    apply(site, {"apiVersion": "metal.sidero.dev/v1alpha2", "kind": "Environment", "metadata": {"name": name},
                 "spec": spec})


def test_register_accept_wipe_environment_then_disk(site):
    uuid, mac = "4c4c4544-0042-3510-8051-b7c04f4e4d32", "52:54:00:12:34:56"
    boot_token = site.token(uuid, mac)
    assert boot_token.startswith("b2."), boot_token
    code, body = site.curl("/agent/v1/register", body=register_body(uuid, mac), token=boot_token)
    assert code == 200, body
    answer = json.loads(body)
    assert answer["server"] == uuid and answer["instruction"] == {"action": "wait"}
    token = answer["session"]  # the boot token is exchanged for the session every later request carries
    assert token.startswith("s2."), body
    assert site.curl("/agent/v1/heartbeat", body={}, token=boot_token)[0] == 401

    row = site.wait_for("server listed", lambda: server_row(site, uuid))
    assert row["ACCEPTED"] == "false"
    obj = site.get("server", uuid)
    assert obj["spec"]["hardware"]["system"]["manufacturer"] == "Dell Inc."
    assert obj["metadata"]["annotations"]["ironboot.dev/boot-mac"] == mac
    site.wait_for("Discovered", lambda: condition(site.get("server", uuid), "Discovered"))

    # The course's worker-large class lists the server once it is accepted and labelled.
    apply(site, WORKER_LARGE)
    site.kubectl("label", "server", uuid, "rack=rack-a")

    # Long poll pending, then the operator accepts: the poll answers wipe within a second.
    result = {}

    def poll():
        result["reply"] = site.curl("/agent/v1/instructions?wait=30", token=token)
        result["at"] = time.monotonic()

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(1.0)
    assert "reply" not in result  # still waiting: the server is not accepted
    site.kubectl("patch", "server", uuid, "--type", "merge", "-p", '{"spec":{"accepted":true}}')
    patched = time.monotonic()
    poller.join(35)
    code, body = result["reply"]
    assert code == 200, body
    wipe = json.loads(body)
    wipe_id = wipe.pop("wipeId")
    assert wipe == {"action": "wipe", "mode": "fast"} and len(wipe_id) == 32, body
    assert result["at"] - patched < 1.0, result["at"] - patched
    site.wait_for("Wiping", lambda: (condition(site.get("server", uuid), "Wiping") or {}).get("status") == "True")

    code, body = site.curl("/agent/v1/progress", body={"device": "/dev/nvme0n1", "done": 1, "total": 2}, token=token)
    assert code == 204, body
    code, body = site.curl("/agent/v1/wiped", body={"mode": "fast", "devices": ["/dev/nvme0n1"]}, token=token)
    assert code == 409, "without the wipe's id: " + body
    code, body = site.curl("/agent/v1/wiped", body={"mode": "fast", "wipeId": wipe_id, "devices": ["/dev/nvme0n1"]},
                           token=token)
    assert code == 200, body
    site.wait_for("clean", lambda: (server_row(site, uuid) or {}).get("CLEAN") == "true")
    code, body = site.curl("/agent/v1/addresses", body={"addresses": [{"type": "InternalIP", "address": "10.83.0.50"}]},
                           token=token)
    assert code == 204, body
    site.wait_for("addresses", lambda: (site.get("server", uuid)["status"].get("addresses") or [None])[0] ==
                  {"type": "InternalIP", "address": "10.83.0.50"})

    site.wait_for("worker-large lists the server",
                  lambda: uuid in ((site.get("serverclass", "worker-large") or {}).get("status") or {})
                  .get("serversAvailable", []))
    site.wait_for("any lists the server",
                  lambda: uuid in (site.get("serverclass", "any").get("status") or {}).get("serversAvailable", []))
    # No environment anywhere: a clean accepted server boots from disk and the agent reboots.
    assert "\nexit\n" in site.ipxe(uuid, mac)[1]
    code, body = site.curl("/agent/v1/heartbeat", body={}, token=token)
    assert code == 200 and json.loads(body)["instruction"] == {"action": "reboot"}, body

    kernel = os.path.join(site.workdir, "images", "env-kernel")
    initrd = os.path.join(site.workdir, "images", "env-initrd")
    with open(kernel, "wb") as f:
        f.write(b"KERNEL" * 5000)
    with open(initrd, "wb") as f:
        f.write(b"INITRD" * 3000)
    environment(site, "talos", kernel, initrd, hashlib.sha512(b"KERNEL" * 5000).hexdigest(),
                hashlib.sha512(b"INITRD" * 3000).hexdigest())
    site.wait_for("talos Ready", lambda: (condition(site.get("environment", "talos"), "Ready") or {})
                  .get("status") == "True")
    site.kubectl("patch", "serverclass", "worker-large", "--type", "merge",
                 "-p", '{"spec":{"environmentRef":{"name":"talos"}}}')

    # A HEAD probe is decided like a GET but records nothing: the machine has not booted it.
    def probed_environment():
        site.curl(f"/ipxe?uuid={uuid}&mac={mac.replace(':', '-')}&arch=x86_64&platform=pcbios", "-I")
        return re.search(rf"boot decision=environment .*uuid={uuid}", site.daemon.read_log())

    site.wait_for("HEAD decided environment", probed_environment)
    time.sleep(1)  # a write, had one been queued, lands well within this
    assert "environment served" not in site.daemon.read_log()
    assert (condition(site.get("server", uuid), "PXEBooted") or {}).get("message") != "talos"

    def env_script():
        code, script = site.ipxe(uuid, mac)
        return script if "/assets/environments/talos/kernel" in script else None

    script = site.wait_for("environment boot", env_script)
    m = re.search(rf"kernel {BASE}/assets/environments/talos/kernel\?ticket=(k2\.[A-Za-z0-9._~-]+) "
                  r"initrd=initrd console=ttyS0 talos\.platform=metal", script)
    assert m, script
    assert f"initrd {BASE}/assets/environments/talos/initrd" in script
    # Asking /ipxe, or fetching the kernel without the ticket, is not booting it.
    r = subprocess.run(site.client.cmd(["curl", "-sS", "--noproxy", "*", BASE + "/assets/environments/talos/kernel"]),
                       capture_output=True, check=True)
    assert r.stdout == b"KERNEL" * 5000
    time.sleep(1)
    assert (condition(site.get("server", uuid), "PXEBooted") or {}).get("message") != "talos"
    r = subprocess.run(site.client.cmd(["curl", "-sS", "--noproxy", "*",
                                        BASE + "/assets/environments/talos/kernel?ticket=" + m.group(1)]),
                       capture_output=True, check=True)
    assert r.stdout == b"KERNEL" * 5000
    site.wait_for("PXEBooted", lambda: (condition(site.get("server", uuid), "PXEBooted") or {}).get("message") == "talos")
    assert "\nexit\n" in site.ipxe(uuid, mac)[1]

    # Un-accepting makes the server unclean again (and the agent boots).
    site.kubectl("patch", "server", uuid, "--type", "merge", "-p", '{"spec":{"accepted":false}}')
    site.wait_for("unclean", lambda: (server_row(site, uuid) or {}).get("CLEAN") == "false")
    assert "ironboot.token=" in site.ipxe(uuid, mac)[1]


def test_bad_tokens_change_nothing(site):
    uuid, mac = "11111111-2222-4333-8444-555555555555", "52:54:00:aa:00:01"
    body = register_body(uuid, mac)
    assert site.curl("/agent/v1/register", body=body)[0] == 401
    assert site.curl("/agent/v1/register", body=body, token="v1.garbage.sig")[0] == 401
    good = site.token(uuid, mac)
    assert site.curl("/agent/v1/register", body=body, token=good[:-2] + ("AA" if good[-2:] != "AA" else "BB"))[0] == 401
    other = site.token(uuid, "52:54:00:aa:00:02")  # token for another MAC
    code, text = site.curl("/agent/v1/register", body=body, token=other)
    assert code == 401, text
    assert site.curl("/agent/v1/instructions?wait=0", token="nope")[0] == 401
    assert site.curl("/agent/v1/wiped", body={"mode": "fast", "devices": []}, token="nope")[0] == 401
    time.sleep(0.5)
    assert site.get("server", uuid) is None


def test_oversized_and_malformed_bodies(site):
    uuid, mac = "11111111-2222-4333-8444-555555555556", "52:54:00:aa:00:03"
    token = site.token(uuid, mac)
    assert site.curl("/agent/v1/register", body=b"{" + b" " * (1024 * 1024 + 10) + b"}", token=token)[0] == 413
    code, text = site.curl("/agent/v1/register", body=b"{not json", token=token)
    assert code == 400, text
    bad = register_body(uuid, mac)
    bad["hardware"]["compute"]["processors"][1]["coreCount"] = "many"
    code, text = site.curl("/agent/v1/register", body=bad, token=token)
    assert code == 400 and json.loads(text) == {"error": "hardware.compute.processors[1].coreCount: must be an integer"}
    # A boot token opens register only: refused from the head, before the body is read.
    assert site.curl("/agent/v1/wiped", body={"mode": "sideways"}, token=token)[0] == 401
    time.sleep(0.5)
    assert site.get("server", uuid) is None


def test_synthetic_uuid(site):
    zero, mac = "00000000-0000-0000-0000-000000000000", "52:54:00:aa:00:10"
    token = site.token(zero, mac)
    body = register_body(zero, mac)
    code, text = site.curl("/agent/v1/register", body=body, token=token)
    assert code == 200, text
    token = json.loads(text)["session"]
    expected = str(uuidlib.uuid5(uuidlib.NAMESPACE_DNS, f"ironboot:{mac}"))
    assert json.loads(text)["server"] == expected
    obj = site.wait_for("synthetic server", lambda: site.get("server", expected))
    site.wait_for("SyntheticUUID", lambda: condition(site.get("server", expected), "SyntheticUUID"))
    assert obj["spec"]["accepted"] is False
    # Later requests with the session reach the synthetic Server.
    code, text = site.curl("/agent/v1/heartbeat", body={}, token=token)
    assert code == 200 and json.loads(text)["instruction"] == {"action": "wait"}


def test_duplicate_uuid(site):
    uuid = "4c4c4544-0099-3510-8051-b7c04f4e4d99"
    first_mac, second_mac = "52:54:00:aa:00:20", "52:54:00:aa:00:21"
    code, text = site.curl("/agent/v1/register", body=register_body(uuid, first_mac, serial="SERIAL-A"),
                           token=site.token(uuid, first_mac))
    assert code == 200 and json.loads(text)["server"] == uuid, text
    site.wait_for("first server", lambda: site.get("server", uuid))
    code, text = site.curl("/agent/v1/register", body=register_body(uuid, second_mac, serial="SERIAL-B"),
                           token=site.token(uuid, second_mac))
    assert code == 200, text
    second = str(uuidlib.uuid5(uuidlib.NAMESPACE_DNS, f"ironboot:{second_mac}"))
    assert json.loads(text)["server"] == second
    site.wait_for("DuplicateUUID on both",
                  lambda: condition(site.get("server", uuid), "DuplicateUUID") and
                  condition(site.get("server", second), "DuplicateUUID"))
    first = site.get("server", uuid)
    assert first["spec"]["hardware"]["system"]["serialNumber"] == "SERIAL-A"  # not overwritten
    assert site.get("server", second)["spec"]["hardware"]["system"]["serialNumber"] == "SERIAL-B"
    assert "DuplicateUUID" in site.daemon.read_log() or "duplicate uuid" in site.daemon.read_log()


def test_environment_checksum_mismatch_is_never_served(site):
    kernel = os.path.join(site.workdir, "images", "bad-kernel")
    with open(kernel, "wb") as f:
        f.write(b"tampered")
    environment(site, "broken", kernel, kernel, "0" * 128)
    cond = site.wait_for("broken not ready", lambda: condition(site.get("environment", "broken"), "Ready"))
    assert cond["status"] == "False" and cond["reason"] == "ChecksumMismatch", cond
    assert site.curl("/assets/environments/broken/kernel")[0] == 404


def test_invalid_serverclass_is_reported_and_lists_nobody(site):
    apply(site, {"apiVersion": "metal.sidero.dev/v1alpha2", "kind": "ServerClass", "metadata": {"name": "broken-regex"},
                 "spec": {"qualifiers": {"cpu": [{"version": "EPYC("}]}}})
    cond = site.wait_for("InvalidQualifiers", lambda: condition(site.get("serverclass", "broken-regex"), "Ready"))
    assert cond["status"] == "False" and cond["reason"] == "InvalidQualifiers", cond
    assert "spec.qualifiers.cpu[0].version" in cond["message"]
    assert not (site.get("serverclass", "broken-regex").get("status") or {}).get("serversAvailable")
    ready = condition(site.get("serverclass", "any"), "Ready")
    assert ready and ready["status"] == "True"


def test_environment_over_http(site):
    served = os.path.join(site.workdir, "http-root")
    os.makedirs(served, exist_ok=True)
    kernel_data, initrd_data = os.urandom(300000), os.urandom(200000)
    for name, data in (("vmlinuz", kernel_data), ("initrd.img", initrd_data)):
        with open(os.path.join(served, name), "wb") as f:
            f.write(data)
    web = site.client.popen(["/usr/bin/python3", "-m", "http.server", "8000", "--bind", f"{SUBNET}.10",
                             "--directory", served], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        apply(site, {"apiVersion": "metal.sidero.dev/v1alpha2", "kind": "Environment", "metadata": {"name": "web"},
                     "spec": {"kernel": {"url": f"http://{SUBNET}.10:8000/vmlinuz",
                                         "sha512": hashlib.sha512(kernel_data).hexdigest()},
                              "initrd": {"url": f"http://{SUBNET}.10:8000/initrd.img",
                                         "sha512": hashlib.sha512(initrd_data).hexdigest()}}})
        cond = site.wait_for("web Ready", lambda: condition(site.get("environment", "web"), "Ready"))
        assert cond["status"] == "True", cond
        r = subprocess.run(site.client.cmd(["curl", "-sS", "--noproxy", "*", BASE + "/assets/environments/web/initrd"]),
                           capture_output=True, check=True)
        assert r.stdout == initrd_data
        apply(site, {"apiVersion": "metal.sidero.dev/v1alpha2", "kind": "Environment", "metadata": {"name": "web-404"},
                     "spec": {"kernel": {"url": f"http://{SUBNET}.10:8000/missing",
                                         "sha512": hashlib.sha512(b"missing").hexdigest()}}})
        cond = site.wait_for("web-404 not Ready", lambda: condition(site.get("environment", "web-404"), "Ready"))
        assert cond["status"] == "False" and cond["reason"] == "FetchFailed" and "404" in cond["message"], cond
        apply(site, {"apiVersion": "metal.sidero.dev/v1alpha2", "kind": "Environment", "metadata": {"name": "tls"},
                     "spec": {"kernel": {"url": f"https://{SUBNET}.10:8443/vmlinuz"}}})
        cond = site.wait_for("tls not Ready", lambda: condition(site.get("environment", "tls"), "Ready"))
        # https:// is fetched (test_environment_fetch.py); nothing listens on that port here.
        assert cond["status"] == "False" and cond["reason"] == "FetchFailed" and "connect" in cond["message"], cond
    finally:
        web.terminate()
        web.wait()
