"""The whole path with a TPM, in QEMU without KVM: a SeaBIOS guest with a tpm-tis device
backed by swtpm PXE-boots from ironboot, its agent proves the TPM's EK by credential
activation, and the Server carries the EK digest that tpm2-tools computes for the same TPM
state afterwards. Once it is accepted, a second guest with the same SMBIOS identity and MAC
but another swtpm (another EK) boots the agent too and is refused: IdentityMismatch, the
Server unchanged. Two boots (TCG is slow)."""

import hashlib
import json
import os
import shutil
import subprocess
import time

import pytest

import guests
from guests import Identity

TPM_SERVER = Identity("Ironboot Labs", "E2E TPM Node", "E2E-TPM-0001", "9c4f5e6d-7d8c-4b9b-8fa0-3e4d5c6b7a84",
                      "52:54:00:e2:7b:01")

pytestmark = pytest.mark.skipif(not shutil.which("swtpm") or not shutil.which("tpm2_createek"),
                                reason="needs swtpm and tpm2-tools")


class TpmGuest(guests.Guest):
    """A Guest whose TPM is swtpm on a unix control socket in its directory."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.tpm_state = os.path.join(self.dir, "tpm")
        os.makedirs(self.tpm_state, exist_ok=True)
        self.tpm_socket = os.path.join(self.tpm_state, "swtpm.sock")
        self.swtpm = None

    def command(self, tap):
        return super().command(tap) + ["-chardev", f"socket,id=chrtpm,path={self.tpm_socket}",
                                       "-tpmdev", "emulator,id=tpm0,chardev=chrtpm", "-device", "tpm-tis,tpmdev=tpm0"]

    def power_on(self):
        self.swtpm = subprocess.Popen(["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={self.tpm_state}",
                                       "--ctrl", f"type=unixio,path={self.tpm_socket}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(self.tpm_socket):
                break
            time.sleep(0.05)
        return super().power_on()

    def power_off(self):
        super().power_off()
        if self.swtpm and self.swtpm.poll() is None:
            self.swtpm.terminate()
            self.swtpm.wait(10)

    def ek_sha256(self, port=2721):
        """SHA-256 of the EK's DER public key, read by tpm2-tools from the guest's TPM state."""
        tpm = subprocess.Popen(["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={self.tpm_state}", "--server",
                                f"type=tcp,port={port},bindaddr=127.0.0.1", "--ctrl",
                                f"type=tcp,port={port + 1},bindaddr=127.0.0.1", "--flags", "not-need-init,startup-clear"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            der = os.path.join(self.dir, "ek.der")
            for _ in range(50):
                r = subprocess.run(["tpm2_createek", "-T", f"swtpm:host=127.0.0.1,port={port}", "-c",
                                    os.path.join(self.dir, "ek.ctx"), "-G", "rsa", "-f", "der", "-u", der],
                                   capture_output=True, text=True)
                if r.returncode == 0:
                    break
                time.sleep(0.1)
            assert r.returncode == 0, r.stderr
            with open(der, "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()
        finally:
            tpm.terminate()
            tpm.wait(10)


@pytest.fixture(scope="module")
def site(agent_image):
    s = guests.Site(agent_image, subnet="10.79.0", ipv6_router=False)
    try:
        yield s
    finally:
        s.close()
        s.remove_workdir()


def test_a_guest_with_a_tpm_registers_its_ek(site):
    guest = TpmGuest(site.lab, site.workdir, "tpm-1", TPM_SERVER, "bios")
    site.guests.append(guest)
    guest.power_on()
    try:
        uuid = TPM_SERVER.uuid

        def identity():
            server = site.get("server", uuid)
            return server and server.get("status", {}).get("identity", {}).get("ekSha256") and server

        server = site.wait_for("the Server's TPM identity", identity, timeout=240, watched=(guest,))
    finally:
        guest.power_off()
    console = guest.console()
    assert "tpm: /dev/tpmrm0 EK created from template L-1" in console, console[-3000:]
    digest = server["status"]["identity"]["ekSha256"]
    assert server["metadata"]["annotations"]["ironboot.dev/tpm-ek-sha256"] == digest
    assert guest.ek_sha256() == digest


def test_a_second_guest_with_another_tpm_is_refused(site):
    uuid = TPM_SERVER.uuid
    assert site.get("server", uuid), "needs the first test's Server"
    site.kubectl("patch", "server", uuid, "--type", "merge", "-p", '{"spec":{"accepted":true}}')
    site.wait_for("pinned", lambda: site.get("server", uuid)["status"].get("identity", {}).get("pinned"), timeout=30)
    before = site.get("server", uuid)
    pinned = before["status"]["identity"]["ekSha256"]
    impostor = TpmGuest(site.lab, site.workdir, "tpm-2", TPM_SERVER, "bios")
    site.guests.append(impostor)
    impostor.power_on()

    def mismatch_events():
        items = json.loads(site.kubectl("get", "events", "-n", "default", "-o", "json").stdout)["items"]
        return [e for e in items if e["involvedObject"].get("name") == uuid and e.get("reason") == "IdentityMismatch"]

    try:
        site.wait_for("the impostor's refusal", lambda: "identity_mismatch" in impostor.console(), timeout=240,
                      watched=(impostor,))
        events = site.wait_for("IdentityMismatch", mismatch_events, timeout=30)
    finally:
        impostor.power_off()
    other = impostor.ek_sha256()
    assert other != pinned
    assert events[0]["type"] == "Warning"
    assert any("proved EK " + other in e["message"] for e in events), events
    assert "HTTP 403" in impostor.console()
    # Nothing the impostor reported reached the Server.
    after = site.get("server", uuid)
    assert after["status"]["identity"] == before["status"]["identity"]
    assert after["metadata"]["annotations"] == before["metadata"]["annotations"]
    assert after["spec"] == before["spec"]
