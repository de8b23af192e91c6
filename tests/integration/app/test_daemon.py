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


import json
import socket
import time

import pytest


@pytest.fixture
def appliance():
    with netlab.Lab(subnet="10.78.0") as lab:
        yield lab.add_host("appliance", 2)


def daemon_config(workdir, **overrides):
    os.makedirs(os.path.join(workdir, "tftp"), exist_ok=True)
    config = {
        "interface": "eth0",
        "tftp": {"root": os.path.join(workdir, "tftp")},
        "http": {"listen": "0.0.0.0:8080"},
        "cluster": {"embedded": {"data_dir": os.path.join(workdir, "data")}},
        "log": {"level": "debug"},
    }
    config.update(overrides)
    return config


def test_serve_notifies_ready_and_stops_on_sigterm(appliance, tmp_path):
    d = netlab.Ironboot(appliance, daemon_config(str(tmp_path)), workdir=str(tmp_path))
    d.start()
    d.signal(signal.SIGTERM)
    d.wait_notify("STOPPING=1", timeout=10)
    assert d.proc.wait(15) == 0
    d.stop()


def test_sigint_also_drains(appliance, tmp_path):
    d = netlab.Ironboot(appliance, daemon_config(str(tmp_path)), workdir=str(tmp_path)).start()
    d.signal(signal.SIGINT)
    assert d.proc.wait(15) == 0
    d.stop()


def test_sighup_with_broken_config_keeps_serving(appliance, tmp_path):
    d = netlab.Ironboot(appliance, daemon_config(str(tmp_path)), workdir=str(tmp_path)).start()
    try:
        d.write_config("interface: eth0\nlog: {levle: debug}\n")
        d.signal(signal.SIGHUP)
        d.wait_notify("READY=1", timeout=10)
        assert d.proc.poll() is None
        assert "reload rejected" in d.read_log()
        assert "unknown key 'log.levle'" in d.read_log()
        # A valid config is taken.
        d.write_config(json.dumps(daemon_config(str(tmp_path), log={"level": "info"})))
        d.signal(signal.SIGHUP)
        d.wait_notify("READY=1", timeout=10)
        assert "reloaded" in d.read_log()
    finally:
        assert d.stop() == 0


def test_watchdog_kicks_when_requested(appliance, tmp_path):
    d = netlab.Ironboot(appliance, daemon_config(str(tmp_path)), workdir=str(tmp_path))
    os.environ["WATCHDOG_USEC"] = "400000"  # 0.4 s: kicks every 0.2 s
    try:
        d.start()
    finally:
        del os.environ["WATCHDOG_USEC"]
    try:
        d.wait_notify("WATCHDOG=1", timeout=5)
        d.wait_notify("WATCHDOG=1", timeout=5)
    finally:
        d.stop()


def test_serve_with_bad_config_exits_1(appliance, tmp_path):
    d = netlab.Ironboot(appliance, "dhcp: {port: nope}\n", workdir=str(tmp_path))
    with pytest.raises(RuntimeError, match="must be an integer"):
        d.start(timeout=10)
    assert d.proc.returncode == 1
