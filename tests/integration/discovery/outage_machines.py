"""Plays N machines booting into the agent and registering: GET /ipxe (the boot token and
the agent's kernel URL), GET the kernel, POST /agent/v1/register with about 5 KB of facts.
Run inside the client's network namespace:

    outage_machines.py BASE COUNT BOOT THREADS

BOOT goes into the facts (system.version "boot-N", a memory module per boot) so a later boot's
facts are told apart. Prints one JSON line: counts, failures by reason, seconds."""

import concurrent.futures
import http.client
import json
import sys
import time
import urllib.parse


def machine(i):
    return f"4c4c4544-0000-4000-8000-{i:012x}", "52:54:01:%02x:%02x:%02x" % (i >> 16 & 255, i >> 8 & 255, i & 255)


def facts(uuid, mac, boot):
    """An agent's register body of about 5 KB."""
    disks = [{"type": "NVMe" if d < 2 else "HDD", "size": 960197124096 * (d + 1), "productName": f"Disk model {d}",
              "serialNumber": f"S{d:03d}{uuid[-8:]}", "name": f"sd{chr(97 + d)}", "deviceName": f"/dev/sd{chr(97 + d)}",
              "uuid": "", "wwid": f"naa.5000c500{d:04x}{uuid[-8:]}"} for d in range(6)]
    modules = [{"manufacturer": "Samsung", "productName": "M393A4K40DB3-CWE", "serialNumber": f"{m:04d}{uuid[-6:]}",
                "type": "DDR4", "size": 32768, "speed": 3200} for m in range(8 + boot)]
    nics = [{"index": n + 2, "name": f"eno{n + 1}", "flags": "up|broadcast|multicast", "mtu": 1500,
             "mac": mac if n == 0 else f"52:54:02:{n:02x}:{uuid[-4:-2]}:{uuid[-2:]}",
             "addresses": [f"10.85.{n}.{int(uuid[-4:], 16) % 250 + 2}/24"]} for n in range(4)]
    return {
        "uuid": uuid, "bootMac": mac, "bootMode": "UEFI",
        "hardware": {
            "system": {"uuid": uuid, "manufacturer": "Dell Inc.", "productName": "PowerEdge R6525",
                       "version": f"boot-{boot}", "serialNumber": uuid[-7:].upper(), "skuNumber": "SKU=0A6F",
                       "family": "PowerEdge"},
            "compute": {"totalCoreCount": 64, "totalThreadCount": 128, "processorCount": 2,
                        "processors": [{"manufacturer": "AMD", "productName": "AMD EPYC 7543 32-Core Processor",
                                        "serialNumber": f"CPU{p}{uuid[-6:]}", "speed": 2800, "coreCount": 32,
                                        "threadCount": 64} for p in range(2)]},
            "memory": {"totalSize": f"{32 * len(modules)} GB", "moduleCount": len(modules), "modules": modules},
            "storage": {"totalSize": "20 TB", "deviceCount": len(disks), "devices": disks},
            "network": {"interfaceCount": len(nics), "interfaces": nics},
        },
        "firmware": {"vendor": "Dell Inc.", "version": "2.13.3", "date": "09/12/2023"},
        "pci": [{"address": f"0000:{b:02x}:00.0", "vendor": "14e4", "device": "16d7", "class": "020000",
                 "description": "Broadcom BCM57414 NetXtreme-E 10Gb/25Gb RDMA Ethernet Controller"} for b in range(4)],
    }


def request(host, port, method, path, body=None, token=None):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def boot(base, i, boot_no):
    u = urllib.parse.urlsplit(base)
    uuid, mac = machine(i)
    status, script = request(u.hostname, u.port, "GET", f"/ipxe?uuid={uuid}&mac={mac.replace(':', '-')}&arch=x86_64")
    if status != 200:
        return f"ipxe_{status}", 0
    text = script.decode()
    if "ironboot.token=" not in text:
        return "ipxe_no_agent", 0
    token = text.split("ironboot.token=")[1].split()[0]
    kernel = next((line.split()[1] for line in text.splitlines() if line.startswith("kernel ")), None)
    if kernel:
        k = urllib.parse.urlsplit(kernel)
        status, _ = request(k.hostname, k.port, "GET", k.path + ("?" + k.query if k.query else ""))
        if status != 200:
            return f"kernel_{status}", 0
    body = facts(uuid, mac, boot_no)
    status, answer = request(u.hostname, u.port, "POST", "/agent/v1/register", body, token)
    if status != 200:
        return f"register_{status}", 0
    return "ok", len(json.dumps(body))


def main():
    base, count, boot_no, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    start = time.monotonic()
    results = {}
    sizes = []
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for outcome, size in pool.map(lambda i: boot(base, i, boot_no), range(count)):
            results[outcome] = results.get(outcome, 0) + 1
            if size:
                sizes.append(size)
    print(json.dumps({"boot": boot_no, "results": results, "seconds": round(time.monotonic() - start, 2),
                      "facts_bytes_avg": round(sum(sizes) / len(sizes)) if sizes else 0}))


if __name__ == "__main__":
    main()
