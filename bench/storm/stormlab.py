"""The boot-storm lab: ironboot, and optionally dnsmasq (proxy DHCP + TFTP) + nginx, each in a
network namespace of its own, and one client namespace holding every simulated machine's
address, all on a bridge the lab creates and deletes (tests/lib/netlab.py). Used by
bench/storm/run and tests/integration/storm.
"""

import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import netlab  # noqa: E402

STORM = os.environ.get("IRONBOOT_STORM_BIN") or os.path.join(ROOT, "build", "bench", "storm", "ironboot-storm")
CGROUP = "/sys/fs/cgroup/cpuacct"
SUBNET = "10.91.0"
SERVER, PEER, CLIENT = f"{SUBNET}.2", f"{SUBNET}.3", f"{SUBNET}.10"
FIRST_MACHINE = "10.91.4.1"
PEER_DHCP_PORTS = (1067, 1068)  # dnsmasq's alternate ports: both proxies on one LAN, no crosstalk
IPXE_DIR = "/usr/lib/ipxe"


class CpuGroup:
    """A cgroup v1 cpuacct group: the CPU of the processes put in it, children included."""

    def __init__(self, name):
        self.path = os.path.join(CGROUP, name)
        os.makedirs(self.path, exist_ok=True)

    def add(self, pid):
        with open(os.path.join(self.path, "tasks"), "w") as f:
            f.write(str(pid))

    def usage_s(self):
        with open(os.path.join(self.path, "cpuacct.usage")) as f:
            return int(f.read()) / 1e9

    def remove(self):
        try:
            with open(os.path.join(self.path, "tasks")) as f:
                for pid in f.read().split():
                    with open(os.path.join(CGROUP, "tasks"), "w") as t:
                        t.write(pid)
            os.rmdir(self.path)
        except OSError:
            pass


def peak_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


NGINX_CONF = """
user root;
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
worker_rlimit_nofile 16384;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  default_type text/plain;
  client_body_temp_path {tmp}/nginx-body;
  proxy_temp_path {tmp}/nginx-proxy;
  fastcgi_temp_path {tmp}/nginx-fastcgi;
  uwsgi_temp_path {tmp}/nginx-uwsgi;
  scgi_temp_path {tmp}/nginx-scgi;
  server {{
    listen {addr}:8080;
    root {tmp}/www;
  }}
}}
"""

DNSMASQ_CONF = """
port=0
interface=eth0
bind-interfaces
dhcp-alternate-port={ports[0]},{ports[1]}
dhcp-range={subnet}.0,proxy,255.255.0.0
pxe-service=x86PC,"ironboot",undionly.kpxe
pxe-service=X86-64_EFI,"ironboot",ipxe.efi
enable-tftp
tftp-root={tmp}/tftp
tftp-max=4096
log-facility={tmp}/dnsmasq.log
"""


