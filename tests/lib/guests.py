"""Virtual servers for end-to-end tests and the demo: QEMU guests (software emulation) whose
virtio NIC is a tap on a lab bridge, and the site around them: the site's DHCP server
(dnsmasq), the ironboot appliance (embedded cluster, proxyDHCP, TFTP, HTTP) and the real
kubectl against its API.

Guests PXE-boot exactly as hardware does: firmware (SeaBIOS or OVMF) with QEMU's iPXE NIC
ROM, proxyDHCP and TFTP from ironboot, then /boot.ipxe, /ipxe and the agent image.
Everything lives in the lab's namespaces; close() kills the guests and removes it all.
"""

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

import netlab
from kubectl_runner import Kubectl, write_kubeconfig

MiB = 1024 * 1024
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
BUILD_AGENT = os.path.join(netlab.ROOT, "image", "build-agent")
# The agent binary beside the ironboot binary in use (same build directory).
AGENT_BIN = os.environ.get("IRONBOOT_AGENT_BIN") or os.path.join(os.path.dirname(netlab.IRONBOOT), "ironboot-agent")
# console=ttyS0: the agent's lines reach the serial log; no_timer_check: under TCG on a busy
# host the kernel's IO-APIC timer check can fail and panic.
AGENT_KERNEL_ARGS = ["console=ttyS0", "no_timer_check"]


@dataclass
class Identity:
    """What QEMU tells the guest's firmware (SMBIOS type 1 and optionally type 4) plus its MAC."""
    manufacturer: str
    product: str
    serial: str
    uuid: str
    mac: str
    cpu_manufacturer: str = ""  # SMBIOS type 4; "" = QEMU's own processor strings
    cpu_version: str = ""


# Three servers of different makes; the first is the one a `worker-large` class selects.
THREE_SERVERS = [
    Identity("Dell Inc.", "PowerEdge R6525", "8N4MD32", "4c4c4544-004e-3410-8034-b8c04f4d3332",
             "52:54:00:e2:00:01", "AMD", "AMD EPYC 7543 32-Core Processor"),
    Identity("Supermicro", "SYS-1029U-TRT", "S29U0042", "00000000-0000-0000-0000-ac1f6b4e2a10",
             "52:54:00:e2:00:02", "Intel(R) Corporation", "Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz"),
    Identity("HPE", "ProLiant DL360 Gen10", "CZJ9420ABC", "34393834-3636-435a-4a39-343230414243",
             "52:54:00:e2:00:03"),
]


def qemu_string(value):
    """A value inside a QEMU -smbios option: commas are doubled."""
    return value.replace(",", ",,")


PATTERN_MIB = 32  # MiB of pattern at the start, the middle and the end of each disk


def pattern_block(index):
    """The known content of the disk's MiB number `index`: a line naming the block, repeated."""
    line = b"ironboot disk pattern, block %08d\n" % index
    return (line * (MiB // len(line) + 1))[:MiB]


def pattern_regions(size):
    """First MiB of each patterned region; the rest of the (sparse) disk reads as zeros."""
    blocks = size // MiB
    return [0, blocks // 2 - PATTERN_MIB // 2, blocks - PATTERN_MIB]


def write_pattern_disk(path, size):
    with open(path, "wb") as f:
        f.truncate(size)
        for first in pattern_regions(size):
            f.seek(first * MiB)
            for i in range(first, first + PATTERN_MIB):
                f.write(pattern_block(i))


def build_agent_image(outdir):
    """image/build-agent into outdir unless the image there is newer than the agent binary.
    Returns outdir (vmlinuz, initramfs)."""
    if not os.path.exists(AGENT_BIN):
        raise RuntimeError(f"{AGENT_BIN} not built (ninja ironboot-agent)")
    outputs = [os.path.join(outdir, n) for n in ("vmlinuz", "initramfs")]
    # The image's files carry the kernel's timestamp, so compare with a stamp of our own.
    stamp = os.path.join(outdir, ".built-from-agent-mtime")
    agent_mtime = str(os.stat(AGENT_BIN).st_mtime_ns)
    if all(os.path.exists(p) for p in outputs) and os.path.exists(stamp) and open(stamp).read() == agent_mtime:
        return outdir
    env = dict(os.environ, IRONBOOT_AGENT_BIN=AGENT_BIN)
    r = subprocess.run([BUILD_AGENT, outdir], env=env, capture_output=True, text=True, timeout=1200)
    if r.returncode != 0:
        raise RuntimeError(f"image/build-agent failed:\n{r.stderr[-3000:]}")
    with open(stamp, "w") as f:
        f.write(agent_mtime)
    return outdir


def stage_tftp_root(workdir):
    """The iPXE binaries from Debian's ipxe package, copied so that the root holds real files."""
    root = os.path.join(workdir, "tftp")
    os.makedirs(root, exist_ok=True)
    for name in ("undionly.kpxe", "ipxe.efi", "snponly.efi"):
        src = os.path.join("/usr/lib/ipxe", name)
        if os.path.exists(src):
            shutil.copy(os.path.realpath(src), os.path.join(root, name))
    return root


def ipv6_prefix(subnet):
    """A unique-local /64 for the lab, named after its IPv4 subnet: 10.78.0 -> fd00:78:0::."""
    _, b, c = subnet.split(".")
    return f"fd00:{b}:{c}::"


def start_dnsmasq(site, workdir, subnet, ipv6_router=True):
    """The site's DHCP server: addresses only; boot information comes from ironboot's proxy.
    ipv6_router: it also sends IPv6 router advertisements (no addresses from them: ra-only),
    as a router on a dual-stack network does. Without any, the NIC ROM's iPXE waits ~16 s
    for one after its DHCP before it goes on (boot.ipxe itself does not DHCP again)."""
    cmd = ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface=eth0",
           "--bind-interfaces", f"--dhcp-range={subnet}.100,{subnet}.199,255.255.255.0,1h",
           # root: the lease and log files live in our private work directory; no ping: a
           # fresh lab has no address in use, and the ping check delays every OFFER by ~3 s.
           "--user=root", "--no-ping", "--dhcp-authoritative",
           f"--dhcp-leasefile={workdir}/dnsmasq.leases", f"--pid-file={workdir}/dnsmasq.pid",
           "--log-dhcp", "--log-facility=" + os.path.join(workdir, "dnsmasq.log")]
    if ipv6_router:
        prefix = ipv6_prefix(subnet)
        site.run(["ip", "-6", "addr", "add", f"{prefix}1/64", "dev", "eth0", "nodad"])
        cmd += ["--enable-ra", f"--dhcp-range={prefix},ra-only"]
    return site.popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def tail(path, chars=3000):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - chars))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


