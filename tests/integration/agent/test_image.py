"""The agent boot image: built from Debian packages, small, reproducible, static, and it
boots in QEMU (no KVM), gets an address by DHCP, registers with the SMBIOS identity QEMU
was given, wipes its disk as told and powers off. A secure wipe erases the NVMe disk with
Format NVM and zero-fills the virtio disk, both verified, and leaves a USB disk alone; with
ipmi_sim as the guest's BMC the agent reports the BMC's LAN settings and, asked to, creates
a BMC user that then works out-of-band.

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
from ipmi_sim import IpmiSim, lan_settings

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
    assert len(wiped) == 1, open(console, errors="replace").read()[-3000:]
    assert wiped[0]["mode"] == "fast" and wiped[0]["devices"] == ["/dev/vda"]
    # The boot token went to register only; wiped carried the session and the wipe's id back.
    wiped_request = next(r for r in read_log(api_log) if r["path"] == "/agent/v1/wiped")
    assert wiped_request["authorization"] == "Bearer s2.recorder-session"
    assert wiped[0]["wipeId"] == "00112233445566778899aabbccddeeff"
    assert wiped[0]["wiped"] == [{"device": "/dev/vda", "transport": "virtio", "method": "zero", "verified": True}]
    assert wiped[0]["failed"] == []
    with open(disk, "rb") as f:
        data = f.read()
    zero = bytes(16 * MiB)
    assert data[:16 * MiB] == zero, "first 16 MiB not zeroed"
    assert data[-16 * MiB:] == zero, "last 16 MiB not zeroed"
    assert data[16 * MiB:48 * MiB] == PATTERN * 32, "fast wipe touched the middle"
    assert "powering off" in open(console, errors="replace").read()


def write_pattern(path, size, pattern=PATTERN):
    with open(path, "wb") as f:
        for _ in range(size // len(pattern)):
            f.write(pattern)


def boot_guest(image, tmp_path, register_action, qemu_extra, append_extra="", around=None, timeout=300):
    """Boots the agent in QEMU against the recorder; returns (requests, console text) once the
    guest powered off. `around(lab)` may return a context manager to run for the boot."""
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
                    "10.77.0.1", "8080", api_log, register_action], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tap = lab.add_tap()
        append = (f"console=ttyS0 no_timer_check ironboot.endpoint=http://10.77.0.1:8080 ironboot.token=test-token "
                  f"ironboot.mac={GUEST_MAC} {append_extra}")
        qemu = ["ip", "netns", "exec", lab.switch, "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg",
                "-m", "768", "-smp", "2", "-nographic", "-no-reboot", "-nodefaults", "-serial", f"file:{console}",
                "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev=n0,mac={GUEST_MAC}", *qemu_extra,
                "-kernel", os.path.join(image, "vmlinuz"), "-initrd", os.path.join(image, "initramfs"),
                "-append", append]
        ctx = around(lab) if around else None
        if ctx:
            ctx.__enter__()
        try:
            proc = subprocess.Popen(qemu, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                pytest.fail("guest did not power off\n--- console ---\n" + open(console, errors="replace").read()[-4000:])
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            text = open(console, errors="replace").read()
            assert "powering off" in text, text[-4000:]
            yield_value = (read_log(api_log), text)
            if ctx:
                ctx.check(yield_value)
        finally:
            if ctx:
                ctx.__exit__(None, None, None)
    return yield_value


def test_secure_wipe_erases_local_disks_and_spares_usb(images, tmp_path):
    virtio, nvme, usb = tmp_path / "virtio.img", tmp_path / "nvme.img", tmp_path / "usb.img"
    for disk in (virtio, nvme, usb):
        write_pattern(disk, DISK_SIZE)
    qemu_extra = ["-drive", f"file={virtio},format=raw,if=virtio",
                  "-drive", f"file={nvme},format=raw,if=none,id=nv0",
                  "-device", "nvme,serial=ironboot-nvme0,drive=nv0",
                  # A USB stick that claims to be a fixed disk: removable=0 in sysfs.
                  "-device", "qemu-xhci,id=xhci",
                  "-drive", f"file={usb},format=raw,if=none,id=us0",
                  "-device", "usb-storage,bus=xhci.0,drive=us0,removable=off"]
    requests, console = boot_guest(images[0], tmp_path, "wipe:secure", qemu_extra)
    wiped = [json.loads(r["body"]) for r in requests if r["path"] == "/agent/v1/wiped"]
    assert len(wiped) == 1, console[-4000:]
    report = wiped[0]
    print("\nwiped report:", json.dumps(report, indent=1))
    assert report["mode"] == "secure"
    assert sorted(report["devices"]) == ["/dev/nvme0n1", "/dev/vda"]
    methods = {w["device"]: (w["transport"], w["method"], w["verified"]) for w in report["wiped"]}
    assert methods["/dev/vda"] == ("virtio", "zero-fill", True)
    assert methods["/dev/nvme0n1"][0] == "nvme" and methods["/dev/nvme0n1"][2] is True
    assert methods["/dev/nvme0n1"][1].startswith("nvme-format-user-data-erase"), methods
    assert report["failed"] == []
    skipped = {s["device"]: (s["transport"], s["reason"]) for s in report["skipped"]}
    assert skipped.get("/dev/sda", ("", ""))[0] == "usb", (report["skipped"], console[-3000:])
    # The register facts saw the USB disk as fixed: it was skipped for its transport alone.
    register = next(json.loads(r["body"]) for r in requests if r["path"] == "/agent/v1/register")
    assert "sda" in [d["name"] for d in register["hardware"]["storage"]["devices"]]

    for disk in (virtio, nvme):
        with open(disk, "rb") as f:
            data = f.read()
        assert data == bytes(DISK_SIZE), f"{disk.name} not all zeros"
    with open(usb, "rb") as f:
        assert f.read() == PATTERN * (DISK_SIZE // MiB), "the USB disk was touched"


# What the BMC's LAN settings are, as its lan_config_program reports them.
LAN = lan_settings("10.88.0.5", "52:54:00:be:ef:05")


def make_bmc(workdir, prefix):
    """ipmi_sim run by `prefix` (the lab's switch namespace) on fixed loopback ports there:
    QEMU's command line (its KCS link to the VM serial port) is written before the lab exists."""
    return IpmiSim(os.path.join(workdir, "bmc"), port=39623, user="admin", password="admin", prefix=prefix,
                   serial_port=39002, lan=LAN)


class _BmcPeer:
    """ipmi_sim in the lab's switch namespace for boot_guest's `around`; once the guest is off
    (and before ipmi_sim stops) it logs in out-of-band with the credentials the agent sent."""

    def __init__(self, lab, workdir):
        self.sim = make_bmc(workdir, ["ip", "netns", "exec", lab.switch])
        self.status = None

    def __enter__(self):
        self.sim.start()
        return self

    def check(self, result):
        requests, _ = result
        registers = [json.loads(r["body"]) for r in requests if r["path"] == "/agent/v1/register"]
        creds = next((r["bmcCredentials"] for r in registers if "bmcCredentials" in r), None)
        if creds:
            self.status = self.sim.ipmitool("power", "status", user=creds["username"], password=creds["password"])

    def __exit__(self, *exc):
        self.sim.stop()


def test_inband_bmc_discovery_and_user_setup(images, tmp_path):
    peers = []

    def around(lab):
        peers.append(_BmcPeer(lab, tmp_path))
        return peers[-1]

    # QEMU's KCS interface talks to ipmi_sim's VM serial port (its fixed loopback port).
    requests, console = boot_guest(images[0], tmp_path, "bmc", make_bmc(tmp_path, []).qemu_args(), around=around)
    registers = [json.loads(r["body"]) for r in requests if r["path"] == "/agent/v1/register"]
    assert len(registers) == 2, console[-4000:]
    bmc = registers[0].get("bmc")
    assert bmc == {"channel": 1, "ipSource": LAN["ip_addr_src"], "address": LAN["ip_addr"],
                   "netmask": LAN["subnet_mask"], "gateway": LAN["default_gw_ip_addr"], "mac": LAN["mac_addr"],
                   "port": 623}, (bmc, console[-3000:])
    assert "bmcCredentials" not in registers[0]
    creds = registers[1]["bmcCredentials"]
    assert creds["username"] == "ironboot"
    assert len(creds["password"]) == 16 and creds["password"].isalnum()
    assert registers[1]["bmc"] == bmc
    status = peers[0].status
    assert status is not None
    assert status.returncode == 0, status.stderr
    assert "Chassis Power is" in status.stdout
