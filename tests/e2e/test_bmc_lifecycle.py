"""The hands-free lifecycle with a real BMC, in QEMU without KVM: OpenIPMI's ipmi_sim is the
BMC of a QEMU server (tests/lib/bmc_server.py), on its own address on the lab network.

An operator creates a Secret and a Server that has only spec.bmc (and the schema's required
spec.accepted: false), with kubectl against the embedded API; from then on only ironboot
touches the machine: it sets PXE once and powers it on (Registering), the real agent
inspects it (Inspecting, facts), accepting it wipes it
(Deprovisioning) and ironboot powers it off (Available); spec.online: true powers it on and it
boots from its disk; the reboot.metal3.io annotation reboots it once and is removed. The State
column, the Events and the BMC as ipmitool reads it are checked along the way. A second server
without spec.bmc, powered on once by hand, gets its BMC set up in-band by the agent
(bmc.auto_setup), and the stored Secret then works out-of-band.

The steps run in order on one lab, one ironboot and one module-scoped server."""

import base64
import json
import re
import shutil
import threading
import time

import pytest

import guests
from bmc_server import BmcServer
from guests import MiB, Identity
from kubectl_output import event_reasons, table

SERVER = Identity("Ironboot Labs", "E2E BMC Node", "E2E-BMC-0001", "5e0d1c2b-3a49-4d58-8c6b-0a192e3d4c40",
                  "52:54:00:e2:bc:01")
SECOND = Identity("Ironboot Labs", "E2E BMC Node", "E2E-BMC-0002", "5e0d1c2b-3a49-4d58-8c6b-0a192e3d4c41",
                  "52:54:00:e2:bc:02")
SUBNET = "10.79.0"
BMC_USER, BMC_PASSWORD = "admin", "bmc-secret"
DISK_MESSAGE = "ironboot-e2e: booted from the disk"
REFRESH_SECONDS = 5
# TCG on two shared cores: PXE, the agent's kernel and its report take 20-90 s.
INSPECT_SECONDS = 360
WIPE_SECONDS = 300
POWER_SECONDS = 60


