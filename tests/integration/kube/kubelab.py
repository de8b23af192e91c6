"""Fixtures for the cluster layer: ironboot with the embedded API in its own namespace, and
the real kubectl pointed at it with a kubeconfig printed by `ironboot kubeconfig`."""

import json
import os
import queue
import sys
import tempfile
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import netlab  # noqa: E402
from kubectl_runner import Kubectl, write_kubeconfig  # noqa: E402

LISTEN = "127.0.0.1:6443"


def api_config(workdir):
    return {
        "interface": "eth0",
        "dhcp": {"enabled": False},
        "tftp": {"enabled": False},
        "http": {"listen": "127.0.0.1:8080"},
        "log": {"level": "debug"},
        "cluster": {"mode": "embedded", "embedded": {"listen": LISTEN, "data_dir": os.path.join(workdir, "cluster")}},
        # The manifests name BMCs (10.0.0.5, fd00::7) that exist nowhere: never contact them.
        "bmc": {"enabled": False},
    }


class Cluster:
    """A running embedded API plus helpers to run kubectl and raw HTTPS requests in its namespace."""

    def __init__(self, lab, host):
        self.lab, self.host = lab, host
        self.workdir = tempfile.mkdtemp(prefix="ironboot-kube-")
        self.daemon = netlab.Ironboot(host, api_config(self.workdir), workdir=self.workdir)
        self.kubectl_runner = Kubectl(host, os.path.join(self.workdir, "kubeconfig"),
                                      lambda: self.daemon.read_log()[-3000:])

    @property
    def data_dir(self):
        return os.path.join(self.workdir, "cluster")

    def start(self):
        self.daemon.start()
        write_kubeconfig(self.daemon.config_path, self.kubectl_runner.kubeconfig)
        return self

    def restart(self, kill=False):
        if kill:
            self.daemon.proc.kill()
            self.daemon.proc.wait()
            self.daemon.notify.close()
            self.daemon.notify = None
        else:
            self.daemon.stop()
        self.daemon.start()

    def kubectl(self, *args, check=True, input=None, timeout=60):
        return self.kubectl_runner.run(*args, check=check, input=input, timeout=timeout)

    def kubectl_popen(self, *args):
        return self.kubectl_runner.popen(*args)

    def token(self):
        with open(os.path.join(self.data_dir, "token")) as f:
            return f.read().strip()

    def curl(self, path, *extra, token=True):
        """HTTPS request with curl in the namespace; returns (status, body)."""
        cmd = ["curl", "-sS", "--max-time", "10", "--cacert", os.path.join(self.data_dir, "ca.crt"),
               "-w", "\n%{http_code}", *extra]
        if token:
            cmd += ["-H", f"Authorization: Bearer {self.token()}"]
        cmd.append(f"https://{LISTEN}{path}")
        r = self.host.run(cmd, check=True)
        body, _, code = r.stdout.rpartition("\n")
        return int(code), body

    def close(self):
        self.daemon.stop()


@pytest.fixture
def cluster():
    lab = netlab.Lab()
    try:
        host = lab.add_host("api", 10)
        c = Cluster(lab, host).start()
        try:
            yield c
        finally:
            c.close()
    finally:
        lab.close()


def server_manifest(uuid, hostname="node-1", labels=None, accepted=False, extra_spec=None):
    spec = {
        "accepted": accepted,
        "hostname": hostname,
        "bmc": {"endpoint": "10.0.0.5", "user": "admin"},
        "hardware": {
            "system": {"uuid": uuid, "manufacturer": "Dell Inc.", "productName": "PowerEdge R640", "serialNumber": "ABC123"},
            "compute": {"totalCoreCount": 32, "totalThreadCount": 64, "processorCount": 2,
                        "processors": [{"manufacturer": "AMD", "productName": "AMD EPYC 7543 32-Core Processor",
                                        "speed": 2800, "coreCount": 32, "threadCount": 64}]},
            "memory": {"totalSize": "64 GB", "moduleCount": 2,
                       "modules": [{"manufacturer": "Samsung", "type": "DDR4", "size": 32768, "speed": 3200}]},
        },
    }
    spec.update(extra_spec or {})
    return {"apiVersion": "metal.sidero.dev/v1alpha2", "kind": "Server",
            "metadata": {"name": uuid, "labels": labels or {}}, "spec": spec}


def write_manifest(obj):
    fd, path = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f)
    return path


def line_reader(proc):
    """Lines of a running kubectl, read on a thread (a pipe's buffer hides lines from select)."""
    lines = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)
    threading.Thread(target=pump, daemon=True).start()

    def next_line(timeout=15):
        try:
            return lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no line from kubectl -w")
    return next_line
