#!/usr/bin/python3
"""A host on the VLAN trunk itself (beside the appliance's trunk NIC, on the plain host bridge
that carries tagged frames unchanged), built on scapy because the test host's kernel cannot tag
frames. No BPF filters: the kernel hands a tagged frame over with its tag in metadata, which
scapy puts back; the lab's trunk carries little besides. Run inside the probe's network
namespace with /usr/bin/python3 (it has scapy).

  ask:   an ARP request for the appliance's provisioning address and an ICMP echo to it, once
         untagged and once tagged with the provisioning VLAN, from an address of that subnet
         (ARP requests for it are answered, tagged as asked). Prints
         {"untagged": {"arp": bool, "icmp": bool}, "tagged": {...}}: which got an answer.
  watch: prints "listening", then the BOOTP requests seen for SECONDS as one line
         [[vlan or null, chaddr], ...]: the proof that a client's DISCOVER crossed the switch
         and reached the trunk (tagged).
"""

import argparse
import json
import sys
import time

from scapy.all import ARP, BOOTP, ICMP, IP, AsyncSniffer, Dot1Q, Ether, conf, get_if_hwaddr, sendp


def tagged(frame, vlan):
    """frame (Ether / payload) with an 802.1Q header for vlan, or unchanged for None."""
    if vlan is None:
        return frame
    return Ether(src=frame.src, dst=frame.dst) / Dot1Q(vlan=vlan) / frame.payload


def vlan_of(pkt):
    return pkt[Dot1Q].vlan if Dot1Q in pkt else None


def answer_arp(iface, mac, address):
    """Answers ARP requests for `address` with `mac`, in the VLAN the request came in (the
    appliance asks before it sends its echo reply)."""

    def reply(pkt):
        if ARP in pkt and pkt[ARP].op == 1 and pkt[ARP].pdst == address:
            answer = Ether(src=mac, dst=pkt[Ether].src) / ARP(op=2, hwsrc=mac, psrc=address, hwdst=pkt[ARP].hwsrc,
                                                          pdst=pkt[ARP].psrc)
            sendp(tagged(answer, vlan_of(pkt)), iface=iface, verbose=False)

    sniffer = AsyncSniffer(iface=iface, prn=reply, store=False)
    sniffer.start()
    return sniffer


def ask(args):
    mac = get_if_hwaddr(args.iface)
    responder = answer_arp(args.iface, mac, args.source)
    result = {}
    # Untagged first: an answer to it would otherwise find the appliance's neighbour entry for
    # the source address already made by the tagged round.
    for round_index, (name, vlan) in enumerate((("untagged", None), ("tagged", args.vlan))):
        echo_id = 0x4242 + round_index

        def answered(pkt, echo_id=echo_id):
            if ARP in pkt:
                return pkt[ARP].op == 2 and pkt[ARP].psrc == args.target and pkt[ARP].pdst == args.source
            return ICMP in pkt and pkt[ICMP].type == 0 and pkt[ICMP].id == echo_id and pkt[IP].src == args.target

        sniffer = AsyncSniffer(iface=args.iface, lfilter=answered)
        sniffer.start()
        time.sleep(0.3)
        who_has = Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=mac, psrc=args.source, pdst=args.target)
        echo = Ether(src=mac, dst=args.target_mac) / IP(src=args.source, dst=args.target) / ICMP(id=echo_id, seq=1)
        for _ in range(3):
            sendp(tagged(who_has, vlan), iface=args.iface, verbose=False)
            sendp(tagged(echo, vlan), iface=args.iface, verbose=False)
            time.sleep(args.timeout / 3)
        got = sniffer.stop()
        result[name] = {"arp": any(ARP in p for p in got), "icmp": any(ICMP in p for p in got)}
    responder.stop()
    print(json.dumps(result))
    return 0


def watch(args):
    sniffer = AsyncSniffer(iface=args.iface, lfilter=lambda p: BOOTP in p and p[BOOTP].op == 1)
    sniffer.start()
    time.sleep(0.3)
    print("listening", flush=True)  # the caller starts its client now
    time.sleep(args.seconds)
    seen = [[vlan_of(p), p[BOOTP].chaddr[:6].hex(":")] for p in sniffer.stop()]
    print(json.dumps(seen))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", default="eth0")
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("ask")
    a.add_argument("--target", required=True)
    a.add_argument("--target-mac", required=True)
    a.add_argument("--source", required=True)
    a.add_argument("--vlan", type=int, required=True)
    a.add_argument("--timeout", type=float, default=3.0)
    w = sub.add_parser("watch")
    w.add_argument("--seconds", type=float, required=True)
    args = ap.parse_args()
    conf.verb = 0
    return ask(args) if args.command == "ask" else watch(args)


if __name__ == "__main__":
    sys.exit(main())
