"""iPXE itself: a SeaBIOS QEMU guest with its virtio-net iPXE ROM boots through dnsmasq
(the site's DHCP server, which points iPXE at /boot.ipxe) and ironboot's HTTP server:
/boot.ipxe, /ipxe, then the agent kernel and initrd, as ironboot's request log shows."""

import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

import netlab
from httplab import appliance_config
from kernel_cache import debian_vmlinuz, tiny_initrd

SUBNET = "10.82.0"
UUID = "8a5e2f1c-3b4d-4e6f-9a0b-1c2d3e4f5a6b"
MAC = "52:54:00:82:00:99"
BOOT_WAIT_SECONDS = 90

EXPECTED = [
    r"request method=GET path=/boot.ipxe status=200 ",
    r"request method=GET path=/ipxe status=200 ",
    r"request method=GET path=/assets/agent/vmlinuz status=200 ",
    r"request method=GET path=/assets/agent/initramfs status=200 ",
]


def test_seabios_ipxe_fetches_script_kernel_and_initrd():
    # A missing tool fails the test, as in tests/e2e: a skip would hide that it never ran.
    missing = [t for t in ("qemu-system-x86_64", "dnsmasq") if not shutil.which(t)]
    if missing:
        pytest.fail(f"missing {missing} (scripts/install-deps installs them)")
    vmlinuz = debian_vmlinuz()
    workdir = tempfile.mkdtemp(prefix="ironboot-qemu-")
    os.chmod(workdir, 0o755)
    os.makedirs(os.path.join(workdir, "agent"))
    shutil.copy(vmlinuz, os.path.join(workdir, "agent", "vmlinuz"))
    tiny_initrd(os.path.join(workdir, "agent", "initramfs"))
    os.makedirs(os.path.join(workdir, "tftp"))
    os.makedirs(os.path.join(workdir, "files"))
    lab = netlab.Lab(subnet=SUBNET)
    qemu = dnsmasq = daemon = None
    try:
        site = lab.add_host("site", 1)
        appliance = lab.add_host("appliance", 2)
        daemon = netlab.Ironboot(appliance, appliance_config(workdir, SUBNET), workdir=workdir).start()
        # The site's DHCP server hands out addresses and, to iPXE (user class "iPXE"), the
        # URL of ironboot's first script.
        dnsmasq = site.popen([
            "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--user=root",
            "--interface=eth0", "--bind-interfaces", "--log-dhcp",
            f"--dhcp-range={SUBNET}.100,{SUBNET}.150,255.255.255.0,1h",
            f"--dhcp-leasefile={workdir}/leases",
            "--dhcp-userclass=set:ipxe,iPXE",
            f"--dhcp-boot=tag:ipxe,http://{SUBNET}.2:8080/boot.ipxe",
        ], stdout=open(os.path.join(workdir, "dnsmasq.log"), "wb"), stderr=subprocess.STDOUT)
        tap = lab.add_tap()
        serial = os.path.join(workdir, "serial.log")
        qemu = subprocess.Popen([
            "ip", "netns", "exec", lab.switch,
            "qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-m", "512",
            "-nographic", "-nodefaults", "-serial", f"file:{serial}",
            "-smbios", f"type=1,manufacturer=Ironboot Test,product=QEMU PXE,serial=SN-82,uuid={UUID}",
            "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=n0,mac={MAC}",
            "-boot", "n",
        ], stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "qemu.log"), "wb"))

        deadline = time.monotonic() + BOOT_WAIT_SECONDS
        log = ""
        while time.monotonic() < deadline:
            log = daemon.read_log()
            if all(re.search(p, log) for p in EXPECTED):
                break
            if qemu.poll() is not None:
                break
            time.sleep(1)
        qemu.kill()  # the four requests are all this test needs
        qemu.wait()
        lines = [l for l in log.splitlines() if "request method=" in l]
        missing = [p for p in EXPECTED if not re.search(p, log)]
        assert not missing, (f"missing {missing}\nrequests:\n" + "\n".join(lines) + "\nserial:\n" +
                             open(serial, errors="replace").read()[-3000:])
        # In order, and /ipxe carried the guest's identity.
        positions = [re.search(p, log).start() for p in EXPECTED]
        assert positions == sorted(positions)
        ipxe_line = next(l for l in lines if "path=/ipxe " in l)
        assert re.search(r"peer=10\.82\.0\.1[0-5]\d:", ipxe_line), ipxe_line  # leased from dnsmasq's range
        # SeaBIOS runs the NIC ROM's iPXE, an i386 build on x86-64 hardware.
        decision = re.search(rf"ipxe decision=agent uuid={UUID} mac={MAC} arch=(i386|x86_64) platform=pcbios", log)
        assert decision, [l for l in log.splitlines() if "ipxe decision" in l]
        assert re.search(r"bytes=%d " % os.path.getsize(vmlinuz), log)
    finally:
        for p in (qemu, dnsmasq):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        if daemon:
            daemon.stop()
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)
