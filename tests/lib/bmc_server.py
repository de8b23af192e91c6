"""A QEMU server with a BMC, for end-to-end tests: OpenIPMI's ipmi_sim owns its power.

The BMC listens on its own address on the lab network (UDP 623 on the lab bridge, in the
switch namespace), as a dedicated management port would; ironboot reaches it from the
appliance's namespace. ipmi_sim's chassis_control (tests/lib/vm_chassis.py) starts and stops
QEMU, in the switch namespace beside the guest's tap, with `-boot once=n` when the recorded
next boot is PXE; otherwise the firmware boots the disk (`-boot order=c`). QEMU's
ipmi-bmc-extern connects the same ipmi_sim in-band (KCS, /dev/ipmi0 in the agent), and its
lan_config_program reports the BMC's lab address, so what the agent reads in-band is where
the BMC answers out-of-band. Nothing here starts QEMU: only the BMC does.

The serial console and SeaBIOS's debug log (port 0x402) are files appended across power
cycles, so a test reads the whole history of the machine.
"""

import os

import ipmi_sim
import netlab
import vm_chassis
from guests import MiB, qemu_string, tail, write_pattern_disk

# A 512-byte MBR boot sector standing in for an installed OS: it writes its message to COM1
# and halts (real mode: DS=0, SI=message, OUT to 0x3f8 byte by byte).
_BOOT_CODE = bytes([
    0xFA,              # cli
    0x31, 0xC0,        # xor ax, ax
    0x8E, 0xD8,        # mov ds, ax
    0xFC,              # cld
    0xBE, 0x17, 0x7C,  # mov si, 0x7c17 (the message, right after this code)
    0xBA, 0xF8, 0x03,  # mov dx, 0x3f8
    0xAC,              # next: lodsb
    0x84, 0xC0,        # test al, al
    0x74, 0x03,        # jz halt
    0xEE,              # out dx, al
    0xEB, 0xF8,        # jmp next
    0xF4,              # halt: hlt
    0xEB, 0xFD,        # jmp halt
])


def boot_sector(message):
    text = message.encode() + b"\r\n\0"
    sector = _BOOT_CODE + text
    assert len(_BOOT_CODE) == 0x17 and len(sector) <= 510
    return sector + bytes(510 - len(sector)) + b"\x55\xaa"


class BmcServer:
    """One server: 2 vCPUs, 1 GiB, SeaBIOS, a virtio NIC (QEMU's iPXE ROM) on the lab bridge,
    a sparse 2 GiB raw disk holding the known pattern, and its BMC at SUBNET.bmc_octet:623
    (user/password as given). serial_port: the loopback port of the in-band link (each BMC
    in one lab its own)."""

    def __init__(self, site, name, identity, bmc_octet, serial_port, user="admin", password="bmc-secret",
                 bmc_mac="52:54:00:bb:00:01", disk_mib=2048):
        self.site, self.name, self.identity = site, name, identity
        self.dir = os.path.join(site.workdir, name)
        self.chassis = os.path.join(self.dir, "chassis")
        os.makedirs(self.chassis, exist_ok=True)
        self.disk = os.path.join(self.dir, "disk.raw")
        self.disk_size = disk_mib * MiB
        self.console_path = os.path.join(self.dir, "console.log")
        self.firmware_path = os.path.join(self.dir, "seabios.log")
        self.bmc_address = f"{site.subnet}.{bmc_octet}"
        lab = site.lab
        # The BMC's management address lives on the bridge itself (the switch namespace).
        netlab.run(["ip", "-n", lab.switch, "addr", "add", f"{self.bmc_address}/24", "dev", "br0"])
        self.bmc = ipmi_sim.IpmiSim(os.path.join(self.dir, "bmc"), port=623, user=user, password=password,
                                    chassis=self.chassis, address=self.bmc_address,
                                    prefix=["ip", "netns", "exec", lab.switch],
                                    serial_port=serial_port,
                                    lan=ipmi_sim.lan_settings(self.bmc_address, bmc_mac, gateway=f"{site.subnet}.1"))
        write_pattern_disk(self.disk, self.disk_size)
        tap = lab.add_tap()
        with open(os.path.join(self.chassis, "extra_args"), "w") as f:
            f.write("\n".join(self.qemu_args(tap)) + "\n")

    def qemu_args(self, tap):
        """What vm_chassis adds to its own QEMU command line (later -m/-machine win)."""
        ident = self.identity
        smbios1 = ",".join(f"{k}={qemu_string(v)}" for k, v in (
            ("manufacturer", ident.manufacturer), ("product", ident.product), ("serial", ident.serial),
            ("uuid", ident.uuid)))
        return ["-name", self.name, "-m", "1024", "-smp", "2,sockets=1,cores=2,threads=1",
                "-chardev", f"file,id=console,path={self.console_path},append=on", "-serial", "chardev:console",
                "-chardev", f"file,id=firmware,path={self.firmware_path},append=on",
                "-device", "isa-debugcon,iobase=0x402,chardev=firmware",
                "-smbios", f"type=1,{smbios1}",
                "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev=n0,mac={ident.mac}",
                "-drive", f"file={self.disk},format=raw,if=none,id=d0", "-device", "virtio-blk-pci,drive=d0",
                "-boot", "order=c", *self.bmc.qemu_args()]

    def start_bmc(self):
        self.bmc.start()
        return self

    def qemu_pid(self):
        return vm_chassis.qemu_pid(self.chassis)

    def calls(self):
        """The chassis_control calls ipmi_sim made, one per line ("set boot pxe", ...)."""
        return tail(os.path.join(self.chassis, "calls.log"), 1 << 20).splitlines()

    def last_cmdline(self):
        return tail(os.path.join(self.chassis, "qemu.cmdline"), 1 << 16).strip()

    def console(self):
        return tail(self.console_path, 1 << 20)

    def firmware_log(self):
        return tail(self.firmware_path, 1 << 22)

    def console_tail(self, chars=3000):
        qemu = tail(os.path.join(self.chassis, "qemu.stderr"), 1000).strip()
        return (tail(self.console_path, chars) + f"\n--- calls: {self.calls()[-12:]}" +
                (f"\n--- qemu stderr ---\n{qemu}" if qemu else "") + f"\n--- ipmi_sim ---\n{self.bmc.log_tail(800)}")

    def install_boot_sector(self, message):
        """Writes an MBR that prints `message` on the console: the disk's "installed OS"."""
        assert self.qemu_pid() is None, "the disk is written only while the server is off"
        with open(self.disk, "r+b") as f:
            f.write(boot_sector(message))

    def read_disk(self, offset, size):
        with open(self.disk, "rb") as f:
            f.seek(offset)
            return f.read(size)

    def close(self):
        # ipmi_sim may leave a chassis call running when stopped: retire() keeps it from
        # starting QEMU again.
        vm_chassis.retire(self.chassis)
        self.bmc.close()
