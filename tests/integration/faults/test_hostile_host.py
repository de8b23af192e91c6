"""A hostile host on the boot LAN while scripted PXE clients boot (issue 13).

The lab: ironboot (proxyDHCP, TFTP, HTTP, embedded cluster) in one namespace, CLIENTS PXE
clients each in its own namespace, an operator host polling /healthz, and one hostile host.
The clients boot the path twice without load (the slower batch is the unloaded time), then
again while the hostile host sends TFTP_FLOOD never-acknowledged read requests with
"timeout 255" from random ports, opens HTTP_FLOOD idle connections and sends DHCP garbage and
option-interleaving packets at DHCP_RATE a second. With the shipped per-client limits every
client still completes within 2x the unloaded time, /healthz and the systemd watchdog keep
answering, RSS stays under RSS_BOUND_KB, and the per-client limit metrics rose.
"""

import concurrent.futures
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuidlib

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import netlab  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SUBNET = "10.94.0"
SERVER = f"{SUBNET}.2"
CLIENTS = int(os.environ.get("IRONBOOT_FAULTS_CLIENTS", "20"))
TFTP_FLOOD, HTTP_FLOOD, DHCP_RATE = 5000, 5000, 3000
FLOOD_SECONDS = 12.0
BOOT_FILE_SIZE = 1 << 20          # the iPXE binary the clients fetch over TFTP
RSS_BOUND_KB = 128 * 1024         # the appliance's RSS target under load (issue 13)
WATCHDOG_USEC = 1_000_000         # ironboot kicks every 0.5 s


def metrics_text(host):
    return subprocess.run(host.cmd(["curl", "-sS", "--max-time", "5", f"http://{SERVER}:8080/metrics"]),
                          capture_output=True, text=True, check=True).stdout


