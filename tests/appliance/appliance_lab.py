"""The appliance under QEMU for the appliance tests and `scripts/demo --appliance`: the VM
(its raw image, OVMF or a direct kernel boot, a management and a provisioning NIC on taps in
the lab's switch namespace), the operator network beside the provisioning segment, and the
operator's tools (ssh with a key given in appliance.yaml, kubectl with the kubeconfig fetched
over ssh), and a VLAN switch VM for labs whose host kernel cannot tag frames. Everything
lives in namespaces and taps that close() removes."""

import json
import os
import shutil
import subprocess
import threading
import time

import guests
import netlab
from kubectl_runner import Kubectl

ROOT = netlab.ROOT
MGMT_MAC, PROV_MAC = "52:54:00:aa:00:01", "52:54:00:aa:00:02"
MGMT_IP, OPERATOR_IP = "192.168.50.2", "192.168.50.1"
APPLIANCE_CONFIG = os.path.join(ROOT, "image", "appliance-config")


def image_version_name(image):
    """ironboot-appliance.img is a hard link of ironboot-appliance-<version>.img, whose kernel,
    initrd and command line lie beside it: that path without .img."""
    out = os.path.dirname(image)
    for name in sorted(os.listdir(out)):
        if name.startswith("ironboot-appliance-") and name.endswith(".img") and \
                os.path.samefile(os.path.join(out, name), image):
            return os.path.join(out, name[:-len(".img")])
    raise FileNotFoundError(f"no ironboot-appliance-<version>.img beside {image}")


