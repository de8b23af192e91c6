"""A/B updates under QEMU (TCG, OVMF: systemd-boot's boot counting needs UEFI). The appliance
boots slot A, holds a Server, and is updated with `ironboot-update` twice, the images handed
to it on a read-only 9p share (as from a stick or a copied file):

1. to an image of a higher version, given compressed (.img.zst, which ironboot-update reads
   through zstd as it comes): the appliance reboots into slot B, ironboot becomes ready there,
   the boot entry is blessed, and the new version serves the old Server with the old API keys
   (the kubeconfig fetched before the update still works);
2. to a raw image whose ironboot cannot start (its ironboot.yaml is broken): slot A is tried
   three times (each trial boot reboots once ironboot.service has failed), then systemd-boot
   boots slot B again, where the newer version still serves the Server.

appliance.yaml and /var/lib/ironboot (the data partition) are never written by an update."""

import os
import shutil
import tempfile

import pytest

from appliance_lab import MGMT_IP, MGMT_MAC, OPERATOR_IP, ApplianceVm, Operator, OperatorNetwork
from conftest import NEWER_SUFFIX, need, project_version

SUBNET = "10.81.0"
BOOT_TIMEOUT = 300
SERVER = "5f0c8a8e-2b8f-4d7e-9a51-7e3f2c1b0a99"
SERVER_YAML = f"""apiVersion: metal.sidero.dev/v1alpha2
kind: Server
metadata:
  name: {SERVER}
spec:
  accepted: false
"""
MOUNT_SHARE = "mkdir -p /run/updates && (mountpoint -q /run/updates || " \
              "mount -t 9p -o trans=virtio,version=9p2000.L,msize=1048576,ro updates /run/updates)"


@pytest.fixture
def network():
    net = OperatorNetwork(SUBNET)
    try:
        yield net
    finally:
        net.close()


def share(workdir, images):
    """A directory of hard links (copies across filesystems) to the update images."""
    path = os.path.join(workdir, "share")
    os.makedirs(path)
    for name, image in images.items():
        try:
            os.link(image, os.path.join(path, name))
        except OSError:
            shutil.copy(image, os.path.join(path, name))
    return path


def test_update_to_a_newer_image_then_a_broken_one_falls_back(appliance_image, newer_appliance_image,
                                                              broken_appliance_image, network):
    need(("qemu-system-x86_64", "kubectl", "ssh", "ssh-keygen"))
    old, newer = project_version(), project_version() + NEWER_SUFFIX
    workdir = tempfile.mkdtemp(prefix="ironboot-appliance-update-")
    vm = None
    try:
        operator = Operator(network, workdir, explain=lambda: vm.console()[-5000:] if vm else "")
        newer_zst = os.path.join(os.path.dirname(newer_appliance_image), f"ironboot-appliance-{newer}.img.zst")
        updates = share(workdir, {"newer.img.zst": newer_zst, "broken.img": broken_appliance_image})
        vm = ApplianceVm(network.lab, workdir, appliance_image, network.mgmt_tap, network.prov_tap,
                         extra_args=["-virtfs", f"local,path={updates},mount_tag=updates,security_model=none,readonly=on"],
                         reboot_restarts=True)
        config = (f'management: {{interface: "{MGMT_MAC}", address: {MGMT_IP}/24, gateway: {OPERATOR_IP}}}\n'
                  f'ssh_authorized_keys: ["{operator.public_key}"]\n')
        vm.configure(config)
        explain = lambda: vm.console()[-5000:]  # noqa: E731

        vm.power_on(uefi=True)
        ready = vm.wait_console(f"ironboot appliance {old} ", BOOT_TIMEOUT)
        print(f"slot A ({old}): power-on to the status banner {ready:.1f} s")
        operator.fetch_kubeconfig(explain=explain)
        operator.kubectl("create", "-f", "-", input=SERVER_YAML)
        assert SERVER in operator.servers()
        status = operator.ssh("ironboot-update", "--status", check=True).stdout
        assert "running slot: A" in status and "ironboot-1-a.conf" in status, status

        # 1. The higher version, compressed: slot B, blessed once ironboot is ready.
        r = operator.ssh(f"{MOUNT_SHARE} && ironboot-update /run/updates/newer.img.zst", timeout=900)
        assert f"to ironboot {newer} from /run/updates/newer.img.zst" in r.stderr, r.stdout + r.stderr + explain()
        assert "boot entry ironboot-2-b+3.conf" in r.stderr, r.stdout + r.stderr + explain()
        print(r.stderr.strip())
        at = vm.wait_console("boot entry ironboot-2-b.conf blessed", BOOT_TIMEOUT)
        print(f"slot B ({newer}): update started to blessed {at - ready:.1f} s after slot A's banner")
        r = operator.wait_ssh(["ironboot", "version"], 120, until=lambda r: r.stdout.strip() == f"ironboot {newer}",
                              explain=explain)
        status = operator.ssh("ironboot-update", "--status", check=True).stdout
        assert "running slot: B" in status and "ironboot-2-b.conf" in status and "ironboot-1-a.conf" in status, status
        assert SERVER in operator.servers()  # the kubeconfig of slot A: the API's keys survived
        assert operator.ssh("cat", "/boot/ironboot/appliance.yaml", check=True).stdout.replace("\r", "") == config

        # 2. A root whose ironboot cannot start: three trial boots of slot A, then slot B again.
        failed = "ironboot did not become ready on slot A"
        r = operator.ssh(f"{MOUNT_SHARE} && ironboot-update /run/updates/broken.img", timeout=900)
        assert "boot entry ironboot-3-a+3.conf" in r.stderr, r.stdout + r.stderr + explain()
        vm.wait_console(failed, 3 * BOOT_TIMEOUT, count=3)
        operator.wait_ssh(["systemctl", "is-active", "ironboot.service"], BOOT_TIMEOUT,
                          until=lambda r: r.stdout.strip() == "active", explain=explain)
        assert vm.console().count(failed) == 3, explain()
        assert operator.ssh("ironboot", "version", check=True).stdout.strip() == f"ironboot {newer}"
        status = operator.ssh("ironboot-update", "--status", check=True).stdout
        assert "running slot: B" in status and "ironboot-3-a+0-3.conf" in status and "on trial" not in status, status
        assert SERVER in operator.servers()
    finally:
        if vm:
            vm.power_off()
        shutil.rmtree(workdir, ignore_errors=True)
