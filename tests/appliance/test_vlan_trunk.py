"""Appliance end to end on a VLAN trunk. The host kernel here cannot tag frames, so a second VM
is the switch (appliance_lab.VlanSwitchVm: the appliance image's kernel and root with a
test-only script, a VLAN-filtering bridge): its uplink is a tagged member of VLANs 100 and
200 and shares a plain host bridge (the trunk, which carries tagged frames unchanged) with the
appliance's provisioning NIC; an access port on VLAN 100 (untagged) holds the site's DHCP
server (dnsmasq) and a SeaBIOS QEMU server, an access port on VLAN 200 a client.

The appliance (direct kernel boot) has appliance.yaml `provisioning: {vlan: 100}`: the server
PXE-boots through it and appears in `kubectl get servers`, run from the operator's namespace
against the management address. A PXE client on VLAN 200 gets no proxy answer (its DISCOVER is
seen on the trunk, tagged 200); neither does an untagged one on the trunk; and an untagged ARP
request or ICMP echo on the trunk for the provisioning address gets no answer while the same
frames tagged 100 do (arp_ignore, rp_filter). Everything lives in namespaces and taps the
test creates and removes."""

import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

import guests
import netlab
from appliance_lab import (MGMT_IP, MGMT_MAC, OPERATOR_IP, PROV_MAC, ApplianceVm, Operator, OperatorNetwork,
                           VlanSwitchVm)
from conftest import need

SUBNET = "10.100.0"
PROV_IP = f"{SUBNET}.2"
PROV_VLAN, OTHER_VLAN = 100, 200
TRUNK, OTHER_SEGMENT = "trunk", "vlan200"  # host bridges; the lab's br0 is VLAN 100's access segment
SWITCH_MACS = ("52:54:00:5c:00:01", "52:54:00:5c:00:02", "52:54:00:5c:00:03")  # uplink, access 100, access 200
SERVER = guests.Identity("Ironboot Labs", "Appliance VLAN Node", "APPL-VLAN-0001",
                         "6f1c2a9e-5b3d-4e7f-8a10-9c2b4d6e8f01", "52:54:00:e4:00:01")
PROBE_SOURCE = f"{SUBNET}.250"  # the trunk probe's address in the provisioning subnet
HERE = os.path.dirname(os.path.abspath(__file__))
PXE_CLIENT = os.path.join(netlab.ROOT, "tests", "lib", "pxe_client.py")
TRUNK_PROBE = os.path.join(HERE, "switch", "trunk_probe.py")
SWITCH_TIMEOUT = 180
BOOT_TIMEOUT = 240
SERVER_TIMEOUT = 420


@pytest.fixture
def network():
    net = OperatorNetwork(SUBNET, prov_bridge=TRUNK)
    try:
        yield net
    finally:
        net.close()


def pxe_discover(host):
    """tests/lib/pxe_client.py from `host`: what a PXE ROM's DISCOVER gets there."""
    r = host.run([netlab.SYSTEM_PYTHON, PXE_CLIENT, "--iface", "eth0", "--timeout", "4"], check=False, timeout=60)
    assert r.stdout.strip(), f"pxe_client on {host.name} printed nothing:\n{r.stderr}"
    return json.loads(r.stdout)


