"""A boot segment in network namespaces: the site's DHCP server (dnsmasq, hands out
addresses), the appliance (ironboot, proxyDHCP only), a PXE client and a relay agent, all on
one bridge. Used by the dhcp integration tests and by scripts/demo.

    with DhcpLab() as lab:                    # or lab = DhcpLab(); lab.start(); ...; lab.close()
        replies = lab.discover(arch=0)        # scapy DISCOVER from the client, all replies
        result = lab.pxe_boot(arch=7)         # full exchange: address from dnsmasq, boot info
        print(result.address, result.boot_file, result.next_server)

Everything lives in namespaces that close() deletes (netlab.Lab).
"""

import json
import os
import secrets
import shutil
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass

import netlab

HERE = os.path.dirname(os.path.abspath(__file__))
AGENT = os.path.join(HERE, "scapy_agent.py")

# A firmware-like UUID for option 97 (type 0 + 16 bytes).
DEFAULT_UUID = bytes([0]) + bytes.fromhex("4c4c4544003010803830b4c04f4d4d31")


def option(code, value):
    if isinstance(value, str):
        value = value.encode()
    out = b""
    while True:  # RFC 3396: long values go out as several instances
        chunk, value = value[:255], value[255:]
        out += bytes([code, len(chunk)]) + chunk
        if not value:
            return out


def pxe_options(arch=0, vendor="PXEClient", msg_type=1, user_class=None, uuid=DEFAULT_UUID,
                server_id=None, extra=b""):
    """Option bytes (after the cookie, end included) of a PXE DISCOVER/REQUEST. vendor None =
    no option 60; arch None = no option 93; user_class is sent bare like iPXE does."""
    opts = option(53, bytes([msg_type]))
    if server_id:
        opts += option(54, bytes(int(x) for x in server_id.split(".")))
    if arch is not None:
        opts += option(93, struct.pack("!H", arch)) + option(94, b"\x01\x03\x10")
    if vendor is not None:
        opts += option(60, f"{vendor}:Arch:{arch or 0:05d}:UNDI:003016" if vendor in ("PXEClient", "HTTPClient") else vendor)
    if user_class is not None:
        opts += option(77, user_class)
    if uuid is not None:
        opts += option(97, uuid)
    return opts + extra + b"\xff"


def plain_options(msg_type=1, requested=None, server_id=None):
    opts = option(53, bytes([msg_type])) + option(55, bytes([1, 3, 6, 15]))
    if requested:
        opts += option(50, bytes(int(x) for x in requested.split(".")))
    if server_id:
        opts += option(54, bytes(int(x) for x in server_id.split(".")))
    return opts + b"\xff"


def random_mac():
    return "52:54:00:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))


class ScapyAgent:
    """scapy_agent.py running in a host namespace under /usr/bin/python3."""

    def __init__(self, host):
        self.host = host
        self.proc = host.popen([netlab.SYSTEM_PYTHON, AGENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, bufsize=1)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"scapy agent failed: {self.proc.stderr.read()}")

    def exchange(self, **request):
        request.setdefault("eth_src", self.host.mac)
        request.setdefault("chaddr", request["eth_src"])
        request.setdefault("xid", secrets.randbits(32))
        if isinstance(request.get("options_hex"), bytes):
            request["options_hex"] = request["options_hex"].hex()
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"scapy agent died: {self.proc.stderr.read()}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer["replies"]

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class BootResult:
    address: str        # from the site's DHCP server
    boot_file: str      # from ironboot
    next_server: str    # siaddr from ironboot
    offers: list        # every OFFER seen for the DISCOVER
    ack: dict           # ironboot's 4011 ACK


