#!/usr/bin/python3
"""Seeds tests/fuzz/corpus/kube_store_log/ with logs the daemon itself wrote: ironboot serve
(embedded API, in a network namespace) with the fuzz target's Secrets key, creates, patches
and deletes of Servers, ServerClasses, Environments and Secrets, a restart in between, then
the store.log it left (and its prefixes at each restart). Run as root: seed_store_log.py [OUTDIR]
"""

import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "integration", "kube"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "lib"))
import netlab  # noqa: E402
from kubelab import Cluster  # noqa: E402

KEY = "# ironboot Secrets-at-rest keys\nfuzzkey1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"  # store_log_fuzz.cpp
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "corpus", "kube_store_log")


def request(cluster, method, path, body=None, ctype="application/json"):
    extra = ["-X", method]
    if body is not None:
        extra += ["-H", f"Content-Type: {ctype}", "--data-binary", json.dumps(body)]
    code, text = cluster.curl(path, *extra)
    assert code in (200, 201), (method, path, code, text)


def main():
    os.makedirs(OUT, exist_ok=True)
    lab = netlab.Lab(subnet="10.96.0")
    try:
        cluster = Cluster(lab, lab.add_host("api", 10))
        os.makedirs(cluster.data_dir, exist_ok=True)
        with open(os.path.join(cluster.data_dir, "secrets.key"), "w") as f:
            f.write(KEY)
        os.chmod(os.path.join(cluster.data_dir, "secrets.key"), 0o600)
        cluster.start()
        servers = "/apis/metal.sidero.dev/v1alpha2/servers"
        for i in range(3):
            request(cluster, "POST", servers, {"apiVersion": "metal.sidero.dev/v1alpha2", "kind": "Server",
                                              "metadata": {"name": f"srv-{i}", "labels": {"rack": "a"}},
                                              "spec": {"accepted": False, "hostname": f"node-{i}"}})
        request(cluster, "PATCH", f"{servers}/srv-1", {"spec": {"accepted": True}}, "application/merge-patch+json")
        request(cluster, "POST", "/apis/metal.sidero.dev/v1alpha2/serverclasses",
                {"apiVersion": "metal.sidero.dev/v1alpha2", "kind": "ServerClass", "metadata": {"name": "large"},
                 "spec": {"qualifiers": {"cpu": [{"manufacturer": "AMD"}]}}})
        request(cluster, "POST", "/api/v1/namespaces/ironboot-system/secrets",
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bmc-1"},
                 "stringData": {"username": "admin", "password": "pw"}})
        log = os.path.join(cluster.data_dir, "store.log")
        with open(log, "rb") as f:
            first = f.read()
        cluster.restart(kill=True)
        request(cluster, "DELETE", f"{servers}/srv-2")
        request(cluster, "PATCH", f"{servers}/srv-0", {"metadata": {"labels": {"v": "2"}}},
                "application/merge-patch+json")
        cluster.close()
        with open(log, "rb") as f:
            whole = f.read()
        for name, data in (("daemon-first-run", first), ("daemon-after-restart", whole),
                           ("daemon-torn-tail", whole[:-7])):
            with open(os.path.join(OUT, name), "wb") as f:
                f.write(data)
        print(f"{len(first)} and {len(whole)} bytes written to {OUT}")
    finally:
        lab.close()
        shutil.rmtree(cluster.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
