#!/usr/bin/python3
"""Raw TFTP exchanges the stock clients cannot produce, printed as one JSON line.

probe.py request SERVER PORT FILENAME [--write] [--option NAME VALUE]...
    sends one RRQ/WRQ and prints the first answer: {"opcode", "code", "message", "block", "options"}
probe.py busy SERVER PORT FILENAME
    holds one transfer open (no ACK), sends a second request from another port and prints
    the answer to it, then ends the first transfer
probe.py flood SERVER PORT FILENAME COUNT
    sends COUNT requests with "timeout 255", each from its own port, and never acknowledges
    any; prints how many got an OACK and the ERROR messages the others got
probe.py wrong-tid SERVER PORT FILENAME
    starts a transfer, sends an ACK from a second socket to the transfer port, expects ERROR 5
    there, then completes the transfer on the first socket; prints the outcome and sha256
"""

import hashlib
import json
import socket
import struct
import sys


def request(opcode, filename, options=()):
    out = struct.pack("!H", opcode) + filename.encode() + b"\0octet\0"
    for name, value in options:
        out += name.encode() + b"\0" + value.encode() + b"\0"
    return out


def decode(data):
    op = struct.unpack("!H", data[:2])[0]
    res = {"opcode": op}
    if op == 5:
        res["code"] = struct.unpack("!H", data[2:4])[0]
        res["message"] = data[4:].split(b"\0")[0].decode(errors="replace")
    elif op in (3, 4):
        res["block"] = struct.unpack("!H", data[2:4])[0]
    elif op == 6:
        parts = data[2:].split(b"\0")[:-1]
        res["options"] = {parts[i].decode(): parts[i + 1].decode() for i in range(0, len(parts) - 1, 2)}
    return res


def cmd_request(server, port, filename, args):
    write = "--write" in args
    options = []
    i = 0
    while i < len(args):
        if args[i] == "--option":
            options.append((args[i + 1], args[i + 2]))
            i += 3
        else:
            i += 1
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(request(2 if write else 1, filename, options), (server, port))
    data, _ = s.recvfrom(70000)
    res = decode(data)
    if res["opcode"] in (3, 6):
        # End the transfer we started; after an OACK the way EDK2 does (ERROR 8).
        code = 8 if res["opcode"] == 6 else 0
        s.sendto(struct.pack("!HH", 5, code) + b"probe done\0", _)
    return res


def cmd_wrong_tid(server, port, filename):
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.settimeout(5)
    b.settimeout(5)
    a.sendto(request(1, filename), (server, port))
    data, tid = a.recvfrom(70000)
    assert decode(data) == {"opcode": 3, "block": 1}, data[:4]
    content = bytearray(data[4:])
    # The intruder ACKs block 1 from another port.
    b.sendto(struct.pack("!HH", 4, 1), tid)
    intruder_reply = decode(b.recvfrom(70000)[0])
    block = 1
    last_len = len(data) - 4
    while last_len == 512:
        a.sendto(struct.pack("!HH", 4, block), tid)
        data, src = a.recvfrom(70000)
        assert src == tid
        got = decode(data)
        if got["opcode"] != 3:
            return {"intruder": intruder_reply, "error": got}
        if got["block"] != (block + 1) & 0xFFFF:
            continue  # a retransmission
        block = got["block"]
        content += data[4:]
        last_len = len(data) - 4
    a.sendto(struct.pack("!HH", 4, block), tid)
    return {"intruder": intruder_reply, "sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}


def cmd_busy(server, port, filename):
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.settimeout(5)
    b.settimeout(5)
    a.sendto(request(1, filename), (server, port))
    first, tid = a.recvfrom(70000)
    b.sendto(request(1, filename), (server, port))
    second = decode(b.recvfrom(70000)[0])
    a.sendto(struct.pack("!HH", 5, 0) + b"done\0", tid)
    return {"first": decode(first), "second": second}


def cmd_flood(server, port, filename, count):
    socks = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        s.sendto(request(1, filename, [("timeout", "255")]), (server, port))
        socks.append(s)
    oacks, errors = 0, []
    for s in socks:
        res = decode(s.recvfrom(70000)[0])
        if res["opcode"] == 6:
            oacks += 1
        else:
            errors.append(res.get("message", str(res)))
    for s in socks:
        s.close()  # nothing acknowledged: the server must free the slots by itself
    return {"oacks": oacks, "errors": errors}


def main():
    cmd, server, port, filename, *rest = sys.argv[1:]
    if cmd == "request":
        res = cmd_request(server, int(port), filename, rest)
    elif cmd == "busy":
        res = cmd_busy(server, int(port), filename)
    elif cmd == "flood":
        res = cmd_flood(server, int(port), filename, int(rest[0]))
    else:
        res = cmd_wrong_tid(server, int(port), filename)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
