"""The appliance image: its GPT layout, appliance-config writing appliance.yaml without a
mount, the contract's file names, and the size target (compressed <= 200 MB)."""

import os
import subprocess
import tempfile

from conftest import project_version

ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
ROOT_X86_64 = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
BASIC_DATA = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
VAR = "4D21B016-B534-45C2-A9FB-5C16E091FD2D"
ENV = dict(os.environ, MTOOLS_SKIP_CHECK="1")


def partitions(image):
    import json
    table = json.loads(subprocess.run(["sfdisk", "-J", image], check=True, text=True, capture_output=True).stdout)
    return table["partitiontable"]["partitions"]


def test_layout_and_files(appliance_image):
    out = os.path.dirname(appliance_image)
    version = project_version()
    for name in (f"ironboot-appliance-{version}.img", f"ironboot-appliance-{version}.img.zst",
                 f"ironboot-appliance-{version}.manifest"):
        assert os.path.exists(os.path.join(out, name)), name
    assert os.path.samefile(appliance_image, os.path.join(out, f"ironboot-appliance-{version}.img"))
    parts = partitions(appliance_image)
    assert [p["type"] for p in parts] == [ESP, ROOT_X86_64, ROOT_X86_64, BASIC_DATA, VAR]
    assert parts[-1]["start"] + parts[-1]["size"] <= os.path.getsize(appliance_image) // 512
    esp = f"{appliance_image}@@{parts[0]['start'] * 512}"
    listing = subprocess.run(["mdir", "-/", "-b", "-i", esp, "::/"], env=ENV, check=True, text=True,
                             capture_output=True).stdout
    for path in ("::/EFI/BOOT/BOOTX64.EFI", "::/loader/loader.conf", "::/loader/entries/ironboot-1-a.conf",
                 "::/ironboot-a/vmlinuz", "::/ironboot-a/initrd.img"):
        assert path in listing.split(), f"{path} not on the ESP:\n{listing}"
    entry = subprocess.run(["mtype", "-i", esp, "::/loader/entries/ironboot-1-a.conf"], env=ENV, check=True,
                           text=True, capture_output=True).stdout
    assert f"root=partuuid={parts[1]['uuid'].lower()}" in entry.lower() and " ro " in entry
    with open(os.path.join(out, f"ironboot-appliance-{version}.manifest")) as f:
        manifest = f.read()
    assert f" ironboot {version} amd64" in manifest and " systemd " in manifest


def test_appliance_config_writes_the_ironboot_partition(appliance_image):
    with tempfile.TemporaryDirectory() as d:
        image = os.path.join(d, "copy.img")
        subprocess.run(["cp", "--sparse=always", appliance_image, image], check=True)
        config = os.path.join(d, "appliance.yaml")
        with open(config, "w") as f:
            f.write("management: {interface: eth0, address: 192.168.50.2/24}\n")
        subprocess.run([os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                     "image", "appliance-config"), image, config], check=True)
        part = partitions(image)[3]
        got = subprocess.run(["mtype", "-i", f"{image}@@{part['start'] * 512}", "::/appliance.yaml"], env=ENV,
                             check=True, text=True, capture_output=True).stdout
        assert got.replace("\r", "") == "management: {interface: eth0, address: 192.168.50.2/24}\n"
        label = subprocess.run(["mlabel", "-s", "-i", f"{image}@@{part['start'] * 512}", "::"], env=ENV,
                               check=True, text=True, capture_output=True).stdout
        assert "IRONBOOT" in label


def test_compressed_image_is_at_most_200_mb(appliance_image):
    zst = os.path.join(os.path.dirname(appliance_image), f"ironboot-appliance-{project_version()}.img.zst")
    size = os.path.getsize(zst)
    print(f"{zst}: {size / 1e6:.0f} MB compressed, {os.stat(appliance_image).st_blocks * 512 / 1e6:.0f} MB allocated")
    assert size <= 200e6
