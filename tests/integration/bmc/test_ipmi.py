"""`ironboot bmc` (IPMI 2.0 / RMCP+) against a real peer: OpenIPMI's ipmi_sim as the BMC of a
QEMU VM (tests/lib/vm_chassis.py is its chassis_control program), cross-checked with ipmitool.
All traffic is on 127.0.0.1."""

import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import ipmi_sim  # noqa: E402
import vm_chassis  # noqa: E402

IRONBOOT = os.environ.get("IRONBOOT_BIN") or os.path.join(ROOT, "build", "ironboot")

pytestmark = pytest.mark.skipif(not (os.path.exists(IRONBOOT) and os.path.exists("/usr/bin/ipmi_sim")),
                                reason="needs build/ironboot and ipmi_sim (openipmi)")


@pytest.fixture
def bmc(tmp_path):
    vm = tmp_path / "vm"
    vm.mkdir()
    sim = ipmi_sim.IpmiSim(str(tmp_path / "sim"), chassis=str(vm)).start()
    pw = tmp_path / "pw"
    pw.write_text("pw\n")
    sim.vm = str(vm)
    sim.password_file = str(pw)
    yield sim
    # ipmi_sim repeats chassis_control calls ("set power 1" twice) and may leave one running
    # when stopped; retire() keeps such a straggler from starting the VM again.
    sim.close()
    vm_chassis.retire(str(vm))


def ironboot(sim, *command, password_file=None, port=None, suite=None, timeout_ms=None, verbose=False):
    sim.ensure_running()
    cmd = [IRONBOOT, "bmc", "--host", "127.0.0.1", "--port", str(port or sim.port), "--user", "admin",
           "--password-file", password_file or sim.password_file]
    if suite:
        cmd += ["--cipher-suite", str(suite)]
    if timeout_ms:
        cmd += ["--timeout-ms", str(timeout_ms)]
    if verbose:
        cmd += ["-v"]
    return subprocess.run(cmd + list(command), text=True, capture_output=True, timeout=60)


def ok(result):
    assert result.returncode == 0, f"rc={result.returncode}\nstdout={result.stdout}\nstderr={result.stderr}"
    return result.stdout


def wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def ipmitool_power(sim):
    r = sim.ipmitool("power", "status")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_power_on_starts_the_vm_and_status_agrees_with_ipmitool(bmc):
    assert ok(ironboot(bmc, "power-status", suite=3)).strip() == "power: off"
    assert ipmitool_power(bmc) == "Chassis Power is off"
    assert ok(ironboot(bmc, "power", "on", suite=3)).strip() == "power on: ok"
    assert wait_for(lambda: vm_chassis.qemu_pid(bmc.vm) is not None), "no QEMU process after power on"
    assert ok(ironboot(bmc, "power-status", suite=3)).strip() == "power: on"
    assert ipmitool_power(bmc) == "Chassis Power is on"


def test_bootdev_pxe_efi_is_what_ipmitool_reads_and_boots_the_vm_from_the_network(bmc):
    out = ok(ironboot(bmc, "bootdev", "pxe", "--efi"))
    assert out.strip() == "bootdev pxe efi once: ok"
    r = bmc.ipmitool("chassis", "bootparam", "get", "5")
    assert r.returncode == 0, r.stderr
    assert "Force PXE" in r.stdout, r.stdout
    # ipmi_sim keeps only the device of parameter 5 (it goes to chassis_control as
    # "set boot pxe") and answers byte 1 (valid, persistent, EFI) as 00 whatever was set, so
    # the EFI and persistent bits are checked by the unit tests (the bytes sent) only.
    with open(os.path.join(bmc.vm, "calls.log")) as f:
        assert "set boot pxe" in f.read()
    ok(ironboot(bmc, "power", "on"))
    assert wait_for(lambda: vm_chassis.qemu_pid(bmc.vm) is not None)
    with open(os.path.join(bmc.vm, "qemu.cmdline")) as f:
        assert "-boot once=n" in f.read()


def test_bootdev_disk_legacy_persistent(bmc):
    ok(ironboot(bmc, "bootdev", "disk", "--legacy", "--persistent"))
    r = bmc.ipmitool("chassis", "bootparam", "get", "5")
    assert "Force Boot from default Hard-Drive" in r.stdout, r.stdout


def test_set_in_progress_outcome_is_logged(bmc):
    r = ironboot(bmc, "bootdev", "pxe", verbose=True)
    ok(r)
    assert "set-in-progress" in r.stderr, r.stderr


def test_off_cycle_reset_and_soft_off(bmc):
    ok(ironboot(bmc, "power", "on"))
    assert wait_for(lambda: vm_chassis.qemu_pid(bmc.vm) is not None)
    first = vm_chassis.qemu_pid(bmc.vm)
    ok(ironboot(bmc, "power", "reset"))
    assert wait_for(lambda: vm_chassis.qemu_pid(bmc.vm) not in (None, first)), "reset did not restart QEMU"
    ok(ironboot(bmc, "power", "soft-off"))
    with open(os.path.join(bmc.vm, "calls.log")) as f:
        assert "set shutdown 1" in f.read()
    ok(ironboot(bmc, "power", "cycle"))
    # ipmi_sim powers down, waits its cycle interval, and powers up again.
    with open(os.path.join(bmc.vm, "calls.log")) as f:
        assert "set power 0" in f.read()
    ok(ironboot(bmc, "power", "off"))
    assert wait_for(lambda: vm_chassis.qemu_pid(bmc.vm) is None), "QEMU still running after power off"
    assert ok(ironboot(bmc, "power-status")).strip() == "power: off"
    assert ipmitool_power(bmc) == "Chassis Power is off"


