"""OpenIPMI's ipmi_sim as a test BMC, the one harness of every test that needs one.

Debian's openipmi ships no lan.conf or .emu, so this writes both: one LAN channel on
ADDRESS:PORT (127.0.0.1 unless told) with admin privilege, user 2 = USER/PASSWORD (admin), and
a minimal BMC (mc_add 0x20 ... manufacturer 0x1291, product 0xf02). Options:

- `chassis` (a state directory): ipmi_sim's chassis_control runs tests/lib/vm_chassis.py on
  it, so power and boot commands drive a QEMU VM; without it ipmi_sim keeps the power state
  itself (the benchmark's 100 BMCs).
- `serial_port`: the VM serial interface on 127.0.0.1:PORT (codec VM) that QEMU's
  ipmi-bmc-extern connects to (qemu_args()), so /dev/ipmi0 in the guest is this BMC (in-band).
- `lan`: the BMC's LAN settings as its lan_config_program reports them (what `lan print` and
  an in-band reader see; lan.conf's `addr` is only where ipmi_sim listens). lan_settings()
  makes a consistent set.
- `prefix`: runs ipmi_sim (and ipmitool) under it, e.g. ["ip", "netns", "exec", NS]: the
  BMC then lives in that network namespace, and so do the chassis program and its QEMU.

Each start gets a fresh state directory (ipmi_sim persists users there and then ignores the
lan.conf ones); ensure_running() restarts a crashed ipmi_sim (it has segfaulted here after runs
of failed sessions). ipmi_sim speaks cipher suites 0-3 and 6.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM_PYTHON = "/usr/bin/python3"
VM_CHASSIS = os.path.join(HERE, "vm_chassis.py")

# Get Channel Authentication Capabilities in an IPMI 1.5 packet: a cheap "are you up" probe.
_PROBE = bytes.fromhex("0600ff07000000000000000000092018c88100388e04b5")


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lan_settings(address, mac, netmask="255.255.255.0", gateway=None, source="static"):
    """What a lan_config_program reports for a BMC at `address` (gateway: .1 of its /24)."""
    return {
        "ip_addr_src": source,
        "ip_addr": address,
        "subnet_mask": netmask,
        "default_gw_ip_addr": gateway or address.rsplit(".", 1)[0] + ".1",
        "mac_addr": mac,
        "default_gw_mac_addr": "52:54:00:be:ef:01",
        "backup_gw_ip_addr": "0.0.0.0",
        "backup_gw_mac_addr": "00:00:00:00:00:00",
    }


# ipmi_sim's lan_config_program: "<dev> get name..." -> "name:value" lines.
_LAN_PROGRAM = """#!{python}
import sys
values = {values!r}
args = sys.argv[1:]
if "get" in args:
    for name in args[args.index("get") + 1:]:
        print(name + ":" + values.get(name, "0"))