class DhcpLab:
    def __init__(self, subnet="10.79.0", ironboot_config=None, workdir=None, relay=True):
        self.subnet = subnet
        self.workdir = workdir or tempfile.mkdtemp(prefix="ironboot-dhcplab-")
        self.extra_config = ironboot_config or {}
        self.want_relay = relay
        self.lab = None
        self.agents = {}
        self.dnsmasq = None
        self.ironboot = None

    # --- setup -------------------------------------------------------------------------

    def start(self):
        try:
            self.lab = netlab.Lab(subnet=self.subnet)
            self.site = self.lab.add_host("site", 1)
            self.appliance = self.lab.add_host("appliance", 2)
            self.client = self.lab.add_host("client", None)
            self.relay = self.lab.add_host("relay", 3) if self.want_relay else None
            self._start_dnsmasq()
            self._start_ironboot()
        except BaseException:
            self.close()
            raise
        return self

    def config(self):
        tftp_root = os.path.join(self.workdir, "tftp")
        os.makedirs(tftp_root, exist_ok=True)
        for name in ("undionly.kpxe", "ipxe.efi"):
            with open(os.path.join(tftp_root, name), "wb") as f:
                f.write(b"\0" * 1024)
        config = {
            "interface": "eth0",
            "dhcp": {"enabled": True, "port": 67, "pxe_port": 4011},
            "tftp": {"root": tftp_root},
            "http": {"listen": "0.0.0.0:8080"},
            "boot": {"binaries": {"bios": "undionly.kpxe", "efi_x86_64": "ipxe.efi", "efi_arm64": ""}},
            "cluster": {"embedded": {"data_dir": os.path.join(self.workdir, "data")}},
            "log": {"level": "debug"},
        }
        for key, value in self.extra_config.items():
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key] = {**config[key], **value}
            else:
                config[key] = value
        return config

    def _start_dnsmasq(self):
        s = self.subnet
        self.dnsmasq_log = open(os.path.join(self.workdir, "dnsmasq.log"), "ab")
        self.dnsmasq = self.site.popen(
            ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface=eth0", "--bind-interfaces",
             f"--dhcp-range={s}.100,{s}.150,255.255.255.0,1h", "--dhcp-authoritative", "--no-ping", "--log-dhcp", "--user=root",
             f"--dhcp-leasefile={self.workdir}/dnsmasq.leases", f"--pid-file={self.workdir}/dnsmasq.pid"],
            stdout=self.dnsmasq_log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # ready once it listens on 67
            if ":67 " in self.site.run(["ss", "-lun"], check=False).stdout:
                return
            if self.dnsmasq.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("dnsmasq did not start:\n" + self.read(os.path.join(self.workdir, "dnsmasq.log")))

    def _start_ironboot(self):
        self.ironboot = netlab.Ironboot(self.appliance, self.config(), workdir=self.workdir).start()

    def agent(self, host=None):
        host = host or self.client
        if host.name not in self.agents:
            self.agents[host.name] = ScapyAgent(host)
        return self.agents[host.name]

    # --- exchanges -------------------------------------------------------------------------

    def discover(self, arch=0, vendor="PXEClient", user_class=None, mac=None, wait=1.5, stop_after=0, **kw):
        """A broadcast PXE DISCOVER from the client; every reply with its xid."""
        mac = mac or random_mac()
        opts = kw.pop("options", None) or pxe_options(arch=arch, vendor=vendor, user_class=user_class,
                                                      **{k: kw.pop(k) for k in ("uuid", "extra") if k in kw})
        return self.agent().exchange(chaddr=mac, options_hex=opts, wait=wait, stop_after=stop_after, **kw)

    def pxe_boot(self, arch=7, vendor="PXEClient", mac=None):
        """What a UEFI firmware does: DISCOVER; take the address from the site server's offer
        and the boot info from ironboot's; REQUEST the address; configure it; REQUEST on 4011."""
        mac = mac or self.client.mac
        agent = self.agent()
        xid = secrets.randbits(32)
        offers = agent.exchange(chaddr=mac, xid=xid, options_hex=pxe_options(arch=arch, vendor=vendor),
                                wait=3, stop_after=2)
        site = next(o for o in offers if o["yiaddr"] != "0.0.0.0")
        proxy = next(o for o in offers if o["yiaddr"] == "0.0.0.0")
        site_id = site["options"]["server_id"]
        acks = agent.exchange(chaddr=mac, xid=xid, wait=3, stop_after=1,
                              options_hex=plain_options(3, requested=site["yiaddr"], server_id=site_id))
        ack = next(a for a in acks if a["options"].get("message-type") == 5)
        address = ack["yiaddr"]
        self.client.run(["ip", "addr", "add", f"{address}/24", "dev", "eth0"])
        proxy_id = proxy["options"]["server_id"]
        appliance_mac = self.appliance.mac
        acks = agent.exchange(chaddr=mac, xid=xid, ip_src=address, ip_dst=proxy_id, eth_dst=appliance_mac,
                              sport=68, dport=4011, ciaddr=address, wait=3, stop_after=1,
                              options_hex=pxe_options(arch=arch, vendor=vendor, msg_type=3))
        if not acks:
            raise RuntimeError("no ACK on 4011:\n" + self.ironboot.read_log()[-2000:])
        return BootResult(address=address, boot_file=acks[0]["file"], next_server=acks[0]["siaddr"],
                          offers=offers, ack=acks[0])

    # --- teardown ---------------------------------------------------------------------------

    @staticmethod
    def read(path):
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def dnsmasq_log_text(self):
        return self.read(os.path.join(self.workdir, "dnsmasq.log"))

    def close(self):
        for a in self.agents.values():
            a.close()
        self.agents = {}
        if self.ironboot:
            self.ironboot.stop()
        if self.dnsmasq and self.dnsmasq.poll() is None:
            self.dnsmasq.terminate()
            try:
                self.dnsmasq.wait(5)
            except subprocess.TimeoutExpired:
                self.dnsmasq.kill()
        if self.lab:
            self.lab.close()
            self.lab = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
