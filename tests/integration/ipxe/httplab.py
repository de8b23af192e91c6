"""Helpers for the HTTP integration tests: an ironboot appliance serving files, a client
namespace, and curl run inside it."""

import os
import subprocess
import tempfile

import netlab


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def appliance_config(workdir, lab_subnet, **http):
    cfg = {
        "interface": "eth0",
        "advertise_address": f"{lab_subnet}.2",
        "dhcp": {"enabled": False},
        "tftp": {"enabled": False, "root": os.path.join(workdir, "tftp")},
        "http": dict({"listen": "0.0.0.0:8080", "asset_dirs": [os.path.join(workdir, "files")]}, **http),
        "agent": {"kernel": os.path.join(workdir, "agent", "vmlinuz"),
                  "initrd": os.path.join(workdir, "agent", "initramfs")},
        "cluster": {"embedded": {"data_dir": os.path.join(workdir, "data")}},
        # One client address asks /ipxe hundreds of times (test_500_concurrent_connections).
        "discovery": {"boot_tokens_per_minute": 100000},
        "log": {"level": "debug"},
    }
    return cfg


def curl(host, *args, check=True, timeout=120):
    """curl inside `host`; returns CompletedProcess with bytes stdout."""
    cmd = host.cmd(["curl", "-sS", "--noproxy", "*", *args])
    return subprocess.run(cmd, check=check, capture_output=True, timeout=timeout)


def status_of(host, url, *args):
    r = curl(host, "-o", "/dev/null", "-w", "%{http_code}", *args, url, check=False)
    return r.stdout.decode().strip()
