"""Appliance end to end, untagged: the appliance VM boots its raw image's kernel directly (the
full UEFI boot under OVMF and systemd-boot is test_update.py's, which needs it for boot
counting; a direct boot saves the firmware's time on both boots here), its management NIC
on an operator network, its provisioning NIC on a segment with dnsmasq as the site DHCP; a
SeaBIOS QEMU server on that segment PXE-boots through it and appears in `kubectl get
servers` run from the operator's namespace against the management address, with the
kubeconfig from `ssh root@<mgmt> ironboot kubeconfig`. The appliance is rebooted and the
Server is still there. Everything lives in namespaces and taps the test creates and
removes."""

import shutil
import subprocess
import tempfile
import time

import pytest

import guests
from appliance_lab import MGMT_IP, MGMT_MAC, OPERATOR_IP, PROV_MAC, ApplianceVm, Operator, OperatorNetwork
from conftest import need

SUBNET = "10.79.0"
PROV_IP = f"{SUBNET}.2"
SERVER = guests.Identity("Ironboot Labs", "Appliance E2E Node", "APPL-E2E-0001",
                         "3b9e1f52-7c1d-4a8e-9f60-2d1c0b9a8e71", "52:54:00:e3:00:01")
BOOT_TIMEOUT = 240
SERVER_TIMEOUT = 420


@pytest.fixture
def network():
    net = OperatorNetwork(SUBNET)
    try:
        yield net
    finally:
        net.close()


def test_pxe_server_appears_through_the_appliance_and_survives_its_reboot(appliance_image, network):
    need(("qemu-system-x86_64", "dnsmasq", "kubectl", "ssh", "ssh-keygen"))
    lab = network.lab
    workdir = tempfile.mkdtemp(prefix="ironboot-appliance-e2e-")
    vm = server = dnsmasq = None
    try:
        operator = Operator(network, workdir)
        vm = ApplianceVm(lab, workdir, appliance_image, network.mgmt_tap, network.prov_tap)
        vm.configure(f'management: {{interface: "{MGMT_MAC}", address: {MGMT_IP}/24, gateway: {OPERATOR_IP}}}\n'
                     f'provisioning: {{interface: "{PROV_MAC}", address: {PROV_IP}/24}}\n'
                     f'ssh_authorized_keys: ["{operator.public_key}"]\n'
                     # Under TCG on a busy host the kernel's IO-APIC timer check can fail.
                     'ironboot: {agent: {kernel_args: [console=ttyS0, no_timer_check]}}\n')

        site = lab.add_host("site", 1)
        dnsmasq = guests.start_dnsmasq(site, workdir, SUBNET)
        vm.power_on(uefi=False)
        ready = vm.wait_console("ironboot appliance", BOOT_TIMEOUT)
        print(f"direct kernel boot, first boot, to the status banner: {ready:.1f} s")

        kubeconfig = operator.fetch_kubeconfig(explain=lambda: vm.console()[-3000:])
        assert f"https://{MGMT_IP}:6443" in kubeconfig

        assert operator.servers() == set()
        server = guests.Guest(lab, workdir, "server-1", SERVER, "bios")
        server.power_on()
        deadline = time.monotonic() + SERVER_TIMEOUT
        while SERVER.uuid not in operator.servers():
            assert time.monotonic() < deadline, (f"no Server {SERVER.uuid} after {SERVER_TIMEOUT} s\n"
                                                 f"{server.console_tail()}\n--- appliance ---\n{vm.console()[-3000:]}")
            time.sleep(3)
        print(f"server power-on to its Server object: {time.monotonic() - server.started:.1f} s")
        server.power_off()

        # Reboot: the state on the data partition survives.
        operator.ssh("systemctl", "poweroff", timeout=30)
        try:
            vm.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the appliance did not power off within 90 s:\n{vm.console()[-3000:]}")
        vm.power_on(uefi=False)
        ready = vm.wait_console("ironboot appliance", BOOT_TIMEOUT)
        print(f"direct kernel boot, second boot, to the status banner: {ready:.1f} s")
        assert SERVER.uuid in operator.servers()
    finally:
        if server:
            server.power_off()
        if vm:
            vm.power_off()
        if dnsmasq and dnsmasq.poll() is None:
            dnsmasq.terminate()
            dnsmasq.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)
