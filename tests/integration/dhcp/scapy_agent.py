#!/usr/bin/python3
"""Runs inside a host namespace and sends/receives DHCP with scapy on behalf of a test.

One JSON request per stdin line, one JSON answer per stdout line, so a test pays scapy's
start-up once per host instead of once per packet. Request:
  {"iface": "eth0", "eth_src": MAC, "eth_dst": MAC, "ip_src": IP, "ip_dst": IP,
   "sport": 68, "dport": 67, "op": 1, "xid": N, "chaddr": MAC, "ciaddr": IP, "giaddr": IP,
   "flags": N, "options_hex": HEX (the option bytes after the cookie, end included),
   "wait": seconds, "stop_after": N (replies)}
Answer: {"replies": [...]} with every BOOTP reply (op 2) for that xid, decoded by scapy.
"""

import json
import sys
import threading

from scapy.all import BOOTP, DHCP, IP, UDP, AsyncSniffer, Ether, conf, sendp  # noqa: E402

conf.verb = 0
MAGIC = b"c\x82Sc"


def mac_bytes(mac):
    return bytes.fromhex(mac.replace(":", "")) + b"\x00" * 10


def text(value):
    if isinstance(value, bytes):
        return value.rstrip(b"\x00").decode("latin-1")
    return value


def bootp_of(pkt):
    """scapy binds BOOTP to UDP 67/68 only; a reply from 4011 is decoded explicitly."""
    if BOOTP in pkt:
        return pkt[BOOTP]
    if UDP in pkt and 4011 in (pkt[UDP].sport, pkt[UDP].dport):
        return BOOTP(bytes(pkt[UDP].payload))
    return None


def decode(pkt):
    b = bootp_of(pkt)
    options = {}
    if DHCP in b:
        for item in b[DHCP].options:
            if isinstance(item, tuple) and len(item) >= 2:
                name, value = item[0], item[1]
                if isinstance(value, bytes):
                    value = value.hex() if name in ("vendor_specific", "pxe_client_machine_identifier", 175) else text(value)
                options[str(name)] = value
    return {
        "eth_src": pkt[Ether].src, "eth_dst": pkt[Ether].dst,
        "ip_src": pkt[IP].src, "ip_dst": pkt[IP].dst,
        "sport": int(pkt[UDP].sport), "dport": int(pkt[UDP].dport),
        "op": int(b.op), "xid": int(b.xid), "flags": int(b.flags),
        "ciaddr": b.ciaddr, "yiaddr": b.yiaddr, "siaddr": b.siaddr, "giaddr": b.giaddr,
        "chaddr": b.chaddr[:6].hex(":"),
        "sname": text(b.sname), "file": text(b.file),
        "options": options,
        "length": len(bytes(pkt[UDP].payload)),
    }


def exchange(req):
    xid = req["xid"]
    replies = []
    done = threading.Event()
    stop_after = req.get("stop_after", 0)

    def keep(p):
        b = bootp_of(p) if IP in p else None
        return b is not None and b.op == 2 and b.xid == xid

    def on_packet(p):
        replies.append(decode(p))
        if stop_after and len(replies) >= stop_after:
            done.set()

    started = threading.Event()
    sniffer = AsyncSniffer(iface=req.get("iface", "eth0"), filter="udp and (port 67 or port 68 or port 4011)",
                           lfilter=keep, prn=on_packet, store=False, started_callback=started.set)
    sniffer.start()
    started.wait(5)
    bootp = BOOTP(op=req.get("op", 1), xid=xid, flags=req.get("flags", 0), chaddr=mac_bytes(req["chaddr"]),
                  ciaddr=req.get("ciaddr", "0.0.0.0"), giaddr=req.get("giaddr", "0.0.0.0"),
                  hops=req.get("hops", 0), options=MAGIC + bytes.fromhex(req["options_hex"]))
    frame = (Ether(src=req["eth_src"], dst=req.get("eth_dst", "ff:ff:ff:ff:ff:ff"))
             / IP(src=req.get("ip_src", "0.0.0.0"), dst=req.get("ip_dst", "255.255.255.255"))
             / UDP(sport=req.get("sport", 68), dport=req.get("dport", 67)) / bootp)
    sendp(frame, iface=req.get("iface", "eth0"))
    done.wait(req.get("wait", 1.5))
    sniffer.stop()
    return {"replies": replies}


def main():
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            answer = exchange(json.loads(line))
        except Exception as e:  # report to the test instead of dying silently
            answer = {"error": repr(e)}
        print(json.dumps(answer, default=str), flush=True)


if __name__ == "__main__":
    main()
