"""A Metal3 registration against a real ironboot: `kubectl apply` of a Secret and a
metal3.io/v1alpha1 BareMetalHost (the course material's, its address pointed at a BMC here),
and ironboot powers the host on into PXE through that BMC. The BMC is OpenIPMI's ipmi_sim
driving a QEMU VM (tests/lib/vm_chassis.py), or the Redfish mock driving the same VM; both run
in the lab namespace of the appliance, on its loopback. Wrong credentials are an error in the
host's status and a Warning Event, the daemon keeps serving, and a corrected Secret is taken on
the next retry."""

import json
import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "kube"))
import ipmi_sim  # noqa: E402
import vm_chassis  # noqa: E402
from kubelab import Cluster  # noqa: E402
from metal3 import course_bmh_manifest  # noqa: E402
import netlab  # noqa: E402

pytestmark = pytest.mark.skipif(not (os.path.exists(netlab.IRONBOOT) and os.path.exists("/usr/bin/ipmi_sim")),
                                reason="needs build/ironboot and ipmi_sim (openipmi)")

IPMI_PORT = 6230  # inside the lab namespace every port is free
REDFISH_PORT = 8443


@pytest.fixture
def lab_cluster(tmp_path):
    lab = netlab.Lab()
    try:
        api = lab.add_host("api", 10)
        c = Cluster(lab, api)
        config = netlab_config(c)
        c.daemon.write_config(config)
        c.start()
        c.kubectl("create", "namespace", "metal3")
        vm = tmp_path / "vm"
        vm.mkdir()
        c.vm = str(vm)
        try:
            yield c
        finally:
            c.close()
            vm_chassis.retire(str(vm))
            vm_chassis.stop(str(vm))
    finally:
        lab.close()


def netlab_config(c):
    from kubelab import api_config
    config = api_config(c.workdir)
    # The BMCs of these tests exist (in the lab namespace): contact them, refresh often.
    config["bmc"] = {"enabled": True, "power_refresh_seconds": 2, "min_interval_ms": 50}
    return config


def bmh(c):
    return json.loads(c.kubectl("get", "bmh", "worker-0", "-n", "metal3", "-o", "json").stdout)


def status(c):
    return bmh(c).get("status", {})


