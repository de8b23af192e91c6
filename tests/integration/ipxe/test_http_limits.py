"""Limits for a hostile LAN on the plain HTTP server, with the shipped defaults: one address
holds at most 64 connections, a connection that sends nothing is closed after
first_byte_timeout_seconds, and the agent API refuses an unauthenticated request from its
headers without reading the body it announces."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import netlab  # noqa: E402
from httplab import appliance_config, status_of, write  # noqa: E402

SUBNET = "10.92.0"
BASE = f"http://{SUBNET}.2:8080"


@pytest.fixture(scope="module")
def site():
    workdir = tempfile.mkdtemp(prefix="ironboot-http-limits-")
    os.chmod(workdir, 0o755)
    write(os.path.join(workdir, "files", "f.bin"), b"F" * 1000)
    write(os.path.join(workdir, "agent", "vmlinuz"), b"K" * 1000)
    write(os.path.join(workdir, "agent", "initramfs"), b"I" * 1000)
    os.makedirs(os.path.join(workdir, "tftp"))
    lab = netlab.Lab(subnet=SUBNET)
    try:
        appliance = lab.add_host("appliance", 2)
        hostile = lab.add_host("hostile", 10)
        other = lab.add_host("other", 11)
        cfg = appliance_config(workdir, SUBNET, first_byte_timeout_seconds=2)
        daemon = netlab.Ironboot(appliance, cfg, workdir=workdir).start()
        try:
            yield {"hostile": hostile, "other": other, "appliance": appliance}
        finally:
            daemon.stop()
    finally:
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)


def run_py(host, script, timeout=60):
    r = subprocess.run(host.cmd([netlab.SYSTEM_PYTHON, "-c", script]), capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def metric(site, name):
    out = subprocess.run(site["appliance"].cmd(["curl", "-sS", f"{BASE}/metrics"]), capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_one_address_holds_at_most_64_connections(site):
    before = metric(site, "ironboot_http_connections_rejected_per_client_total")
    script = f"""
import json, socket, subprocess
socks = [socket.create_connection(("{SUBNET}.2", 8080), timeout=10) for _ in range(70)]
closed = 0
for s in socks[64:]:
    s.settimeout(2)
    try:
        closed += s.recv(1) == b""
    except (ConnectionResetError, socket.timeout):
        closed += 1
# The first 64 are still usable.
socks[0].sendall(b"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
first = socks[0].recv(100).decode(errors="replace")
print(json.dumps({{"closed": closed, "first": first[:12]}}))
"""
    out = run_py(site["hostile"], script)
    assert out == {"closed": 6, "first": "HTTP/1.1 200"}, out
    assert metric(site, "ironboot_http_connections_rejected_per_client_total") == before + 6


def test_another_address_is_served_while_one_holds_its_64(site):
    hold = site["hostile"].popen([netlab.SYSTEM_PYTHON, "-c", f"""
import socket, sys, time
socks = [socket.create_connection(("{SUBNET}.2", 8080), timeout=10) for _ in range(64)]
for s in socks:
    s.sendall(b"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n")  # never finished: held until header_timeout
print("held", flush=True)
time.sleep(5)
"""], stdout=subprocess.PIPE, text=True)
    try:
        assert hold.stdout.readline().strip() == "held"
        assert status_of(site["other"], BASE + "/healthz") == "200"
        assert status_of(site["hostile"], BASE + "/healthz", "--max-time", "3") != "200"
    finally:
        hold.kill()
        hold.wait()


def test_silent_connection_is_closed_after_the_first_byte_timeout(site):
    script = f"""
import json, socket, time
s = socket.create_connection(("{SUBNET}.2", 8080), timeout=10)
start = time.monotonic()
data = s.recv(1)
print(json.dumps({{"eof": data == b"", "after": time.monotonic() - start}}))
"""
    out = run_py(site["hostile"], script)
    assert out["eof"]
    assert 1.5 < out["after"] < 4.0, out  # first_byte_timeout_seconds: 2 (the default is 5)


def test_agent_api_refuses_without_reading_the_announced_body(site):
    script = f"""
import json, socket, time
s = socket.create_connection(("{SUBNET}.2", 8080), timeout=10)
start = time.monotonic()
s.sendall(b"POST /agent/v1/register HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/json\\r\\n"
          b"Content-Length: 1000000\\r\\n\\r\\n")
reply = b""
while chunk := s.recv(65536):
    reply += chunk
print(json.dumps({{"status": reply[:12].decode(), "close": b"Connection: close" in reply,
                  "after": time.monotonic() - start}}))
"""
    out = run_py(site["hostile"], script)
    assert out["status"] == "HTTP/1.1 401", out
    assert out["close"]
    assert out["after"] < 1.0, out  # answered from the head, not after a body timeout