class ApplianceVm:
    def __init__(self, lab, workdir, image, mgmt_tap, prov_tap, disk_gib=3, extra_args=(), reboot_restarts=False):
        """reboot_restarts: a reboot inside the VM ends QEMU (-no-reboot) and a watcher starts
        it again with the same disk, firmware variables and console file, as a power cycle.
        (A warm reset of OVMF under TCG here hangs in the firmware's first phase.)"""
        self.lab, self.dir = lab, workdir
        self.disk = os.path.join(workdir, "appliance.img")
        # A copy (sparse) grown to disk_gib: the data partition grows into it on first boot.
        subprocess.run(["cp", "--sparse=always", image, self.disk], check=True)
        subprocess.run(["truncate", "-s", f"{disk_gib}G", self.disk], check=True)
        self.image = image
        self.vars = os.path.join(workdir, "OVMF_VARS_4M.fd")
        shutil.copy(guests.OVMF_VARS, self.vars)
        self.taps = (mgmt_tap, prov_tap)
        self.extra_args = list(extra_args)
        self.reboot_restarts = reboot_restarts
        self.proc = None
        self.boots = 0
        self.restarts = 0  # power cycles for reboots (reboot_restarts)
        self.started = None
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.watcher = None

    def configure(self, text):
        """appliance.yaml, written into the disk's IRONBOOT partition as an operator does."""
        path = os.path.join(self.dir, "appliance.yaml")
        with open(path, "w") as f:
            f.write(text)
        subprocess.run([APPLIANCE_CONFIG, self.disk, path], check=True, capture_output=True)

    def console_path(self):
        return os.path.join(self.dir, f"console-{self.boots}.log")

    def console(self):
        """This power-on's serial console (reboots inside the VM keep appending to it)."""
        return guests.tail(self.console_path(), 8 << 20)

    def power_on(self, uefi=True):
        with self.lock:
            self.boots += 1
            self.stopping.clear()
            self.uefi = uefi
            self.started = time.monotonic()
            self._start_qemu()
        if self.reboot_restarts:
            self.watcher = threading.Thread(target=self._restart_on_reboot, daemon=True)
            self.watcher.start()

    def _restart_on_reboot(self):
        while not self.stopping.is_set():
            proc = self.proc
            proc.wait()
            with self.lock:
                if self.stopping.is_set() or "reboot: Restarting system" not in guests.tail(self.console_path(), 2000):
                    return
                self.restarts += 1
                self._start_qemu()

    def _start_qemu(self):
        uefi = self.uefi
        console = self.console_path()
        cmd = ["qemu-system-x86_64", "-name", "appliance", "-accel", "tcg", "-m", "1536", "-smp", "2",
               "-nographic", "-nodefaults", "-chardev", f"file,id=console,path={console},append=on",
               "-serial", "chardev:console", "-machine", "q35",
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
            name = image_version_name(self.image)
            with open(name + ".cmdline") as f:
                cmdline = f.read().strip()
            cmd += ["-kernel", name + ".vmlinuz", "-initrd", name + ".initrd", "-append", cmdline + " no_timer_check"]
        cmd += self.extra_args
        if self.reboot_restarts:
            cmd += ["-no-reboot"]
            with open(console, "a") as f:  # the reboot's seam in the console log
                f.write(f"\n[power cycle {self.restarts} for the reboot]\n")
        with open(os.path.join(self.dir, f"qemu-{self.boots}.log"), "ab") as err:
            self.proc = subprocess.Popen(["ip", "netns", "exec", self.lab.switch, *cmd],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)

    def wait_console(self, text, timeout, count=1):
        """Seconds since power-on until `text` is on the console `count` times."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.console().count(text) >= count:
                return time.monotonic() - self.started
            if not self.running() and not (self.watcher and self.watcher.is_alive()):
                break
            time.sleep(1)
        raise AssertionError(f"'{text}' not {count} time(s) on the appliance console within {timeout} s:\n"
                             f"{self.console()[-5000:]}")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def power_off(self):
        with self.lock:
            self.stopping.set()
            if self.running():
                self.proc.kill()
            if self.proc:
                self.proc.wait()
        if self.watcher:
            self.watcher.join()


def in_ns(ns, *args, **kw):
    return subprocess.run(["ip", "netns", "exec", ns, *args], text=True, capture_output=True, **kw)


class OperatorNetwork:
    """The provisioning segment (netlab's bridge br0) and, in the same switch namespace, the
    operator network br1 with an `operator` namespace at 192.168.50.1, plus a tap on each
    bridge for the appliance VM. prov_bridge: the provisioning tap on another bridge of the
    switch namespace instead of br0 (a VLAN trunk, with br0 behind a switch's access port)."""

    def __init__(self, subnet, prov_bridge="br0"):
        self.lab = lab = netlab.Lab(subnet=subnet)
        try:
            sw = lab.switch
            lab.add_bridge("br1")
            self.operator = f"{lab.tag}-op"
            lab._add_ns(self.operator)
            netlab.run(["ip", "link", "add", f"{lab.tag}op", "netns", sw, "type", "veth", "peer", "name", "eth0",
                        "netns", self.operator])
            netlab.run(["ip", "-n", sw, "link", "set", f"{lab.tag}op", "master", "br1", "up"])
            netlab.run(["ip", "-n", self.operator, "addr", "add", f"{OPERATOR_IP}/24", "dev", "eth0"])
            netlab.run(["ip", "-n", self.operator, "link", "set", "eth0", "up"])
            netlab.run(["ip", "-n", self.operator, "link", "set", "lo", "up"])
            self.mgmt_tap = f"{lab.tag}mg"
            netlab.run(["ip", "-n", sw, "tuntap", "add", "dev", self.mgmt_tap, "mode", "tap"])
            netlab.run(["ip", "-n", sw, "link", "set", self.mgmt_tap, "master", "br1", "up"])
            if prov_bridge != "br0":
                lab.add_bridge(prov_bridge)
            self.prov_tap = lab.add_tap(prov_bridge)
        except BaseException:
            lab.close()
            raise

    def close(self):
        self.lab.close()


class Operator:
    """The operator's workstation in the operator namespace: an SSH key (its public half goes
    into appliance.yaml), ssh to the appliance, and kubectl with `ironboot kubeconfig`."""

    def __init__(self, network, workdir, explain=lambda: ""):
        """explain(): what a failing kubectl shows besides its output (the appliance's console)."""
        self.ns, self.dir = network.operator, workdir
        self.key = os.path.join(workdir, "id_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.key], check=True)
        with open(self.key + ".pub") as f:
            self.public_key = f.read().strip()
        self.kubeconfig = os.path.join(workdir, "kubeconfig.yaml")
        host = netlab.Host(network.lab, "operator", self.ns, "eth0", OPERATOR_IP, None)
        self.kube = Kubectl(host, self.kubeconfig, explain, os.path.join(workdir, "kubectl-cache"))

    def ssh(self, *command, timeout=120, check=False):
        r = in_ns(self.ns, "ssh", "-i", self.key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                  "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", f"root@{MGMT_IP}", *command, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"ssh {' '.join(command)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r

    def wait_ssh(self, command, timeout, until=lambda r: r.returncode == 0, explain=lambda: ""):
        """Runs `command` over ssh until until(result) (sshd starts beside ironboot)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                r = self.ssh(*command, timeout=60)
            except subprocess.TimeoutExpired as e:
                r = subprocess.CompletedProcess(e.cmd, 255, "", "ssh timed out")
            if until(r):
                return r
            if time.monotonic() > deadline:
                raise AssertionError(f"ssh {' '.join(command)}: not as expected within {timeout} s "
                                     f"({r.returncode}): {r.stdout}{r.stderr}\n{explain()}")
            time.sleep(3)

    def fetch_kubeconfig(self, timeout=90, explain=lambda: ""):
        r = self.wait_ssh(["ironboot", "kubeconfig"], timeout, explain=explain)
        with open(self.kubeconfig, "w") as f:
            f.write(r.stdout)
        return r.stdout

    def kubectl(self, *args, input=None, check=True, timeout=60):
        return self.kube.run(*args, check=check, input=input, timeout=timeout)

    def servers(self):
        r = self.kubectl("get", "servers", "-o", "json")
        return {item["metadata"]["name"] for item in json.loads(r.stdout)["items"]}


class ApplianceSite:
    """guests.Site's lab with the appliance image in place of an `ironboot serve` process: the
    provisioning segment with the site's DHCP server (dnsmasq) at .1, the appliance VM (UEFI
    boot of `image`) with its provisioning NIC at .2 and its management NIC on the operator
    network, and kubectl from the operator's namespace with the kubeconfig fetched over ssh.
    The same calls as guests.Site (kubectl, get, add_guest, close), so the demo runs its rack
    against either."""

    def __init__(self, image, subnet, workdir, boot_timeout=300):
        self.subnet, self.workdir = subnet, workdir
        self.guests = []
        self.dnsmasq = self.vm = None
        self.network = OperatorNetwork(subnet)
        self.lab = self.network.lab
        try:
            self.site = self.lab.add_host("site", 1)
            self.address = f"{subnet}.2"
            self.dnsmasq = guests.start_dnsmasq(self.site, workdir, subnet)
            self.operator = Operator(self.network, workdir, self.log_tail)
            self.vm = ApplianceVm(self.lab, workdir, image, self.network.mgmt_tap, self.network.prov_tap)
            args = ", ".join(guests.AGENT_KERNEL_ARGS)
            self.vm.configure(
                f'management: {{interface: "{MGMT_MAC}", address: {MGMT_IP}/24, gateway: {OPERATOR_IP}}}\n'
                f'provisioning: {{interface: "{PROV_MAC}", address: {self.address}/24}}\n'
                f'ssh_authorized_keys: ["{self.operator.public_key}"]\n'
                f'ironboot: {{agent: {{kernel_args: [{args}]}}}}\n')
            self.vm.power_on(uefi=True)
            self.boot_seconds = self.vm.wait_console("ironboot appliance", boot_timeout)
            self.operator.fetch_kubeconfig(explain=self.log_tail)
            self.kubectl_runner = self.operator.kube
        except BaseException:
            self.close()
            raise

    def log_tail(self, lines=60):
        """The appliance's serial console (ironboot logs to it, beside the journal)."""
        return "\n".join(self.vm.console().splitlines()[-lines:]) if self.vm else ""

    def kubectl_cmd(self, *args):
        return self.kubectl_runner.cmd(*args)

    def kubectl(self, *args, check=True, input=None, timeout=60):
        return self.kubectl_runner.run(*args, check=check, input=input, timeout=timeout)

    def get(self, kind, name):
        return self.kubectl_runner.get(kind, name)

    def add_guest(self, name, identity, firmware="bios", ipxe_rom=True):
        guest = guests.Guest(self.lab, self.workdir, name, identity, firmware, ipxe_rom=ipxe_rom)
        self.guests.append(guest)
        return guest

    def close(self):
        for g in self.guests:
            g.power_off()
        if self.vm:
            self.vm.power_off()
        if self.dnsmasq and self.dnsmasq.poll() is None:
            self.dnsmasq.terminate()
            self.dnsmasq.wait(5)
        self.network.close()


SWITCH_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "switch", "vlan-switch.sh")


class VlanSwitchVm:
    """An 802.1Q switch for labs whose host kernel cannot tag frames: the appliance image's
    kernel and root (-snapshot: the image is shared, unchanged) booted directly with the
    test-only tests/appliance/switch/vlan-switch.sh, from a small extra disk, as its first
    process in place of systemd (nothing of it is in the shipped image). ports:
    ("trunk", tap, mac, [vid, ...]) or ("access", tap, mac, vid), each a NIC on that tap."""

    def __init__(self, lab, workdir, image, ports):
        self.lab, self.image, self.ports = lab, image, ports
        self.console_path = os.path.join(workdir, "switch-console.log")
        self.qemu_log = os.path.join(workdir, "switch-qemu.log")
        self.disk = os.path.join(workdir, "switch-script.img")
        with open(SWITCH_SCRIPT) as f:
            script = f.read()
        for kind, _, mac, vlans in ports:
            script += f"{kind} {mac} {' '.join(map(str, vlans)) if kind == 'trunk' else vlans}\n"
        script += "switch_ready\n"
        data = script.encode()
        with open(self.disk, "wb") as f:  # whole sectors; the newlines after the end are never read
            f.write(data + b"\n" * (-len(data) % 4096))
        self.proc = self.started = None

    def power_on(self):
        name = image_version_name(self.image)
        with open(name + ".cmdline") as f:
            cmdline = f.read().strip()
        # After "--": the arguments of init (the initrd's /init hands them on to it).
        cmdline += " no_timer_check panic=-1 init=/bin/sh -- /dev/vdb"
        cmd = ["qemu-system-x86_64", "-name", "vlan-switch", "-accel", "tcg", "-m", "512", "-smp", "1",
               "-nographic", "-nodefaults", "-serial", f"file:{self.console_path}", "-machine", "q35",
               "-snapshot", "-no-reboot",
               "-kernel", name + ".vmlinuz", "-initrd", name + ".initrd", "-append", cmdline,
               # Fixed slots: the root is vda, the script vdb.
               "-drive", f"file={self.image},format=raw,if=none,id=root",
               "-device", "virtio-blk-pci,drive=root,addr=0x10",
               "-drive", f"file={self.disk},format=raw,if=none,id=script,readonly=on",
               "-device", "virtio-blk-pci,drive=script,addr=0x11"]
        for i, (_, tap, mac, _) in enumerate(self.ports):
            cmd += ["-netdev", f"tap,id=n{i},ifname={tap},script=no,downscript=no",
                    "-device", f"virtio-net-pci,netdev=n{i},mac={mac},romfile="]
        self.started = time.monotonic()
        with open(self.qemu_log, "wb") as err:
            self.proc = subprocess.Popen(["ip", "netns", "exec", self.lab.switch, *cmd],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        return self

    def console(self):
        return guests.tail(self.console_path, 1 << 20)

    def wait_ready(self, timeout):
        """Seconds since power-on until the bridge is up."""
        deadline = time.monotonic() + timeout
        while "vlan-switch: ready" not in self.console():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the VLAN switch VM is not ready within {timeout} s:\n{self.console()[-4000:]}"
                                     f"\n--- qemu ---\n{guests.tail(self.qemu_log, 1000)}")
            time.sleep(1)
        return time.monotonic() - self.started

    def power_off(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()
