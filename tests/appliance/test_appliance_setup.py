"""`ironboot appliance-setup`: appliance.yaml -> systemd-networkd files, resolv.conf, SSH keys
and the merged ironboot.yaml; a bad file is reported with file:line and the previous (or the
default) configuration is used. Runs the packaged binary against temporary directories and a
fake /sys/class/net."""

import os
import subprocess

import pytest
import yaml

BASE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "assets", "ironboot.yaml")

GOOD = """\
management: {interface: "52:54:00:AA:00:01", address: 192.168.50.2/24, gateway: 192.168.50.1,
             dns: [192.168.50.1], ntp: ntp.example.org}
provisioning: {interface: "52:54:00:aa:00:02", address: 10.100.0.2/24}
ssh_authorized_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperator operator@ws"]
ironboot: {discovery: {auto_accept: true}, log: {level: debug}}
"""


class Appliance:
    def __init__(self, binary, tmp_path):
        self.binary, self.dir = binary, tmp_path
        self.source = tmp_path / "boot" / "appliance.yaml"
        self.source.parent.mkdir()
        sysfs = tmp_path / "sys"
        for name, mac in (("eth0", "52:54:00:aa:00:01"), ("eth1", "52:54:00:aa:00:02")):
            (sysfs / name).mkdir(parents=True)
            (sysfs / name / "address").write_text(mac + "\n")
        self.args = ["--source", str(self.source), "--state-dir", str(tmp_path / "state"),
                     "--run-dir", str(tmp_path / "run"), "--networkd-dir", str(tmp_path / "network"),
                     "--output", str(tmp_path / "ironboot" / "ironboot.yaml"), "--base", BASE,
                     "--sysfs-net", str(sysfs), "--wait", "0"]

    def setup(self, phase):
        return subprocess.run([self.binary, "appliance-setup", "--phase", phase, *self.args],
                              text=True, capture_output=True, timeout=60)

    def network(self):
        d = self.dir / "network"
        return {p.name: p.read_text() for p in d.iterdir()} if d.exists() else {}

    def ironboot_yaml(self):
        return yaml.safe_load((self.dir / "ironboot" / "ironboot.yaml").read_text())

    def run_file(self, name):
        return (self.dir / "run" / name).read_text()


@pytest.fixture
def appliance(ironboot_bin, tmp_path):
    return Appliance(ironboot_bin, tmp_path)


def test_static_management_and_untagged_provisioning(appliance):
    appliance.source.write_text(GOOD)
    r = appliance.setup("network")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    net = appliance.network()
    assert set(net) == {"10-ironboot-management.network", "20-ironboot-provisioning.network"}
    mgmt = net["10-ironboot-management.network"]
    assert "MACAddress=52:54:00:aa:00:01\nType=ether" in mgmt
    assert "Address=192.168.50.2/24\nGateway=192.168.50.1\nDNS=192.168.50.1\nNTP=ntp.example.org\n" in mgmt
    assert "Address=10.100.0.2/24" in net["20-ironboot-provisioning.network"]
    assert "nameserver 192.168.50.1" in appliance.run_file("resolv.conf")
    assert appliance.run_file("authorized_keys").startswith("ssh-ed25519 ")

    r = appliance.setup("config")
    assert r.returncode == 0, r.stderr
    c = appliance.ironboot_yaml()
    assert c["interface"] == "eth1"  # resolved from the MAC
    assert c["advertise_address"] == "10.100.0.2"
    assert c["cluster"]["embedded"]["listen"] == "192.168.50.2:6443"
    assert c["discovery"]["auto_accept"] is True and c["log"]["level"] == "debug"
    assert c["tftp"]["root"] == "/usr/lib/ipxe"  # the base file's keys stay


def test_vlan_provisioning_on_a_trunk(appliance):
    appliance.source.write_text('management: {interface: eth0, address: dhcp}\n'
                                'provisioning: {interface: "52:54:00:aa:00:02", address: 10.100.0.2/24, vlan: 100}\n')
    assert appliance.setup("network").returncode == 0
    net = appliance.network()
    assert "Kind=vlan" in net["20-ironboot-provisioning.netdev"] and "Id=100" in net["20-ironboot-provisioning.netdev"]
    assert "VLAN=prov100" in net["20-ironboot-provisioning-trunk.network"]
    # The trunk's parent has no address of its own (its [Match] names it by MACAddress=).
    trunk_lines = net["20-ironboot-provisioning-trunk.network"].splitlines()
    assert not [l for l in trunk_lines if l.startswith("Address=")], trunk_lines
    assert "Name=prov100" in net["21-ironboot-provisioning.network"]
    assert "DHCP=ipv4" in net["10-ironboot-management.network"]
    assert not (appliance.dir / "run" / "authorized_keys").exists()  # no keys: no sshd
    assert appliance.setup("config").returncode == 0
    assert appliance.ironboot_yaml()["interface"] == "prov100"


@pytest.mark.parametrize("text, line, message", [
    ("management: {interface: eth0, address: 192.168.50.2}\n", 1, "not an IPv4 address with a prefix length"),
    ("management: {interface: eth0}\nprovisioning: {interface: eth1, address: 10.0.0.2/24, vlan: 5000}\n", 2, "VLAN id"),
    ("management: {interface: eth0}\nprovisoning: {}\n", 2, "unknown key 'provisoning'"),
    ("management: {interface: eth0}\nironboot:\n  tftp: {max_block_size: 3}\n", 3, "ironboot:"),
    ("management: {interface: eth0\n", None, ""),  # a YAML syntax error: where the parser stopped
])
def test_bad_file_is_reported_with_its_line_and_the_previous_config_kept(appliance, text, line, message):
    appliance.source.write_text(GOOD)
    assert appliance.setup("network").returncode == 0
    appliance.source.write_text(text)
    r = appliance.setup("network")
    assert r.returncode == 0
    where = f"{appliance.source}:{line}:" if line else f"{appliance.source}:"
    assert where in r.stderr and message in r.stderr, r.stderr
    assert "running on the previous appliance.yaml" in r.stderr
    assert "Address=192.168.50.2/24" in appliance.network()["10-ironboot-management.network"]
    assert "error: " in appliance.run_file("status")


def test_bad_file_without_a_previous_one_runs_the_default(appliance):
    appliance.source.write_text("management: [1, 2]\n")
    r = appliance.setup("network")
    assert r.returncode == 0 and f"{appliance.source}:1:" in r.stderr, r.stderr
    assert "running on the default configuration" in r.stderr
    net = appliance.network()
    assert list(net) == ["10-ironboot-management.network"]
    assert "Name=en* eth*" in net["10-ironboot-management.network"] and "DHCP=ipv4" in net["10-ironboot-management.network"]
    assert appliance.setup("config").returncode == 0
    c = appliance.ironboot_yaml()
    assert c["dhcp"]["enabled"] is False and c["tftp"]["enabled"] is False  # no PXE on the management net
