"""proxyDHCP beside a real DHCP server: dnsmasq (site) hands out addresses, ironboot
(appliance) only boot information; scapy plays the PXE firmware and a relay agent."""

import json
import os
import signal
import socket
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dhcplab  # noqa: E402

SUBNET = "10.79.0"
APPLIANCE = f"{SUBNET}.2"
SITE = f"{SUBNET}.1"


@pytest.fixture(scope="module")
def lab():
    with dhcplab.DhcpLab(subnet=SUBNET) as lab:
        yield lab


def split(replies):
    """(ironboot's replies, the site server's replies)."""
    ours = [r for r in replies if r["ip_src"] == APPLIANCE]
    site = [r for r in replies if r["ip_src"] == SITE]
    return ours, site


def only(replies):
    assert len(replies) == 1, replies
    return replies[0]


def expect_proxy_offer(r, mac, msg_type=2):
    assert r["op"] == 2
    assert r["chaddr"] == mac
    assert r["yiaddr"] == "0.0.0.0"
    assert r["siaddr"] == APPLIANCE
    assert r["sname"] == APPLIANCE
    assert r["options"]["message-type"] == msg_type
    assert r["options"]["server_id"] == APPLIANCE
    assert r["options"]["tftp_server_name"] == APPLIANCE
    assert r["options"]["pxe_client_machine_identifier"] == dhcplab.DEFAULT_UUID.hex()
    assert r["length"] >= 300


def test_bios_gets_undionly_with_discovery_control(lab):
    mac = dhcplab.random_mac()
    ours, site = split(lab.discover(arch=0, mac=mac, stop_after=2))
    r = only(ours)
    expect_proxy_offer(r, mac)
    assert (r["ip_dst"], r["dport"], r["sport"], r["eth_dst"]) == ("255.255.255.255", 68, 67, "ff:ff:ff:ff:ff:ff")
    assert r["file"] == "undionly.kpxe"
    assert r["options"]["boot-file-name"] == "undionly.kpxe"
    assert r["options"]["vendor_class_id"] == "PXEClient"
    assert r["options"]["vendor_specific"] == "060108ff"  # discovery control: use `file`
    # The site server still hands out the address.
    assert only(site)["yiaddr"].startswith(SUBNET + ".1")


@pytest.mark.parametrize("arch", [7, 9])
def test_uefi_x86_64_gets_ipxe_efi(lab, arch):
    mac = dhcplab.random_mac()
    ours, _ = split(lab.discover(arch=arch, mac=mac, stop_after=2))
    r = only(ours)
    expect_proxy_offer(r, mac)
    assert r["file"] == "ipxe.efi"
    assert r["options"]["vendor_class_id"] == "PXEClient"
    assert "vendor_specific" not in r["options"]


def test_arm64_without_binary_is_left_alone_and_logged_once(lab):
    mac = dhcplab.random_mac()
    for _ in range(2):
        ours, site = split(lab.discover(arch=11, mac=mac, wait=1.0))
        assert ours == []
        assert len(site) == 1
    log = lab.ironboot.read_log()
    assert log.count(f"no boot binary for client arch=11 mac={mac}") == 1


def test_arm64_with_binary_after_reload(lab):
    config = lab.config()
    config["boot"]["binaries"]["efi_arm64"] = "arm64/snp.efi"
    lab.ironboot.write_config(json.dumps(config))
    lab.ironboot.signal(signal.SIGHUP)
    lab.ironboot.wait_notify("READY=1", timeout=10)
    try:
        mac = dhcplab.random_mac()
        r = only(split(lab.discover(arch=11, mac=mac, stop_after=2))[0])
        expect_proxy_offer(r, mac)
        assert r["file"] == "arm64/snp.efi"
    finally:
        lab.ironboot.write_config(json.dumps(lab.config()))
        lab.ironboot.signal(signal.SIGHUP)
        lab.ironboot.wait_notify("READY=1", timeout=10)


