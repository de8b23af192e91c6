"""Network namespace labs for integration tests.

Every lab lives entirely inside namespaces it creates: a `switch` namespace holds a bridge,
each host is a namespace joined to it by a veth pair. Nothing is added to the root
namespace, so parallel test runs cannot collide, and close() removes everything.
Addresses are private to the lab; traffic never leaves it.
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# IRONBOOT_BIN lets a test run use another build directory.
IRONBOOT = os.environ.get("IRONBOOT_BIN") or os.path.join(ROOT, "build", "ironboot")
SYSTEM_PYTHON = "/usr/bin/python3"  # has scapy; the first python3 on PATH may not


def run(cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, text=True, capture_output=True, **kw)


class Host:
    def __init__(self, lab, name, ns, ifname, address, mac):
        self.lab, self.name, self.ns, self.ifname = lab, name, ns, ifname
        self.address, self.mac = address, mac  # address without prefix length, may be None

    def cmd(self, args):
        return ["ip", "netns", "exec", self.ns, *args]

    def run(self, args, check=True, timeout=120, **kw):
        return run(self.cmd(args), check=check, timeout=timeout, **kw)

    def popen(self, args, **kw):
        return subprocess.Popen(self.cmd(args), **kw)


class Lab:
    """A bridge and hosts. Use as a context manager (or call close())."""

    def __init__(self, subnet="10.77.0", prefix_len=24):
        self.tag = "ib" + secrets.token_hex(3)  # short: interface names are <= 15 chars
        self.subnet, self.prefix_len = subnet, prefix_len
        self.namespaces = []
        self.hosts = {}
        self.taps = 0
        self.switch = f"{self.tag}-sw"
        self._add_ns(self.switch)
        self.add_bridge("br0")
        run(["ip", "-n", self.switch, "link", "set", "lo", "up"])

    def add_bridge(self, name):
        """Another bridge (segment) in the switch namespace; br0 is the lab's own."""
        run(["ip", "-n", self.switch, "link", "add", name, "type", "bridge", "forward_delay", "0"])
        run(["ip", "-n", self.switch, "link", "set", name, "up"])
        return name

    def _add_ns(self, ns):
        run(["ip", "netns", "add", ns])
        self.namespaces.append(ns)

    def add_host(self, name, host_octet=None, mac=None, mtu=1500, bridge="br0"):
        """A namespace with eth0 on the bridge; host_octet None = no address (a DHCP client)."""
        ns = f"{self.tag}-{name}"
        self._add_ns(ns)
        idx = len(self.hosts)
        outer = f"{self.tag}v{idx}"
        run(["ip", "link", "add", outer, "netns", self.switch, "type", "veth", "peer", "name", "eth0", "netns", ns])
        run(["ip", "-n", self.switch, "link", "set", outer, "master", bridge, "mtu", str(mtu), "up"])
        if mac:
            run(["ip", "-n", ns, "link", "set", "eth0", "address", mac])
        run(["ip", "-n", ns, "link", "set", "eth0", "mtu", str(mtu), "up"])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        address = None
        if host_octet is not None:
            address = f"{self.subnet}.{host_octet}"
            run(["ip", "-n", ns, "addr", "add", f"{address}/{self.prefix_len}", "dev", "eth0"])
        real_mac = run(["ip", "-n", ns, "-j", "link", "show", "eth0"]).stdout
        real_mac = json.loads(real_mac)[0]["address"]
        host = Host(self, name, ns, "eth0", address, real_mac)
        self.hosts[name] = host
        return host

    def add_tap(self, bridge="br0"):
        """A tap device on the bridge, for a QEMU guest started inside the switch namespace."""
        tap = f"{self.tag}t{self.taps}"  # one name per tap: a lab may hold several guests
        self.taps += 1
        run(["ip", "-n", self.switch, "tuntap", "add", "dev", tap, "mode", "tap"])
        run(["ip", "-n", self.switch, "link", "set", tap, "master", bridge, "up"])
        return tap

    def close(self):
        for ns in reversed(self.namespaces):
            # Kill anything still running in the namespace before deleting it.
            pids = run(["ip", "netns", "pids", ns], check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            run(["ip", "netns", "del", ns], check=False)
        self.namespaces = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def agent_lab_config(workdir, subnet, **sections):
    """The configuration of an agent-API lab: ironboot on host .2 of `subnet` with HTTP on every
    address, no DHCP or TFTP, the embedded API on loopback with its data in workdir, and stand-in
    agent kernel and initramfs files written under workdir/agent. `sections` add to it or
    replace top-level sections."""
    os.makedirs(os.path.join(workdir, "agent"), exist_ok=True)
    for name in ("vmlinuz", "initramfs"):
        with open(os.path.join(workdir, "agent", name), "wb") as f:
            f.write(name.encode() * 512)
    cfg = {
        "interface": "eth0",
        "advertise_address": f"{subnet}.2",
        "dhcp": {"enabled": False},
        "tftp": {"enabled": False, "root": os.path.join(workdir, "agent")},
        "http": {"listen": "0.0.0.0:8080"},
        "agent": {"kernel": os.path.join(workdir, "agent", "vmlinuz"),
                  "initrd": os.path.join(workdir, "agent", "initramfs")},
        "cluster": {"embedded": {"listen": "127.0.0.1:6443", "data_dir": os.path.join(workdir, "data")}},
        "log": {"level": "debug"},
    }
    cfg.update(sections)
    return cfg


def wait_for(what, predicate, daemon, timeout=15):
    """predicate()'s first truthy value within timeout; else an AssertionError with the daemon's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{daemon.read_log()[-4000:]}")


class Ironboot:
    """`ironboot serve` inside a host namespace. start() waits for sd_notify READY=1 on a
    socket of our own, so readiness is what the daemon itself reports."""

    def __init__(self, host, config, workdir=None):
        self.host = host
        self.workdir = workdir or tempfile.mkdtemp(prefix="ironboot-test-")
        self.config_path = os.path.join(self.workdir, "ironboot.yaml")
        self.log_path = os.path.join(self.workdir, "ironboot.log")
        if isinstance(config, dict):
            # Each daemon keeps its embedded cluster store in its own work directory.
            embedded = config.setdefault("cluster", {}).setdefault("embedded", {})
            embedded.setdefault("data_dir", os.path.join(self.workdir, "cluster"))
        self.write_config(config)
        self.proc = None
        self.notify = None

    def write_config(self, config):
        with open(self.config_path, "w") as f:
            f.write(config if isinstance(config, str) else json.dumps(config, indent=2))

    def start(self, timeout=20):
        notify_path = os.path.join(self.workdir, "notify.sock")
        if os.path.exists(notify_path):
            os.unlink(notify_path)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(notify_path)
        env = dict(os.environ, NOTIFY_SOCKET=notify_path)
        env.pop("JOURNAL_STREAM", None)
        env.pop("WATCHDOG_PID", None)  # without it, sd_watchdog_enabled() accepts any pid
        self.log = open(self.log_path, "ab")
        self.proc = self.host.popen([IRONBOOT, "serve", "--config", self.config_path],
                                    env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_notify("READY=1", timeout)
        return self

    def wait_notify(self, what, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ironboot exited {self.proc.returncode}:\n{self.read_log()}")
            self.notify.settimeout(0.2)
            try:
                msg = self.notify.recv(4096).decode()
            except socket.timeout:
                continue
            if what in msg.split("\n"):
                return msg
        raise TimeoutError(f"no {what} from ironboot in {timeout}s:\n{self.read_log()}")

    def signal(self, signo):
        self.proc.send_signal(signo)

    def stop(self, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.notify:
            self.notify.close()
            self.notify = None
        return self.proc.returncode if self.proc else None

    def read_log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
