"""The real kubectl shows a Server's BMC, lifecycle state and power (issue 14): BMC and POWER
by default, as in the course material's `kubectl get servers`, and the new spec/status fields
explained from the CRD."""

import json

from kubectl_output import table
from kubelab import server_manifest, write_manifest

UUID = "4c4c4544-0035-4410-8057-b4c04f4a3599"


def test_get_servers_shows_bmc_state_and_power(cluster):
    manifest = server_manifest(UUID, hostname="rack2-u07", extra_spec={
        "bmc": {"endpoint": "redfish://[fd00::7]/redfish/v1/Systems/1", "insecureSkipVerify": True,
                "passFrom": {"secretKeyRef": {"name": "rack2-u07-bmc", "key": "password"}}},
        "online": True,
    })
    cluster.kubectl("create", "-f", write_manifest(manifest))
    rows = table(cluster.kubectl("get", "servers").stdout)
    assert list(rows[0]) == ["NAME", "HOSTNAME", "BMC", "STATE", "ACCEPTED", "CORDONED", "ALLOCATED", "CLEAN",
                             "POWER", "AGE"]
    assert rows[0]["BMC"] == "redfish://[fd00::7]/redfish/v1/Systems/1"

    # What the BMC controller writes, through the status subresource.
    cluster.kubectl("patch", "server", UUID, "--subresource", "status", "--type", "merge", "-p", json.dumps(
        {"status": {"power": "on", "state": "Available", "isClean": True, "inUse": False,
                    "bmc": {"address": "10.0.0.7", "ipSource": "static", "channel": 1, "port": 623}}}))
    row = table(cluster.kubectl("get", "servers").stdout)[0]
    assert (row["STATE"], row["POWER"], row["CLEAN"], row["ALLOCATED"]) == ("Available", "on", "true", "false")
    wide = table(cluster.kubectl("get", "servers", "-o", "wide").stdout)[0]
    assert wide["BMC"] == "redfish://[fd00::7]/redfish/v1/Systems/1" and wide["POWER"] == "on"

    obj = json.loads(cluster.kubectl("get", "server", UUID, "-o", "json").stdout)
    assert obj["spec"]["online"] is True and obj["spec"]["bmc"]["insecureSkipVerify"] is True
    assert obj["status"]["bmc"]["address"] == "10.0.0.7"

    # The schema refuses what the CRD does not allow.
    r = cluster.kubectl("patch", "server", UUID, "--subresource", "status", "--type", "merge",
                        "-p", '{"status":{"state":"Sleeping"}}', check=False)
    assert r.returncode != 0 and "state" in r.stderr
    r = cluster.kubectl("patch", "server", UUID, "--type", "merge", "-p", '{"spec":{"bmc":{"cipherSuite":2}}}',
                        check=False)
    assert r.returncode != 0 and "cipherSuite" in r.stderr


def test_explain_new_fields(cluster):
    for path, kind in (("servers.spec.online", "boolean"), ("servers.spec.bmc.cipherSuite", "integer"),
                       ("servers.status.state", "string"), ("servers.status.power", "string")):
        out = cluster.kubectl("explain", path).stdout
        assert f"<{kind}>" in out, out
