"""`ironboot bmc` over Redfish against tests/lib/redfish_mock.py (HTTPS or HTTP on loopback):
the endpoint URLs a Server's spec.bmc takes, credentials from flags or the environment, the
certificate checks, power status/on/off/cycle and bootdev, and the exit codes of docs/bmc.md
(0 done, 1 the BMC failed or refused, 2 bad input). One test lets the mock drive a QEMU VM
through tests/lib/vm_chassis.py, as ipmi_sim does."""

import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import vm_chassis  # noqa: E402
from ipmi_sim import SYSTEM_PYTHON, VM_CHASSIS, free_tcp_port  # noqa: E402
from redfish_mock import RedfishMock  # noqa: E402

IRONBOOT = os.environ.get("IRONBOOT_BIN") or os.path.join(ROOT, "build", "ironboot")

pytestmark = pytest.mark.skipif(not os.path.exists(IRONBOOT), reason="needs build/ironboot")


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "pw"
    path.write_text("password\n")
    return str(path)


@pytest.fixture
def mock():
    m = RedfishMock().start()
    yield m
    m.stop()


def url(m, scheme="redfish", path=""):
    return f"{scheme}://127.0.0.1:{m.port}{path}"


def ironboot(*args, env=None, timeout=60):
    return subprocess.run([IRONBOOT, "bmc", *args], text=True, capture_output=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def trusted(m, password_file, *command, endpoint=None):
    return ironboot("--endpoint", endpoint or url(m), "--ca-file", m.cert, "--user", "admin",
                    "--password-file", password_file, *command)


def ok(r):
    assert r.returncode == 0, f"rc={r.returncode}\nstdout={r.stdout}\nstderr={r.stderr}"
    return r.stdout.strip()


def test_power_on_off_and_status(mock, password_file):
    assert ok(trusted(mock, password_file, "power-status")) == "power: off"
    assert ok(trusted(mock, password_file, "power", "on")) == "power on: ok"
    assert mock.snapshot()["power"] == "On"
    assert ok(trusted(mock, password_file, "power-status")) == "power: on"
    assert ok(trusted(mock, password_file, "power", "off")) == "power off: ok"
    snap = mock.snapshot()
    assert snap["power"] == "Off" and snap["resets"] == ["On", "ForceOff"], snap
    # Each run logs its session out: the BMC's session table is empty again.
    assert snap["sessions"] == [], snap
    logins = mock.requests_to("POST", "/Sessions")
    assert len(logins) == 4 and len(mock.requests_to("DELETE", "")) == len(logins)


def test_power_cycle_uses_power_cycle_when_allowed(mock, password_file):
    ok(trusted(mock, password_file, "power", "on"))
    assert ok(trusted(mock, password_file, "power", "cycle")) == "power cycle: ok"
    snap = mock.snapshot()
    assert snap["resets"] == ["On", "PowerCycle"] and snap["power"] == "On", snap


def test_power_cycle_without_power_cycle_is_off_then_on(password_file):
    with RedfishMock(profile="nopowercycle") as m:
        ok(trusted(m, password_file, "power", "on"))
        ok(trusted(m, password_file, "power", "cycle"))
        snap = m.snapshot()
        assert snap["resets"][0] == "On" and "PowerCycle" not in snap["resets"], snap
        assert snap["power"] == "On", snap


def test_bootdev_pxe_efi_once(mock, password_file):
    assert ok(trusted(mock, password_file, "bootdev", "pxe", "--efi")) == "bootdev pxe efi once: ok"
    assert mock.snapshot()["boot"] == {"BootSourceOverrideEnabled": "Once", "BootSourceOverrideTarget": "Pxe",
                                       "BootSourceOverrideMode": "UEFI"}
    # The next power-on boots the network, once.
    ok(trusted(mock, password_file, "power", "on"))
    snap = mock.snapshot()
    assert snap["boots"] == ["Pxe"] and snap["boot"]["BootSourceOverrideEnabled"] == "Disabled", snap


def test_bootdev_on_a_bmc_without_mode_and_a_system_path_in_the_url(password_file):
    with RedfishMock(profile="supermicro-x10") as m:
        r = trusted(m, password_file, "bootdev", "pxe", endpoint=url(m, path="/redfish/v1/Systems/1"))
        assert ok(r) == "bootdev pxe legacy once: ok"
        patches = m.requests_to("PATCH", "/redfish/v1/Systems/1")
        assert patches and "BootSourceOverrideMode" not in patches[-1]["body"], patches
        assert m.snapshot()["boot"] == {"BootSourceOverrideEnabled": "Once", "BootSourceOverrideTarget": "Pxe"}


def test_redfish_plus_http_and_credentials_from_the_environment():
    with RedfishMock(tls=False) as m:
        env = {"IRONBOOT_BMC_USER": "admin", "IRONBOOT_BMC_PASSWORD": "password"}
        r = ironboot("--endpoint", url(m, "redfish+http"), "power-status", env=env)
        assert ok(r) == "power: off"
        assert m.requests_to("GET", "/redfish/v1/"), m.requests


def test_certificate_is_verified_unless_insecure(mock, password_file):
    r = ironboot("--endpoint", url(mock, "redfish+https"), "--user", "admin", "--password-file", password_file,
                 "power-status")
    assert r.returncode == 1 and r.stderr.startswith("error: TLS: "), (r.returncode, r.stderr)
    r = ironboot("--endpoint", url(mock), "--insecure", "--user", "admin", "--password-file", password_file,
                 "power-status")
    assert ok(r) == "power: off"


def test_wrong_password_is_auth_failed_exit_1(mock, tmp_path):
    bad = tmp_path / "bad"
    bad.write_text("wrong\n")
    r = ironboot("--endpoint", url(mock), "--ca-file", mock.cert, "--user", "admin", "--password-file", str(bad),
                 "power-status")
    assert r.returncode == 1 and r.stderr.startswith("error: AuthFailed: "), (r.returncode, r.stderr)


def test_dead_endpoint_fails_within_the_timeout(password_file):
    started = time.monotonic()
    r = ironboot("--endpoint", f"redfish+http://127.0.0.1:{free_tcp_port()}", "--user", "admin",
                 "--password-file", password_file, "--timeout-ms", "1000", "power-status")
    assert r.returncode == 1 and r.stderr.startswith("error: "), (r.returncode, r.stderr)
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("args, message", [
    (["--endpoint", "ftp://127.0.0.1/x", "--user", "a", "--password-file", "{pw}", "power-status"],
     "error: --endpoint: unknown scheme"),
    (["--endpoint", "redfish://127.0.0.1", "--user", "a", "--password-file", "{pw}", "device-id"],
     "error: device-id is an IPMI command"),
    (["--endpoint", "redfish://127.0.0.1", "--password-file", "{pw}", "power-status"], "error: no BMC user"),
    (["--endpoint", "redfish://127.0.0.1", "--user", "a", "power-status"], "error: no BMC password"),
    (["--endpoint", "redfish://127.0.0.1", "--host", "127.0.0.1", "--user", "a", "--password-file", "{pw}",
      "power-status"], "error: give one of --host, --endpoint or --hosts-file"),
])
def test_bad_input_is_exit_2(password_file, args, message):
    env = {"IRONBOOT_BMC_USER": "", "IRONBOOT_BMC_PASSWORD": ""}
    clean = {k: v for k, v in os.environ.items() if k not in env}
    r = subprocess.run([IRONBOOT, "bmc", *[a.replace("{pw}", password_file) for a in args]], text=True,
                       capture_output=True, timeout=30, env=clean)
    assert r.returncode == 2 and r.stderr.startswith(message), (r.returncode, r.stderr)


def test_redfish_powers_a_qemu_vm_and_boots_it_from_the_network(tmp_path, password_file):
    vm = str(tmp_path / "vm")
    os.makedirs(vm)
    with RedfishMock(chassis_program=f"{SYSTEM_PYTHON} {VM_CHASSIS} {vm}") as m:
        try:
            ok(trusted(m, password_file, "bootdev", "pxe"))
            ok(trusted(m, password_file, "power", "on"))
            deadline = time.monotonic() + 20
            while vm_chassis.qemu_pid(vm) is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert vm_chassis.qemu_pid(vm) is not None, "no QEMU after power on"
            with open(os.path.join(vm, "qemu.cmdline")) as f:
                assert "-boot once=n" in f.read()
            assert ok(trusted(m, password_file, "power-status")) == "power: on"
            ok(trusted(m, password_file, "power", "off"))
            assert vm_chassis.qemu_pid(vm) is None
            assert ok(trusted(m, password_file, "power-status")) == "power: off"
        finally:
            vm_chassis.retire(vm)
