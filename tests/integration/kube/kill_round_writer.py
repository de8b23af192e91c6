"""One round of concurrent writes for test_kill_rounds.py, run until the API goes away.

Usage: kill_round_writer.py CA_FILE TOKEN HOST:PORT ROUND THREADS STATE_FILE
STATE_FILE holds {"name": last label value} of the Servers earlier rounds created. Thread t
creates Servers "k<ROUND>-t<t>-<i>" and merge-patches label "v" of the objects it owns (those
whose name ends in "-t<t>-..."), one value higher each time, so the value stored for an object
is either its last acknowledged one or the one in flight when the API died. Prints one JSON
line per acknowledged write, {"create": name} or {"patch": name, "v": value}, and "started"
first, once every thread has a connection.
"""

import http.client
import json
import random
import ssl
import sys
import threading

ca, token, hostport, rnd, threads, state_file = sys.argv[1:7]
host, port = hostport.rsplit(":", 1)
rnd, threads = int(rnd), int(threads)
with open(state_file) as f:
    state = json.load(f)
ctx = ssl.create_default_context(cafile=ca)
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
PATH = "/apis/metal.sidero.dev/v1alpha2/servers"
out = threading.Lock()
# "started" is written by the barrier's action, before any thread is released: an
# acknowledgement could otherwise come first.
ready = threading.Barrier(threads + 1, action=lambda: emit("started"))


def emit(obj):
    with out:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def writer(t):
    conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=10)
    mine = {n: v for n, v in state.items() if f"-t{t}-" in n}
    try:
        conn.connect()
    finally:
        ready.wait()
    i = 0
    while True:
        if mine and random.random() < 0.5:
            name = random.choice(list(mine))
            value = mine[name] + 1
            body = {"metadata": {"labels": {"v": str(value)}}}
            method, path, ct = "PATCH", f"{PATH}/{name}", "application/merge-patch+json"
        else:
            name, value = f"k{rnd:03d}-t{t}-{i}", 0
            i += 1
            body = {"apiVersion": "metal.sidero.dev/v1alpha2", "kind": "Server",
                    "metadata": {"name": name, "labels": {"v": "0"}}, "spec": {"accepted": False, "hostname": name}}
            method, path, ct = "POST", PATH, "application/json"
        try:
            conn.request(method, path, json.dumps(body), dict(headers, **{"Content-Type": ct}))
            resp = conn.getresponse()
            resp.read()
        except Exception:
            return  # the API died: this write was never acknowledged
        if resp.status not in (200, 201):
            emit({"error": resp.status, "method": method, "name": name})
            return
        mine[name] = value
        emit({"patch": name, "v": value} if method == "PATCH" else {"create": name})


workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
for w in workers:
    w.start()
ready.wait()
for w in workers:
    w.join()
