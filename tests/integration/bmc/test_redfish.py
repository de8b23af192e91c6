"""ironboot's Redfish client (src/bmc/redfish_*) against tests/lib/redfish_mock.py over real
HTTPS on loopback. What an operator reaches one BMC with (endpoint URLs, certificates, ETag
modes, wrong passwords, transport failures) runs through `ironboot bmc --endpoint`, one
command a run; what needs one client across several operations (sessions, learned quirks,
queueing, close()) runs through build/tests/tools/redfish_probe, which keeps one client for
all its operations. No Redfish BMC emulator is packaged for Debian 12, so the peer is a
stateful mock shaped like DMTF's public mockups with the vendor quirks of the anchors' bug
reports (see the mock's header)."""

import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request

import re

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from redfish_mock import PROFILES, RedfishMock  # noqa: E402

PROBE = os.environ.get("REDFISH_PROBE") or os.path.join(
    os.path.dirname(os.environ.get("IRONBOOT_BIN") or os.path.join(ROOT, "build", "ironboot")), "tests", "tools", "redfish_probe")

IRONBOOT = os.environ.get("IRONBOOT_BIN") or os.path.join(ROOT, "build", "ironboot")

pytestmark = pytest.mark.skipif(not (os.path.exists(PROBE) and os.path.exists(IRONBOOT)),
                                reason="build ironboot and tests/tools/redfish_probe first")


def cli(mock, *command, trust=True, insecure=False, host="127.0.0.1", port=None, scheme="redfish", path="",
        ca_file=None, timeout_ms=None, auth=None, etag=None, password="password"):
    """`ironboot bmc --endpoint SCHEME://HOST:PORT/PATH COMMAND` -> {"ok", "out"} or
    {"ok", "reason", "message"} from its `error: Reason: message` (exit 1)."""
    cmd = [IRONBOOT, "bmc", "--endpoint", f"{scheme}://{host}:{port or mock.port}{path}", "--user", "admin"]
    if trust and mock is not None and mock.cert and not insecure:
        cmd += ["--ca-file", ca_file or mock.cert]
    if insecure:
        cmd.append("--insecure")
    if timeout_ms:
        cmd += ["--timeout-ms", str(timeout_ms)]
    if auth:
        cmd += ["--redfish-auth", auth]
    if etag:
        cmd += ["--redfish-etag", etag]
    out = subprocess.run(cmd + list(command), capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, IRONBOOT_BMC_PASSWORD=password))
    if out.returncode == 0:
        return {"ok": True, "out": out.stdout.strip()}
    assert out.returncode == 1, out.stderr
    m = re.fullmatch(r"error: (\w+): (.*)", out.stderr.strip(), re.S)
    assert m, out.stderr
    return {"ok": False, "reason": m.group(1), "message": m.group(2)}


def probe(mock, *ops, trust=True, insecure=False, auth=None, etag=None, user="admin", password="password",
          timeout_ms=None, host="127.0.0.1", port=None, http=False, system_path=None, ca_file=None,
          all_at_once=False, close_after_ms=None):
    cmd = [PROBE, "--host", host, "--port", str(port or mock.port), "--user", user, "--password", password]
    if http:
        cmd.append("--http")
    if trust and mock is not None and mock.cert and not insecure:
        cmd += ["--ca-file", ca_file or mock.cert]
    if insecure:
        cmd.append("--insecure")
    if auth:
        cmd += ["--auth", auth]
    if etag:
        cmd += ["--etag", etag]
    if timeout_ms:
        cmd += ["--timeout-ms", str(timeout_ms)]
    if system_path:
        cmd += ["--system-path", system_path]
    if all_at_once:
        cmd.append("--all-at-once")
    if close_after_ms is not None:
        cmd += ["--close-after-ms", str(close_after_ms)]
    out = subprocess.run(cmd + list(ops), capture_output=True, text=True, timeout=60)
    assert out.returncode in (0, 1), out.stderr
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert sorted(r["op"] for r in results) == sorted(ops), out.stdout + out.stderr
    return results


def ok(results):
    assert all(r["ok"] for r in results), json.dumps(results, indent=1)
    return results


def boot_of(request):
    return json.loads(request["body"])["Boot"]


@pytest.fixture
def mock_factory():
    mocks = []

    def make(profile="dmtf", **kw):
        m = RedfishMock(profile, **kw).start()
        mocks.append(m)
        return m

    yield make
    for m in mocks:
        m.stop()