class StormLab:
    def __init__(self, machines, kernel_size=64 * 1024, initrd_size=64 * 1024, peer=True, log_level="info",
                 agent_dir=None):
        self.machines = machines
        self.tmp = tempfile.mkdtemp(prefix="ironboot-storm-")
        os.chmod(self.tmp, 0o755)
        self.lab = None
        self.daemon = None
        self.peer_procs = []
        self.groups = {}
        self.with_peer = peer
        self.kernel_size, self.initrd_size, self.log_level = kernel_size, initrd_size, log_level
        self.agent_dir = agent_dir  # the real agent's vmlinuz and initramfs instead of random bytes

    # ---- set-up ---------------------------------------------------------------------
    def _files(self):
        tftp = os.path.join(self.tmp, "tftp")
        agent = os.path.join(self.tmp, "agent")
        os.makedirs(tftp)
        os.makedirs(agent)
        for name in ("undionly.kpxe", "ipxe.efi"):  # copies: ipxe.efi is a symlink out of /usr/lib/ipxe
            shutil.copyfile(os.path.realpath(os.path.join(IPXE_DIR, name)), os.path.join(tftp, name))
        for name, size in (("vmlinuz", self.kernel_size), ("initramfs", self.initrd_size)):
            if self.agent_dir:
                shutil.copyfile(os.path.join(self.agent_dir, name), os.path.join(agent, name))
                continue
            with open(os.path.join(agent, name), "wb") as f:
                f.write(os.urandom(size))

    def start(self):
        self._files()
        self.lab = netlab.Lab(subnet=SUBNET, prefix_len=16)
        self.server = self.lab.add_host("server", 2)
        self.client = self.lab.add_host("client", 10)
        hosts = [self.server, self.client]
        if self.with_peer:
            self.peer = self.lab.add_host("peer", 3)
            hosts.append(self.peer)
        first = ipaddress.IPv4Address(FIRST_MACHINE)
        batch = "".join(f"addr add {first + i}/16 dev eth0\n" for i in range(self.machines))
        subprocess.run(["ip", "-n", self.client.ns, "-batch", "-"], input=batch, text=True, check=True)
        # Neighbour tables are global (gc_thresh3, 1,024 entries by default, shared by every
        # namespace on the machine): a thousand learnt neighbours per server overflow them and
        # sends fail with ENOBUFS. Permanent entries do not count, so the servers get one per
        # machine address (all on the client's interface).
        neigh = "".join(f"neigh replace {first + i} lladdr {self.client.mac} dev eth0 nud permanent\n"
                        for i in range(self.machines))
        for h in hosts:
            if h is not self.client:
                subprocess.run(["ip", "-n", h.ns, "-batch", "-"], input=neigh, text=True, check=True)
        self.client.run(["sysctl", "-qw", "net.ipv4.ip_local_port_range=1100 65000"], check=False)

        tftp, agent = os.path.join(self.tmp, "tftp"), os.path.join(self.tmp, "agent")
        self.data_dir = os.path.join(self.tmp, "data")
        config = {
            "interface": "eth0", "advertise_address": SERVER,
            "dhcp": {"enabled": True, "port": 67, "pxe_port": 4011},
            "tftp": {"enabled": True, "root": tftp},
            "http": {"listen": f"{SERVER}:8080"},
            "boot": {"binaries": {"bios": "undionly.kpxe", "efi_x86_64": "ipxe.efi"}},
            "agent": {"kernel": os.path.join(agent, "vmlinuz"), "initrd": os.path.join(agent, "initramfs")},
            "cluster": {"mode": "embedded", "embedded": {"listen": f"{SERVER}:6443", "data_dir": self.data_dir}},
            "log": {"level": self.log_level},
        }
        self.groups["ironboot"] = CpuGroup(f"ironboot-storm-{os.getpid()}")
        self.daemon = netlab.Ironboot(self.server, config, workdir=self.tmp).start(timeout=60)
        self.groups["ironboot"].add(self.daemon.proc.pid)
        if self.with_peer:
            self._start_peer()
        return self

    def _start_peer(self):
        www = os.path.join(self.tmp, "www")
        os.makedirs(os.path.join(www, "assets", "agent"))
        for name in ("vmlinuz", "initramfs"):
            shutil.copyfile(os.path.join(self.tmp, "agent", name), os.path.join(www, "assets", "agent", name))
        # The same script bytes ironboot serves, as static files (one machine's /ipxe answer).
        base = f"http://{SERVER}:8080"
        query = "/ipxe?uuid=00000000-0000-4000-8000-000000000001&mac=0e-00-00-00-00-01&arch=x86_64&platform=pcbios"
        for path, name in (("/boot.ipxe", "boot.ipxe"), (query, "ipxe")):
            body = self.client.run(["curl", "-sS", "--fail", base + path]).stdout
            with open(os.path.join(www, name), "w") as f:
                f.write(body)
        with open(os.path.join(self.tmp, "nginx.conf"), "w") as f:
            f.write(NGINX_CONF.format(tmp=self.tmp, addr=PEER))
        with open(os.path.join(self.tmp, "dnsmasq.conf"), "w") as f:
            f.write(DNSMASQ_CONF.format(tmp=self.tmp, ports=PEER_DHCP_PORTS, subnet=SUBNET))
        self.groups["peer"] = CpuGroup(f"peer-storm-{os.getpid()}")
        nginx = self.peer.popen(["nginx", "-c", os.path.join(self.tmp, "nginx.conf")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dnsmasq = self.peer.popen(["dnsmasq", "--keep-in-foreground", "--conf-file=" + os.path.join(self.tmp, "dnsmasq.conf"),
                                   "--pid-file=" + os.path.join(self.tmp, "dnsmasq.pid"), "--user=root"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.peer_procs = [nginx, dnsmasq]
        time.sleep(1)
        for p in self.peer_procs:
            if p.poll() is not None:
                raise RuntimeError(f"peer {p.args} exited {p.returncode}")
        for pid in self.peer_pids():
            self.groups["peer"].add(pid)

    def peer_pids(self):
        """nginx master and worker, dnsmasq (ip netns exec execs, so the Popen pids are theirs)."""
        pids = [p.pid for p in self.peer_procs]
        for p in self.peer_procs:
            pids += [int(x) for x in self.peer.run(["pgrep", "-P", str(p.pid)], check=False).stdout.split()]
        return pids

    # ---- a round ---------------------------------------------------------------------
    def api_token_path(self):
        return os.path.join(self.data_dir, "token")

    def storm(self, target, seed, extra=(), timeout=600):
        """One storm against 'ironboot', 'ironboot-static' (the peer's phases) or 'peer'.
        Returns the generator's report plus the server's CPU seconds for the round."""
        cmd = [STORM, "--machines", str(self.machines), "--first-address", FIRST_MACHINE, "--seed", str(seed)]
        if target == "peer":
            cmd += ["--server", PEER, "--peer", "--dhcp-server-port", str(PEER_DHCP_PORTS[0]),
                    "--dhcp-client-port", str(PEER_DHCP_PORTS[1])]
        else:
            cmd += ["--server", SERVER, "--api", f"{SERVER}:6443", "--api-token", self.api_token_path(),
                    "--api-ca", os.path.join(self.data_dir, "ca.crt")]
            if target == "ironboot-static":
                cmd += ["--peer"]
        cmd += list(extra)
        group = self.groups["peer" if target == "peer" else "ironboot"]
        self.settle(self.groups["ironboot"])
        cpu0 = group.usage_s()
        r = self.client.run(cmd, check=False, timeout=timeout)
        cpu = group.usage_s() - cpu0
        if not r.stdout.strip():
            raise RuntimeError(f"generator failed ({r.returncode}): {r.stderr}")
        report = json.loads(r.stdout.strip().splitlines()[-1])
        report["server_cpu_s"] = cpu
        report["target"] = target
        return report

    @staticmethod
    def settle(group, busy_share=0.05, limit_s=30.0):
        """Waits until `group` uses under `busy_share` of a core over half a second (at most
        `limit_s`): the registers of the storm before leave work behind (Servers written,
        classes reconciled) that would be counted to the next storm's CPU and slow it."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            before = group.usage_s()
            time.sleep(0.5)
            if group.usage_s() - before < busy_share * 0.5:
                return

    def create_servers(self, count, clients=16):
        """`count` Servers with full hardware facts (bench/kube/objects.py) through the embedded
        API before the storms: the store a fleet's appliance holds. Returns how many were acknowledged."""
        loadgen = os.path.join(ROOT, "bench", "kube", "create_load.py")
        with open(self.api_token_path()) as f:
            token = f.read().strip()
        r = self.server.run(["env", f"CREATE_LOAD_HOST={SERVER}", netlab.SYSTEM_PYTHON, loadgen, os.path.join(self.data_dir, "ca.crt"),
                             token, "0", "1", str(count), str(clients)], timeout=600)
        return int(r.stdout.split()[0])

    def ironboot_rss_kb(self):
        return peak_rss_kb(self.daemon.proc.pid)

    def peer_rss_kb(self):
        return sum(peak_rss_kb(pid) for pid in self.peer_pids())

    def api_get(self, path):
        """(status, body) of an embedded-API GET, from the server's namespace."""
        with open(self.api_token_path()) as f:
            token = f.read().strip()
        r = self.server.run(["curl", "-sS", "--max-time", "10", "--cacert", os.path.join(self.data_dir, "ca.crt"),
                             "-H", f"Authorization: Bearer {token}", "-w", "\n%{http_code}",
                             f"https://{SERVER}:6443{path}"], check=True)
        body, _, code = r.stdout.rpartition("\n")
        return int(code), body

    # ---- tear-down -------------------------------------------------------------------
    def close(self):
        for p in self.peer_procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if self.daemon:
            self.daemon.stop()
        if self.lab:
            self.lab.close()
        for g in self.groups.values():
            g.remove()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc):
        self.close()