class Guest:
    """One QEMU virtual server: 2 vCPUs, 1 GiB, a virtio NIC first in the boot order, then a
    sparse 2 GiB raw disk holding the known pattern. firmware is "bios" (SeaBIOS, i440fx) or
    "uefi" (OVMF, q35). Without -no-reboot, a reboot inside the guest PXE-boots it again."""

    def __init__(self, lab, workdir, name, identity, firmware="bios", memory_mib=1024, disk_mib=2048,
                 ipxe_rom=True):
        self.lab, self.name, self.identity, self.firmware = lab, name, identity, firmware
        # False: the NIC has no option ROM, so OVMF boots it with its own PXE client, which
        # loads ipxe.efi over TFTP first (SeaBIOS has no network boot of its own).
        self.ipxe_rom = ipxe_rom
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.disk = os.path.join(self.dir, "disk.raw")
        self.disk_size = disk_mib * MiB
        self.memory_mib = memory_mib
        self.console_path = os.path.join(self.dir, "console.log")
        self.qemu_log = os.path.join(self.dir, "qemu.log")
        self.proc = None
        self.started = None  # time.monotonic() at power-on
        self.started_wall = None  # time.time() at power-on, to compare with log timestamps

    def command(self, tap):
        ident = self.identity
        smbios1 = ",".join(f"{k}={qemu_string(v)}" for k, v in (
            ("manufacturer", ident.manufacturer), ("product", ident.product), ("serial", ident.serial),
            ("uuid", ident.uuid)))
        cmd = ["qemu-system-x86_64", "-name", self.name, "-accel", "tcg", "-m", str(self.memory_mib),
               "-smp", "2,sockets=1,cores=2,threads=1", "-nographic", "-nodefaults",
               "-serial", f"file:{self.console_path}", "-smbios", f"type=1,{smbios1}"]
        if ident.cpu_manufacturer or ident.cpu_version:
            cmd += ["-smbios", f"type=4,manufacturer={qemu_string(ident.cpu_manufacturer)},"
                               f"version={qemu_string(ident.cpu_version)}"]
        if self.firmware == "uefi":
            vars_copy = os.path.join(self.dir, "OVMF_VARS_4M.fd")
            shutil.copy(OVMF_VARS, vars_copy)
            cmd += ["-machine", "q35",
                    "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
                    "-drive", f"if=pflash,format=raw,unit=1,file={vars_copy}"]
        else:
            cmd += ["-machine", "pc"]
        cmd += ["-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev=n0,mac={ident.mac},bootindex=0" + ("" if self.ipxe_rom else ",romfile="),
                "-drive", f"file={self.disk},format=raw,if=none,id=d0",
                "-device", "virtio-blk-pci,drive=d0,bootindex=1"]
        return cmd

    def power_on(self):
        write_pattern_disk(self.disk, self.disk_size)
        tap = self.lab.add_tap()
        cmd = ["ip", "netns", "exec", self.lab.switch, *self.command(tap)]
        self.started, self.started_wall = time.monotonic(), time.time()
        with open(self.qemu_log, "wb") as stderr:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def console(self):
        return tail(self.console_path, 1 << 20)

    def console_tail(self, chars=3000):
        qemu = tail(self.qemu_log, 1000).strip()
        return tail(self.console_path, chars) + (f"\n--- qemu stderr ---\n{qemu}" if qemu else "")

    def read_disk(self, offset, size):
        with open(self.disk, "rb") as f:
            f.seek(offset)
            return f.read(size)

    def power_off(self):
        if self.running():
            self.proc.kill()
        if self.proc:
            self.proc.wait()


