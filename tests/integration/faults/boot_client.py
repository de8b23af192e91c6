#!/usr/bin/python3
"""One scripted PXE client walking the boot path, printed as one JSON line.

boot_client.py SERVER UUID
    DHCPDISCOVER (PXE options, BIOS) broadcast on eth0 → ironboot's proxy OFFER (boot file,
    next server) → TFTP of that file (blksize 1468, every block acknowledged) → DHCPDISCOVER
    again as iPXE (option 77) → OFFER with the /boot.ipxe URL → GET /boot.ipxe → GET /ipxe.
    Prints {"ok", "seconds", "bytes", "sha256", "phases", "error"}; the time runs from the
    first DISCOVER to the end of /ipxe (interpreter start-up excluded).
"""

import hashlib
import http.client
import json
import os
import socket
import struct
import sys
import time
import urllib.parse

RETRIES = 8        # per DHCP exchange and per TFTP block, like a PXE ROM
DHCP_WAIT = 1.0
TFTP_WAIT = 1.0


def option(code, value):
    return bytes([code, len(value)]) + value


def discover(mac, xid, uuid, ipxe):
    opts = option(53, b"\x01") + option(93, b"\x00\x00") + option(94, b"\x01\x02\x01")
    opts += option(60, b"PXEClient:Arch:00000:UNDI:002001") + option(97, b"\x00" + uuid)
    if ipxe:
        opts += option(77, b"iPXE")
    head = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000, bytes(4), bytes(4), bytes(4),
                       bytes(4), mac, b"", b"")
    return head + b"\x63\x82\x53\x63" + opts + b"\xff"


def parse_offer(data, xid):
    if len(data) < 240 or data[0] != 2 or struct.unpack("!I", data[4:8])[0] != xid:
        return None
    opts, i = {}, 240
    while i < len(data) and data[i] != 255:
        if data[i] == 0:
            i += 1
            continue
        code, n = data[i], data[i + 1]
        opts[code] = opts.get(code, b"") + data[i + 2:i + 2 + n]
        i += 2 + n
    if data[16:20] != bytes(4) or opts.get(53) != b"\x02":
        return None  # only ironboot's proxy offers: no address
    file = data[108:236].split(b"\0")[0].decode() or opts.get(67, b"").decode()
    return {"file": file, "siaddr": socket.inet_ntoa(data[20:24])}


def dhcp(sock, mac, uuid, ipxe):
    xid = int.from_bytes(os.urandom(4), "big")
    packet = discover(mac, xid, uuid, ipxe)
    for _ in range(RETRIES):
        sock.sendto(packet, ("255.255.255.255", 67))
        deadline = time.monotonic() + DHCP_WAIT
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, _ = sock.recvfrom(2048)
            except socket.timeout:
                break
            offer = parse_offer(data, xid)
            if offer:
                return offer
    raise RuntimeError(f"no proxy OFFER (ipxe={ipxe})")


def tftp(server, filename):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rrq = struct.pack("!H", 1) + b"\0".join([filename.encode(), b"octet", b"blksize", b"1468", b"tsize", b"0", b""])
    digest, size, expected, peer, last = hashlib.sha256(), 0, 1, None, rrq
    dest = (server, 69)
    blksize = 512
    try:
        tries = 0
        while True:
            s.sendto(last, dest)
            s.settimeout(TFTP_WAIT)
            try:
                data, src = s.recvfrom(65536)
            except socket.timeout:
                tries += 1
                if tries >= RETRIES:
                    raise RuntimeError(f"TFTP timed out at block {expected}")
                continue
            if peer is None:
                peer, dest = src, src
            elif src != peer:
                continue
            op = struct.unpack("!H", data[:2])[0]
            if op == 5:
                raise RuntimeError("TFTP error " + data[4:].split(b"\0")[0].decode(errors="replace"))
            if op == 6:
                parts = data[2:].split(b"\0")
                opts = dict(zip(parts[0:-1:2], parts[1::2]))
                blksize = int(opts.get(b"blksize", b"512"))
                last = struct.pack("!HH", 4, 0)
                continue
            block = struct.unpack("!H", data[2:4])[0]
            if op != 3 or block != expected & 0xFFFF:
                continue  # a duplicate: the ACK already sent answers it on resend
            tries = 0
            digest.update(data[4:])
            size += len(data) - 4
            last = struct.pack("!HH", 4, block)
            expected += 1
            if len(data) - 4 < blksize:
                s.sendto(last, dest)
                return size, digest.hexdigest()
    finally:
        s.close()


def get(url, timeout=10):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        conn.request("GET", u.path + ("?" + u.query if u.query else ""))
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"GET {u.path}: {r.status}")
        return body.decode(errors="replace")
    finally:
        conn.close()


def main():
    server, uuid_text = sys.argv[1], sys.argv[2]
    uuid = bytes.fromhex(uuid_text.replace("-", ""))
    with open("/sys/class/net/eth0/address") as f:
        mac_text = f.read().strip()
    mac = bytes.fromhex(mac_text.replace(":", ""))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
    sock.bind(("0.0.0.0", 68))
    result = {"ok": False, "phases": {}}
    start = time.monotonic()
    mark = start
    try:
        def phase(name):
            nonlocal mark
            now = time.monotonic()
            result["phases"][name] = round(now - mark, 4)
            mark = now

        offer = dhcp(sock, mac, uuid, ipxe=False)
        phase("dhcp")
        size, sha = tftp(offer["siaddr"], offer["file"])
        result.update(bytes=size, sha256=sha)
        phase("tftp")
        offer = dhcp(sock, mac, uuid, ipxe=True)
        phase("dhcp_ipxe")
        script = get(offer["file"])
        if not script.startswith("#!ipxe") or "/ipxe?" not in script:
            raise RuntimeError("unexpected /boot.ipxe: " + script[:200])
        phase("boot_ipxe")
        query = urllib.parse.urlencode({"uuid": uuid_text, "mac": mac_text.replace(":", "-"), "arch": "x86_64",
                                        "platform": "pcbios"})
        script = get(f"http://{server}:8080/ipxe?{query}")
        if not script.startswith("#!ipxe"):
            raise RuntimeError("unexpected /ipxe: " + script[:200])
        phase("ipxe")
        result["ok"] = True
    except Exception as e:  # reported, the test decides
        result["error"] = f"{type(e).__name__}: {e}"
    result["seconds"] = round(time.monotonic() - start, 4)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
