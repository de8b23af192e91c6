"""Multi-operation runs of one Redfish client (build/tests/tools/redfish_probe) against the
vendor profiles of tests/lib/redfish_mock.py over HTTPS on loopback, beyond test_redfish.py's:
Metal3's registration flow from power off (status, PXE once, on, status, hard reset, status),
a second PATCH in the same session after a reset changed the ETag, ResetType chosen from a
narrow AllowableValues list with a refused operation in the middle of a run, and a 2-session
BMC with one slot already taken. Each asserts the mock's resulting state and the logout."""

import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_redfish import PROBE, IRONBOOT, boot_of, mock_factory, ok, probe  # noqa: E402,F401
from redfish_mock import PROFILES  # noqa: E402

pytestmark = pytest.mark.skipif(not (os.path.exists(PROBE) and os.path.exists(IRONBOOT)),
                                reason="build ironboot and tests/tools/redfish_probe first")


def assert_one_session_logged_out(mock, logins=1):
    assert len(mock.requests_to("POST", "/SessionService/Sessions")) == logins
    deletes = [r for r in mock.requests_to("DELETE") if "/SessionService/Sessions/" in r["path"]]
    assert [r["status"] for r in deletes] == [204] * logins, deletes
    assert mock.snapshot()["sessions"] == []


@pytest.mark.parametrize("profile", PROFILES)
def test_register_from_off_pxe_once_then_hard_reset(mock_factory, profile):
    mock = mock_factory(profile)
    r = ok(probe(mock, "status", "boot:pxe:once", "on", "status", "hard-reset", "status"))
    assert [x["power"] for x in r if x["op"] == "status"] == ["off", "on", "on"]
    state = mock.snapshot()
    # Power-on took the one-time PXE override, which the BMC then cleared; the hard reset
    # after it booted without an override.
    assert state["power"] == "On" and state["boots"] == ["Pxe", "None"], state
    assert state["boot"]["BootSourceOverrideEnabled"] == "Disabled", state
    # HardReset is ForceRestart, which every profile lists.
    assert state["resets"] == ["On", "ForceRestart"], state
    accepted = [p for p in mock.requests_to("PATCH") if p["status"] == 204]
    assert len(accepted) == 1 and boot_of(accepted[0])["BootSourceOverrideEnabled"] == "Once", accepted
    assert_one_session_logged_out(mock)


def test_second_patch_after_a_reset_sends_the_new_etag(mock_factory):
    # The ifmatch profile answers 428 without If-Match and 412 to a stale tag; every reset
    # bumps the system's ETag, so a client caching the first tag fails the second PATCH.
    mock = mock_factory("ifmatch")
    ok(probe(mock, "boot:pxe:once", "on", "boot:disk:continuous", "cycle", "status"))
    patches = mock.requests_to("PATCH")
    assert [p["status"] for p in patches] == [204, 204], patches
    tags = [p["headers"].get("If-Match") for p in patches]
    assert all(tags) and tags[0] != tags[1], tags
    state = mock.snapshot()
    assert state["boots"] == ["Pxe", "Hdd"], state
    assert state["boot"]["BootSourceOverrideEnabled"] == "Continuous", state
    assert state["boot"]["BootSourceOverrideTarget"] == "Hdd", state
    assert_one_session_logged_out(mock)


def test_reset_type_from_a_narrow_allowable_values_list(mock_factory):
    # Only On and ForceOff: cycle is off then on, a hard reset has no ResetType and is refused
    # without a request, and the run goes on in the same session.
    mock = mock_factory("dmtf", reset_types=["On", "ForceOff"])
    r = probe(mock, "on", "cycle", "hard-reset", "status", "off", "status")
    by_op = {x["op"]: x for x in r}
    assert not by_op["hard-reset"]["ok"] and "no ResetType for hard-reset" in by_op["hard-reset"]["message"], r
    assert all(x["ok"] for x in r if x["op"] != "hard-reset"), r
    assert [x["power"] for x in r if x["op"] == "status"] == ["on", "off"], r
    state = mock.snapshot()
    assert state["resets"] == ["On", "ForceOff", "On", "ForceOff"], state
    resets = mock.requests_to("POST", "/Actions/ComputerSystem.Reset")
    assert [json.loads(x["body"])["ResetType"] for x in resets] == state["resets"], resets
    assert_one_session_logged_out(mock)


def test_a_long_run_uses_one_session_under_a_cap_of_two_with_one_taken(mock_factory):
    mock = mock_factory("sessioncap2")
    taken = mock.take_session_slot()
    ok(probe(mock, "status", "boot:pxe:once", "on", "status", "cycle", "boot:disk:once", "hard-reset", "off",
             "status", auth="session"))
    state = mock.snapshot()
    assert state["sessions"] == taken and state["power"] == "Off", state
    assert state["boots"] == ["Pxe", "None", "Hdd"], state
    # Our login and the one taken before: no second login of ours, no 503.
    logins = mock.requests_to("POST", "/SessionService/Sessions")
    assert [x["status"] for x in logins] == [201, 201], logins
