"""The whole path in QEMU without KVM: a machine nobody registered powers on, PXE-boots from
ironboot (proxyDHCP beside the site's dnsmasq, TFTP, HTTP), runs the agent and appears in
`kubectl get servers`; accepting it wipes its disk; its next boot goes to disk.

Steps 1 to 3 follow one SeaBIOS guest; 4 is an OVMF guest; 5 powers on three at once.
All share one lab and one ironboot (embedded cluster mode)."""

import json
import re

import pytest

import guests
from guests import MiB, PATTERN_MIB, Identity
from kubectl_output import event_reasons

BIOS_SERVER = Identity("Ironboot Labs", "E2E BIOS Node", "E2E-BIOS-0001", "6f1d2c3b-4a59-4e68-8d7c-0b1a2f3e4d51",
                       "52:54:00:e2:0b:01")
UEFI_SERVER = Identity("Ironboot Labs", "E2E UEFI Node", "E2E-UEFI-0001", "7a2e3d4c-5b6a-4f79-9e8d-1c2b3a4f5e62",
                       "52:54:00:e2:0e:01")
UEFI_PXE_SERVER = Identity("Ironboot Labs", "E2E UEFI PXE Node", "E2E-UEFI-0002",
                           "8b3f4e5d-6c7b-4a8a-8f9e-2d3c4b5a6f73", "52:54:00:e2:0e:02")
APPEAR_SECONDS = 120        # power-on to Server object, one guest
APPEAR_THREE_SECONDS = 300  # three guests share the same two host cores


@pytest.fixture(scope="module")
def site(agent_image):
    # A plain IPv4 provisioning network: no IPv6 router, as on most of them.
    s = guests.Site(agent_image, subnet="10.78.0", ipv6_router=False)
    try:
        yield s
    finally:
        s.close()
        s.remove_workdir()


def appears(site, guest, timeout=APPEAR_SECONDS):
    """Waits for the guest's Server object; returns it and the seconds since power-on."""
    seconds = site.wait_for_servers([guest], timeout)[guest.name]
    return site.get("server", guest.identity.uuid), seconds


def check_hardware(site, guest, server, boot_mode):
    ident = guest.identity
    context = f"\n{json.dumps(server, indent=1)[:6000]}\n{site.explain(guest)}"
    hw = server["spec"]["hardware"]
    assert server["spec"]["accepted"] is False, context
    assert hw["system"]["uuid"] == ident.uuid, context
    assert hw["system"]["manufacturer"] == ident.manufacturer, context
    assert hw["system"]["productName"] == ident.product, context
    assert hw["system"]["serialNumber"] == ident.serial, context
    # -smp 2,sockets=1,cores=2,threads=1 and -m 1024
    assert (hw["compute"]["processorCount"], hw["compute"]["totalCoreCount"], hw["compute"]["totalThreadCount"]) \
        == (1, 2, 2), context
    if ident.cpu_version:
        assert hw["compute"]["processors"][0]["productName"] == ident.cpu_version, context
    assert hw["memory"]["totalSize"] == "1 GB", context
    assert sum(m["size"] for m in hw["memory"]["modules"]) == 1024, context
    disks = [(d["name"], d["size"]) for d in hw["storage"]["devices"]]
    assert disks == [("vda", guest.disk_size)], context
    assert hw["storage"]["totalSize"] == "2 GB", context
    assert any(i["mac"] == ident.mac and any(a.startswith(site.subnet + ".") for a in i["addresses"])
               for i in hw["network"]["interfaces"]), context
    annotations = server["metadata"]["annotations"]
    assert annotations["ironboot.dev/boot-mac"] == ident.mac, context
    assert annotations["ironboot.dev/boot-mode"] == boot_mode, context


@pytest.fixture(scope="module")
def bios_guest(site):
    guest = site.add_guest("bios-1", BIOS_SERVER, "bios").power_on()
    try:
        yield guest
    finally:
        guest.power_off()


def test_1_seabios_guest_appears_as_server(site, bios_guest):
    server, seconds = appears(site, bios_guest)
    print(f"\nSeaBIOS power-on -> Server: {seconds:.1f} s")
    check_hardware(site, bios_guest, server, "BIOS")
    # The agent's console says where it stands.
    assert f"registered as Server {BIOS_SERVER.uuid}" in bios_guest.console(), site.explain(bios_guest)


def is_clean(site, uuid):
    return ((site.get("server", uuid) or {}).get("status") or {}).get("isClean") is True


