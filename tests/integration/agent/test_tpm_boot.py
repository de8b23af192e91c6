"""The agent image in QEMU (no KVM) with a TPM 2.0: QEMU's tpm-tis device backed by swtpm.
The agent reads the EK and makes an AK through /dev/tpmrm0, asks a challenge, and answers
the credential tpm2_makecredential (tpm2-tools, in software) made for them; afterwards the
host reads the same swtpm state with tpm2-tools and finds the EK the agent reported.
One boot: TCG is slow."""

import json
import os
import shutil
import subprocess
import time

import pytest

import test_image

pytestmark = pytest.mark.skipif(not shutil.which("swtpm") or not shutil.which("tpm2_makecredential"),
                                reason="needs swtpm and tpm2-tools")


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """IRONBOOT_AGENT_IMAGE (a build-agent output directory), else one build."""
    prebuilt = os.environ.get("IRONBOOT_AGENT_IMAGE")
    if prebuilt:
        return prebuilt
    out = str(tmp_path_factory.mktemp("agent-image") / "a")
    test_image.build(out)
    return out


def test_the_agent_attests_with_the_guests_tpm(image, tmp_path):
    state = tmp_path / "tpm"
    state.mkdir()
    sock = str(state / "swtpm.sock")
    swtpm = subprocess.Popen(["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={state}", "--ctrl",
                              f"type=unixio,path={sock}", "--log", f"file={state / 'swtpm.log'},level=1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        qemu_tpm = ["-chardev", f"socket,id=chrtpm,path={sock}", "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
                    "-device", "tpm-tis,tpmdev=tpm0"]
        requests, console = test_image.boot_guest(image, tmp_path, "tpm", qemu_tpm)
    finally:
        swtpm.terminate()
        swtpm.wait(10)
    assert "tpm: /dev/tpmrm0 EK created from template L-1" in console, console[-4000:]
    challenges = [json.loads(r["body"]) for r in requests if r["path"] == "/agent/v1/challenge"]
    registers = [json.loads(r["body"]) for r in requests if r["path"] == "/agent/v1/register"]
    assert len(challenges) == 1 and len(registers) == 1, console[-4000:]
    assert registers[0]["tpm"]["challenge"] and registers[0]["tpm"]["secret"]

    # The same TPM state read by tpm2-tools on the host: the EK the agent reported.
    port = 2621
    host_tpm = subprocess.Popen(["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={state}", "--server",
                                 f"type=tcp,port={port},bindaddr=127.0.0.1", "--ctrl",
                                 f"type=tcp,port={port + 1},bindaddr=127.0.0.1", "--flags", "not-need-init,startup-clear"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out = str(tmp_path / "ek.pub")
        for _ in range(50):
            r = subprocess.run(["tpm2_createek", "-T", f"swtpm:host=127.0.0.1,port={port}", "-c", str(tmp_path / "ek.ctx"), "-G", "rsa",
                                "-u", out], capture_output=True)
            if r.returncode == 0:
                break
            time.sleep(0.1)
        assert r.returncode == 0, r.stderr
        with open(out, "rb") as f:
            tools_ek = f.read()[2:]  # TPM2B_PUBLIC: the size, then the TPMT_PUBLIC
        assert tools_ek.hex() == challenges[0]["ekPublic"]
    finally:
        host_tpm.terminate()
        host_tpm.wait(10)
