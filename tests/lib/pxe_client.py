#!/usr/bin/python3
"""A PXE client built on scapy: what a PXE ROM does before it loads its boot file.

DISCOVER (with the PXE options 60, 93, 94, 97) → collects the site server's address OFFER and
the proxyDHCP OFFER → REQUEST of the offered address → ACK. Prints one JSON object:
{"address", "dhcp_server", "boot_file", "boot_server", "proxy"}.
Run inside a network namespace with /usr/bin/python3 (it has scapy).
"""

import argparse
import json
import random
import sys
import time

from scapy.all import (BOOTP, DHCP, IP, UDP, AsyncSniffer, Ether, conf, get_if_hwaddr,
                       sendp)


def pxe_options(arch, user_class=None, vendor="PXEClient"):
    opts = [
        ("vendor_class_id", f"{vendor}:Arch:{arch:05d}:UNDI:003016".encode()),
        (93, arch.to_bytes(2, "big")),
        (94, b"\x01\x03\x10"),
        (97, b"\x00" + bytes(range(1, 17))),
        ("param_req_list", [1, 3, 6, 43, 54, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135]),
    ]
    if user_class:
        opts.append(("user_class", user_class.encode()))
    return opts


def option(pkt, name):
    for opt in pkt[DHCP].options:
        if isinstance(opt, tuple) and opt[0] == name:
            return opt[1]
    return None


def exchange(iface, packet, xid, timeout):
    sniffer = AsyncSniffer(iface=iface, filter="udp and (port 68 or port 67)",
                           lfilter=lambda p: BOOTP in p and p[BOOTP].xid == xid and p[BOOTP].op == 2)
    sniffer.start()
    time.sleep(0.2)
    sendp(packet, iface=iface, verbose=False)
    time.sleep(timeout)
    return sniffer.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", default="eth0")
    ap.add_argument("--arch", type=int, default=0)
    ap.add_argument("--user-class", default=None)
    ap.add_argument("--timeout", type=float, default=2.0)
    args = ap.parse_args()
    conf.checkIPaddr = False
    mac = get_if_hwaddr(args.iface)
    chaddr = bytes.fromhex(mac.replace(":", ""))
    xid = random.getrandbits(32)
    base = Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67)
    discover = base / BOOTP(chaddr=chaddr, xid=xid, flags=0x8000) / DHCP(
        options=[("message-type", "discover")] + pxe_options(args.arch, args.user_class) + ["end"])
    replies = exchange(args.iface, discover, xid, args.timeout)
    address_offer = proxy_offer = None
    for r in replies:
        if option(r, "message-type") != 2:
            continue
        if r[BOOTP].yiaddr != "0.0.0.0":
            address_offer = address_offer or r
        elif (option(r, "vendor_class_id") or b"").startswith(b"PXEClient") or \
                (option(r, "vendor_class_id") or b"").startswith(b"HTTPClient"):
            proxy_offer = proxy_offer or r
    result = {"address": None, "dhcp_server": None, "boot_file": None, "boot_server": None, "proxy": None}
    if proxy_offer is not None:
        result["boot_file"] = proxy_offer[BOOTP].file.rstrip(b"\x00").decode(errors="replace") or \
            (option(proxy_offer, "boot-file-name") or b"").decode(errors="replace")
        result["boot_server"] = proxy_offer[BOOTP].siaddr
        result["proxy"] = option(proxy_offer, "server_id")
    if address_offer is not None:
        server_id = option(address_offer, "server_id")
        request = base / BOOTP(chaddr=chaddr, xid=xid, flags=0x8000) / DHCP(
            options=[("message-type", "request"), ("requested_addr", address_offer[BOOTP].yiaddr),
                     ("server_id", server_id)] + pxe_options(args.arch, args.user_class) + ["end"])
        for r in exchange(args.iface, request, xid, args.timeout):
            if option(r, "message-type") == 5:
                result["address"] = r[BOOTP].yiaddr
                result["dhcp_server"] = server_id
                break
    print(json.dumps(result))
    return 0 if result["address"] and result["boot_file"] else 1


if __name__ == "__main__":
    sys.exit(main())