# ---- every profile: power and next boot ---------------------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_power_and_pxe_once(mock_factory, profile):
    mock = mock_factory(profile)
    r = ok(probe(mock, "status", "on", "status", "boot:pxe:once", "cycle", "status", "off", "status"))
    assert [x["power"] for x in r if x["op"] == "status"] == ["off", "on", "on", "off"]
    state = mock.snapshot()
    assert state["power"] == "Off"
    # The cycle booted from the network once; a Once override is then cleared.
    assert state["boots"] == ["None", "Pxe"]
    assert state["boot"]["BootSourceOverrideTarget"] == "Pxe"
    assert state["boot"]["BootSourceOverrideEnabled"] == "Disabled"
    expected_cycle = "ForceRestart" if profile in ("nopowercycle", "supermicro-x10") else "PowerCycle"
    assert state["resets"] == ["On", expected_cycle, "ForceOff"]

    patches = mock.requests_to("PATCH")
    accepted = [p for p in patches if p["status"] == 204]
    assert len(accepted) == 1
    body = boot_of(accepted[0])
    assert body["BootSourceOverrideTarget"] == "Pxe" and body["BootSourceOverrideEnabled"] == "Once"
    if profile == "supermicro-x10":
        assert all("BootSourceOverrideMode" not in boot_of(p) for p in patches)
        assert "BootSourceOverrideMode" not in state["boot"]
    elif profile in ("dell", "hpe"):
        # Full object refused with 400, then Target+Enabled only.
        assert [p["status"] for p in patches] == [400, 204]
        assert "BootSourceOverrideMode" in boot_of(patches[0])
        assert set(body) == {"BootSourceOverrideTarget", "BootSourceOverrideEnabled"}
    else:
        assert [p["status"] for p in patches] == [204]
        assert body["BootSourceOverrideMode"] == "UEFI"
    if profile == "supermicro-x10":
        assert all("If-Match" not in p["headers"] for p in patches)  # it has no ETag
    else:
        assert all(p["headers"].get("If-Match", "").startswith('W/"') for p in patches)
    # One session, logged out on close.
    assert len(mock.requests_to("POST", "/SessionService/Sessions")) == 1
    assert len(mock.requests_to("DELETE", "/SessionService/Sessions/1")) == 1
    assert state["sessions"] == []


def test_dell_read_only_mode_is_learned(mock_factory):
    mock = mock_factory("dell")
    ok(probe(mock, "boot:pxe:once", "boot:disk:continuous"))
    patches = mock.requests_to("PATCH")
    assert [p["status"] for p in patches] == [400, 204, 204]
    assert "BootSourceOverrideMode" not in boot_of(patches[2])
    assert mock.snapshot()["boot"] == {"BootSourceOverrideEnabled": "Continuous", "BootSourceOverrideTarget": "Hdd",
                                      "BootSourceOverrideMode": "UEFI"}


def test_legacy_mode_is_written_where_writable(mock_factory):
    mock = mock_factory("dmtf")
    ok(probe(mock, "boot:pxe:continuous:legacy"))
    assert mock.snapshot()["boot"] == {"BootSourceOverrideEnabled": "Continuous", "BootSourceOverrideTarget": "Pxe",
                                      "BootSourceOverrideMode": "Legacy"}


def test_soft_off_and_hard_reset(mock_factory):
    mock = mock_factory("dmtf")
    ok(probe(mock, "on", "hard-reset", "soft-off", "soft-off", "on", "on"))
    # Already off / already on: nothing sent.
    assert mock.snapshot()["resets"] == ["On", "ForceRestart", "GracefulShutdown", "On"]


def test_cycle_of_an_off_system_powers_it_on(mock_factory):
    mock = mock_factory("nopowercycle")
    ok(probe(mock, "cycle", "status"))
    assert mock.snapshot()["resets"] == ["On"]


def test_system_path_given_by_the_endpoint(mock_factory):
    mock = mock_factory("dell")
    assert cli(mock, "power-status", path="/redfish/v1/Systems/System.Embedded.1")["ok"]
    assert mock.requests_to("GET", "/redfish/v1/Systems") == []
    r = cli(mock, "power-status", path="/redfish/v1/Systems/9")
    assert r["reason"] == "Unsupported" and "404" in r["message"]


# ---- ETag / If-Match ------------------------------------------------------------------------

def test_ifmatch_428_without_if_match_when_etag_off(mock_factory):
    mock = mock_factory("ifmatch")
    r = cli(mock, "bootdev", "pxe", etag="off")
    assert not r["ok"] and r["reason"] == "Rejected" and "428" in r["message"]
    assert all("If-Match" not in p["headers"] for p in mock.requests_to("PATCH"))


