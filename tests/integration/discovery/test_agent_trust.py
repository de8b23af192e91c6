"""Agent trust on a shared provisioning network (issue #12): an outsider in its own network
namespace (another address on the same bridge) asks /ipxe and replays tokens; the agent API
refuses what it must, counts it, records it, and the Server never turns clean by a claim."""

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

import pytest

from test_discovery_flow import condition, register_body

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import netlab  # noqa: E402
from kubectl_runner import Kubectl, write_kubeconfig  # noqa: E402

SUBNET = "10.84.0"
BASE = f"http://{SUBNET}.2:8080"
MINTS_PER_MINUTE = 20


class Trust:
    def __init__(self, appliance, hosts, workdir, daemon):
        self.appliance, self.hosts, self.workdir, self.daemon = appliance, hosts, workdir, daemon
        self.kubectl_runner = Kubectl(appliance, write_kubeconfig(daemon.config_path, os.path.join(workdir, "kubeconfig")),
                                      lambda: self.daemon.read_log()[-4000:])

    def kubectl(self, *args, input=None):
        return self.kubectl_runner.run(*args, input=input)

    def get(self, kind, name):
        return self.kubectl_runner.get(kind, name)

    def curl(self, host, path, body=None, token=None, raw=False):
        """(status, body) of a request from `host`'s namespace ("agent", "outsider", "flooder")."""
        cmd = ["curl", "-sS", "--noproxy", "*", "--max-time", "40", "-w", "\n%{http_code}"]
        if token is not None:
            cmd += ["-H", f"Authorization: Bearer {token}"]
        if body is not None:
            path_file = os.path.join(self.workdir, f"body-{host}-{threading.get_ident()}.json")
            with open(path_file, "w") as f:
                json.dump(body, f)
            cmd += ["-H", "Content-Type: application/json", "--data-binary", "@" + path_file]
        r = subprocess.run(self.hosts[host].cmd(cmd + [BASE + path]), capture_output=True, timeout=60)
        text, _, code = r.stdout.decode(errors="replace").rpartition("\n")
        return int(code or 0), text

    def ipxe(self, host, uuid, mac):
        return self.curl(host, f"/ipxe?uuid={uuid}&mac={mac.replace(':', '-')}&arch=x86_64&platform=pcbios")

    def boot_token(self, host, uuid, mac):
        code, script = self.ipxe(host, uuid, mac)
        m = re.search(r"ironboot\.token=(\S+)", script)
        assert code == 200 and m, script
        return m.group(1)

    def register(self, uuid, mac):
        """The agent's boot: /ipxe, then register from the same address; the session token."""
        code, text = self.curl("agent", "/agent/v1/register", register_body(uuid, mac),
                               self.boot_token("agent", uuid, mac))
        assert code == 200, text
        return json.loads(text)["session"]

    def accept_and_take_wipe(self, uuid, session):
        self.kubectl("patch", "server", uuid, "--type", "merge", "-p", '{"spec":{"accepted":true}}')
        instruction = {}

        def handed_out():
            code, text = self.curl("agent", "/agent/v1/heartbeat", {}, session)
            assert code == 200, text
            instruction.update(json.loads(text)["instruction"])
            return instruction["action"] == "wipe"

        self.wait_for("wipe handed out", handed_out)
        self.wait_for("Wiping", lambda: (condition(self.get("server", uuid), "Wiping") or {}).get("status") == "True")
        return instruction["wipeId"]

    def metric(self, name, labels=""):
        code, text = self.curl("agent", "/metrics")
        assert code == 200
        m = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\d+)", text, re.M)
        return int(m.group(1)) if m else 0

    def events(self, name, reason):
        out = self.kubectl("get", "events", "-n", "default", "-o", "json").stdout
        return [e for e in json.loads(out)["items"]
                if e["involvedObject"].get("name") == name and e.get("reason") == reason]

    def wait_for(self, what, predicate, timeout=15):
        return netlab.wait_for(what, predicate, self.daemon, timeout)


