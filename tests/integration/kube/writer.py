"""Creates objects one after another over HTTPS and prints each name once the API acknowledged it.
Usage: writer.py CA_FILE TOKEN PREFIX COUNT [HOST:PORT] [KIND]
KIND: servers (default), secrets (in ironboot-system) or events (on Servers, in default)."""

import http.client
import json
import ssl
import sys

ca, token, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
hostport = sys.argv[5] if len(sys.argv) > 5 else "127.0.0.1:6443"
kind = sys.argv[6] if len(sys.argv) > 6 else "servers"
host, port = hostport.rsplit(":", 1)
ctx = ssl.create_default_context(cafile=ca)
conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=10)
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
for i in range(count):
    name = f"{prefix}-{i:05d}"
    if kind == "secrets":
        path = "/api/v1/namespaces/ironboot-system/secrets"
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                "stringData": {"username": "admin", "password": f"pw-{i}"}}
    elif kind == "events":
        path = "/api/v1/namespaces/default/events"
        body = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
                "involvedObject": {"apiVersion": "metal.sidero.dev/v1alpha2", "kind": "Server", "name": f"srv-{i}"},
                "reason": "Registered", "message": f"event {i}", "type": "Normal", "count": 1,
                "source": {"component": "writer"}}
    else:
        path = "/apis/metal.sidero.dev/v1alpha2/servers"
        body = {"apiVersion": "metal.sidero.dev/v1alpha2", "kind": "Server", "metadata": {"name": name},
                "spec": {"accepted": False, "hostname": name}}
    try:
        conn.request("POST", path, json.dumps(body), headers)
        resp = conn.getresponse()
        resp.read()
    except Exception:
        break
    if resp.status != 201:
        print(f"ERROR {resp.status}", flush=True)
        break
    print(name, flush=True)