def test_http_boot_client_gets_url_and_http_client(lab):
    mac = dhcplab.random_mac()
    r = only(split(lab.discover(arch=16, vendor="HTTPClient", mac=mac, stop_after=2))[0])
    expect_proxy_offer(r, mac)
    url = f"http://{APPLIANCE}:8080/assets/tftp/ipxe.efi"
    assert r["file"] == url
    assert r["options"]["boot-file-name"] == url
    assert r["options"]["vendor_class_id"] == "HTTPClient"


def test_ipxe_user_class_gets_the_script(lab):
    mac = dhcplab.random_mac()
    r = only(split(lab.discover(arch=0, user_class="iPXE", mac=mac, stop_after=2))[0])
    expect_proxy_offer(r, mac)
    assert r["file"] == f"http://{APPLIANCE}:8080/boot.ipxe"
    assert r["options"]["boot-file-name"] == f"http://{APPLIANCE}:8080/boot.ipxe"


def test_plain_discover_is_answered_by_the_site_server_only(lab):
    mac = dhcplab.random_mac()
    replies = lab.agent().exchange(chaddr=mac, options_hex=dhcplab.plain_options(), wait=1.0)
    ours, site = split(replies)
    assert ours == []
    assert only(site)["yiaddr"] != "0.0.0.0"
    assert f"drop reason=not_pxe_client mac={mac}" in lab.ironboot.read_log()


def test_relayed_discover_is_unicast_to_the_relay(lab):
    relay = lab.agent(lab.relay)
    mac = dhcplab.random_mac()
    replies = relay.exchange(chaddr=mac, eth_dst=lab.appliance.mac, ip_src=lab.relay.address, ip_dst=APPLIANCE,
                             sport=67, dport=67, giaddr=lab.relay.address, hops=1, wait=2, stop_after=1,
                             options_hex=dhcplab.pxe_options(arch=7))
    r = only(replies)
    expect_proxy_offer(r, mac)
    assert (r["ip_dst"], r["dport"]) == (lab.relay.address, 67)
    assert r["eth_dst"] == lab.relay.mac
    assert r["giaddr"] == lab.relay.address
    assert r["file"] == "ipxe.efi"


def test_malformed_and_non_pxe_packets_are_dropped_and_valid_ones_still_answered(lab):
    # A burst of garbage from the relay host (a plain UDP socket in its namespace), then a
    # valid DISCOVER: the valid one is answered.
    script = (
        "import socket,os\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        f"for i in range(20000): s.sendto(os.urandom(64+i%600),('{APPLIANCE}',67))\n"
    )
    start = time.monotonic()
    lab.relay.run([sys.executable, "-c", script])
    mac = dhcplab.random_mac()
    r = only(split(lab.discover(arch=0, mac=mac, stop_after=2, wait=3))[0])
    expect_proxy_offer(r, mac)
    assert time.monotonic() - start < 20
    assert "drop reason=malformed" in lab.ironboot.read_log() or "drop reason=not_boot_request" in lab.ironboot.read_log()


def test_client_ends_with_address_from_site_and_boot_info_from_ironboot(lab):
    result = lab.pxe_boot(arch=7)
    assert result.address.startswith(SUBNET + ".1")
    assert result.boot_file == "ipxe.efi"
    assert result.next_server == APPLIANCE
    # The proxy's 4011 answer is an ACK, unicast back to the client's address.
    ack = result.ack
    assert ack["options"]["message-type"] == 5
    assert (ack["ip_src"], ack["sport"]) == (APPLIANCE, 4011)
    assert (ack["ip_dst"], ack["dport"]) == (result.address, 68)
    assert ack["ciaddr"] == result.address
    assert ack["yiaddr"] == "0.0.0.0"
    # The site's offer came from dnsmasq, ours without an address.
    assert {o["ip_src"] for o in result.offers} == {SITE, APPLIANCE}
    assert "DHCPACK" in lab.dnsmasq_log_text()
