"""Objects as a fleet produces them: a Server with the hardware facts the agent reports for a
two-socket machine (16 DIMMs, 4 NVMe disks, 4 NICs; about 5 KB of JSON), and the Events
ironboot records on it."""

import time

SERVER_PATH = "/apis/metal.sidero.dev/v1alpha2/servers"
EVENT_PATH = "/api/v1/namespaces/default/events"
EVENT_REASONS = ["Registered", "Accepted", "WipeStarted", "Wiped", "BootEnvironment"]


def server_uuid(i):
    return f"00000000-0000-4000-8000-{i:012d}"


def server(i):
    uuid = server_uuid(i)
    disks = [{"type": "NVMe", "size": 960197124096, "productName": "SAMSUNG MZQL2960HCJR-00A07",
              "serialNumber": f"S64FNE0R{i:06d}{d}", "name": f"nvme{d}n1", "deviceName": f"/dev/nvme{d}n1",
              "uuid": "", "wwid": f"eui.36344630529{i:06d}{d}"} for d in range(4)]
    nics = [{"index": n + 2, "name": f"eno{n + 1}", "flags": "up|broadcast|multicast", "mtu": 1500,
             "mac": f"b4:96:91:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{(i & 255) ^ n:02x}",
             "addresses": [f"10.{n}.{i >> 8 & 255}.{i & 255}/16", f"fe80::b696:91ff:fe{i >> 8 & 255:02x}:{i & 255:02x}{n:02x}/64"]}
            for n in range(4)]
    modules = [{"manufacturer": "Samsung", "productName": "M393A4K40EB3-CWE", "serialNumber": f"{i:06X}{m:02X}",
                "type": "DDR4", "size": 32768, "speed": 3200} for m in range(16)]
    processors = [{"manufacturer": "AMD", "productName": "AMD EPYC 7543 32-Core Processor",
                   "serialNumber": f"9M{i:06d}{p}", "speed": 2800, "coreCount": 32, "threadCount": 64} for p in range(2)]
    return {"apiVersion": "metal.sidero.dev/v1alpha2", "kind": "Server",
            "metadata": {"name": uuid, "labels": {"rack": f"r{i % 40}"}},
            "spec": {"accepted": False, "hostname": f"node-{i}",
                     "hardware": {
                         "system": {"uuid": uuid, "manufacturer": "Dell Inc.", "productName": "PowerEdge R6525",
                                    "version": "1.0", "serialNumber": f"SN{i:08d}", "skuNumber": "SKU=0A3E", "family": "PowerEdge"},
                         "compute": {"totalCoreCount": 64, "totalThreadCount": 128, "processorCount": 2,
                                     "processors": processors},
                         "memory": {"totalSize": "512 GB", "moduleCount": 16, "modules": modules},
                         "storage": {"totalSize": "3.8 TB", "deviceCount": 4, "devices": disks},
                         "network": {"interfaceCount": 4, "interfaces": nics}}}}


def event(i, servers, uids=None):
    """The i-th Event: on Server i % servers (with its uid when `uids` maps names to them, as
    kubectl describe filters by uid), with one of the lifecycle reasons, stamped now."""
    s = i % servers
    reason = EVENT_REASONS[(i // servers) % len(EVENT_REASONS)]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    involved = {"apiVersion": "metal.sidero.dev/v1alpha2", "kind": "Server", "name": server_uuid(s)}
    if uids and server_uuid(s) in uids:
        involved["uid"] = uids[server_uuid(s)]
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{server_uuid(s)}.{i:016x}", "namespace": "default"},
            "involvedObject": involved,
            "reason": reason, "message": f"{reason} by the benchmark (event {i})", "type": "Normal",
            "source": {"component": "ironboot"}, "count": 1, "firstTimestamp": stamp, "lastTimestamp": stamp,
            "reportingComponent": "ironboot", "reportingInstance": "bench"}
