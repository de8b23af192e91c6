"""The course material's BareMetalHost, end to end with the real agent: `kubectl apply` of the
Secret and the BareMetalHost (the course manifest, its BMC address pointed at an ipmi_sim) is all
the test does. ironboot powers the QEMU server on into PXE through ipmi_sim, the server boots
iPXE -> ironboot's agent from ironboot's HTTP server (DHCP from dnsmasq, as at a site), the
agent registers, ironboot creates the Server and links it to the host by boot MAC (the host
counts as accepted), the agent wipes the disk, and the host reaches `available` with Metal3's
hardware details from the agent's facts, still powered on as its `online: true` says. Deleting the host then takes its two annotations
off the Server and leaves the rest of it.

The lab: ironboot (embedded API, HTTP) and ipmi_sim in the appliance namespace on its loopback,
dnsmasq in a site namespace, QEMU (TCG) in the switch namespace on a tap of the lab bridge;
ipmi_sim's chassis program starts QEMU there through a one-line wrapper."""

import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "kube"))
import ipmi_sim  # noqa: E402
import netlab  # noqa: E402
import vm_chassis  # noqa: E402
from kubelab import Cluster, api_config  # noqa: E402
from metal3 import course_bmh_manifest  # noqa: E402

SUBNET = "10.95.0"
IPMI_PORT = 6230
BOOT_MAC = "52:54:00:12:34:56"  # the course manifest's bootMACAddress
UUID = "4c4c4544-0035-4410-8057-b4c04f4a3599"
AGENT_BIN = os.path.join(os.path.dirname(netlab.IRONBOOT), "ironboot-agent")
# TCG on a shared machine: PXE, the agent's boot, its report and the wipe take minutes.
AVAILABLE_WITHIN = 600

pytestmark = pytest.mark.skipif(not (os.path.exists(netlab.IRONBOOT) and os.path.exists("/usr/bin/ipmi_sim")),
                                reason="needs build/ironboot and ipmi_sim (openipmi)")

# The course material's manifest, verbatim but for the BMC address (an ipmi_sim here) and
# the password ipmi_sim was given.
MANIFEST = course_bmh_manifest(f"ipmi://127.0.0.1:{IPMI_PORT}", "pw", BOOT_MAC)


@pytest.fixture(scope="module")
def agent_image():
    """The agent boot image (image/build-agent); IRONBOOT_AGENT_IMAGE names one built already."""
    prebuilt = os.environ.get("IRONBOOT_AGENT_IMAGE")
    if prebuilt:
        yield prebuilt
        return
    if not os.path.exists(AGENT_BIN):
        pytest.fail(f"{AGENT_BIN} not built")
    with tempfile.TemporaryDirectory(prefix="ironboot-agent-img-") as tmp:
        out = os.path.join(tmp, "img")
        r = subprocess.run([os.path.join(ROOT, "image", "build-agent"), out], capture_output=True, text=True,
                           timeout=900, env=dict(os.environ, IRONBOOT_AGENT_BIN=AGENT_BIN))
        assert r.returncode == 0, r.stderr[-3000:]
        yield out