def test_2_accept_wipes_disk(site, bios_guest):
    uuid = BIOS_SERVER.uuid
    assert site.get("server", uuid), "step 1 did not create the Server"
    site.kubectl("patch", "server", uuid, "--type", "merge", "-p", '{"spec":{"accepted":true}}')
    site.wait_for("status.isClean", lambda: is_clean(site, uuid), 120, [bios_guest])
    console = bios_guest.console()
    assert re.search(r"wipe: mode=fast disks=1", console), site.explain(bios_guest)
    # Fast wipe: the first and last 16 MiB are zeros, the pattern around and between survives.
    size = bios_guest.disk_size
    first, middle, last = guests.pattern_regions(size)
    assert bios_guest.read_disk(0, MiB) == bytes(MiB), "first MiB not zeroed"
    assert bios_guest.read_disk(0, 16 * MiB) == bytes(16 * MiB), "first 16 MiB not zeroed"
    assert bios_guest.read_disk(size - 16 * MiB, 16 * MiB) == bytes(16 * MiB), "last 16 MiB not zeroed"
    for block in (16, PATTERN_MIB - 1, middle, middle + PATTERN_MIB - 1, last, last + PATTERN_MIB - 17):
        assert bios_guest.read_disk(block * MiB, MiB) == guests.pattern_block(block), f"fast wipe touched MiB {block}"


def test_3_reboot_boots_from_disk(site, bios_guest):
    uuid = BIOS_SERVER.uuid
    assert is_clean(site, uuid), "step 2 did not clean the Server"
    # After the wipe the agent is told to reboot; QEMU resets (no -no-reboot), the firmware
    # PXE-boots again and /ipxe answers boot-from-disk (the iPXE script `exit`).
    decision = re.compile(rf"ipxe decision=disk uuid={uuid} mac={BIOS_SERVER.mac}")
    site.wait_for("the boot-from-disk decision", lambda: decision.search(site.daemon.read_log()), 120,
             [bios_guest])
    assert "instructed: rebooting" in bios_guest.console(), site.explain(bios_guest)
    assert re.search(r"boot decision=disk reason=\"[^\"]*\" server=" + uuid, site.daemon.read_log()), \
        site.explain(bios_guest)
    # The answer to that request: the script (status 200), not a 404 or the agent's kernel.
    log = site.daemon.read_log()
    after = log[decision.search(log).end():]
    assert re.search(r"request method=GET path=/ipxe status=200 ", after), site.explain(bios_guest)


def test_3b_describe_shows_the_history(site, bios_guest):
    uuid = BIOS_SERVER.uuid
    want = ["Registered", "Accepted", "WipeStarted", "Wiped", "BootFromDisk"]
    # Events are written through the write queue: give the last one a moment.
    site.wait_for("the BootFromDisk event",
                  lambda: "BootFromDisk" in event_reasons(site.kubectl("describe", "server", uuid).stdout),
                  30, [bios_guest])
    reasons = event_reasons(site.kubectl("describe", "server", uuid).stdout)
    seen = [r for r in reasons if r in want]
    assert [r for r in want if r in seen] == want and sorted(seen, key=want.index) == seen, reasons


def test_4_ovmf_guest_appears_as_server(site):
    guest = site.add_guest("uefi-1", UEFI_SERVER, "uefi").power_on()
    try:
        server, seconds = appears(site, guest)
        print(f"\nOVMF power-on -> Server: {seconds:.1f} s")
        check_hardware(site, guest, server, "UEFI")
    finally:
        guest.power_off()


def test_4b_ovmf_own_pxe_loads_ipxe_over_tftp(site):
    """Without QEMU's iPXE ROM, OVMF's own PXE client asks the proxy (port 67, then 4011),
    loads ipxe.efi from ironboot's TFTP server, and iPXE goes on as before."""
    guest = site.add_guest("uefi-2", UEFI_PXE_SERVER, "uefi", ipxe_rom=False).power_on()
    try:
        server, seconds = appears(site, guest, timeout=180)
        print(f"\nOVMF (own PXE, TFTP) power-on -> Server: {seconds:.1f} s")
        check_hardware(site, guest, server, "UEFI")
        log = site.daemon.read_log()
        mac = UEFI_PXE_SERVER.mac
        assert re.search(rf'dhcp: answer type=ACK mac={mac} \S+ arch=7 boot=tftp file="ipxe.efi" to=\S+:4011', log), \
            site.explain(guest)
        assert re.search(r'tftp: transfer end \S+ file="ipxe.efi" outcome=completed bytes=\d+', log), site.explain(guest)
    finally:
        guest.power_off()


def test_5_three_guests_at_once(site):
    started = [site.add_guest(f"rack-{i + 1}", ident, "bios") for i, ident in enumerate(guests.THREE_SERVERS)]
    try:
        for g in started:
            g.power_on()
        seconds = site.wait_for_servers(started, APPEAR_THREE_SECONDS)
        print("\nthree at once, power-on -> Server: " + ", ".join(f"{n} {s:.1f} s" for n, s in seconds.items()))
        for g in started:
            check_hardware(site, g, site.get("server", g.identity.uuid), "BIOS")
        # Each its own Server, none merged into another.
        assert {i.uuid for i in guests.THREE_SERVERS} <= site.server_names()
    finally:
        for g in started:
            g.power_off()
