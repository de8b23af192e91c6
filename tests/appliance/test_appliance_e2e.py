"""Appliance end to end, untagged: the appliance VM boots from its raw image under OVMF (UEFI,
systemd-boot), its management NIC on an operator network, its provisioning NIC on a segment
with dnsmasq as the site DHCP; a SeaBIOS QEMU server on that segment PXE-boots through it and
appears in `kubectl get servers` run from the operator's namespace against the management
address, with the kubeconfig from `ssh root@<mgmt> ironboot kubeconfig`. The appliance is
rebooted (the second boot loads its kernel directly, to save time) and the Server is still
there. Everything lives in namespaces and taps the test creates and removes."""

import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

import guests
import netlab
from conftest import need, project_version

MGMT_MAC, PROV_MAC = "52:54:00:aa:00:01", "52:54:00:aa:00:02"
MGMT_IP, OPERATOR_IP = "192.168.50.2", "192.168.50.1"
SUBNET = "10.79.0"
PROV_IP = f"{SUBNET}.2"
SERVER = guests.Identity("Ironboot Labs", "Appliance E2E Node", "APPL-E2E-0001",
                         "3b9e1f52-7c1d-4a8e-9f60-2d1c0b9a8e71", "52:54:00:e3:00:01")
BOOT_TIMEOUT = 240
SERVER_TIMEOUT = 420


