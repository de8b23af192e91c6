"""Environment fetching under its rules, end to end: the real ironboot in a namespace, real
kubectl against its embedded API, real HTTP and HTTPS servers (python3, certificates made
here with the openssl command) on a second host, /assets fetched with curl.

- a kernel URL naming the appliance's own agent-token.key is refused (LocalFileNotAllowed)
  and nothing is served for it;
- file:// from a configured local dir works;
- http:// without sha512 is refused (ChecksumRequired), with one it works;
- https:// with the test CA in environments.ca_bundle works, with an unknown CA it fails;
- a file over environments.max_file_bytes fails with FileTooLarge."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import netlab  # noqa: E402
from kubectl_runner import Kubectl, write_kubeconfig  # noqa: E402

SUBNET = "10.86.0"
APPLIANCE = f"{SUBNET}.2"
WEB = f"{SUBNET}.10"
BASE = f"http://{APPLIANCE}:8080"
MAX_FILE_BYTES = 1 << 20

SERVER_PY = """
import functools, http.server, ssl, sys
address, port, directory, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
httpd = http.server.ThreadingHTTPServer((address, port), handler)
if cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
httpd.serve_forever()
"""


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(workdir, name, server_ip):
    """A self-signed CA `name` and a server certificate for `server_ip` signed by it."""
    d = os.path.join(workdir, name)
    os.makedirs(d)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", f"/CN={name} test CA", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", f"/CN={server_ip}", cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write(f"subjectAltName=IP:{server_ip}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    return d


class Site:
    def __init__(self, appliance, web, workdir, daemon):
        self.appliance, self.web, self.workdir, self.daemon = appliance, web, workdir, daemon
        self.kubectl = Kubectl(appliance, write_kubeconfig(daemon.config_path, os.path.join(workdir, "kubeconfig")),
                               lambda: self.daemon.read_log()[-4000:])

    def apply_environment(self, name, kernel_url, kernel_sha=None):
        kernel = {"url": kernel_url}
        if kernel_sha:
            kernel["sha512"] = kernel_sha
        obj = {"apiVersion": "metal.sidero.dev/v1alpha2", "kind": "Environment", "metadata": {"name": name},
               "spec": {"kernel": kernel}}
        self.kubectl.run("apply", "-f", "-", input=json.dumps(obj))

    def ready(self, name, timeout=20):
        """The Environment's Ready condition once it has one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            obj = self.kubectl.get("environment", name)
            for c in ((obj or {}).get("status") or {}).get("conditions") or []:
                if c["type"] == "Ready":
                    return c
            time.sleep(0.2)
        raise AssertionError(f"{name}: no Ready condition within {timeout}s\n{self.daemon.read_log()[-4000:]}")

    def asset(self, path):
        """(status, body bytes) of GET BASE+path from the web host (outside the appliance)."""
        r = subprocess.run(self.web.cmd(["curl", "-sS", "--noproxy", "*", "--max-time", "20", "-o", "-",
                                         "-w", "\n%{http_code}", BASE + path]), capture_output=True, timeout=30)
        body, _, code = r.stdout.rpartition(b"\n")
        return int(code or 0), body

    def events(self, name, reason):
        r = self.kubectl.run("get", "events", "-A", "-o", "json")
        return [e for e in json.loads(r.stdout)["items"]
                if e["involvedObject"].get("name") == name and e["reason"] == reason]


