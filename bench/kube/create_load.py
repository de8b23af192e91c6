"""One create process of the benchmark: C keep-alive HTTPS connections in one asyncio loop,
POSTing objects i = K, K+P, K+2P, ... < N between them (Servers, or Events on Servers 0..S-1
whose uids are in the JSON file UIDS); prints how many were acknowledged
with 201, its CLOCK_MONOTONIC window and its own CPU seconds (the bodies and requests are
built before it starts, and responses are parsed only as far as the status line and
Content-Length, so the client costs little next to the server).
Usage: create_load.py CA TOKEN K P N C [events S UIDS]
$CREATE_LOAD_HOST is the API's address (default 127.0.0.1; port 6443)."""

import asyncio
import json
import os
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from objects import EVENT_PATH, SERVER_PATH, event, server  # noqa: E402


def request(token, path, body):
    data = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:6443\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
    return head.encode() + data


async def client(ctx, requests, acknowledged):
    reader, writer = await asyncio.open_connection(os.environ.get("CREATE_LOAD_HOST", "127.0.0.1"), 6443, ssl=ctx)
    for req in requests:
        writer.write(req)
        status_line = await asyncio.wait_for(reader.readline(), 60)
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        acknowledged[0] += status_line.split(b" ", 2)[1] == b"201"
    writer.close()


async def main():
    ca, token = sys.argv[1], sys.argv[2]
    k, p, n, c = (int(a) for a in sys.argv[3:7])
    if len(sys.argv) > 7 and sys.argv[7] == "events":
        servers = int(sys.argv[8])
        with open(sys.argv[9]) as f:
            uids = json.load(f)
        mine = [request(token, EVENT_PATH, event(i, servers, uids)) for i in range(k, n, p)]
    else:
        mine = [request(token, SERVER_PATH, server(i)) for i in range(k, n, p)]
    ctx = ssl.create_default_context(cafile=ca)
    acknowledged = [0]
    cpu0 = time.process_time()
    start = time.monotonic()
    await asyncio.gather(*(client(ctx, mine[j::c], acknowledged) for j in range(c)))
    print(acknowledged[0], start, time.monotonic(), time.process_time() - cpu0)


asyncio.run(main())