class StateWatch:
    """`kubectl get servers -w`: every (state, power) a Server goes through, in order."""

    def __init__(self, site, name):
        self.name, self.seen = name, []
        self.proc = site.kubectl_runner.popen(
            "get", "servers", "-w", "--no-headers",
            "-o", "custom-columns=NAME:.metadata.name,STATE:.status.state,POWER:.status.power")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            cells = line.split()
            if len(cells) == 3 and cells[0] == self.name:
                if not self.seen or self.seen[-1] != (cells[1], cells[2]):
                    self.seen.append((cells[1], cells[2]))

    def states(self):
        """The distinct states in order (repeats collapsed)."""
        out = []
        for state, _ in self.seen:
            if state != "<none>" and (not out or out[-1] != state):
                out.append(state)
        return out

    def close(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def site(agent_image):
    missing = [t for t in ("ipmi_sim", "ipmitool") if not shutil.which(t)]
    if missing:
        pytest.fail(f"missing {missing} (scripts/install-deps installs them)")
    s = guests.Site(agent_image, subnet=SUBNET, ipv6_router=False,
                    config_sections={"bmc": {"power_refresh_seconds": REFRESH_SECONDS, "auto_setup": True}})
    try:
        yield s
    finally:
        s.close()
        s.remove_workdir()


@pytest.fixture(scope="module")
def server(site):
    srv = BmcServer(site, "bmc-1", SERVER, bmc_octet=5, serial_port=39101, user=BMC_USER,
                    password=BMC_PASSWORD).start_bmc()
    watch = StateWatch(site, SERVER.uuid)
    srv.watch = watch
    try:
        yield srv
    finally:
        watch.close()
        srv.close()


def server_obj(site, name=SERVER.uuid):
    return site.get("server", name) or {}


def status(site, name=SERVER.uuid):
    return server_obj(site, name).get("status") or {}


def state_column(site, name=SERVER.uuid):
    rows = table(site.kubectl("get", "servers").stdout)
    return next((r for r in rows if r["NAME"] == name), {})


def reasons(site, name=SERVER.uuid):
    return event_reasons(site.kubectl("describe", "server", name).stdout)


def ipmitool(srv, *args, attempts=3, **kw):
    """ipmitool against the server's BMC; an AssertionError when it fails `attempts` times.
    ipmi_sim is single-threaded and blocks while its chassis program runs (and ironboot polls
    it too), so one session may time out: try again."""
    for _ in range(attempts):
        r = srv.bmc.ipmitool(*args, **kw)
        if r.returncode == 0:
            return r.stdout.strip()
        time.sleep(2)
    alive = srv.bmc.proc is not None and srv.bmc.proc.poll() is None
    raise AssertionError(f"ipmitool {' '.join(args)} failed {attempts} times (ipmi_sim "
                         f"{'running' if alive else 'exited'}):\n{r.stderr}\n--- ipmi_sim log ---\n{srv.bmc.log_tail()}")


def ipmitool_power(srv):
    return ipmitool(srv, "power", "status")


def wait(site, srv, what, predicate, timeout):
    return site.wait_for(what, predicate, timeout, shown=[srv])


def test_1_operator_registers_by_bmc_and_ironboot_powers_it_into_pxe(site, server):
    site.kubectl("create", "secret", "generic", "bmc-1", "-n", "ironboot-system",
                 f"--from-literal=username={BMC_USER}", f"--from-literal=password={BMC_PASSWORD}")
    ref = {"namespace": "ironboot-system", "name": "bmc-1"}
    manifest = {
        "apiVersion": "metal.sidero.dev/v1alpha2", "kind": "Server", "metadata": {"name": SERVER.uuid},
        "spec": {"accepted": False, "bmc": {"endpoint": server.bmc_address, "cipherSuite": 3,
                         "userFrom": {"secretKeyRef": dict(ref, key="username")},
                         "passFrom": {"secretKeyRef": dict(ref, key="password")}}},
    }
    site.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    assert ipmitool_power(server) == "Chassis Power is off"
    # ironboot: next boot PXE (once), then power on; the chassis starts QEMU with -boot once=n.
    wait(site, server, "QEMU powered on by the BMC", lambda: server.qemu_pid() is not None, POWER_SECONDS)
    calls = server.calls()
    assert "set boot pxe" in calls and calls.index("set boot pxe") < calls.index("set power 1"), calls
    assert "-boot once=n" in server.last_cmdline()
    assert ipmitool_power(server) == "Chassis Power is on"
    # The override is used up by this boot: the BMC reports none any more.
    bootparam = ipmitool(server, "chassis", "bootparam", "get", "5")
    assert "Force PXE" not in bootparam, bootparam
    row = state_column(site)
    assert row.get("STATE") in ("Registering", "Inspecting"), row
    assert row.get("BMC") == server.bmc_address, row

    # The agent (PXE from ironboot) inspects it: the facts appear on the operator's Server.
    wait(site, server, "the agent's facts on the Server",
         lambda: (server_obj(site).get("spec") or {}).get("hardware"), INSPECT_SECONDS)
    srv = server_obj(site)
    hw = srv["spec"]["hardware"]
    context = json.dumps(srv, indent=1)[:4000]
    assert hw["system"]["uuid"] == SERVER.uuid and hw["system"]["serialNumber"] == SERVER.serial, context
    assert hw["memory"]["totalSize"] == "1 GB", context
    assert srv["spec"]["bmc"]["endpoint"] == server.bmc_address, context  # the operator's spec.bmc kept
    assert "Registering" in server.watch.states(), server.watch.seen
    wait(site, server, "state Inspecting", lambda: status(site).get("state") == "Inspecting", 60)
    assert state_column(site).get("STATE") == "Inspecting"
    # In-band (KCS through ipmi-bmc-extern), the agent read the BMC's LAN configuration.
    bmc = status(site).get("bmc") or {}
    assert bmc.get("address") == server.bmc_address, status(site)
    cond = next(c for c in status(site)["conditions"] if c["type"] == "BMCReachable")
    assert cond["status"] == "True" and "power on" in cond["message"], cond
    assert status(site).get("power") == "on"
    assert "PowerOn" in reasons(site)
    # The firmware booted the network first.
    assert "Booting from ROM" in server.firmware_log()


def test_2_accept_wipes_and_powers_off(site, server):
    assert (server_obj(site).get("spec") or {}).get("hardware"), "step 1 did not inspect the Server"
    site.kubectl("patch", "server", SERVER.uuid, "--type", "merge", "-p", '{"spec":{"accepted":true}}')
    wait(site, server, "status.isClean", lambda: status(site).get("isClean") is True, WIPE_SECONDS)
    wait(site, server, "power off once Available",
         lambda: server.qemu_pid() is None and status(site).get("power") == "off", WIPE_SECONDS)
    assert ipmitool_power(server) == "Chassis Power is off"
    wait(site, server, "state Available", lambda: state_column(site).get("STATE") == "Available", 60)
    assert state_column(site).get("POWER") == "off"
    assert server.read_disk(0, 16 * MiB) == bytes(16 * MiB), "first 16 MiB not zeroed"
    assert server.read_disk(server.disk_size - 16 * MiB, 16 * MiB) == bytes(16 * MiB), "last 16 MiB not zeroed"
    states = server.watch.states()
    want = ["Registering", "Inspecting", "Deprovisioning", "Available"]
    assert [s for s in states if s in want] == want, server.watch.seen
    wait(site, server, "the PowerOff event", lambda: "PowerOff" in reasons(site), 30)
    got = reasons(site)
    order = ["PowerOn", "Accepted", "WipeStarted", "Wiped", "PowerOff"]
    assert [r for r in got if r in order] == order, got


def test_3_online_powers_it_on_and_it_boots_from_disk(site, server):
    assert server.qemu_pid() is None, "step 2 did not power the server off"
    server.install_boot_sector(DISK_MESSAGE)  # what an installation would have left there
    pxe_sets = server.calls().count("set boot pxe")
    firmware_before = len(server.firmware_log())
    site.kubectl("patch", "server", SERVER.uuid, "--type", "merge", "-p", '{"spec":{"online":true}}')
    wait(site, server, "the disk's boot message", lambda: DISK_MESSAGE in server.console(), POWER_SECONDS + 60)
    assert ipmitool_power(server) == "Chassis Power is on"
    assert "once=n" not in server.last_cmdline()
    assert server.calls().count("set boot pxe") == pxe_sets, server.calls()
    boots = re.findall(r"Booting from [^\n.]+", server.firmware_log()[firmware_before:])
    assert boots and boots[0] == "Booting from Hard Disk", boots
    wait(site, server, "status.power on", lambda: status(site).get("power") == "on", 3 * REFRESH_SECONDS + 30)
    # Available with spec.online true stays on, through several refreshes.
    time.sleep(3 * REFRESH_SECONDS)
    assert server.qemu_pid() is not None and state_column(site).get("STATE") == "Available"
    assert reasons(site).count("PowerOn") == 2, reasons(site)  # Registering's, then spec.online's


def test_4_reboot_annotation_reboots_once(site, server):
    first = server.qemu_pid()
    assert first is not None, "step 3 did not power the server on"
    booted = server.console().count(DISK_MESSAGE)
    site.kubectl("annotate", "server", SERVER.uuid, "reboot.metal3.io=e2e")
    wait(site, server, "a new QEMU after the power cycle", lambda: server.qemu_pid() not in (None, first),
         POWER_SECONDS)
    wait(site, server, "the annotation removed",
         lambda: "reboot.metal3.io" not in (server_obj(site)["metadata"].get("annotations") or {}), POWER_SECONDS)
    wait(site, server, "the disk's boot message again",
         lambda: server.console().count(DISK_MESSAGE) == booted + 1, POWER_SECONDS + 60)
    assert "set power 0" in server.calls()
    assert ipmitool_power(server) == "Chassis Power is on"
    wait(site, server, "the Reboot event", lambda: "Reboot" in reasons(site), 30)
    # Once: after several refreshes it is still the same QEMU, booted once more.
    second = server.qemu_pid()
    time.sleep(3 * REFRESH_SECONDS)
    assert server.qemu_pid() == second and server.console().count(DISK_MESSAGE) == booted + 1
    assert reasons(site).count("Reboot") == 1, reasons(site)


def test_5_online_false_powers_it_off(site, server):
    site.kubectl("patch", "server", SERVER.uuid, "--type", "merge", "-p", '{"spec":{"online":false}}')
    wait(site, server, "power off", lambda: server.qemu_pid() is None and status(site).get("power") == "off",
         POWER_SECONDS)
    assert ipmitool_power(server) == "Chassis Power is off"


def test_6_auto_setup_fills_spec_bmc_and_its_secret_works_out_of_band(site):
    second = BmcServer(site, "bmc-2", SECOND, bmc_octet=6, serial_port=39102, password="factory-pw",
                       bmc_mac="52:54:00:bb:00:02").start_bmc()
    try:
        # Nobody registered this one: a person powers it on once (through its BMC).
        ipmitool(second, "chassis", "bootdev", "pxe")
        ipmitool(second, "power", "on")
        wait(site, second, "spec.bmc filled in-band",
             lambda: (server_obj(site, SECOND.uuid).get("spec") or {}).get("bmc"), INSPECT_SECONDS)
        spec_bmc = server_obj(site, SECOND.uuid)["spec"]["bmc"]
        assert spec_bmc["endpoint"] == second.bmc_address, spec_bmc
        secret_name = f"{SECOND.uuid}-bmc"
        assert spec_bmc["passFrom"]["secretKeyRef"]["name"] == secret_name, spec_bmc
        got = site.kubectl("get", "secret", secret_name, "-n", "ironboot-system", "-o", "json").stdout
        data = {k: base64.b64decode(v).decode() for k, v in json.loads(got)["data"].items()}
        assert data["username"] == "ironboot" and len(data["password"]) == 16, data.keys()
        # The new user logs in out-of-band: ipmitool, and ironboot itself (BMCReachable True).
        power = ipmitool(second, "power", "status", user=data["username"], password=data["password"])
        assert power == "Chassis Power is on", power
        wait(site, second, "BMCReachable True through the stored Secret",
             lambda: any(c["type"] == "BMCReachable" and c["status"] == "True"
                         for c in status(site, SECOND.uuid).get("conditions") or []), 3 * REFRESH_SECONDS + 60)
        assert status(site, SECOND.uuid).get("power") == "on"
        assert "BMCCredentialsStored" in reasons(site, SECOND.uuid)
    finally:
        second.close()