def test_device_id(bmc):
    out = ok(ironboot(bmc, "device-id"))
    # bmc.emu: mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 (device 0, revision 0x23,
    # firmware 9.08, manufacturer 0x1291 = 4753, product 0x0f02).
    assert out.strip() == "device_id=0x00 revision=3 firmware=9.08 ipmi=2.0 manufacturer=4753 product=0x0f02", out


def test_auto_cipher_suite_falls_back_to_3(bmc):
    r = ironboot(bmc, "power-status", verbose=True)
    ok(r)
    assert "cipher suite 17 refused" in r.stderr, r.stderr
    assert "session open, cipher suite 3" in r.stderr, r.stderr


def test_suite_17_given_is_refused_by_ipmi_sim(bmc):
    r = ironboot(bmc, "power-status", suite=17)
    assert r.returncode == 1
    assert "error: Rejected: Open Session" in r.stderr, r.stderr


def test_wrong_password_is_auth_failed(bmc, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.write_text("not-pw\n")
    r = ironboot(bmc, "power-status", password_file=str(wrong), suite=3)
    assert r.returncode == 1
    assert "error: AuthFailed" in r.stderr, r.stderr
    # The BMC still works for the right password afterwards.
    assert ok(ironboot(bmc, "power-status", suite=3)).strip() == "power: off"


def test_dead_port_times_out_within_the_configured_time(bmc):
    dead = ipmi_sim.free_udp_port()
    start = time.monotonic()
    r = ironboot(bmc, "power-status", port=dead, timeout_ms=1500)
    elapsed = time.monotonic() - start
    assert r.returncode == 1
    assert "error: Timeout" in r.stderr, r.stderr
    assert elapsed < 1.5 + 1.0, f"took {elapsed:.2f} s"


def test_hosts_file_runs_all_bmcs_at_once(tmp_path):
    sims = [ipmi_sim.IpmiSim(str(tmp_path / f"sim{i}")).start() for i in range(3)]
    try:
        hosts = tmp_path / "hosts"
        hosts.write_text("".join(f"127.0.0.1:{s.port}\n" for s in sims))
        pw = tmp_path / "pw"
        pw.write_text("pw")
        r = subprocess.run([IRONBOOT, "bmc", "--hosts-file", str(hosts), "--user", "admin", "--password-file", str(pw),
                            "--cipher-suite", "3", "power-status"], text=True, capture_output=True, timeout=60)
        ok(r)
        lines = sorted(r.stdout.splitlines())
        assert lines == sorted(f"127.0.0.1:{s.port} power: off" for s in sims), r.stdout
        assert "3/3 ok" in r.stderr
    finally:
        for s in sims:
            s.close()


def test_endpoint_url_and_credentials_from_the_environment(bmc):
    """--endpoint takes a Server's spec.bmc.endpoint (ipmi://host:port); the user and the
    password may come from the environment instead of flags."""
    bmc.ensure_running()
    env = dict(os.environ, IRONBOOT_BMC_USER="admin", IRONBOOT_BMC_PASSWORD="pw")
    r = subprocess.run([IRONBOOT, "bmc", "--endpoint", f"ipmi://127.0.0.1:{bmc.port}", "--cipher-suite", "3",
                        "power", "on"], text=True, capture_output=True, timeout=60, env=env)
    assert ok(r).strip() == "power on: ok"
    assert wait_for(lambda: vm_chassis.qemu_pid(bmc.vm) is not None)
    assert ipmitool_power(bmc) == "Chassis Power is on"
    # A port in the URL wins over --port, as in spec.bmc.
    r = subprocess.run([IRONBOOT, "bmc", "--endpoint", f"ipmi://127.0.0.1:{bmc.port}", "--port", "1",
                        "--cipher-suite", "3", "power-status"], text=True, capture_output=True, timeout=60, env=env)
    assert ok(r).strip() == "power: on"
    env["IRONBOOT_BMC_PASSWORD"] = "not-pw"
    r = subprocess.run([IRONBOOT, "bmc", "--endpoint", "127.0.0.1", "--port", str(bmc.port), "--cipher-suite", "3",
                        "power-status"], text=True, capture_output=True, timeout=60, env=env)
    assert r.returncode == 1 and "error: AuthFailed" in r.stderr, r.stderr


def test_sequence_sets_pxe_then_powers_on_in_one_session(bmc):
    # Registration in one RMCP+ session: the chassis program sees the boot device before the
    # power-on, the VM boots the network once, and ipmitool agrees on the power afterwards.
    r = ironboot(bmc, "sequence", "power-status", "bootdev=pxe", "power=on", "power-status", suite=3, verbose=True)
    assert ok(r).strip().splitlines() == ["power: off", "bootdev pxe legacy once: ok", "power on: ok", "power: on"]
    assert r.stderr.count("session open") == 1, r.stderr
    assert wait_for(lambda: vm_chassis.qemu_pid(bmc.vm) is not None), "no QEMU process after power on"
    with open(os.path.join(bmc.vm, "calls.log")) as f:
        calls = f.read()
    assert calls.index("set boot pxe") < calls.index("set power 1"), calls
    with open(os.path.join(bmc.vm, "qemu.cmdline")) as f:
        assert "-boot once=n" in f.read()
    assert ipmitool_power(bmc) == "Chassis Power is on"
