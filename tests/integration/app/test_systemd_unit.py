"""The shipped unit file is valid for systemd and keeps the hardening the design asks for."""

import configparser
import os
import subprocess

import netlab

UNIT = os.path.join(netlab.ROOT, "assets/systemd/ironboot.service")


def test_unit_verifies(tmp_path):
    text = open(UNIT).read().replace("/usr/bin/ironboot", netlab.IRONBOOT)
    copy = tmp_path / "ironboot.service"
    copy.write_text(text)
    r = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_unit_contract():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(UNIT)
    svc = parser["Service"]
    assert svc["Type"] == "notify"
    assert svc["WatchdogSec"]
    caps = {"CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_NET_ADMIN"}
    assert set(svc["AmbientCapabilities"].split()) == caps
    assert set(svc["CapabilityBoundingSet"].split()) == caps
    assert svc["ProtectSystem"] == "strict"
    assert svc["StateDirectory"] == "ironboot"
