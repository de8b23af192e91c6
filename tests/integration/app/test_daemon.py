"""The daemon's own contract: check-config, version, sd_notify, signals."""

import os
import signal
import subprocess
import tempfile

import netlab


def write(text):
    fd, path = tempfile.mkstemp(suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def test_version():
    out = subprocess.run([netlab.IRONBOOT, "version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("ironboot ")


def test_check_config_accepts_shipped_example():
    r = subprocess.run([netlab.IRONBOOT, "check-config", "--config", os.path.join(netlab.ROOT, "assets/ironboot.yaml")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_check_config_rejects_typo_with_line():
    path = write("interface: eth0\ntftp:\n  enabled: true\n  roto: /srv\n")
    r = subprocess.run([netlab.IRONBOOT, "check-config", "--config", path], capture_output=True, text=True)
    assert r.returncode == 1
    assert f"{path}:4:3: unknown key 'tftp.roto' (did you mean 'root'?)" in r.stderr


def test_check_config_missing_file():
    r = subprocess.run([netlab.IRONBOOT, "check-config", "--config", "/nonexistent.yaml"], capture_output=True, text=True)
    assert r.returncode == 1
    assert "cannot read" in r.stderr
