"""The agent boot image: built from Debian packages, small, reproducible, static, and it
boots in QEMU (no KVM), gets an address by DHCP, registers with the SMBIOS identity QEMU
was given, wipes its disk as told and powers off.

Everything networked runs inside the lab's namespaces; QEMU's NIC is a tap on the lab bridge.
"""

import hashlib
import json
import os
import subprocess
import tempfile
import time

import pytest

import netlab

ROOT = netlab.ROOT
BUILD_AGENT = os.path.join(ROOT, "image", "build-agent")
# The agent binary beside the ironboot binary under test (same build directory).
AGENT_BIN = os.environ.get("IRONBOOT_AGENT_BIN") or os.path.join(os.path.dirname(netlab.IRONBOOT), "ironboot-agent")
MAX_INITRAMFS = 40 * 1024 * 1024

IDENTITY = {
    "manufacturer": "Dell Inc.",
    "product": "PowerEdge R6525",
    "serial": "ABC123",
    "uuid": "4c4c4544-0042-3510-8051-b7c04f4e4d32",
}
GUEST_MAC = "52:54:00:4a:17:01"
MiB = 1024 * 1024
DISK_SIZE = 64 * MiB
PATTERN = bytes([0xAB]) * MiB


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def build(outdir):
    env = dict(os.environ, IRONBOOT_AGENT_BIN=AGENT_BIN)
    started = time.monotonic()
    r = subprocess.run([BUILD_AGENT, outdir], env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    return time.monotonic() - started


@pytest.fixture(scope="module")
def images():
    if not os.path.exists(AGENT_BIN):
        pytest.fail(f"{AGENT_BIN} not built")
    with tempfile.TemporaryDirectory(prefix="ironboot-agent-img-") as tmp:
        first, second = os.path.join(tmp, "a"), os.path.join(tmp, "b")
        t1 = build(first)
        t2 = build(second)
        print(f"\nagent image builds: {t1:.1f} s, then {t2:.1f} s")
        yield first, second


def test_image_small_reproducible_static(images):
    first, second = images
    size = os.path.getsize(os.path.join(first, "initramfs"))
    print(f"initramfs {size} bytes, vmlinuz {os.path.getsize(os.path.join(first, 'vmlinuz'))} bytes")
    assert 0 < size < MAX_INITRAMFS
    for name in ("vmlinuz", "initramfs"):
        assert sha256(os.path.join(first, name)) == sha256(os.path.join(second, name)), name

    # The agent as shipped is static: no interpreter, no shared libraries.
    assert "statically linked" in subprocess.run(["file", "-L", AGENT_BIN], capture_output=True, text=True).stdout
    ldd = subprocess.run(["ldd", AGENT_BIN], capture_output=True, text=True)
    assert "not a dynamic executable" in ldd.stdout + ldd.stderr

    listing = subprocess.run(f"zstd -dc {first}/initramfs | cpio -it --quiet", shell=True,
                             capture_output=True, text=True, check=True).stdout.split()
    for must in ("init", "sbin/ironboot-agent", "bin/busybox", "sbin/udhcpc", "sbin/modprobe",
                 "etc/udhcpc.script"):
        assert must in listing, must
    modules = [p for p in listing if p.endswith(".ko")]
    for driver in ("virtio_net.ko", "e1000e.ko", "ixgbe.ko", "mlx5_core.ko", "nvme.ko", "megaraid_sas.ko"):
        assert any(p.endswith("/" + driver) for p in modules), driver
    assert any(p.endswith("/modules.dep") for p in listing) and any(p.endswith("/modules.alias") for p in listing)
    assert listing == sorted(listing)


def wait_for(predicate, timeout, what, proc=None, console=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.2)
    tail = open(console, errors="replace").read()[-4000:] if console else ""
    pytest.fail(f"timed out after {timeout} s waiting for {what}\n--- console ---\n{tail}")


def read_log(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_boots_registers_and_wipes_in_qemu(images, tmp_path):
    image = images[0]
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as f:
        for _ in range(DISK_SIZE // MiB):
            f.write(PATTERN)
    api_log = str(tmp_path / "api.jsonl")
    console = str(tmp_path / "console.log")
    leases = str(tmp_path / "leases")

    with netlab.Lab(subnet="10.77.0") as lab:
        site = lab.add_host("site", 1)
        site.popen(["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface=eth0",
                    "--bind-interfaces", "--dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0,1h",
                    f"--dhcp-leasefile={leases}", "--dhcp-authoritative"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        site.popen([netlab.SYSTEM_PYTHON, os.path.join(os.path.dirname(__file__), "recorder.py"),
                    "10.77.0.1", "8080", api_log, "wipe"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tap = lab.add_tap()
        smbios = ",".join(f"{k}={v}" for k, v in IDENTITY.items())
        # no_timer_check: under TCG on a busy host the IO-APIC timer check can fail and panic.
        append = (f"console=ttyS0 no_timer_check ironboot.endpoint=http://10.77.0.1:8080 ironboot.token=test-token "
                  f"ironboot.mac={GUEST_MAC}")
        qemu = ["ip", "netns", "exec", lab.switch, "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg",
                "-m", "768", "-smp", "2", "-nographic", "-no-reboot", "-nodefaults", "-serial", f"file:{console}",
                "-smbios", f"type=1,{smbios}",
                "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev=n0,mac={GUEST_MAC}",
                "-drive", f"file={disk},format=raw,if=virtio",
                "-kernel", os.path.join(image, "vmlinuz"), "-initrd", os.path.join(image, "initramfs"),
                "-append", append]
        started = time.time()
        proc = subprocess.Popen(qemu, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            register = wait_for(lambda: next((r for r in read_log(api_log) if r["path"] == "/agent/v1/register"),
                                             None), 180, "the agent's register POST", proc, console)
            print(f"\npower-on -> register: {register['t'] - started:.1f} s")
            body = json.loads(register["body"])
            assert register["authorization"] == "Bearer test-token"
            assert body["uuid"] == IDENTITY["uuid"]
            assert body["bootMac"] == GUEST_MAC
            assert body["bootMode"] == "BIOS"
            system = body["hardware"]["system"]
            assert system["uuid"] == IDENTITY["uuid"]
            assert system["manufacturer"] == IDENTITY["manufacturer"]
            assert system["productName"] == IDENTITY["product"]
            assert system["serialNumber"] == IDENTITY["serial"]
            assert body["hardware"]["compute"]["totalThreadCount"] == 2
            devices = body["hardware"]["storage"]["devices"]
            assert [(d["name"], d["size"]) for d in devices] == [("vda", DISK_SIZE)]
            nics = body["hardware"]["network"]["interfaces"]
            assert any(n["mac"] == GUEST_MAC and any(a.startswith("10.77.0.") for a in n["addresses"]) for n in nics)
            assert any(p["vendor"] == "1af4" and p["class"] == "020000" for p in body["pci"])

            # register answered "wipe fast"; wiped is answered "poweroff": QEMU exits by itself.
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    paths = [r["path"] for r in read_log(api_log)]
    assert "/agent/v1/addresses" in paths
    wiped = [json.loads(r["body"]) for r in read_log(api_log) if r["path"] == "/agent/v1/wiped"]
    assert wiped == [{"mode": "fast", "devices": ["/dev/vda"]}], open(console, errors="replace").read()[-3000:]
    with open(disk, "rb") as f:
        data = f.read()
    zero = bytes(16 * MiB)
    assert data[:16 * MiB] == zero, "first 16 MiB not zeroed"
    assert data[-16 * MiB:] == zero, "last 16 MiB not zeroed"
    assert data[16 * MiB:48 * MiB] == PATTERN * 32, "fast wipe touched the middle"
    assert "powering off" in open(console, errors="replace").read()
