"""A small boot storm (issue 13): ironboot-storm plays STORM_MACHINES machines through the whole
boot path at once — proxyDHCP (BIOS and UEFI, the 4011 REQUEST), TFTP (some with windowsize),
iPXE's DHCP, /boot.ipxe, /ipxe, kernel, initrd, register, long-poll, and for a share the
accept through the embedded API and the wipe exchange. A functional check, not a timing one:
every machine completes, and every machine's Server exists with the facts it reported
(accepted and clean for the accepted ones)."""

import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "bench", "storm"))
import stormlab  # noqa: E402

MACHINES = int(os.environ.get("STORM_MACHINES", "20"))


@pytest.fixture(scope="module")
def lab():
    if not os.path.exists(stormlab.STORM):
        pytest.skip(f"{stormlab.STORM} not built (ninja -C build bench/storm/ironboot-storm)")
    with stormlab.StormLab(MACHINES, peer=False) as lab:
        yield lab


def test_storm_boots_every_machine_and_each_server_exists(lab):
    report = lab.storm("ironboot", seed=7, extra=["--list-machines", "--accept-share", "0.3", "--uefi-share", "0.5",
                                                   "--window-share", "0.5"])
    assert report["failed"] == 0, json.dumps(report["failure_examples"], indent=1)
    machines = report["list"]
    assert len(machines) == MACHINES
    assert any(m["uefi"] for m in machines) and any(not m["uefi"] for m in machines)
    accepted = [m for m in machines if m["accepted"]]
    assert accepted and len(accepted) < MACHINES
    assert report["phases"]["pxe_request"]["count"] == sum(m["uefi"] for m in machines)
    assert report["phases"]["wiped"]["count"] == len(accepted)

    for m in machines:
        assert m["server"] == m["uuid"], m
        code, body = lab.api_get(f"/apis/metal.sidero.dev/v1alpha2/servers/{m['uuid']}")
        assert code == 200, body
        obj = json.loads(body)
        hw = obj["spec"]["hardware"]
        assert hw["system"]["uuid"] == m["uuid"]
        assert hw["compute"]["processorCount"] == 2 and hw["memory"]["moduleCount"] == 16, hw
        assert hw["storage"]["deviceCount"] == 4, hw["storage"]
        assert any(i["mac"] == m["mac"] for i in hw["network"]["interfaces"]), hw["network"]
        assert obj["spec"]["accepted"] is m["accepted"], obj["spec"]
        if m["accepted"]:
            assert obj.get("status", {}).get("isClean") is True, obj.get("status")