def metric(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    key = f"{name}{{{want}}}" if labels else name
    total = 0.0
    for line in text.splitlines():
        if line.startswith(key + " "):
            total += float(line.split()[1])
    return total


def udp_receive_buffer_errors(host):
    """Datagrams the appliance's kernel dropped for a full socket buffer (all sockets)."""
    lines = [line.split() for line in host.run(["cat", "/proc/net/snmp"]).stdout.splitlines() if line.startswith("Udp:")]
    return int(dict(zip(lines[0], lines[1]))["RcvbufErrors"])


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Watchdog(threading.Thread):
    """Counts WATCHDOG=1 datagrams on the daemon's notify socket and the longest gap between them."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock, self.kicks, self.max_gap, self.stop_flag = sock, [], 0.0, False

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop_flag:
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            except OSError:
                return
            if "WATCHDOG=1" in msg.split("\n"):
                self.kicks.append(time.monotonic())

    def gap_between(self, start, end):
        ticks = [start] + [t for t in self.kicks if start <= t <= end] + [end]
        return max(b - a for a, b in zip(ticks, ticks[1:]))


@pytest.fixture(scope="module")
def lab():
    workdir = tempfile.mkdtemp(prefix="ironboot-faults-")
    os.chmod(workdir, 0o755)
    tftp_root = os.path.join(workdir, "tftp")
    os.makedirs(tftp_root)
    payload = os.urandom(BOOT_FILE_SIZE)
    with open(os.path.join(tftp_root, "undionly.kpxe"), "wb") as f:
        f.write(payload)
    agent = os.path.join(workdir, "agent")
    os.makedirs(agent)
    for name in ("vmlinuz", "initramfs"):
        with open(os.path.join(agent, name), "wb") as f:
            f.write(b"A" * 4096)
    net = netlab.Lab(subnet=SUBNET)
    daemon = None
    try:
        appliance = net.add_host("appliance", 2)
        operator = net.add_host("operator", 3)
        hostile = net.add_host("hostile", 4)
        clients = [net.add_host(f"c{i}", 100 + i) for i in range(CLIENTS)]
        config = {
            "interface": "eth0",
            "advertise_address": SERVER,
            "dhcp": {"enabled": True, "port": 67, "pxe_port": 4011},
            "tftp": {"root": tftp_root},
            "http": {"listen": "0.0.0.0:8080"},
            "boot": {"binaries": {"bios": "undionly.kpxe", "efi_x86_64": "undionly.kpxe", "efi_arm64": ""}},
            "agent": {"kernel": os.path.join(agent, "vmlinuz"), "initrd": os.path.join(agent, "initramfs")},
            "cluster": {"embedded": {"data_dir": os.path.join(workdir, "cluster")}},
            "bmc": {"enabled": False},
            "log": {"level": "info"},
        }
        daemon = netlab.Ironboot(appliance, config, workdir=workdir)
        os.environ["WATCHDOG_USEC"] = str(WATCHDOG_USEC)
        try:
            daemon.start()
        finally:
            os.environ.pop("WATCHDOG_USEC", None)
        watchdog = Watchdog(daemon.notify)
        watchdog.start()
        yield {"daemon": daemon, "appliance": appliance, "operator": operator, "hostile": hostile,
               "clients": clients, "sha256": hashlib.sha256(payload).hexdigest(), "watchdog": watchdog}
        watchdog.stop_flag = True
    finally:
        if daemon:
            daemon.stop()
        net.close()
        shutil.rmtree(workdir, ignore_errors=True)


def boot_all(lab):
    """Every client boots the path at once; their JSON results."""
    procs = [c.popen([netlab.SYSTEM_PYTHON, os.path.join(HERE, "boot_client.py"), SERVER, str(uuidlib.uuid4())],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in lab["clients"]]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert out, err
        results.append(json.loads(out))
    for r in results:
        assert r["ok"], (r, lab["daemon"].read_log()[-3000:])
        assert r["bytes"] == BOOT_FILE_SIZE and r["sha256"] == lab["sha256"], r
    return results


HEALTH_POLLER = """
import http.client, json, sys, time
until = time.monotonic() + float(sys.argv[1])
while time.monotonic() < until:
    start = time.monotonic()
    try:
        c = http.client.HTTPConnection(sys.argv[2], 8080, timeout=2)
        c.request("GET", "/healthz")
        status = c.getresponse().status
        c.close()
    except OSError as e:
        status = str(e)
    print(json.dumps([status, round(time.monotonic() - start, 4)]), flush=True)
    time.sleep(0.2)
"""


def test_clients_boot_while_a_hostile_host_floods(lab):
    pid = lab["daemon"].proc.pid
    unloaded = [boot_all(lab) for _ in range(2)]
    unloaded_time = max(r["seconds"] for batch in unloaded for r in batch)
    rss_before = rss_kb(pid)
    before = metrics_text(lab["operator"])
    drops_before = udp_receive_buffer_errors(lab["appliance"])

    hostile = lab["hostile"].popen([netlab.SYSTEM_PYTHON, os.path.join(HERE, "hostile.py"), SERVER, "undionly.kpxe",
                                    str(FLOOD_SECONDS), str(TFTP_FLOOD), str(HTTP_FLOOD), str(DHCP_RATE)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    flood_start = time.monotonic()
    rss_peak = [rss_before]
    stop = threading.Event()

    def sample_rss():
        while not stop.is_set():
            rss_peak[0] = max(rss_peak[0], rss_kb(pid))
            time.sleep(0.1)

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        rss_job = pool.submit(sample_rss)
        poller = lab["operator"].popen([netlab.SYSTEM_PYTHON, "-c", HEALTH_POLLER, str(FLOOD_SECONDS), SERVER],
                                       stdout=subprocess.PIPE, text=True)
        time.sleep(2.0)  # the flood is under way: the first per-client slots are taken
        loaded = boot_all(lab)
        loaded_end = time.monotonic()
        health = [json.loads(line) for line in poller.communicate(timeout=60)[0].splitlines()]
        out, err = hostile.communicate(timeout=60)
        stop.set()
        rss_job.result()
    flood = json.loads(out) if out else {}
    after = metrics_text(lab["operator"])
    drops = udp_receive_buffer_errors(lab["appliance"]) - drops_before
    loaded_time = max(r["seconds"] for r in loaded)
    gap = lab["watchdog"].gap_between(flood_start, time.monotonic())
    report = {"clients": len(loaded), "unloaded_s": unloaded_time, "loaded_s": loaded_time,
              "loaded_phases_slowest": max(loaded, key=lambda r: r["seconds"])["phases"],
              "loaded_done_after_flood_start_s": round(loaded_end - flood_start, 2),
              "rss_before_kb": rss_before, "rss_peak_kb": rss_peak[0], "watchdog_max_gap_s": round(gap, 3),
              "health_samples": len(health), "health_slowest_s": round(max(t for _, t in health), 3),
              "udp_rcvbuf_drops": drops, "flood": flood, "flood_stderr": err[-500:]}
    def rose(name, **labels):
        return metric(after, name, **labels) - metric(before, name, **labels)

    report["metrics_rose"] = {
        "tftp_refused_per_client": rose("ironboot_tftp_requests_refused_total", reason="per_client"),
        "http_rejected_per_client": rose("ironboot_http_connections_rejected_per_client_total"),
        "dhcp_dropped_too_many_options": rose("ironboot_dhcp_dropped_total", reason="too_many_options"),
        "dhcp_dropped_malformed": rose("ironboot_dhcp_dropped_total", reason="malformed"),
    }
    print(json.dumps(report))

    assert flood.get("tftp_sent") == TFTP_FLOOD and flood.get("http_opened") == HTTP_FLOOD, report
    assert flood["dhcp_sent"] >= DHCP_RATE * FLOOD_SECONDS * 0.5, report
    assert loaded_time <= 2 * unloaded_time, report
    assert health and all(code == 200 for code, _ in health), (report, health)
    assert max(t for _, t in health) < 2.0, report  # each probe within its own 2 s timeout
    assert gap <= 2.0, report  # kicks every 0.5 s; a stalled event loop would stop them
    assert rss_peak[0] <= RSS_BOUND_KB, report

    # The hostile host got 16 transfers at a time and every other request was refused per
    # client: the listener's buffer holds a burst, so none is lost unanswered (with the
    # kernel's default buffer about a fifth of them were, clients' requests among them).
    refused = rose("ironboot_tftp_requests_refused_total", reason="per_client")
    assert refused >= flood["tftp_errors"] and refused >= TFTP_FLOOD * 0.95, report
    assert flood["tftp_oack"] <= 16 * 10, report  # first_ack_timeout (3 s) frees at most 16 per 3 s
    assert rose("ironboot_http_connections_rejected_per_client_total") >= HTTP_FLOOD - 64 * 10, report
    assert rose("ironboot_dhcp_dropped_total", reason="too_many_options") >= flood["dhcp_sent"] * 0.4, report
    assert rose("ironboot_dhcp_dropped_total", reason="malformed") > 0, report