def test_ifmatch_stale_etag_is_read_again(mock_factory):
    mock = mock_factory("ifmatch", stale_etag_once=True)
    assert cli(mock, "bootdev", "pxe")["ok"]
    patches = mock.requests_to("PATCH")
    assert [p["status"] for p in patches] == [412, 204]
    assert patches[0]["headers"]["If-Match"] != patches[1]["headers"]["If-Match"]
    assert len(mock.requests_to("GET", "/Systems/437XR1138R2")) == 2  # read again after the 412


def test_ifmatch_unquoted_spelling(mock_factory):
    # A BMC that sends "tag" but only accepts tag: the fresh tag, then its other spellings.
    mock = mock_factory("ifmatch", ifmatch_bare=True)
    assert cli(mock, "bootdev", "pxe")["ok"]
    patches = mock.requests_to("PATCH")
    assert [p["status"] for p in patches] == [412, 412, 204]
    tag = mock.snapshot()["etag"]
    assert patches[-1]["headers"]["If-Match"] != tag
    assert patches[-1]["headers"]["If-Match"] == patches[0]["headers"]["If-Match"].strip('"')


def test_etag_on_sends_if_match_without_an_etag(mock_factory):
    mock = mock_factory("supermicro-x10")
    assert cli(mock, "bootdev", "pxe", etag="on")["ok"]
    assert mock.requests_to("PATCH")[0]["headers"]["If-Match"] == "*"


def test_etag_off_never_sends_if_match(mock_factory):
    mock = mock_factory("dmtf")
    assert cli(mock, "bootdev", "pxe", etag="off")["ok"]
    assert "If-Match" not in mock.requests_to("PATCH")[0]["headers"]


# ---- TLS ------------------------------------------------------------------------------------

def test_untrusted_certificate_is_refused(mock_factory):
    mock = mock_factory("dmtf")
    r = [cli(mock, "power-status", trust=False), cli(mock, "power", "on", trust=False)]
    assert [x["reason"] for x in r] == ["TLS", "TLS"]
    assert "certificate" in r[0]["message"]
    assert mock.requests == []  # not one HTTP request went over the untrusted connection
    assert mock.snapshot()["power"] == "Off"


def test_insecure_skip_verify_works(mock_factory):
    mock = mock_factory("dmtf")
    assert cli(mock, "power", "on", trust=False, insecure=True)["ok"]
    assert mock.snapshot()["power"] == "On"


def test_hostname_is_checked(mock_factory):
    mock = mock_factory("dmtf", cert_san="DNS:bmc.example")
    r = cli(mock, "power-status")  # trusted CA, wrong name
    assert r["reason"] == "TLS"
    assert mock.requests == []


def test_dns_name_with_sni(mock_factory):
    mock = mock_factory("dmtf", cert_san="DNS:localhost")
    assert cli(mock, "power-status", host="localhost") == {"ok": True, "out": "power: off"}


def test_unreadable_ca_file_is_a_tls_failure(mock_factory):
    mock = mock_factory("dmtf")
    r = cli(mock, "power-status", ca_file="/nonexistent/ca.pem")
    assert r["reason"] == "TLS" and "/nonexistent/ca.pem" in r["message"]


def test_plain_http(mock_factory):
    mock = mock_factory("dmtf", tls=False)
    assert cli(mock, "power", "on", scheme="redfish+http")["ok"]
    assert cli(mock, "power-status", scheme="redfish+http") == {"ok": True, "out": "power: on"}
    assert mock.snapshot()["power"] == "On"


# ---- authentication -------------------------------------------------------------------------

def test_basic_auth_opens_no_session(mock_factory):
    mock = mock_factory("dmtf")
    ok(probe(mock, "status", "on", auth="basic"))
    assert mock.requests_to("POST", "/Sessions") == []
    expected = "Basic " + base64.b64encode(b"admin:password").decode()
    authed = [r for r in mock.requests if r["path"] != "/redfish/v1/"]
    assert authed and all(r["headers"].get("Authorization") == expected for r in authed)


