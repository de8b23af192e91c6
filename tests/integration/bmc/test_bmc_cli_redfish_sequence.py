"""`ironboot bmc sequence` over Redfish against every vendor profile of tests/lib/redfish_mock.py
on loopback: status, PXE once, power on, status, power cycle in one run and one session (one
login, one logout), asserting the mock's resulting power, boot override and boot history, the
Boot PATCH each profile accepts (Mode omitted or read-only, Target + Enabled only, If-Match),
the ResetType picked from AllowableValues, and that a run fits a 2-session cap with one slot
already taken. Exit codes as in docs/bmc.md (0 done, 1 the BMC refused, 2 bad input)."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from redfish_mock import PROFILES, RedfishMock  # noqa: E402

IRONBOOT = os.environ.get("IRONBOOT_BIN") or os.path.join(ROOT, "build", "ironboot")

pytestmark = pytest.mark.skipif(not os.path.exists(IRONBOOT), reason="needs build/ironboot")

STEPS = ["power-status", "bootdev=pxe", "power=on", "power-status", "power=cycle", "power-status"]


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "pw"
    path.write_text("password\n")
    return str(path)


def sequence(m, password_file, *steps, extra=()):
    return subprocess.run([IRONBOOT, "bmc", "--endpoint", f"redfish://127.0.0.1:{m.port}", "--ca-file", m.cert,
                           "--user", "admin", "--password-file", password_file, "sequence", *extra, *steps],
                          text=True, capture_output=True, timeout=60)


def ok(r):
    assert r.returncode == 0, f"rc={r.returncode}\nstdout={r.stdout}\nstderr={r.stderr}"
    return r.stdout.strip().splitlines()


def boot_patches(m):
    return [r for r in m.requests_to("PATCH") if r["path"].startswith("/redfish/v1/Systems/")]


def assert_logged_out(m, logins=1):
    snap = m.snapshot()
    assert snap["sessions"] == [], snap
    assert len(m.requests_to("POST", "/SessionService/Sessions")) == logins
    deletes = [r for r in m.requests_to("DELETE") if "/SessionService/Sessions/" in r["path"]]
    assert len(deletes) == logins and all(r["status"] == 200 or r["status"] == 204 for r in deletes), deletes


def header(request, name):
    return next((v for k, v in request["headers"].items() if k.lower() == name.lower()), None)


@pytest.mark.parametrize("profile", PROFILES)
def test_status_pxe_on_cycle_in_one_session(profile, password_file):
    with RedfishMock(profile=profile) as m:
        lines = ok(sequence(m, password_file, *STEPS, extra=["--efi"]))
        mode = "efi"
        assert lines == ["power: off", f"bootdev pxe {mode} once: ok", "power on: ok", "power: on", "power cycle: ok",
                         "power: on"], lines
        snap = m.snapshot()
        # Power on booted the network once; the cycle after it booted as usual (the Once
        # override was used up), and the machine ends on.
        assert snap["power"] == "On", snap
        assert snap["boots"][0] == "Pxe" and all(b == "None" for b in snap["boots"][1:]), snap
        assert snap["boot"]["BootSourceOverrideEnabled"] == "Disabled", snap
        assert snap["boot"]["BootSourceOverrideTarget"] == "Pxe", snap
        # ResetType from AllowableValues: On to start; PowerCycle where offered, else a
        # restart or off-then-on the profile allows.
        assert snap["resets"][0] == "On", snap
        allowed = m.state.reset_types()
        assert all(t in allowed for t in snap["resets"]), (snap["resets"], allowed)
        if "PowerCycle" in allowed:
            assert snap["resets"] == ["On", "PowerCycle"], snap
        else:
            assert "PowerCycle" not in snap["resets"] and len(snap["resets"]) >= 2, snap
        # Every PATCH the run sent was one the profile accepted.
        patches = boot_patches(m)
        assert patches and patches[-1]["status"] in (200, 204), patches
        body = json.loads(patches[-1]["body"])["Boot"]
        assert body["BootSourceOverrideTarget"] == "Pxe" and body["BootSourceOverrideEnabled"] == "Once", body
        if profile in ("supermicro-x10", "dell", "hpe"):
            assert "BootSourceOverrideMode" not in body, body
        if profile == "hpe":
            assert set(body) == {"BootSourceOverrideTarget", "BootSourceOverrideEnabled"}, body
        if profile == "ifmatch":
            # The profile answers 428 without If-Match and 412 to a wrong tag: 204 means the
            # client sent the tag it read.
            assert header(patches[-1], "If-Match"), patches[-1]
        assert_logged_out(m)


def test_a_run_fits_a_two_session_cap_with_one_slot_taken(password_file):
    with RedfishMock(profile="sessioncap2") as m:
        taken = m.take_session_slot()
        assert len(taken) == 1
        # Three runs of six steps each: one session each, logged out before the next run.
        for _ in range(3):
            ok(sequence(m, password_file, *STEPS))
            assert m.snapshot()["sessions"] == taken
        assert m.snapshot()["power"] == "On"
        assert len(m.requests_to("POST", "/SessionService/Sessions")) == 4


def test_a_step_the_bmc_cannot_do_ends_the_run_with_exit_1_and_still_logs_out(password_file):
    # A BMC whose only ResetType is On: the power-off step has no ResetType, so the run stops
    # there; the status after it does not run, and the session is logged out all the same.
    with RedfishMock(reset_types=["On"]) as m:
        r = sequence(m, password_file, "power-status", "power=on", "power=off", "power-status")
        assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
        assert r.stdout.strip().splitlines() == ["power: off", "power on: ok"], r.stdout
        assert r.stderr.startswith("error: ") and "no ResetType for off among the allowed [On]" in r.stderr, r.stderr
        snap = m.snapshot()
        assert snap["power"] == "On" and snap["resets"] == ["On"], snap
        assert_logged_out(m)


@pytest.mark.parametrize("step", ["power", "power=sideways", "bootdev=cdrom", "device-id", "status"])
def test_a_bad_step_is_exit_2_before_any_request(step, password_file):
    with RedfishMock() as m:
        r = sequence(m, password_file, "power-status", step)
        assert r.returncode == 2 and r.stderr.startswith(f"error: sequence step '{step}'"), (r.returncode, r.stderr)
        assert m.requests == []