def wait_for(predicate, timeout=60, what=""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    assert predicate(), what() if callable(what) else what


def events(c, reason):
    items = json.loads(c.kubectl("get", "events", "-n", "metal3", "-o", "json").stdout)["items"]
    return [e for e in items if e["involvedObject"]["name"] == "worker-0" and e["reason"] == reason]


def ipmi_bmc(c, password="pw"):
    sim = ipmi_sim.IpmiSim(os.path.join(c.workdir, "sim"), port=IPMI_PORT, password=password, chassis=c.vm,
                           prefix=c.host.cmd([]))
    return sim.start()


def test_ipmi_host_is_powered_on_into_pxe_and_reported(lab_cluster):
    c = lab_cluster
    sim = ipmi_bmc(c)
    try:
        out = c.kubectl("apply", "-f", "-", input=course_bmh_manifest(f"ipmi://127.0.0.1:{IPMI_PORT}", "pw")).stdout
        assert "baremetalhost.metal3.io/worker-0 created" in out, out
        wait_for(lambda: status(c).get("poweredOn") is True, what=lambda: f"{status(c)}\n{c.daemon.read_log()[-3000:]}")
        st = status(c)
        assert st["operationalStatus"] == "OK" and st["errorType"] == "" and st["errorMessage"] == "", st
        assert st["provisioning"]["state"] == "inspecting", st
        assert st["provisioning"]["rootDeviceHints"] == {"deviceName": "/dev/sda", "minSizeGigabytes": 100}
        # The BMC did it: QEMU runs, started for a PXE boot, and ipmitool agrees.
        wait_for(lambda: vm_chassis.qemu_pid(c.vm) is not None, what="no QEMU process")
        with open(os.path.join(c.vm, "qemu.cmdline")) as f:
            assert "-boot once=n" in f.read()
        r = sim.ipmitool("power", "status")
        assert r.stdout.strip() == "Chassis Power is on", (r.stdout, r.stderr)
        wait_for(lambda: events(c, "PowerOn") and events(c, "StateChanged"), what="no PowerOn/StateChanged Event")
        assert events(c, "StateChanged")[0]["message"] == "registering -> inspecting"
        from kubectl_output import table
        row = table(c.kubectl("get", "bmh", "-n", "metal3").stdout)[0]
        assert (row["STATE"], row["ONLINE"], row["ERROR"]) == ("inspecting", "true", ""), row

        # The controller keeps poweredOn current from the BMC until a Server is linked.
        assert sim.ipmitool("power", "off").returncode == 0
        wait_for(lambda: status(c).get("poweredOn") is False, timeout=30, what=lambda: str(status(c)))
        with open(os.path.join(c.vm, "calls.log")) as f:
            power_ons = sum(1 for line in f if line.split() == ["set", "power", "1"])
        assert power_ons <= 2, "powered on once (ipmi_sim may repeat the call)"

        # A restart of ironboot does not register the host again: no second power on.
        c.restart()
        assert sim.ipmitool("power", "on").returncode == 0
        wait_for(lambda: status(c).get("poweredOn") is True, timeout=30, what=lambda: str(status(c)))
        time.sleep(3)
        with open(os.path.join(c.vm, "calls.log")) as f:
            calls = [line.split() for line in f]
        assert sum(1 for call in calls if call == ["set", "boot", "pxe"]) == 1, calls
        assert status(c)["provisioning"]["state"] == "inspecting"
    finally:
        sim.close()


def test_an_offline_host_is_kept_off_until_it_is_turned_online(lab_cluster):
    c = lab_cluster
    sim = ipmi_bmc(c)
    try:
        # Someone left it on: online false powers it off (Metal3 keeps such a host off).
        assert sim.ipmitool("power", "on").returncode == 0
        wait_for(lambda: vm_chassis.qemu_pid(c.vm) is not None, what="no QEMU process")
        manifest = course_bmh_manifest(f"ipmi://127.0.0.1:{IPMI_PORT}", "pw").replace("online: true", "online: false")
        c.kubectl("apply", "-f", "-", input=manifest)
        wait_for(lambda: status(c).get("poweredOn") is False and vm_chassis.qemu_pid(c.vm) is None, timeout=60,
                 what=lambda: str(status(c)))
        wait_for(lambda: events(c, "PowerOff"), what="no PowerOff Event")
        # Then its power is only read (bmc.power_refresh_seconds 2): nothing set, no PXE.
        with open(os.path.join(c.vm, "calls.log")) as f:
            before = len(f.readlines())
        time.sleep(6)
        st = status(c)
        assert st["provisioning"]["state"] == "registering" and st["poweredOn"] is False, st
        assert st["operationalStatus"] == "OK", st
        with open(os.path.join(c.vm, "calls.log")) as f:
            calls = [line.split() for line in f]
        assert len(calls) > before and all(call[0] == "get" for call in calls[before:]), calls
        assert ["set", "boot", "pxe"] not in calls, calls
        assert vm_chassis.qemu_pid(c.vm) is None

        c.kubectl("patch", "bmh", "worker-0", "-n", "metal3", "--type", "merge", "-p", '{"spec":{"online":true}}')
        wait_for(lambda: status(c).get("poweredOn") is True, timeout=60, what=lambda: str(status(c)))
        assert status(c)["provisioning"]["state"] == "inspecting"
        with open(os.path.join(c.vm, "qemu.cmdline")) as f:
            assert "-boot once=n" in f.read()
    finally:
        sim.close()


def test_wrong_credentials_are_an_error_event_and_a_fixed_secret_works(lab_cluster):
    c = lab_cluster
    sim = ipmi_bmc(c)
    try:
        c.kubectl("apply", "-f", "-", input=course_bmh_manifest(f"ipmi://127.0.0.1:{IPMI_PORT}", "wrong"))
        wait_for(lambda: status(c).get("operationalStatus") == "error", what=lambda: str(status(c)))
        st = status(c)
        assert st["errorType"] == "registration error", st
        assert st["errorMessage"].startswith("BMC: AuthFailed: "), st
        assert st["provisioning"]["state"] == "registering" and st["poweredOn"] is False, st
        wait_for(lambda: events(c, "BMCError"), what="no BMCError Event")
        e = events(c, "BMCError")[0]
        assert e["type"] == "Warning" and "AuthFailed" in e["message"], e
        assert vm_chassis.qemu_pid(c.vm) is None
        # No crash: the daemon still serves, the host is still there.
        assert c.daemon.proc.poll() is None
        assert c.kubectl("get", "bmh", "-n", "metal3").returncode == 0
        from kubectl_output import table
        assert table(c.kubectl("get", "bmh", "-n", "metal3").stdout)[0]["ERROR"] == "registration error"

        # The operator fixes the Secret: the next retry reads it and powers the host on.
        c.kubectl("apply", "-f", "-", input=course_bmh_manifest(f"ipmi://127.0.0.1:{IPMI_PORT}", "pw"))
        wait_for(lambda: status(c).get("poweredOn") is True, timeout=90, what=lambda: str(status(c)))
        st = status(c)
        assert st["operationalStatus"] == "OK" and st["errorMessage"] == "" and st["errorCount"] == 0, st
        assert st["provisioning"]["state"] == "inspecting", st
        wait_for(lambda: vm_chassis.qemu_pid(c.vm) is not None, what="no QEMU process")
    finally:
        sim.close()


def test_redfish_host_against_the_mock(lab_cluster, tmp_path):
    c = lab_cluster
    log = tmp_path / "redfish.json"
    chassis = f"{ipmi_sim.SYSTEM_PYTHON} {ipmi_sim.VM_CHASSIS} {c.vm}"
    (tmp_path / "cert").mkdir()
    mock = c.host.popen([ipmi_sim.SYSTEM_PYTHON, os.path.join(ROOT, "tests", "lib", "redfish_mock.py"),
                         "--port", str(REDFISH_PORT), "--password", "password", "--log", str(log),
                         "--chassis-program", chassis, "--cert-dir", str(tmp_path / "cert")],
                        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "mock.err", "w"))
    try:
        wait_for(lambda: c.host.run(["curl", "-sk", "-o", "/dev/null", f"https://127.0.0.1:{REDFISH_PORT}/redfish/v1"],
                                    check=False).returncode == 0, timeout=20, what="the mock did not come up")
        # The DMTF mockup's system, named in the address as Metal3 does.
        address = f"redfish://127.0.0.1:{REDFISH_PORT}/redfish/v1/Systems/437XR1138R2"
        insecure = "\n    disableCertificateVerification: true"
        # A wrong password first: the mock's 401 is the host's error, then the fixed Secret works.
        c.kubectl("apply", "-f", "-", input=course_bmh_manifest(address, "wrong", extra_bmc=insecure))
        wait_for(lambda: status(c).get("operationalStatus") == "error", what=lambda: str(status(c)))
        assert status(c)["errorMessage"].startswith("BMC: AuthFailed: "), status(c)
        wait_for(lambda: events(c, "BMCError"), what="no BMCError Event")
        assert vm_chassis.qemu_pid(c.vm) is None
        c.kubectl("apply", "-f", "-", input=course_bmh_manifest(address, "password", extra_bmc=insecure))
        wait_for(lambda: status(c).get("poweredOn") is True, timeout=90,
                 what=lambda: f"{status(c)}\n{c.daemon.read_log()[-3000:]}")
        st = status(c)
        assert st["operationalStatus"] == "OK" and st["provisioning"]["state"] == "inspecting", st
        wait_for(lambda: vm_chassis.qemu_pid(c.vm) is not None, what="no QEMU process")
        with open(os.path.join(c.vm, "qemu.cmdline")) as f:
            assert "-boot once=n" in f.read()
        # The mock saw the Boot PATCH (PXE once) before the Reset.
        requests = json.loads(log.read_text())["requests"]
        calls = [(r["method"], r["path"]) for r in requests]
        patch = next(i for i, (m, p) in enumerate(calls) if m == "PATCH" and p == "/redfish/v1/Systems/437XR1138R2")
        reset = next(i for i, (m, p) in enumerate(calls) if m == "POST" and p.endswith("ComputerSystem.Reset"))
        assert patch < reset, calls
        assert json.loads(requests[patch]["body"])["Boot"]["BootSourceOverrideTarget"] == "Pxe"
    finally:
        mock.terminate()
        mock.wait(10)


