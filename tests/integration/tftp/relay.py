#!/usr/bin/python3
"""A UDP relay between one TFTP client side and a TFTP server, for loss and latency tests
(the kernel here has no netem). Clients send to --listen; the relay forwards to the server's
port 69 and then to the transfer port (TID) the server answers from, per client address.

--drop-every N   drops every Nth datagram (counted over both directions)
--delay-every N  delays every Nth datagram by --delay-ms (N=1: a fixed-latency link)
"""

import argparse
import heapq
import select
import socket
import sys
import time


def parse_addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--drop-every", type=int, default=0)
    ap.add_argument("--delay-every", type=int, default=0)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    args = ap.parse_args()

    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    front.bind(parse_addr(args.listen))
    server = parse_addr(args.server)
    upstream = {}   # client address -> [socket, server TID address or None]
    by_sock = {}    # upstream socket -> client address
    pending = []    # (due time, seq, socket, payload, destination)
    seq = 0
    counter = 0
    dropped = 0
    print("ready", flush=True)

    def emit(sock, data, dest):
        nonlocal seq, counter, dropped
        counter += 1
        if args.drop_every and counter % args.drop_every == 0:
            dropped += 1
            return
        if args.delay_every and counter % args.delay_every == 0:
            seq += 1
            heapq.heappush(pending, (time.monotonic() + args.delay_ms / 1000.0, seq, sock, data, dest))
            return
        sock.sendto(data, dest)

    while True:
        timeout = None
        if pending:
            timeout = max(0.0, pending[0][0] - time.monotonic())
        readable, _, _ = select.select([front, *by_sock.keys()], [], [], timeout)
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, sock, data, dest = heapq.heappop(pending)
            sock.sendto(data, dest)
        for sock in readable:
            if sock is front:
                data, client = front.recvfrom(70000)
                entry = upstream.get(client)
                if entry is None or data[:2] in (b"\x00\x01", b"\x00\x02"):
                    if entry is not None:
                        del by_sock[entry[0]]
                        entry[0].close()
                    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    up.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                    up.bind(("0.0.0.0", 0))
                    entry = upstream[client] = [up, None]
                    by_sock[up] = client
                emit(entry[0], data, entry[1] or server)
            else:
                data, src = sock.recvfrom(70000)
                client = by_sock[sock]
                if upstream[client][1] is None:
                    upstream[client][1] = src  # the server's TID for this client
                emit(front, data, client)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
