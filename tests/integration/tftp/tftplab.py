"""Helpers for the TFTP integration tests: one lab per module, a server namespace running
ironboot and a client namespace with atftp, tftp-hpa and curl. Files are generated once."""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import netlab  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER_IP = "10.77.0.1"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Files:
    def __init__(self, root):
        self.root = root
        self.outside = tempfile.mkdtemp(prefix="tftp-outside-")
        rnd = os.urandom
        self.write("small.bin", rnd(300 * 1024 + 17))
        self.write("exact.bin", rnd(1428 * 64))  # a multiple of the block size
        self.write("empty.bin", b"")
        self.write("sub/dir/nested.bin", rnd(5000))
        self.write("text.txt", b"line one\nline two\r\nbare cr\r end\n" * 2000)
        with open(os.path.join(root, "big40.bin"), "wb") as f:
            f.write(rnd(40 * 1024 * 1024 + 123))  # > 32 MiB: block numbers wrap at blksize 512
        self.secret = os.path.join(self.outside, "secret")
        with open(self.secret, "wb") as f:
            f.write(b"not for tftp\n")
        os.symlink(self.secret, os.path.join(root, "escape"))
        os.symlink("/etc/passwd", os.path.join(root, "passwd-link"))

    def write(self, name, data):
        path = os.path.join(self.root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def path(self, name):
        return os.path.join(self.root, name)

    def sha(self, name):
        return sha256_file(self.path(name))


@pytest.fixture(scope="module")
def tftp_lab():
    workdir = tempfile.mkdtemp(prefix="tftp-it-")
    root = os.path.join(workdir, "root")
    os.makedirs(root)
    files = Files(root)
    lab = netlab.Lab()
    daemon = None
    try:
        server = lab.add_host("srv", 1)
        client = lab.add_host("cli", 2)
        config = {
            "interface": "eth0",
            "dhcp": {"enabled": False},
            "tftp": {"root": root, "max_transfers": 2000, "max_transfers_per_client": 256},
            "cluster": {"embedded": {"data_dir": os.path.join(workdir, "data")}},
            "log": {"level": "debug"},
        }
        os.makedirs(os.path.join(workdir, "daemon"))
        daemon = netlab.Ironboot(server, config, workdir=os.path.join(workdir, "daemon"))
        daemon.start()
        yield Lab(lab, server, client, daemon, files, workdir)
    finally:
        if daemon:
            daemon.stop()
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(files.outside, ignore_errors=True)


class Lab:
    def __init__(self, lab, server, client, daemon, files, workdir):
        self.lab, self.server, self.client, self.daemon = lab, server, client, daemon
        self.files, self.workdir = files, workdir
        self.out = os.path.join(workdir, "out")
        os.makedirs(self.out, exist_ok=True)

    def out_path(self, name):
        return os.path.join(self.out, name)

    def probe(self, *args, host=None):
        import json
        host = host or self.client
        res = host.run([netlab.SYSTEM_PYTHON, os.path.join(HERE, "tftp_probe.py"), *args], timeout=60)
        return json.loads(res.stdout)

    def relay(self, drop_every=0, delay_every=0, delay_ms=0, port=6969):
        """Starts relay.py in the client namespace on 127.0.0.1:port; returns the process."""
        args = [netlab.SYSTEM_PYTHON, os.path.join(HERE, "relay.py"), "--listen", f"127.0.0.1:{port}",
                "--server", f"{SERVER_IP}:69", "--drop-every", str(drop_every),
                "--delay-every", str(delay_every), "--delay-ms", str(delay_ms)]
        proc = self.client.popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        return proc
