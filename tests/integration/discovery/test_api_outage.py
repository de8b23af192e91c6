"""The Kubernetes API going away mid-flow. The embedded API runs inside the ironboot process,
so the API here is a second ironboot (embedded mode) and the appliance under test uses it in
`kubeconfig` mode, exactly as it would use a real cluster: boots are answered from the
informer caches while the API is down, and the writes made meanwhile land when it returns."""

import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from test_discovery_flow import condition, register_body
import netlab
from kubectl_runner import Kubectl, write_kubeconfig

SUBNET = "10.84.0"
BASE = f"http://{SUBNET}.2:8080"


@pytest.fixture
def outage_lab():
    workdir = tempfile.mkdtemp(prefix="ironboot-outage-")
    os.chmod(workdir, 0o755)
    os.makedirs(os.path.join(workdir, "agent"))
    for name in ("vmlinuz", "initramfs"):
        with open(os.path.join(workdir, "agent", name), "wb") as f:
            f.write(b"A" * 1024)
    lab = netlab.Lab(subnet=SUBNET)
    daemons = []
    try:
        appliance = lab.add_host("appliance", 2)
        client = lab.add_host("client", 10)
        api_dir = os.path.join(workdir, "api")
        os.makedirs(api_dir)
        api = netlab.Ironboot(appliance, {
            "interface": "eth0", "dhcp": {"enabled": False}, "tftp": {"enabled": False},
            "http": {"listen": "127.0.0.1:8081"},
            "cluster": {"mode": "embedded", "embedded": {"listen": "127.0.0.1:6443",
                                                         "data_dir": os.path.join(api_dir, "cluster")}},
            "log": {"level": "debug"}}, workdir=api_dir)
        daemons.append(api.start())
        kubeconfig = write_kubeconfig(api.config_path, os.path.join(workdir, "kubeconfig"))
        app_dir = os.path.join(workdir, "app")
        os.makedirs(app_dir)
        app = netlab.Ironboot(appliance, {
            "interface": "eth0", "advertise_address": f"{SUBNET}.2",
            "dhcp": {"enabled": False}, "tftp": {"enabled": False, "root": os.path.join(workdir, "agent")},
            "http": {"listen": "0.0.0.0:8080"},
            "agent": {"kernel": os.path.join(workdir, "agent", "vmlinuz"),
                      "initrd": os.path.join(workdir, "agent", "initramfs")},
            "cluster": {"mode": "kubeconfig", "kubeconfig": kubeconfig,
                        "embedded": {"data_dir": os.path.join(app_dir, "data")}},
            "log": {"level": "debug"}}, workdir=app_dir)
        daemons.append(app.start())
        yield {"api": api, "app": app, "appliance": appliance, "client": client,
               "kubectl": Kubectl(appliance, kubeconfig, lambda: api.read_log()[-4000:])}
    finally:
        for d in reversed(daemons):
            d.stop()
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)


def test_boots_from_cache_and_writes_land_after_outage(outage_lab):
    L = outage_lab

    def kubectl(*args):
        return L["kubectl"].run(*args, check=False)

    def server(name):
        return L["kubectl"].get("server", name)

    def curl(path, body=None, token=None):
        cmd = ["curl", "-sS", "--noproxy", "*", "--max-time", "20", "-w", "\n%{http_code}"]
        if token:
            cmd += ["-H", f"Authorization: Bearer {token}"]
        if body is not None:
            cmd += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
        r = subprocess.run(L["client"].cmd(cmd + [BASE + path]), capture_output=True, text=True, timeout=30)
        text, _, code = r.stdout.rpartition("\n")
        return int(code or 0), text

    def wait_for(what, predicate, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}\n{L['app'].read_log()[-3000:]}")

    uuid, mac = "4c4c4544-0077-3510-8051-b7c04f4e4d77", "52:54:00:77:00:01"
    ipxe = f"/ipxe?uuid={uuid}&mac={mac.replace(':', '-')}&arch=x86_64"
    code, script = curl(ipxe)
    boot_token = script.split("ironboot.token=")[1].split()[0]
    code, body = curl("/agent/v1/register", register_body(uuid, mac), boot_token)
    assert code == 200, body
    token = json.loads(body)["session"]  # register exchanges the boot token for the session
    wait_for("server created", lambda: server(uuid))
    assert kubectl("patch", "server", uuid, "--type", "merge", "-p", '{"spec":{"accepted":true}}').returncode == 0
    wipe = {}

    def wipe_handed_out():
        wipe.update(json.loads(curl("/agent/v1/heartbeat", {}, token)[1])["instruction"])
        return wipe["action"] == "wipe"

    wait_for("wipe", wipe_handed_out)

    L["api"].stop()  # the API is gone
    code, script = curl(ipxe)  # answered from the cache
    assert code == 200 and "ironboot.token=" in script, script
    code, body = curl("/agent/v1/wiped", {"mode": "fast", "wipeId": wipe["wipeId"], "devices": ["/dev/nvme0n1"]}, token)
    assert code == 200 and json.loads(body)["instruction"] == {"action": "reboot"}, body
    time.sleep(1)

    L["api"].start()  # back: the queued status write lands
    wait_for("isClean written after the outage",
             lambda: (server(uuid) or {}).get("status", {}).get("isClean") is True, timeout=45)
    assert (condition(server(uuid), "Clean") or {}).get("status") == "True"
    # The caches catch up too: the clean, accepted server now boots from disk.
    wait_for("boot from disk", lambda: "\nexit\n" in curl(ipxe)[1], timeout=45)
