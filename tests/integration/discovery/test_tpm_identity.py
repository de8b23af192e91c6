"""TPM identity end to end (issue #12): the real agent (`ironboot-agent --register`) with
swtpm as its TPM, in its own network namespace, registers with a running ironboot; the EK
digest it proves is the one tpm2-tools reads; once the Server is accepted, the same UUID
with another swtpm (another EK) or with no TPM is refused 403 IdentityMismatch with an
Event, and the Server is not changed."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from test_discovery_flow import register_body

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import netlab  # noqa: E402
from kubectl_runner import Kubectl, write_kubeconfig  # noqa: E402

SUBNET = "10.87.0"
BASE = f"http://{SUBNET}.2:8080"
AGENT = os.environ.get("IRONBOOT_AGENT_BIN") or os.path.join(netlab.ROOT, "build", "ironboot-agent")
UUID, MAC = "4c4c4544-0087-3510-8051-b7c04f4e4d01", "52:54:00:87:00:01"

pytestmark = pytest.mark.skipif(not shutil.which("swtpm") or not shutil.which("tpm2_createek"),
                                reason="needs swtpm and tpm2-tools")


class Swtpm:
    """swtpm in `host`'s namespace on its loopback (data port, control port + 1)."""

    def __init__(self, host, workdir, name, port):
        self.host, self.port = host, port
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.proc = host.popen(["swtpm", "socket", "--tpm2", "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
                                "--ctrl", f"type=tcp,port={port + 1},bindaddr=127.0.0.1", "--tpmstate",
                                f"dir={self.dir}", "--flags", "not-need-init,startup-clear"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while self.host.run(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"], check=False).returncode != 0:
            assert time.monotonic() < deadline, "swtpm did not start"
            time.sleep(0.1)

    def ek_sha256(self):
        """The EK digest as tpm2-tools sees it: SHA-256 of the public key in DER."""
        der = os.path.join(self.dir, "ek.der")
        self.host.run(["tpm2_createek", "-T", f"swtpm:host=127.0.0.1,port={self.port}", "-c", "0x81010001",
                       "-G", "rsa", "-f", "der", "-u", der])
        with open(der, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class Lab:
    def __init__(self, hosts, workdir, daemon):
        self.hosts, self.workdir, self.daemon = hosts, workdir, daemon
        self.kubectl_runner = Kubectl(hosts["appliance"],
                                      write_kubeconfig(daemon.config_path, os.path.join(workdir, "kubeconfig")),
                                      lambda: self.daemon.read_log()[-4000:])

    def get(self, kind, name):
        return self.kubectl_runner.get(kind, name)

    def boot_token(self):
        r = self.hosts["agent"].run(["curl", "-sS", "--noproxy", "*", "--max-time", "20",
                                     f"{BASE}/ipxe?uuid={UUID}&mac={MAC.replace(':', '-')}&arch=x86_64&platform=pcbios"])
        m = re.search(r"ironboot\.token=(\S+)", r.stdout)
        assert m, r.stdout
        return m.group(1)

    def agent_register(self, tpm=None):
        """One register by the real agent; (exit status, its console lines)."""
        args = [AGENT, "--register", BASE, "--token", self.boot_token(), "--body", os.path.join(self.workdir, "body.json")]
        if tpm:
            args += ["--tpm", f"tcp:127.0.0.1:{tpm.port}"]
        r = self.hosts["agent"].run(args, check=False, timeout=120)
        return r.returncode, r.stdout + r.stderr

    def events(self, reason):
        out = self.kubectl_runner.run("get", "events", "-n", "default", "-o", "json").stdout
        return [e for e in json.loads(out)["items"]
                if e["involvedObject"].get("name") == UUID and e.get("reason") == reason]

    def wait_for(self, what, predicate, timeout=15):
        return netlab.wait_for(what, predicate, self.daemon, timeout)


@pytest.fixture(scope="module")
def lab():
    workdir = tempfile.mkdtemp(prefix="ironboot-tpm-")
    os.chmod(workdir, 0o755)
    with open(os.path.join(workdir, "body.json"), "w") as f:
        json.dump(register_body(UUID, MAC), f)
    net = netlab.Lab(subnet=SUBNET)
    try:
        hosts = {"appliance": net.add_host("appliance", 2), "agent": net.add_host("agent", 10)}
        cfg = netlab.agent_lab_config(workdir, SUBNET)
        daemon = netlab.Ironboot(hosts["appliance"], cfg, workdir=workdir).start()
        try:
            yield Lab(hosts, workdir, daemon)
        finally:
            daemon.stop()
    finally:
        net.close()
        shutil.rmtree(workdir, ignore_errors=True)


def identity(server):
    return (server or {}).get("status", {}).get("identity", {})


def test_the_agent_proves_its_tpm_and_a_pinned_server_refuses_another(lab):
    first = Swtpm(lab.hosts["agent"], lab.workdir, "tpm-a", 2321)
    second = Swtpm(lab.hosts["agent"], lab.workdir, "tpm-b", 2421)
    try:
        code, out = lab.agent_register(first)
        assert code == 0, out + lab.daemon.read_log()[-3000:]
        assert "tpm: tcp:127.0.0.1:2321 EK created from template L-1" in out, out
        server = lab.wait_for("identity", lambda: identity(lab.get("server", UUID)).get("ekSha256") and lab.get("server", UUID))
        digest = identity(server)["ekSha256"]
        assert server["metadata"]["annotations"]["ironboot.dev/tpm-ek-sha256"] == digest
        assert identity(server)["pinned"] is False
        # What the agent proved is the EK tpm2-tools reads from the same TPM.
        assert first.ek_sha256() == digest

        lab.kubectl_runner.run("patch", "server", UUID, "--type", "merge", "-p", '{"spec":{"accepted":true}}')
        server = lab.wait_for("pinned", lambda: identity(lab.get("server", UUID)).get("pinned") and lab.get("server", UUID))
        version = server["metadata"]["resourceVersion"]

        # The same UUID and MAC with another TPM: refused, recorded, the Server unchanged.
        other = second.ek_sha256()
        assert other != digest
        code, out = lab.agent_register(second)
        assert code == 1, out
        assert "HTTP 403" in out and "identity_mismatch" in out and digest in out, out
        # And with no TPM at all.
        code, out = lab.agent_register(None)
        assert code == 1 and "HTTP 403" in out and "identity_mismatch" in out, out
        events = lab.wait_for("IdentityMismatch", lambda: lab.events("IdentityMismatch"))
        assert events[0]["type"] == "Warning"
        assert "proved EK " + other in " ".join(e["message"] for e in events), events
        time.sleep(1)
        server = lab.get("server", UUID)
        assert server["metadata"]["resourceVersion"] == version
        assert server["metadata"]["annotations"]["ironboot.dev/tpm-ek-sha256"] == digest
        metrics = lab.hosts["agent"].run(["curl", "-sS", "--noproxy", "*", f"{BASE}/metrics"]).stdout
        assert re.search(r'^ironboot_agent_identity_refusals_total\{reason="identity_mismatch"\} [2-9]', metrics, re.M), metrics

        # The machine with its own TPM still registers.
        code, out = lab.agent_register(first)
        assert code == 0, out
    finally:
        first.stop()
        second.stop()
