"""OpenIPMI's ipmi_sim as a test BMC on a loopback UDP port.

Debian's openipmi ships no lan.conf or .emu, so this writes both: one LAN channel on
127.0.0.1:PORT with admin privilege, user 2 = USER/PASSWORD (admin), and a minimal BMC
(mc_add 0x20 ... manufacturer 0x1291, product 0xf02). With `chassis` (a state directory),
ipmi_sim's chassis_control runs tests/lib/vm_chassis.py on it, so power and boot commands
drive a QEMU VM; without it ipmi_sim keeps the power state itself (the benchmark's 100 BMCs).
Each start gets a fresh state directory; ensure_running() restarts a crashed ipmi_sim (it has
segfaulted here after runs of failed sessions). ipmi_sim speaks cipher suites 0-3 and 6.
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


def lan_conf(port, user, password, chassis=None):
    lines = [
        'name "ironboot-test"',
        "set_working_mc 0x20",
        "  startlan 1",
        f"    addr 127.0.0.1 {port}",
        "    priv_limit admin",
        "    allowed_auths_callback none md2 md5 straight",
        "    allowed_auths_user none md2 md5 straight",
        "    allowed_auths_operator none md2 md5 straight",
        "    allowed_auths_admin none md2 md5 straight",
        "    guid a123456789abcdefa123456789abcdef",
        "  endlan",
    ]
    if chassis:
        lines.append(f'  chassis_control "{SYSTEM_PYTHON} {VM_CHASSIS} {chassis}"')
    lines.append(f'  user 2 true "{user}" "{password}" admin 10 none md2 md5 straight')
    return "\n".join(lines) + "\n"


EMU = """mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02
sel_enable 0x20 1000 0x0a
mc_enable 0x20
"""


class IpmiSim:
    def __init__(self, workdir=None, port=None, user="admin", password="pw", chassis=None):
        self._own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="ipmi-sim-")
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or free_udp_port()
        self.user, self.password, self.chassis = user, password, chassis
        self.proc = None
        self.starts = 0
        with open(os.path.join(self.dir, "lan.conf"), "w") as f:
            f.write(lan_conf(self.port, user, password, chassis))
        with open(os.path.join(self.dir, "bmc.emu"), "w") as f:
            f.write(EMU)

    def start(self, wait=True):
        state = os.path.join(self.dir, f"state-{self.starts}")
        shutil.rmtree(state, ignore_errors=True)
        os.makedirs(state)
        self.starts += 1
        self.log = open(os.path.join(self.dir, "ipmi_sim.log"), "a")
        self.proc = subprocess.Popen(
            ["ipmi_sim", "-c", os.path.join(self.dir, "lan.conf"), "-f", os.path.join(self.dir, "bmc.emu"),
             "-s", state, "-n"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=10):
        deadline = time.monotonic() + timeout
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"ipmi_sim exited with {self.proc.returncode}; see {self.dir}/ipmi_sim.log")
                s.sendto(_PROBE, ("127.0.0.1", self.port))
                try:
                    s.recvfrom(512)
                    return
                except socket.timeout:
                    continue
        raise RuntimeError(f"ipmi_sim on port {self.port} did not answer within {timeout} s")

    def ensure_running(self):
        """Restarts ipmi_sim if it died (it has crashed after runs of failed sessions)."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def close(self):
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def ipmitool(self, *args, suite=3, password=None, timeout=30):
        """ipmitool -I lanplus against this BMC; returns the CompletedProcess."""
        cmd = ["ipmitool", "-I", "lanplus", "-H", "127.0.0.1", "-p", str(self.port), "-U", self.user,
               "-P", password or self.password, "-C", str(suite), *args]
        return subprocess.run(cmd, text=True, capture_output=True, timeout=timeout)
