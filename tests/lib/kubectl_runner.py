"""The real kubectl, run inside a lab namespace against an appliance's embedded API with the
kubeconfig `ironboot kubeconfig` prints for that appliance's config."""

import json
import os
import subprocess
import tempfile

import netlab

KUBECTL = "/usr/bin/kubectl"


def write_kubeconfig(config_path, path):
    out = subprocess.run([netlab.IRONBOOT, "kubeconfig", "--config", config_path],
                         capture_output=True, text=True, check=True).stdout
    with open(path, "w") as f:
        f.write(out)
    return path


class Kubectl:
    """kubectl in `host`'s namespace. A failing command (check=True) raises with its output
    and `log_tail()`, the appliance's log as the caller wants it shown."""

    def __init__(self, host, kubeconfig, log_tail, cache_dir=None):
        self.host, self.kubeconfig, self.log_tail = host, kubeconfig, log_tail
        self.cache_dir = cache_dir or tempfile.mkdtemp(prefix="kubectl-cache-")

    def cmd(self, *args):
        return self.host.cmd([KUBECTL, "--kubeconfig", self.kubeconfig, "--cache-dir", self.cache_dir, *args])

    def run(self, *args, check=True, input=None, timeout=60):
        r = subprocess.run(self.cmd(*args), capture_output=True, text=True, input=input, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}\n"
                                 f"--- ironboot log tail ---\n{self.log_tail()}")
        return r

    def popen(self, *args):
        return subprocess.Popen(self.cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def get(self, kind, name):
        """The object as JSON, or None when kubectl cannot get it."""
        r = self.run("get", kind, name, "-o", "json", check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None