class ApplianceVm:
    def __init__(self, lab, workdir, image, mgmt_tap, prov_tap):
        self.lab, self.dir = lab, workdir
        self.disk = os.path.join(workdir, "appliance.img")
        # A copy (sparse) grown to 3 GiB: the data partition grows into it on first boot.
        subprocess.run(["cp", "--sparse=always", image, self.disk], check=True)
        subprocess.run(["truncate", "-s", "3G", self.disk], check=True)
        self.image = image
        self.vars = os.path.join(workdir, "OVMF_VARS_4M.fd")
        shutil.copy(guests.OVMF_VARS, self.vars)
        self.taps = (mgmt_tap, prov_tap)
        self.proc = None
        self.boots = 0

    def console_path(self):
        return os.path.join(self.dir, f"console-{self.boots}.log")

    def console(self):
        return guests.tail(self.console_path(), 1 << 20)

    def power_on(self, uefi=True):
        self.boots += 1
        cmd = ["qemu-system-x86_64", "-name", "appliance", "-accel", "tcg", "-m", "1536", "-smp", "2",
               "-nographic", "-nodefaults", "-serial", f"file:{self.console_path()}", "-machine", "q35",
               "-drive", f"file={self.disk},format=raw,if=none,id=d0",
               # With -kernel, QEMU's own linuxboot ROM takes boot index 0.
               "-device", "virtio-blk-pci,drive=d0" + (",bootindex=0" if uefi else "")]
        for i, (tap, mac) in enumerate(zip(self.taps, (MGMT_MAC, PROV_MAC))):
            cmd += ["-netdev", f"tap,id=n{i},ifname={tap},script=no,downscript=no",
                    "-device", f"virtio-net-pci,netdev=n{i},mac={mac},romfile="]
        if uefi:
            cmd += ["-drive", f"if=pflash,format=raw,readonly=on,file={guests.OVMF_CODE}",
                    "-drive", f"if=pflash,format=raw,file={self.vars}"]
        else:
            # ironboot-appliance.img is a hard link of ironboot-appliance-<version>.img, whose
            # kernel, initrd and command line lie beside it.
            name = os.path.join(os.path.dirname(self.image), f"ironboot-appliance-{project_version()}")
            with open(name + ".cmdline") as f:
                cmdline = f.read().strip()
            cmd += ["-kernel", name + ".vmlinuz", "-initrd", name + ".initrd", "-append", cmdline + " no_timer_check"]
        self.started = time.monotonic()
        with open(os.path.join(self.dir, f"qemu-{self.boots}.log"), "wb") as err:
            self.proc = subprocess.Popen(["ip", "netns", "exec", self.lab.switch, *cmd],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)

    def wait_console(self, text, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.console():
                return time.monotonic() - self.started
            if self.proc.poll() is not None:
                break
            time.sleep(1)
        raise AssertionError(f"no '{text}' on the appliance console within {timeout} s:\n{self.console()[-4000:]}")

    def power_off(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()


@pytest.fixture
def network():
    """The provisioning segment (netlab's bridge br0) and, in the same switch namespace, the
    operator network br1 with an `operator` namespace at 192.168.50.1."""
    lab = netlab.Lab(subnet=SUBNET)
    try:
        sw = lab.switch
        netlab.run(["ip", "-n", sw, "link", "add", "br1", "type", "bridge", "forward_delay", "0"])
        netlab.run(["ip", "-n", sw, "link", "set", "br1", "up"])
        operator = f"{lab.tag}-op"
        lab._add_ns(operator)
        netlab.run(["ip", "link", "add", f"{lab.tag}op", "netns", sw, "type", "veth", "peer", "name", "eth0",
                    "netns", operator])
        netlab.run(["ip", "-n", sw, "link", "set", f"{lab.tag}op", "master", "br1", "up"])
        netlab.run(["ip", "-n", operator, "addr", "add", f"{OPERATOR_IP}/24", "dev", "eth0"])
        netlab.run(["ip", "-n", operator, "link", "set", "eth0", "up"])
        netlab.run(["ip", "-n", operator, "link", "set", "lo", "up"])
        mgmt_tap = f"{lab.tag}mg"
        netlab.run(["ip", "-n", sw, "tuntap", "add", "dev", mgmt_tap, "mode", "tap"])
        netlab.run(["ip", "-n", sw, "link", "set", mgmt_tap, "master", "br1", "up"])
        prov_tap = lab.add_tap()
        yield lab, operator, mgmt_tap, prov_tap
    finally:
        lab.close()


def in_ns(ns, *args, **kw):
    return subprocess.run(["ip", "netns", "exec", ns, *args], text=True, capture_output=True, **kw)


def test_pxe_server_appears_through_the_appliance_and_survives_its_reboot(appliance_image, network):
    need(("qemu-system-x86_64", "dnsmasq", "kubectl", "ssh", "ssh-keygen"))
    lab, operator, mgmt_tap, prov_tap = network
    workdir = tempfile.mkdtemp(prefix="ironboot-appliance-e2e-")
    vm = server = dnsmasq = None
    try:
        key = os.path.join(workdir, "id_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        with open(key + ".pub") as f:
            pub = f.read().strip()
        config = os.path.join(workdir, "appliance.yaml")
        with open(config, "w") as f:
            f.write(f'management: {{interface: "{MGMT_MAC}", address: {MGMT_IP}/24, gateway: {OPERATOR_IP}}}\n'
                    f'provisioning: {{interface: "{PROV_MAC}", address: {PROV_IP}/24}}\n'
                    f'ssh_authorized_keys: ["{pub}"]\n'
                    # Under TCG on a busy host the kernel's IO-APIC timer check can fail.
                    'ironboot: {agent: {kernel_args: [console=ttyS0, no_timer_check]}}\n')
        vm = ApplianceVm(lab, workdir, appliance_image, mgmt_tap, prov_tap)
        subprocess.run([os.path.join(netlab.ROOT, "image", "appliance-config"), vm.disk, config], check=True)

        site = lab.add_host("site", 1)
        dnsmasq = guests.start_dnsmasq(site, workdir, SUBNET)
        vm.power_on(uefi=True)
        ready = vm.wait_console("ironboot appliance", BOOT_TIMEOUT)
        print(f"UEFI power-on to the status banner: {ready:.1f} s")

        ssh = ["ssh", "-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "ConnectTimeout=10", f"root@{MGMT_IP}"]
        deadline = time.monotonic() + 90  # sshd starts beside ironboot
        while True:
            r = in_ns(operator, *ssh, "ironboot", "kubeconfig", timeout=60)
            if r.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(3)
        assert r.returncode == 0, r.stderr + vm.console()[-3000:]
        kubeconfig = os.path.join(workdir, "kubeconfig.yaml")
        with open(kubeconfig, "w") as f:
            f.write(r.stdout)
        assert f"https://{MGMT_IP}:6443" in r.stdout

        def servers():
            r = in_ns(operator, "kubectl", "--kubeconfig", kubeconfig, "--cache-dir", os.path.join(workdir, "kc"),
                      "get", "servers", "-o", "json", timeout=60)
            assert r.returncode == 0, r.stderr
            return {item["metadata"]["name"] for item in json.loads(r.stdout)["items"]}

        assert servers() == set()
        server = guests.Guest(lab, workdir, "server-1", SERVER, "bios")
        server.power_on()
        deadline = time.monotonic() + SERVER_TIMEOUT
        while SERVER.uuid not in servers():
            assert time.monotonic() < deadline, (f"no Server {SERVER.uuid} after {SERVER_TIMEOUT} s\n"
                                                 f"{server.console_tail()}\n--- appliance ---\n{vm.console()[-3000:]}")
            time.sleep(3)
        print(f"server power-on to its Server object: {time.monotonic() - server.started:.1f} s")
        server.power_off()

        # Reboot: the state on the data partition survives.
        in_ns(operator, *ssh, "systemctl", "poweroff", timeout=30)
        try:
            vm.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the appliance did not power off within 90 s:\n{vm.console()[-3000:]}")
        vm.power_on(uefi=False)
        ready = vm.wait_console("ironboot appliance", BOOT_TIMEOUT)
        print(f"direct kernel boot to the status banner: {ready:.1f} s")
        assert SERVER.uuid in servers()
    finally:
        if server:
            server.power_off()
        if vm:
            vm.power_off()
        if dnsmasq and dnsmasq.poll() is None:
            dnsmasq.terminate()
            dnsmasq.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)