"""


def lan_conf(address, port, user, password, chassis=None, serial_port=None, lan_program=None):
    lines = [
        'name "ironboot-test"',
        "set_working_mc 0x20",
        "  startlan 1",
        f"    addr {address} {port}",
        "    priv_limit admin",
        "    allowed_auths_callback none md2 md5 straight",
        "    allowed_auths_user none md2 md5 straight",
        "    allowed_auths_operator none md2 md5 straight",
        "    allowed_auths_admin none md2 md5 straight",
        "    guid a123456789abcdefa123456789abcdef",
    ]
    if lan_program:
        lines.append(f'    lan_config_program "{lan_program} eth0"')
    lines.append("  endlan")
    if chassis:
        lines.append(f'  chassis_control "{SYSTEM_PYTHON} {VM_CHASSIS} {chassis}"')
    if serial_port:
        lines.append(f"  serial 15 127.0.0.1 {serial_port} codec VM")
    lines.append(f'  user 2 true "{user}" "{password}" admin 10 none md2 md5 straight')
    return "\n".join(lines) + "\n"


EMU = """mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
"""


class IpmiSim:
    def __init__(self, workdir=None, port=None, user="admin", password="pw", chassis=None, address="127.0.0.1",
                 prefix=(), serial_port=None, lan=None):
        self._own_dir = workdir is None
        self.dir = str(workdir or tempfile.mkdtemp(prefix="ipmi-sim-"))
        os.makedirs(self.dir, exist_ok=True)
        self.prefix = list(prefix)
        # Inside another namespace a port free here means nothing; a fresh namespace has all free.
        self.port = port or free_udp_port()
        self.address = address
        self.user, self.password, self.chassis = user, password, chassis
        self.serial_port, self.lan = serial_port, lan
        self.proc = None
        self.log = None
        self.starts = 0
        lan_program = None
        if lan is not None:
            lan_program = os.path.join(self.dir, "lan_config.py")
            with open(lan_program, "w") as f:
                f.write(_LAN_PROGRAM.format(python=SYSTEM_PYTHON, values=lan))
            os.chmod(lan_program, 0o755)
        with open(os.path.join(self.dir, "lan.conf"), "w") as f:
            f.write(lan_conf(address, self.port, user, password, chassis, serial_port, lan_program))
        with open(os.path.join(self.dir, "bmc.emu"), "w") as f:
            f.write(EMU)

    def start(self, wait=True):
        state = os.path.join(self.dir, f"state-{self.starts}")
        shutil.rmtree(state, ignore_errors=True)
        os.makedirs(state)
        self.starts += 1
        self.log = open(os.path.join(self.dir, "ipmi_sim.log"), "a")
        self.proc = subprocess.Popen(
            self.prefix + ["ipmi_sim", "-c", os.path.join(self.dir, "lan.conf"), "-f",
                           os.path.join(self.dir, "bmc.emu"), "-s", state, "-n"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        return self

    def _answers_probe(self, s):
        s.sendto(_PROBE, (self.address, self.port))
        try:
            s.recvfrom(512)
            return True
        except socket.timeout:
            return False

    def wait_ready(self, timeout=15):
        deadline = time.monotonic() + timeout
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"ipmi_sim exited with {self.proc.returncode}:\n{self.log_tail()}")
                if not self.prefix:
                    if self._answers_probe(s):
                        return
                    continue
                # From another namespace the probe cannot reach it: ask ipmitool there.
                if self.ipmitool("mc", "info", timeout=10).returncode == 0:
                    return
                time.sleep(0.3)
        raise RuntimeError(f"ipmi_sim on {self.address}:{self.port} did not answer within {timeout} s:\n"
                           f"{self.log_tail()}")

    def log_tail(self, chars=2000):
        try:
            with open(os.path.join(self.dir, "ipmi_sim.log"), errors="replace") as f:
                return f.read()[-chars:]
        except OSError:
            return ""

    def ensure_running(self):
        """Restarts ipmi_sim if it died (it has crashed after runs of failed sessions)."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        return self

    def qemu_args(self):
        """QEMU options that make this BMC the guest's own (KCS at 0xca2 -> /dev/ipmi0).
        reconnect: QEMU may start before ipmi_sim listens, and keeps the link across its restarts."""
        assert self.serial_port, "IpmiSim(serial_port=...) needed for in-band access"
        return ["-chardev", f"socket,id=ipmi0,host=127.0.0.1,port={self.serial_port},reconnect=10",
                "-device", "ipmi-bmc-extern,id=bmc0,chardev=ipmi0",
                "-device", "isa-ipmi-kcs,bmc=bmc0"]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.log:
            self.log.close()
            self.log = None

    def close(self):
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def ipmitool(self, *args, user=None, password=None, suite=3, timeout=30):
        """ipmitool -I lanplus against this BMC (under the prefix); returns the CompletedProcess."""
        cmd = self.prefix + ["ipmitool", "-I", "lanplus", "-H", self.address, "-p", str(self.port),
                             "-U", user or self.user, "-P", password or self.password, "-C", str(suite), *args]
        return subprocess.run(cmd, text=True, capture_output=True, timeout=timeout)
