#!/usr/bin/python3
"""A hostile host on the boot LAN, printed as one JSON line when it is done.

hostile.py SERVER FILE SECONDS TFTP_COUNT HTTP_COUNT DHCP_RATE
    spreads over SECONDS, all at once:
    - TFTP_COUNT read requests for FILE with "timeout 255", each from a fresh random source
      port, none ever acknowledged;
    - HTTP_COUNT TCP connections to port 8080 that never send a byte, kept open;
    - about DHCP_RATE datagrams a second to ports 67 and 4011, alternating random garbage and
      BOOTREQUESTs whose options interleave hundreds of instances of a few codes.
    Prints what it sent and what came back: {"tftp_sent", "tftp_oack", "tftp_errors",
    "http_opened", "http_closed_by_server", "dhcp_sent"}.
"""

import errno
import json
import os
import random
import resource
import selectors
import socket
import struct
import sys
import time


def interleaved_request():
    mac = os.urandom(6)
    head = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, random.getrandbits(32), 0, 0x8000, bytes(4),
                       bytes(4), bytes(4), bytes(4), mac + bytes(10), b"", b"")
    opts = b"\x35\x01\x01"
    # 60, 43 and 77 fragments in turn: RFC 3396 concatenation over ~400 instances.
    for i in range(400):
        code = (60, 43, 77)[i % 3]
        opts += bytes([code, 1]) + bytes([0x41 + i % 26])
    return head + b"\x63\x82\x53\x63" + opts + b"\xff"


def main():
    server, filename = sys.argv[1], sys.argv[2]
    seconds, tftp_count, http_count, dhcp_rate = float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    limit = http_count + tftp_count + 1024
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    rrq = struct.pack("!H", 1) + b"\0".join([filename.encode(), b"octet", b"timeout", b"255", b"blksize", b"1468", b""])
    sel = selectors.DefaultSelector()
    udp_open = []          # TFTP sockets kept a moment to read the answer, then closed
    stats = {"tftp_sent": 0, "tftp_oack": 0, "tftp_errors": 0, "http_opened": 0, "http_closed_by_server": 0,
             "dhcp_sent": 0, "http_connect_failed": 0}
    held = []
    dhcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dhcp.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    dhcp.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
    dhcp.setblocking(False)
    # Built beforehand so the rate is not bound by building them.
    garbage = [os.urandom(random.randint(1, 600)) for _ in range(64)]
    interleaved = [interleaved_request() for _ in range(64)]
    start = time.monotonic()
    end = start + seconds
    while (now := time.monotonic()) < end or udp_open or stats["tftp_sent"] < tftp_count or \
            stats["http_opened"] + stats["http_connect_failed"] < http_count:
        frac = min(1.0, (now - start) / seconds)
        # TFTP: catch up with the schedule, one fresh socket (random port) per request.
        while stats["tftp_sent"] < tftp_count * frac:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setblocking(False)
            try:
                s.bind(("0.0.0.0", random.randint(20000, 60000)))
            except OSError:
                s.bind(("0.0.0.0", 0))
            s.sendto(rrq, (server, 69))
            stats["tftp_sent"] += 1
            sel.register(s, selectors.EVENT_READ, ("tftp", now))
            udp_open.append((now, s))
        while stats["http_opened"] + stats["http_connect_failed"] < http_count * frac:
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setblocking(False)
            err = c.connect_ex((server, 8080))
            if err not in (0, errno.EINPROGRESS):
                stats["http_connect_failed"] += 1
                c.close()
                continue
            stats["http_opened"] += 1
            sel.register(c, selectors.EVENT_READ, ("http", now))
            held.append(c)
        while now < end and stats["dhcp_sent"] < dhcp_rate * (now - start):
            n = stats["dhcp_sent"]
            packet = interleaved[n % 64] if n % 2 else garbage[n % 64]
            try:
                dhcp.sendto(packet, ("255.255.255.255" if stats["dhcp_sent"] % 4 < 2 else server,
                                     67 if stats["dhcp_sent"] % 3 else 4011))
                stats["dhcp_sent"] += 1
            except BlockingIOError:
                break
        for key, _ in sel.select(timeout=0.002):
            kind, _ = key.data
            s = key.fileobj
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if kind == "tftp":
                if data[:2] == b"\x00\x06":
                    stats["tftp_oack"] += 1
                elif data[:2] == b"\x00\x05":
                    stats["tftp_errors"] += 1
                    msg = data[4:].split(b"\0")[0].decode(errors="replace")
                    stats.setdefault("tftp_error_messages", {})
                    stats["tftp_error_messages"][msg] = stats["tftp_error_messages"].get(msg, 0) + 1
                sel.unregister(s)  # answered: never acknowledged, the socket just goes away
            elif not data:
                stats["http_closed_by_server"] += 1
                sel.unregister(s)
        # Unanswered TFTP sockets are dropped after a second (the port goes with them).
        while udp_open and (time.monotonic() - udp_open[0][0] > 1.0 or time.monotonic() >= end + 1.0):
            _, s = udp_open.pop(0)
            try:
                sel.unregister(s)
            except KeyError:
                pass
            s.close()
    for c in held:
        c.close()
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