class Site:
    """The lab around the guests: bridge, site DHCP server (and IPv6 router advertisements
    unless ipv6_router=False), the ironboot appliance with its embedded API, and kubectl
    against it. `agent_dir` holds the agent image to serve."""

    def __init__(self, agent_dir, subnet="10.78.0", workdir=None, log_level="debug", ipv6_router=True,
                 config_sections=None):
        self.subnet = subnet
        self.workdir = workdir or tempfile.mkdtemp(prefix="ironboot-site-")
        os.chmod(self.workdir, 0o755)
        self.kubectl_runner = None
        self.guests = []
        self.lab = netlab.Lab(subnet=subnet)
        self.dnsmasq = self.daemon = None
        try:
            self.site = self.lab.add_host("site", 1)
            self.appliance = self.lab.add_host("appliance", 2)
            self.dnsmasq = start_dnsmasq(self.site, self.workdir, subnet, ipv6_router)
            config = {
                "interface": "eth0",
                "advertise_address": self.appliance.address,
                "tftp": {"root": stage_tftp_root(self.workdir)},
                "http": {"listen": "0.0.0.0:8080"},
                "agent": {"kernel": os.path.join(agent_dir, "vmlinuz"),
                          "initrd": os.path.join(agent_dir, "initramfs"),
                          "kernel_args": AGENT_KERNEL_ARGS},
                "cluster": {"mode": "embedded", "embedded": {"data_dir": os.path.join(self.workdir, "data")}},
                "discovery": {"wipe": "fast", "boot_tokens_per_minute": 60},
                "log": {"level": log_level},
            }
            config.update(config_sections or {})  # whole top-level sections, e.g. {"bmc": {...}}
            self.daemon = netlab.Ironboot(self.appliance, config, workdir=self.workdir).start()
            kubeconfig = write_kubeconfig(self.daemon.config_path, os.path.join(self.workdir, "kubeconfig"))
            self.kubectl_runner = Kubectl(self.appliance, kubeconfig, self.log_tail,
                                          os.path.join(self.workdir, "kubectl-cache"))
        except BaseException:
            self.close()
            raise

    def kubectl_cmd(self, *args):
        return self.kubectl_runner.cmd(*args)

    def kubectl(self, *args, check=True, input=None, timeout=60):
        return self.kubectl_runner.run(*args, check=check, input=input, timeout=timeout)

    def get(self, kind, name):
        return self.kubectl_runner.get(kind, name)

    def log_tail(self, lines=60):
        """ironboot's log without the read requests kubectl makes while a test waits."""
        kept = [l for l in self.daemon.read_log().splitlines() if not ("kube: request" in l and "method=GET" in l)]
        return "\n".join(kept[-lines:])

    def explain(self, *watched):
        """Console tails of the guests and the log tail of ironboot, for a failure message."""
        parts = [f"--- {g.name} console tail ---\n{g.console_tail()}" for g in watched]
        parts.append(f"--- ironboot log tail ---\n{self.log_tail()}")
        return "\n".join(parts)

    def wait_for(self, what, predicate, timeout, watched=(), interval=1.0, shown=()):
        """predicate()'s first true value; AssertionError with console and log tails when the
        time runs out or a watched guest's QEMU exits. `shown`: guests whose tails go into the
        message too, but whose QEMU may come and go (a BMC powers them)."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            stopped = [g.name for g in watched if not g.running()]
            if stopped or time.monotonic() > deadline:
                why = f"QEMU of {stopped} exited" if stopped else f"timed out after {timeout} s"
                raise AssertionError(f"{why} waiting for {what}\n{self.explain(*watched, *shown)}")
            time.sleep(interval)

    def server_names(self):
        return {n.split("/", 1)[1] for n in self.kubectl("get", "servers", "-o", "name").stdout.split()}

    def wait_for_servers(self, started, timeout):
        """Seconds from each guest's power-on until its Server object is listed, by guest name."""
        seen = {}

        def all_listed():
            names = self.server_names()
            now = time.monotonic()
            for g in started:
                if g.name not in seen and g.identity.uuid in names:
                    seen[g.name] = now - g.started
            return len(seen) == len(started)

        self.wait_for(f"the Server objects of {[g.name for g in started]}", all_listed, timeout, started,
                      interval=0.5)
        return seen

    def add_guest(self, name, identity, firmware="bios", ipxe_rom=True):
        guest = Guest(self.lab, self.workdir, name, identity, firmware, ipxe_rom=ipxe_rom)
        self.guests.append(guest)
        return guest

    def close(self):
        for g in self.guests:
            g.power_off()
        if self.daemon:
            self.daemon.stop()
        if self.dnsmasq and self.dnsmasq.poll() is None:
            self.dnsmasq.terminate()
            self.dnsmasq.wait(5)
        self.lab.close()

    def remove_workdir(self):
        shutil.rmtree(self.workdir, ignore_errors=True)