def test_course_baremetalhost_reaches_available_with_the_real_agent(agent_image, tmp_path):
    os.chmod(tmp_path, 0o755)
    vm = tmp_path / "vm"
    vm.mkdir()
    # The course manifest's hints want /dev/sda of at least 100 GB: an IDE disk (ata_piix,
    # /dev/sda in the agent), sparse, so only what the fast wipe writes takes space.
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as f:
        f.truncate(120 * 10**9)
        f.seek(0)
        f.write(b"\xab" * 4096)
    console = tmp_path / "console.log"
    lab = netlab.Lab(subnet=SUBNET)
    c = dnsmasq = sim = None
    try:
        site = lab.add_host("site", 1)
        appliance = lab.add_host("appliance", 2)
        c = Cluster(lab, appliance)
        config = api_config(c.workdir)
        config.update({
            "advertise_address": f"{SUBNET}.2",
            "http": {"listen": "0.0.0.0:8080"},
            "agent": {"kernel": os.path.join(agent_image, "vmlinuz"), "initrd": os.path.join(agent_image, "initramfs"),
                      "kernel_args": ["console=ttyS0", "no_timer_check"]},
            "bmc": {"enabled": True, "power_refresh_seconds": 5, "min_interval_ms": 50},
        })
        c.daemon.write_config(config)
        c.start()
        dnsmasq = site.popen([
            "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--user=root", "--interface=eth0",
            "--bind-interfaces", f"--dhcp-range={SUBNET}.100,{SUBNET}.150,255.255.255.0,1h",
            f"--dhcp-leasefile={tmp_path}/leases", "--dhcp-userclass=set:ipxe,iPXE",
            f"--dhcp-boot=tag:ipxe,http://{SUBNET}.2:8080/boot.ipxe",
        ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tap = lab.add_tap()
        # ipmi_sim (in the appliance namespace) starts QEMU in the switch namespace, on the tap.
        wrapper = tmp_path / "qemu-in-switch"
        wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {lab.switch} qemu-system-x86_64 "$@"\n')
        wrapper.chmod(0o755)
        (vm / "extra_args").write_text("\n".join([
            "-m", "768", "-serial", f"file:{console}",
            "-smbios", f"type=1,manufacturer=Dell Inc.,product=PowerEdge R640,serial=5D8WXY2,uuid={UUID}",
            "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=n0,mac={BOOT_MAC}",
            "-drive", f"file={disk},format=raw,if=ide",
        ]) + "\n")
        sim = ipmi_sim.IpmiSim(os.path.join(c.workdir, "sim"), port=IPMI_PORT, password="pw", chassis=str(vm),
                               prefix=["env", f"VM_CHASSIS_QEMU={wrapper}", *appliance.cmd([])]).start()

        c.kubectl("create", "namespace", "metal3")
        started = time.monotonic()
        out = c.kubectl("apply", "-f", "-", input=MANIFEST).stdout
        assert "baremetalhost.metal3.io/worker-0 created" in out, out

        def host():
            return json.loads(c.kubectl("get", "bmh", "worker-0", "-n", "metal3", "-o", "json").stdout)

        def explain():
            tail = open(console, errors="replace").read()[-3000:] if console.exists() else "(no console)"
            return (f"host status: {json.dumps(host().get('status'), indent=1)}\n--- ironboot ---\n"
                    f"{c.daemon.read_log()[-4000:]}\n--- console ---\n{tail}")

        seen = []
        deadline = time.monotonic() + AVAILABLE_WITHIN
        while time.monotonic() < deadline:
            state = host().get("status", {}).get("provisioning", {}).get("state")
            if not seen or seen[-1][0] != state:
                seen.append((state, round(time.monotonic() - started, 1)))
            if state == "available":
                break
            time.sleep(2)
        print(f"\nstates (s after apply): {seen}")
        assert seen[-1][0] == "available", f"states {seen}\n{explain()}"

        st = host()["status"]
        assert st["operationalStatus"] == "OK" and st["errorMessage"] == "", st
        assert st["provisioning"]["ID"] == UUID
        assert st["provisioning"]["installTarget"] == "/dev/sda"
        hw = st["hardware"]
        assert hw["systemVendor"] == {"manufacturer": "Dell Inc.", "productName": "PowerEdge R640",
                                      "serialNumber": "5D8WXY2"}, hw
        assert hw["cpu"]["count"] >= 1
        assert hw["ramMebibytes"] > 0
        assert [(s["name"], s["sizeBytes"]) for s in hw["storage"]] == [("/dev/sda", 120 * 10**9)], hw["storage"]
        boot_nics = [n for n in hw["nics"] if n["pxe"]]
        assert len(boot_nics) == 1 and boot_nics[0]["mac"].lower() == BOOT_MAC, hw["nics"]
        assert boot_nics[0]["ip"].startswith(f"{SUBNET}.1"), boot_nics

        # The Server: created from the agent's report, linked, accepted, wiped.
        server = json.loads(c.kubectl("get", "servers", UUID, "-o", "json").stdout)
        assert server["spec"]["accepted"] is True
        assert server["spec"]["bmc"]["endpoint"] == f"ipmi://127.0.0.1:{IPMI_PORT}"
        assert server["metadata"]["annotations"]["ironboot.dev/baremetalhost"] == "metal3/worker-0"
        assert server["metadata"]["annotations"]["ironboot.dev/install-disk"] == "/dev/sda"
        assert server["status"].get("isClean") is True, server["status"]
        with open(disk, "rb") as f:
            assert f.read(4096) == bytes(4096), "the wipe did not reach the disk"
        # online: true is the Server's spec.online: the clean server is not powered off
        # (bmc.power_off_available spares a server meant to be on), as Metal3 keeps it on.
        assert server["spec"]["online"] is True
        assert st["poweredOn"] is True, st
        assert vm_chassis.qemu_pid(str(vm)) is not None, "QEMU was stopped"
        # The test never touched QEMU: the BMC started it, for a PXE boot.
        with open(vm / "calls.log") as f:
            calls = [line.split() for line in f]
        assert ["set", "boot", "pxe"] in calls and ["set", "power", "1"] in calls, calls

        # Deleting the host takes its annotations off the Server; the Server itself stays.
        c.kubectl("delete", "bmh", "worker-0", "-n", "metal3")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            annotations = json.loads(c.kubectl("get", "servers", UUID, "-o", "json").stdout)["metadata"].get(
                "annotations", {})
            if "ironboot.dev/baremetalhost" not in annotations:
                break
            time.sleep(1)
        assert "ironboot.dev/baremetalhost" not in annotations and "ironboot.dev/install-disk" not in annotations, \
            annotations
        server = json.loads(c.kubectl("get", "servers", UUID, "-o", "json").stdout)
        assert server["spec"]["accepted"] is True and server["status"].get("isClean") is True
    finally:
        vm_chassis.retire(str(vm))
        if sim:
            sim.close()
        if dnsmasq and dnsmasq.poll() is None:
            dnsmasq.kill()
            dnsmasq.wait()
        if c:
            c.close()
        lab.close()
        if disk.exists():
            disk.unlink()
