"""One create client of the benchmark: POSTs Servers i = K, K+P, K+2P, ... < N over one
keep-alive HTTPS connection; prints how many were acknowledged with 201 and its
CLOCK_MONOTONIC window (the bodies are built before it starts).
Usage: create_load.py CA TOKEN K P N"""

import http.client
import json
import os
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from objects import server  # noqa: E402

ca, token, k, p, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
bodies = [json.dumps(server(i)) for i in range(k, n, p)]
conn = http.client.HTTPSConnection("127.0.0.1", 6443, context=ssl.create_default_context(cafile=ca), timeout=60)
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
ok = 0
start = time.monotonic()
for body in bodies:
    conn.request("POST", "/apis/metal.sidero.dev/v1alpha2/servers", body, headers)
    r = conn.getresponse()
    r.read()
    ok += r.status == 201
print(ok, start, time.monotonic())