def test_session_auth_logs_out_on_close(mock_factory):
    mock = mock_factory("dmtf")
    ok(probe(mock, "status", "on", "status", auth="session"))
    posts = mock.requests_to("POST", "/SessionService/Sessions")
    assert len(posts) == 1
    deletes = mock.requests_to("DELETE")
    assert [d["path"] for d in deletes] == ["/redfish/v1/SessionService/Sessions/1"]
    assert deletes[0]["status"] == 204
    assert mock.snapshot()["sessions"] == []
    # No Basic credentials, only the token; every request, the logout too, on one keep-alive
    # connection.
    assert all("Authorization" not in r["headers"] for r in mock.requests)
    assert len({r["client_port"] for r in mock.requests}) == 1


def test_wrong_password(mock_factory):
    for auth in ("session", "basic"):
        mock = mock_factory("dmtf")
        r = cli(mock, "power-status", auth=auth, password="wrong")
        assert r["reason"] == "AuthFailed", r
        assert mock.snapshot()["sessions"] == []


def test_expired_session_is_renewed_once(mock_factory):
    mock = mock_factory("dmtf")
    # The BMC forgets every session as soon as one is created (an aggressive session timeout).
    original = mock.state.reset

    def forget_sessions_then_reset(reset_type):
        mock.state.sessions.clear()
        original(reset_type)

    mock.state.reset = forget_sessions_then_reset
    ok(probe(mock, "on", "status", "off", auth="session"))
    statuses = [(r["method"], r["status"]) for r in mock.requests]
    assert ("GET", 401) in statuses
    assert len(mock.requests_to("POST", "/SessionService/Sessions")) == 2


