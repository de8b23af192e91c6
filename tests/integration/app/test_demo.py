"""scripts/demo --once builds the lab, boots the scripted PXE clients, applies the demo's
ServerClass and removes everything again (the QEMU servers are tests/e2e's subject)."""

import os
import subprocess

import netlab


def namespaces():
    return set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())


def test_demo_once():
    before = namespaces()
    r = subprocess.run([netlab.SYSTEM_PYTHON, os.path.join(netlab.ROOT, "scripts/demo.py"), "--once"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "bios-node" in r.stdout and "boot file undionly.kpxe" in r.stdout
    assert "uefi-node" in r.stdout and "boot file ipxe.efi" in r.stdout
    assert "address   10.77.0.1" in r.stdout  # from dnsmasq's range .100-.199
    assert "serverclass.metal.sidero.dev/worker-large" in r.stdout  # applied, listed beside `any`
    assert "serverclass.metal.sidero.dev/any" in r.stdout
    assert "lab removed" in r.stdout
    leftovers = {n for n in namespaces() - before if n.startswith("ib")}
    assert not leftovers