def test_the_server_with_the_boot_mac_is_linked_and_takes_over_the_bmc(lab_cluster):
    """The agent's report stands in as a Server with the boot MAC among its NICs (the agent
    itself is tests/e2e's): ironboot links it to the host, gives it the host's BMC and Secret,
    accepts it, and the host reflects it; the Server's BMC controller then reads the same
    ipmi_sim with the credentials from the host's namespace."""
    from kubelab import server_manifest, write_manifest
    c = lab_cluster
    sim = ipmi_bmc(c)
    try:
        address = f"ipmi://127.0.0.1:{IPMI_PORT}"
        c.kubectl("apply", "-f", "-", input=course_bmh_manifest(address, "pw"))
        wait_for(lambda: status(c).get("poweredOn") is True, what=lambda: str(status(c)))
        uuid = "4c4c4544-0035-4410-8057-b4c04f4a3599"
        server = server_manifest(uuid)
        del server["spec"]["bmc"]
        server["spec"]["hardware"]["storage"] = {"deviceCount": 2, "devices": [
            {"type": "SSD", "size": 64 * 10**9, "name": "sda", "deviceName": "/dev/sda", "serialNumber": "S0"},
            {"type": "HDD", "size": 240 * 10**9, "name": "sdb", "deviceName": "/dev/sdb", "serialNumber": "S1"}]}
        server["spec"]["hardware"]["network"] = {"interfaceCount": 1, "interfaces": [
            {"index": 2, "name": "eth0", "mac": "52:54:00:12:34:56", "addresses": ["10.77.0.50/24"]}]}
        # The hints ask for /dev/sda of at least 100 GB: no such disk, an inspection error first.
        c.kubectl("create", "-f", write_manifest(server))
        wait_for(lambda: status(c).get("provisioning", {}).get("ID") == uuid, what=lambda: str(status(c)))
        wait_for(lambda: status(c).get("errorType") == "inspection error", what=lambda: str(status(c)))
        assert status(c)["provisioning"]["installTarget"] == "", status(c)
        hw = status(c)["hardware"]
        assert hw["systemVendor"]["manufacturer"] == "Dell Inc." and hw["nics"][0]["pxe"] is True, hw
        # The operator drops deviceName: /dev/sdb (>= 100 GB) is chosen and written on the Server.
        c.kubectl("patch", "bmh", "worker-0", "-n", "metal3", "--type", "merge",
                  "-p", '{"spec":{"rootDeviceHints":{"deviceName":null}}}')
        wait_for(lambda: status(c).get("provisioning", {}).get("installTarget") == "/dev/sdb",
                 what=lambda: str(status(c)))

        def linked():
            s = c.kubectl_runner.get("server", uuid)
            ann = s["metadata"].get("annotations", {})
            return s if (s["spec"].get("accepted") and ann.get("ironboot.dev/install-disk") == "/dev/sdb") else None
        wait_for(linked, what=lambda: str(c.kubectl_runner.get("server", uuid)))
        s = linked()
        assert s["metadata"]["annotations"]["ironboot.dev/baremetalhost"] == "metal3/worker-0"
        assert s["spec"]["online"] is True
        assert s["spec"]["bmc"]["endpoint"] == address
        assert s["spec"]["bmc"]["passFrom"]["secretKeyRef"] == {"namespace": "metal3", "name": "worker-0-bmc-secret",
                                                                 "key": "password"}

        # The Server's BMC controller reaches the BMC with the host's Secret; the host follows.
        def reachable():
            s = c.kubectl_runner.get("server", uuid)
            conds = {x["type"]: x for x in s.get("status", {}).get("conditions", [])}
            return conds.get("BMCReachable", {}).get("status") == "True" and s["status"].get("power") == "on"
        wait_for(reachable, what=lambda: str(c.kubectl_runner.get("server", uuid).get("status")))
        wait_for(lambda: status(c).get("operationalStatus") == "OK" and status(c)["provisioning"]["state"] in
                 ("preparing", "available"), what=lambda: str(status(c)))
        assert status(c)["poweredOn"] is True
        assert events(c, "Linked")[0]["message"] == f"Server {uuid} (boot MAC 52:54:00:12:34:56)"
    finally:
        sim.close()