def session_post(mock):
    ctx = ssl.create_default_context(cafile=mock.cert)
    req = urllib.request.Request("https://127.0.0.1:%d/redfish/v1/SessionService/Sessions" % mock.port,
                                 data=json.dumps({"UserName": "admin", "Password": "password"}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, context=ctx) as resp:
        return resp.headers["Location"], resp.headers["X-Auth-Token"]


def test_session_cap_is_busy_and_never_leaks(mock_factory):
    mock = mock_factory("sessioncap2")
    held = [session_post(mock), session_post(mock)]  # two other tools hold both sessions
    for _ in range(3):
        r = probe(mock, "status", "on")
        assert [x["reason"] for x in r] == ["Busy", "Busy"], r
        assert "retry later" in r[0]["message"]
        assert "retrying the login in" in r[1]["message"]
    assert len(mock.snapshot()["sessions"]) == 2
    assert mock.snapshot()["power"] == "Off"
    # Within one client the second operation does not knock again before Retry-After (30 s).
    assert len(mock.requests_to("POST", "/SessionService/Sessions")) == 2 + 3
    # One of them logs out: the next run works and gives its session back.
    location, token = held.pop()
    ctx = ssl.create_default_context(cafile=mock.cert)
    urllib.request.urlopen(urllib.request.Request("https://127.0.0.1:%d%s" % (mock.port, location), method="DELETE",
                                                  headers={"X-Auth-Token": token}), context=ctx).close()
    for _ in range(3):
        ok(probe(mock, "status", "on", "status"))
        assert len(mock.snapshot()["sessions"]) == 1
    assert mock.snapshot()["power"] == "On"


# ---- one operation at a time, and close() -------------------------------------------------

def test_queued_operations_run_in_order_on_one_session(mock_factory):
    mock = mock_factory("sessioncap2")
    r = ok(probe(mock, "status", "on", "boot:pxe", "cycle", "off", "status", all_at_once=True))
    assert [x["op"] for x in r] == ["status", "on", "boot:pxe", "cycle", "off", "status"]
    assert r[-1]["power"] == "off"
    assert len(mock.requests_to("POST", "/SessionService/Sessions")) == 1
    assert mock.snapshot()["sessions"] == []


def test_close_cancels_pending_operations(mock_factory):
    mock = mock_factory("dmtf", delay=0.3)
    r = probe(mock, "status", "on", "off", all_at_once=True, close_after_ms=100)
    assert sorted(x["reason"] for x in r) == ["Cancelled"] * 3, r
    assert mock.snapshot()["power"] == "Off"


def test_close_during_login_still_logs_out(mock_factory):
    # close() lands while the session POST is in flight: the session it creates is deleted.
    mock = mock_factory("dmtf", delay=0.5)
    r = probe(mock, "status", "on", auth="session", close_after_ms=750)
    assert [x["reason"] for x in r] == ["Cancelled", "NotRun"], r
    created = [p for p in mock.requests_to("POST", "/SessionService/Sessions") if p["status"] == 201]
    assert len(created) == 1, mock.requests
    assert [d["path"] for d in mock.requests_to("DELETE")] == ["/redfish/v1/SessionService/Sessions/1"]
    assert mock.snapshot()["sessions"] == []
    assert mock.snapshot()["power"] == "Off"


# ---- transport failures ---------------------------------------------------------------------

def silent_server():
    """Accepts connections and never answers; returns (socket, port)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    return s, s.getsockname()[1]


def test_silent_bmc_times_out():
    s, port = silent_server()
    try:
        start = time.monotonic()
        r = cli(None, "power-status", port=port, insecure=True, timeout_ms=700)
        assert r["reason"] == "Timeout", r
        assert time.monotonic() - start < 10
    finally:
        s.close()


def test_closed_port_is_unreachable():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = cli(None, "power-status", port=port, insecure=True)
    assert r["reason"] == "Unreachable", r


def test_oversized_answer_is_refused():
    s, port = silent_server()

    def serve():
        conn, _ = s.accept()
        conn.recv(65536)
        body = b'{"pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        try:
            conn.sendall(head + body)
        except OSError:
            pass
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        r = cli(None, "power-status", port=port, scheme="redfish+http")
        assert r["reason"] == "Protocol" and "too large" in r["message"], r
    finally:
        s.close()


# ---- the power behind a chassis_control program -------------------------------------------

CHASSIS_PROGRAM = r'''
import json, os, sys
state_path = sys.argv[1]
state = json.load(open(state_path)) if os.path.exists(state_path) else {"power": 0, "boot": "none", "log": []}
args = sys.argv[2:]
state["log"].append(" ".join(args))
if args == ["get", "power"]:
    print("power:%d" % state["power"])
elif args[:1] == ["set"] and len(args) == 3:
    what, value = args[1], args[2]
    if what == "power":
        state["power"] = int(value)
    elif what == "reset":
        state["resets"] = state.get("resets", 0) + 1
    elif what == "boot":
        state["boot"] = value
    elif what == "shutdown":
        state["power"] = 0
    else:
        sys.exit(1)
else:
    sys.exit(1)
with open(state_path + ".tmp", "w") as f:
    json.dump(state, f)
os.replace(state_path + ".tmp", state_path)
'''


def test_chassis_program_holds_the_power(mock_factory, tmp_path):
    program = tmp_path / "chassis.py"
    program.write_text(CHASSIS_PROGRAM)
    state_file = tmp_path / "chassis.json"
    mock = mock_factory("dmtf", chassis_program="%s %s %s" % (sys.executable, program, state_file))
    ok(probe(mock, "status", "boot:pxe:once", "on", "status"))
    state = json.loads(state_file.read_text())
    assert state["power"] == 1
    assert state["boot"] == "pxe"
    sets = [line for line in state["log"] if line.startswith("set")]
    assert sets == ["set boot pxe", "set power 1"]  # the boot device is told before power-on
    # Off behind the mock's back (the VM shut itself down): the mock reports what the program says.
    state["power"] = 0
    state_file.write_text(json.dumps(state))
    r = ok(probe(mock, "status", "cycle", "hard-reset", "soft-off"))
    assert r[0]["power"] == "off"
    state = json.loads(state_file.read_text())
    sets = [line for line in state["log"] if line.startswith("set")]
    # The Once override was used: the cycle of an off machine powers it on from disk.
    assert sets[2:] == ["set boot none", "set power 1", "set boot none", "set reset 1", "set shutdown 1"]
    assert state["power"] == 0


def test_mock_as_a_program_with_a_json_log(tmp_path):
    # How other tests (a QEMU VM behind the mock) run it: a process, a port file, a log file.
    port_file, log = tmp_path / "port", tmp_path / "log.json"
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "lib", "redfish_mock.py"), "--profile", "hpe",
                             "--port-file", str(port_file), "--log", str(log), "--cert-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() is not None else "no port"
            time.sleep(0.05)
        port = int(port_file.read_text())
        out = subprocess.run([PROBE, "--host", "127.0.0.1", "--port", str(port), "--user", "admin", "--password", "password",
                              "--ca-file", str(tmp_path / "redfish-mock.crt"), "boot:pxe", "on"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stdout + out.stderr
        record = json.loads(log.read_text())
        assert record["state"]["power"] == "On" and record["state"]["boots"] == ["Pxe"]
        methods = [(r["method"], r["status"]) for r in record["requests"]]
        assert ("PATCH", 400) in methods and ("PATCH", 204) in methods and ("DELETE", 204) in methods
        assert all({"method", "path", "headers", "body"} <= set(r) for r in record["requests"])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