@pytest.fixture(scope="module")
def trust():
    workdir = tempfile.mkdtemp(prefix="ironboot-trust-")
    os.chmod(workdir, 0o755)
    lab = netlab.Lab(subnet=SUBNET)
    try:
        appliance = lab.add_host("appliance", 2)
        hosts = {"agent": lab.add_host("agent", 10), "outsider": lab.add_host("outsider", 66),
                 "flooder": lab.add_host("flooder", 99)}
        cfg = netlab.agent_lab_config(
            workdir, SUBNET,
            discovery={"boot_tokens_per_minute": MINTS_PER_MINUTE},
            # file:// Environments come only from beneath a configured local dir.
            environments={"local_dirs": [os.path.join(workdir, "images")]})
        daemon = netlab.Ironboot(appliance, cfg, workdir=workdir).start()
        try:
            t = Trust(appliance, hosts, workdir, daemon)
            t.wait_for("class any", lambda: t.get("serverclass", "any"))
            yield t
        finally:
            daemon.stop()
    finally:
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)


def test_a_spoofed_wiped_is_refused_and_the_server_stays_unclean(trust):
    uuid, mac = "4c4c4544-0084-3510-8051-b7c04f4e4d01", "52:54:00:84:00:01"
    session = trust.register(uuid, mac)
    trust.wait_for("server", lambda: trust.get("server", uuid))
    wipe_id = trust.accept_and_take_wipe(uuid, session)

    # The outsider asks /ipxe for the accepted, unclean Server: it gets a boot token (the
    # decision is the agent), which opens register only.
    outsider_boot = trust.boot_token("outsider", uuid, mac)
    report = {"mode": "fast", "devices": ["/dev/sda"]}
    code, text = trust.curl("outsider", "/agent/v1/wiped", report, outsider_boot)
    assert code == 401 and json.loads(text)["reason"] == "wrong_kind", text
    code, text = trust.curl("agent", "/agent/v1/wiped", report, outsider_boot)
    assert code == 401, text
    # A valid session without the wipe's id, or with a made-up one: 409, nothing changes.
    code, text = trust.curl("agent", "/agent/v1/wiped", report, session)
    assert code == 409, text
    code, text = trust.curl("agent", "/agent/v1/wiped", dict(report, wipeId="0" * 32), session)
    assert code == 409, text
    time.sleep(1)
    server = trust.get("server", uuid)
    assert server["status"].get("isClean") is False, server["status"]
    assert (condition(server, "Clean") or {}).get("status") != "True"
    assert server["status"]["wipeRequest"]["idSha256"] == hashlib.sha256(wipe_id.encode()).hexdigest()

    # The real exchange: clean, and the id is used up.
    code, text = trust.curl("agent", "/agent/v1/wiped", dict(report, wipeId=wipe_id), session)
    assert code == 200, text
    trust.wait_for("clean", lambda: trust.get("server", uuid)["status"].get("isClean") is True)
    code, text = trust.curl("agent", "/agent/v1/wiped", dict(report, wipeId=wipe_id), session)
    assert code == 409, text


def test_a_token_reused_from_a_second_address_is_refused_counted_and_recorded(trust):
    uuid, mac = "4c4c4544-0084-3510-8051-b7c04f4e4d02", "52:54:00:84:00:02"
    boot = trust.boot_token("agent", uuid, mac)
    before = trust.metric("ironboot_agent_token_rejections_total", '{reason="wrong_address"}')
    code, text = trust.curl("outsider", "/agent/v1/register", register_body(uuid, mac), boot)
    assert code == 401 and json.loads(text)["reason"] == "wrong_address", text
    code, text = trust.curl("agent", "/agent/v1/register", register_body(uuid, mac), boot)
    assert code == 200, text
    session = json.loads(text)["session"]
    trust.wait_for("server", lambda: trust.get("server", uuid))
    code, text = trust.curl("outsider", "/agent/v1/heartbeat", {}, session)
    assert code == 401, text
    assert json.loads(text) == {"error": "token wrong_address", "reason": "wrong_address"}
    assert trust.metric("ironboot_agent_token_rejections_total", '{reason="wrong_address"}') == before + 2
    event = trust.wait_for("AgentTokenRejected", lambda: trust.events(uuid, "AgentTokenRejected"))
    assert event[-1]["type"] == "Warning"
    assert f"from {SUBNET}.66" in event[-1]["message"], event
    assert session not in event[-1]["message"] and boot not in event[-1]["message"]
    assert "agent refused reason=wrong_address" in trust.daemon.read_log()
    # The agent itself carries on with its session.
    assert trust.curl("agent", "/agent/v1/heartbeat", {}, session)[0] == 200