def test_server_boots_through_the_appliance_on_a_vlan_trunk_and_nothing_else_is_answered(appliance_image, network):
    need(("qemu-system-x86_64", "dnsmasq", "kubectl", "ssh", "ssh-keygen"))
    started = time.monotonic()
    lab = network.lab
    workdir = tempfile.mkdtemp(prefix="ironboot-appliance-vlan-")
    vm = switch = server = dnsmasq = None
    passed = False

    def explain():
        parts = [f"--- appliance console ---\n{vm.console()[-3000:]}" if vm else "",
                 f"--- switch console ---\n{switch.console()[-2000:]}" if switch else "",
                 f"--- server console ---\n{server.console_tail()}" if server else ""]
        return "\n".join(parts)

    try:
        lab.add_bridge(OTHER_SEGMENT)
        probe = lab.add_host("probe", None, bridge=TRUNK)
        client200 = lab.add_host("v200", None, bridge=OTHER_SEGMENT)
        client100 = lab.add_host("v100", None)
        site = lab.add_host("site", 1)
        dnsmasq = guests.start_dnsmasq(site, workdir, SUBNET)
        switch = VlanSwitchVm(lab, workdir, appliance_image, [
            ("trunk", lab.add_tap(TRUNK), SWITCH_MACS[0], [PROV_VLAN, OTHER_VLAN]),
            ("access", lab.add_tap("br0"), SWITCH_MACS[1], PROV_VLAN),
            ("access", lab.add_tap(OTHER_SEGMENT), SWITCH_MACS[2], OTHER_VLAN)]).power_on()

        operator = Operator(network, workdir, explain)
        vm = ApplianceVm(lab, workdir, appliance_image, network.mgmt_tap, network.prov_tap)
        vm.configure(f'management: {{interface: "{MGMT_MAC}", address: {MGMT_IP}/24, gateway: {OPERATOR_IP}}}\n'
                     f'provisioning: {{interface: "{PROV_MAC}", address: {PROV_IP}/24, vlan: {PROV_VLAN}}}\n'
                     f'ssh_authorized_keys: ["{operator.public_key}"]\n'
                     f'ironboot: {{agent: {{kernel_args: [{", ".join(guests.AGENT_KERNEL_ARGS)}]}}}}\n')
        vm.power_on(uefi=False)
        print(f"switch VM power-on to its bridge: {switch.wait_ready(SWITCH_TIMEOUT):.1f} s")
        print(f"appliance power-on to the status banner: {vm.wait_console('ironboot appliance', BOOT_TIMEOUT):.1f} s")
        assert f"https://{MGMT_IP}:6443" in operator.fetch_kubeconfig(explain=explain)
        assert operator.servers() == set()

        server = guests.Guest(lab, workdir, "server-1", SERVER, "bios")
        server.power_on()

        # While the server boots. VLAN 100 through the switch: the proxy answers (the checks
        # below that nothing answers can fail).
        r = pxe_discover(client100)
        assert r["proxy"] == PROV_IP and r["address"], f"{r}\n{explain()}"

        # VLAN 200: its DISCOVER crosses the switch onto the trunk, tagged 200; no proxy answer.
        watcher = probe.popen([netlab.SYSTEM_PYTHON, TRUNK_PROBE, "watch", "--seconds", "6"],
                              stdout=subprocess.PIPE, text=True)
        assert watcher.stdout.readline().strip() == "listening"
        r = pxe_discover(client200)
        seen = json.loads(watcher.communicate(timeout=30)[0])
        assert [OTHER_VLAN, client200.mac] in seen, f"VLAN 200's DISCOVER not on the trunk: {seen}"
        assert r["proxy"] is None and r["address"] is None, r

        # Untagged on the trunk: no proxy answer, no ARP answer, no ICMP answer; tagged: both.
        r = pxe_discover(probe)
        assert r["proxy"] is None, r
        r = probe.run([netlab.SYSTEM_PYTHON, TRUNK_PROBE, "ask", "--target", PROV_IP, "--target-mac", PROV_MAC,
                       "--source", PROBE_SOURCE, "--vlan", str(PROV_VLAN)], timeout=60)
        answers = json.loads(r.stdout)
        assert answers == {"untagged": {"arp": False, "icmp": False}, "tagged": {"arp": True, "icmp": True}}, answers

        deadline = time.monotonic() + SERVER_TIMEOUT
        while SERVER.uuid not in operator.servers():
            assert server.running() and time.monotonic() < deadline, \
                f"no Server {SERVER.uuid} within {SERVER_TIMEOUT} s\n{explain()}"
            time.sleep(3)
        print(f"server power-on to its Server object: {time.monotonic() - server.started:.1f} s")
        print(f"test wall time: {time.monotonic() - started:.1f} s")
        passed = True
    finally:
        for machine in (server, vm, switch):
            if machine:
                machine.power_off()
        if dnsmasq and dnsmasq.poll() is None:
            dnsmasq.terminate()
            dnsmasq.wait(5)
        if passed:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"consoles and logs kept in {workdir}")