@pytest.fixture(scope="module")
def site():
    workdir = tempfile.mkdtemp(prefix="ironboot-envfetch-")
    os.chmod(workdir, 0o755)
    images = os.path.join(workdir, "images")
    served = os.path.join(workdir, "served")
    os.makedirs(images)
    os.makedirs(served)
    os.makedirs(os.path.join(workdir, "agent"))
    for name in ("vmlinuz", "initramfs"):
        with open(os.path.join(workdir, "agent", name), "wb") as f:
            f.write(b"A" * 4096)
    kernel = os.urandom(300000)
    for d in (images, served):
        with open(os.path.join(d, "vmlinuz"), "wb") as f:
            f.write(kernel)
        with open(os.path.join(d, "big"), "wb") as f:
            f.write(os.urandom(MAX_FILE_BYTES + 1))
    trusted = make_ca(workdir, "trusted", WEB)
    stranger = make_ca(workdir, "stranger", WEB)
    script = os.path.join(workdir, "server.py")
    with open(script, "w") as f:
        f.write(SERVER_PY)

    lab = netlab.Lab(subnet=SUBNET)
    servers = []
    try:
        appliance = lab.add_host("appliance", 2)
        web = lab.add_host("web", 10)
        for port, ca in ((8000, None), (8443, trusted), (8444, stranger)):
            cert, key = (os.path.join(ca, "server.pem"), os.path.join(ca, "server.key")) if ca else ("", "")
            servers.append(web.popen(["/usr/bin/python3", script, WEB, str(port), served, cert, key],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        data_dir = os.path.join(workdir, "data")
        cfg = {
            "interface": "eth0",
            "advertise_address": APPLIANCE,
            "dhcp": {"enabled": False},
            "tftp": {"enabled": False, "root": os.path.join(workdir, "agent")},
            "http": {"listen": "0.0.0.0:8080"},
            "agent": {"kernel": os.path.join(workdir, "agent", "vmlinuz"),
                      "initrd": os.path.join(workdir, "agent", "initramfs")},
            "cluster": {"embedded": {"listen": "127.0.0.1:6443", "data_dir": data_dir}},
            "environments": {"local_dirs": [images], "ca_bundle": os.path.join(trusted, "ca.pem"),
                             "max_file_bytes": MAX_FILE_BYTES, "quota_bytes": 16 * MAX_FILE_BYTES,
                             "connect_timeout_seconds": 5, "read_timeout_seconds": 5},
            "log": {"level": "debug"},
        }
        daemon = netlab.Ironboot(appliance, cfg, workdir=workdir).start()
        try:
            s = Site(appliance, web, workdir, daemon)
            s.kernel, s.images, s.data_dir = kernel, images, data_dir
            yield s
        finally:
            daemon.stop()
    finally:
        for p in servers:
            p.terminate()
            p.wait()
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)


def test_the_token_key_is_refused_and_nothing_is_served(site):
    key = os.path.join(site.data_dir, "agent-token.key")
    assert os.path.exists(key)
    site.apply_environment("steal", "file://" + key)
    cond = site.ready("steal")
    assert cond["status"] == "False" and cond["reason"] == "LocalFileNotAllowed", cond
    assert "kernel: " in cond["message"], cond
    code, body = site.asset("/assets/environments/steal/kernel")
    assert code == 404 and b"token" not in body
    assert not os.path.exists(os.path.join(site.data_dir, "environments", "steal", "kernel"))
    deadline = time.monotonic() + 10
    while not site.events("steal", "EnvironmentFetchFailed") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert site.events("steal", "EnvironmentFetchFailed")


def test_file_from_a_configured_local_dir(site):
    site.apply_environment("local", "file://" + os.path.join(site.images, "vmlinuz"),
                           hashlib.sha512(site.kernel).hexdigest())
    cond = site.ready("local")
    assert cond["status"] == "True", cond
    assert site.asset("/assets/environments/local/kernel") == (200, site.kernel)
    # A symlink in the local dir leading to the data dir is refused all the same.
    link = os.path.join(site.images, "token-link")
    os.symlink(os.path.join(site.data_dir, "agent-token.key"), link)
    site.apply_environment("link", "file://" + link)
    cond = site.ready("link")
    assert cond["status"] == "False" and cond["reason"] == "LocalFileNotAllowed", cond
    assert site.asset("/assets/environments/link/kernel")[0] == 404


def test_http_needs_a_sha512(site):
    site.apply_environment("plain", f"http://{WEB}:8000/vmlinuz")
    cond = site.ready("plain")
    assert cond["status"] == "False" and cond["reason"] == "ChecksumRequired", cond
    assert site.asset("/assets/environments/plain/kernel")[0] == 404
    site.apply_environment("checked", f"http://{WEB}:8000/vmlinuz", hashlib.sha512(site.kernel).hexdigest())
    cond = site.ready("checked")
    assert cond["status"] == "True", cond
    assert site.asset("/assets/environments/checked/kernel") == (200, site.kernel)


def test_https_verified_against_the_ca_bundle(site):
    site.apply_environment("tls", f"https://{WEB}:8443/vmlinuz")
    cond = site.ready("tls")
    assert cond["status"] == "True", cond
    assert site.asset("/assets/environments/tls/kernel") == (200, site.kernel)
    site.apply_environment("tls-stranger", f"https://{WEB}:8444/vmlinuz")
    cond = site.ready("tls-stranger")
    assert cond["status"] == "False" and cond["reason"] == "TLSFailed", cond
    assert "certificate" in cond["message"], cond
    assert site.asset("/assets/environments/tls-stranger/kernel")[0] == 404


def test_oversize_files_fail(site):
    site.apply_environment("big-local", "file://" + os.path.join(site.images, "big"))
    site.apply_environment("big-https", f"https://{WEB}:8443/big")
    for name in ("big-local", "big-https"):
        cond = site.ready(name)
        assert cond["status"] == "False" and cond["reason"] == "FileTooLarge", cond
        assert site.asset(f"/assets/environments/{name}/kernel")[0] == 404
        assert not os.path.exists(os.path.join(site.data_dir, "environments", name, "kernel.part"))