def test_ipxe_records_no_boot_but_the_kernel_fetch_with_its_ticket_does(trust):
    uuid, mac = "4c4c4544-0084-3510-8051-b7c04f4e4d03", "52:54:00:84:00:03"
    session = trust.register(uuid, mac)
    trust.wait_for("server", lambda: trust.get("server", uuid))
    wipe_id = trust.accept_and_take_wipe(uuid, session)
    code, text = trust.curl("agent", "/agent/v1/wiped", {"mode": "fast", "wipeId": wipe_id, "devices": []}, session)
    assert code == 200, text
    trust.wait_for("clean", lambda: trust.get("server", uuid)["status"].get("isClean") is True)

    kernel = os.path.join(trust.workdir, "images", "trust-kernel")
    os.makedirs(os.path.dirname(kernel), exist_ok=True)
    with open(kernel, "wb") as f:
        f.write(b"TRUSTKERNEL" * 1000)
    trust.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "metal.sidero.dev/v1alpha2", "kind": "Environment", "metadata": {"name": "trusted"},
        "spec": {"kernel": {"url": "file://" + kernel, "sha512": hashlib.sha512(b"TRUSTKERNEL" * 1000).hexdigest()},
                 "initrd": {"url": "file://" + kernel}}}))
    trust.wait_for("Ready", lambda: (condition(trust.get("environment", "trusted"), "Ready") or {}).get("status") == "True")
    trust.kubectl("patch", "server", uuid, "--type", "merge", "-p", '{"spec":{"environmentRef":{"name":"trusted"}}}')

    def environment_script():
        code, script = trust.ipxe("agent", uuid, mac)
        return script if "/assets/environments/trusted/kernel" in script else None

    script = trust.wait_for("environment decision", environment_script)
    ticket = re.search(r"/assets/environments/trusted/kernel\?ticket=(k2\.[A-Za-z0-9._~-]+) ", script).group(1)
    for _ in range(3):
        assert trust.ipxe("outsider", uuid, mac)[0] == 200  # anyone may ask
    kernel_path = "/assets/environments/trusted/kernel"
    assert trust.curl("agent", kernel_path)[0] == 200  # no ticket: served, not a boot
    assert trust.curl("outsider", kernel_path + "?ticket=" + ticket)[0] == 200  # another address's ticket
    time.sleep(1.5)
    assert condition(trust.get("server", uuid), "PXEBooted") is None or \
        condition(trust.get("server", uuid), "PXEBooted")["status"] != "True"
    assert "environment kernel ticket refused reason=wrong_address" in trust.daemon.read_log()

    code, body = trust.curl("agent", kernel_path + "?ticket=" + ticket)
    assert code == 200 and body.startswith("TRUSTKERNEL")
    booted = trust.wait_for("PXEBooted", lambda: (condition(trust.get("server", uuid), "PXEBooted") or {})
                            .get("status") == "True" and condition(trust.get("server", uuid), "PXEBooted"))
    assert booted["message"] == "trusted"
    assert "\nexit\n" in trust.ipxe("agent", uuid, mac)[1]


def test_minting_over_the_rate_limit_is_refused(trust):
    uuid, mac = "4c4c4544-0084-3510-8051-b7c04f4e4d04", "52:54:00:84:00:04"
    before = trust.metric("ironboot_ipxe_boot_tokens_rate_limited_total")
    minted = refused = 0
    for _ in range(MINTS_PER_MINUTE + 5):
        code, script = trust.ipxe("flooder", uuid, mac)
        assert code == 200, script
        if "ironboot.token=" in script:
            minted += 1
        else:
            assert "sleep 20" in script and "chain --replace --autofree " + BASE + "/boot.ipxe" in script, script
            refused += 1
    assert minted <= MINTS_PER_MINUTE + 1 and refused >= 4, (minted, refused)
    assert trust.metric("ironboot_ipxe_boot_tokens_rate_limited_total") == before + refused
    # Another address is not affected.
    assert "ironboot.token=" in trust.ipxe("outsider", uuid, mac)[1]
