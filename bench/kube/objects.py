"""A Server with a full set of hardware facts, as the agent reports them."""


def server(i):
    uuid = f"00000000-0000-4000-8000-{i:012d}"
    disks = [{"type": "NVMe", "size": 960197124096, "productName": "SAMSUNG MZQL2960HCJR-00A07",
              "serialNumber": f"S64FNE0R{i:06d}{d}", "name": f"nvme{d}n1", "deviceName": f"/dev/nvme{d}n1",
              "uuid": "", "wwid": f"eui.36344630529{i:06d}{d}"} for d in range(2)]
    nics = [{"index": n + 2, "name": f"eno{n + 1}", "flags": "up|broadcast|multicast", "mtu": 1500,
             "mac": f"b4:96:91:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{(i & 255) ^ n:02x}",
             "addresses": [f"10.{n}.{i >> 8 & 255}.{i & 255}/16"]} for n in range(2)]
    return {"apiVersion": "metal.sidero.dev/v1alpha2", "kind": "Server",
            "metadata": {"name": uuid, "labels": {"rack": f"r{i % 40}"}},
            "spec": {"accepted": False, "hostname": f"node-{i}",
                     "hardware": {
                         "system": {"uuid": uuid, "manufacturer": "Dell Inc.", "productName": "PowerEdge R6525",
                                    "version": "1.0", "serialNumber": f"SN{i:08d}", "skuNumber": "SKU=0A3E", "family": "PowerEdge"},
                         "compute": {"totalCoreCount": 64, "totalThreadCount": 128, "processorCount": 2,
                                     "processors": [{"manufacturer": "AMD", "productName": "AMD EPYC 7543 32-Core Processor",
                                                     "serialNumber": "", "speed": 2800, "coreCount": 32, "threadCount": 64}] * 2},
                         "memory": {"totalSize": "256 GB", "moduleCount": 8,
                                    "modules": [{"manufacturer": "Samsung", "productName": "M393A4K40EB3-CWE",
                                                 "serialNumber": f"{i:08X}", "type": "DDR4", "size": 32768, "speed": 3200}] * 8},
                         "storage": {"totalSize": "1.9 TB", "deviceCount": 2, "devices": disks},
                         "network": {"interfaceCount": 2, "interfaces": nics}}}}
