"""Watch event latency: N watchers, M merge patches; prints median and p99 of the time from
sending a PATCH to each watcher receiving its event. Runs inside the benchmark's namespace.
Usage: watch_latency.py CA TOKEN WATCHERS UPDATES"""

import http.client
import json
import ssl
import statistics
import sys
import threading
import time

ca, token, n_watchers, n_updates = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
PATH = "/apis/metal.sidero.dev/v1alpha2/servers"
NAME = "00000000-0000-4000-8000-000000000000"
ctx = ssl.create_default_context(cafile=ca)
headers = {"Authorization": f"Bearer {token}"}
sent = {}
latencies = []
lock = threading.Lock()
ready = threading.Barrier(n_watchers + 1)


def conn():
    return http.client.HTTPSConnection("127.0.0.1", 6443, context=ctx, timeout=60)


c = conn()
c.request("GET", PATH + "?limit=1", headers=headers)
rv = json.loads(c.getresponse().read())["metadata"]["resourceVersion"]


def watch():
    w = conn()
    w.request("GET", f"{PATH}?watch=true&resourceVersion={rv}&fieldSelector=metadata.name%3D{NAME}", headers=headers)
    resp = w.getresponse()
    ready.wait()
    got = 0
    while got < n_updates:
        line = resp.readline()
        if not line:
            break
        now = time.monotonic()
        ev = json.loads(line)
        seq = ev["object"]["metadata"].get("annotations", {}).get("seq")
        with lock:
            if seq in sent:
                latencies.append(now - sent[seq])
        got += 1


threads = [threading.Thread(target=watch, daemon=True) for _ in range(n_watchers)]
for t in threads:
    t.start()
ready.wait()
time.sleep(0.2)
for i in range(n_updates):
    body = json.dumps({"metadata": {"annotations": {"seq": str(i)}}})
    with lock:
        sent[str(i)] = time.monotonic()
    c.request("PATCH", f"{PATH}/{NAME}", body, dict(headers, **{"Content-Type": "application/merge-patch+json"}))
    c.getresponse().read()
    time.sleep(0.005)
for t in threads:
    t.join(30)
lat = sorted(latencies)
if lat:
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(f"watch: {len(lat)}/{n_watchers * n_updates} events to {n_watchers} watchers, "
          f"latency median {statistics.median(lat) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
else:
    print("watch: no events received")
