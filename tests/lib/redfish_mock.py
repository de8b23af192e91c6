"""A stateful Redfish BMC mock for the tests of ironboot's Redfish client.

No Redfish BMC emulator is packaged for Debian 12 (DMTF's Redfish-Mockup-Server and
sushy-tools are not in the archive), so this is a mock, not a real peer: its documents are
shaped like DMTF's public mockups (public-rackmount1: service root, Systems collection, one
ComputerSystem with a Boot block and AllowableValues, the #ComputerSystem.Reset action with
ResetType@Redfish.AllowableValues, SessionService/Sessions, @odata.etag plus an ETag header),
and its vendor profiles reproduce what the anchors' bug reports describe:

  dmtf            the DMTF mockup (default)
  dell            BootSourceOverrideMode read-only: a PATCH carrying it gets iDRAC's 400 SYS410
  supermicro-x10  no BootSourceOverrideMode property at all, no ETag
  hpe             a PATCH carrying more of the Boot object than Target+Enabled gets a 400
                  (HPE DL160 Gen10); Target+Enabled alone is accepted
  ifmatch         PATCH without If-Match gets 428, with a stale one 412
  sessioncap2     two sessions at most: the third POST .../Sessions gets 503 "maximum number
                  of user sessions"
  nopowercycle    ResetType AllowableValues without PowerCycle (DMTF's public-rackmount1)

The power state lives in the mock, or, with chassis_program ("PROGRAM ARGS"), in a program
speaking ipmi_sim's chassis_control protocol: `PROGRAM ARGS get power` prints power:1 or
power:0; `set power 0|1`, `set reset 1`, `set boot pxe|none`, `set shutdown 1` act. So the
same mock can drive a QEMU VM.

Serves HTTPS with a self-signed certificate made at start with the openssl CLI (or plain
HTTP), and records every request (method, path, headers, body) in `requests` and, when
log_path is given, in a JSON file {"requests": [...], "state": {...}} rewritten after each.

Use as a module (RedfishMock(...).start()) or run it:
  python3 redfish_mock.py --profile dell --port 0 --log /tmp/log.json --port-file /tmp/port
"""

import argparse
import base64
import copy
import hashlib
import json
import urllib.request
import os
import secrets
import shlex
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROFILES = ("dmtf", "dell", "supermicro-x10", "hpe", "ifmatch", "sessioncap2", "nopowercycle")

ALL_RESET_TYPES = ["On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "Nmi",
                   "ForceOn", "PushPowerButton", "PowerCycle"]
BOOT_TARGETS = ["None", "Pxe", "Floppy", "Cd", "Usb", "Hdd", "BiosSetup", "Utilities", "Diags",
                "UefiShell", "UefiTarget", "SDCard", "UefiHttp"]


def make_certificate(directory, san="IP:127.0.0.1,DNS:localhost"):
    """A self-signed certificate and key (PEM files) for `san`; returns (cert, key)."""
    cert = os.path.join(directory, "redfish-mock.crt")
    key = os.path.join(directory, "redfish-mock.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=redfish-mock",
                    "-addext", "subjectAltName=" + san],
                   check=True, capture_output=True)
    return cert, key


def error_body(code, message, extended=()):
    return {"error": {"code": code, "message": message, "@Message.ExtendedInfo": list(extended)}}


def info(message_id, message, related=()):
    m = {"MessageId": message_id, "Message": message, "Severity": "Warning"}
    if related:
        m["RelatedProperties"] = list(related)
    return m


class ChassisProgram:
    """ipmi_sim's chassis_control protocol, as the program `command` ("PROGRAM ARGS") speaks it."""

    def __init__(self, command):
        self.argv = shlex.split(command)

    def run(self, *args):
        out = subprocess.run(self.argv + list(args), capture_output=True, text=True, timeout=10)
        if out.returncode != 0:
            raise RuntimeError("chassis program %s failed: %s" % (" ".join(args), out.stderr.strip()))
        return out.stdout

    def get_power(self):
        for line in self.run("get", "power").splitlines():
            if line.strip().startswith("power:"):
                return line.split(":", 1)[1].strip() == "1"
        raise RuntimeError("chassis program printed no power:N line")

    def set(self, what, value):
        self.run("set", what, value)


class MockState:
    def __init__(self, profile, user, password, chassis_program, stale_etag_once, ifmatch_bare, reset_types=None):
        if profile not in PROFILES:
            raise ValueError("unknown profile %r (known: %s)" % (profile, ", ".join(PROFILES)))
        self.profile = profile
        self.user, self.password = user, password
        self.chassis = ChassisProgram(chassis_program) if chassis_program else None
        self.stale_etag_once = stale_etag_once
        self.ifmatch_bare = ifmatch_bare
        self.only_reset_types = reset_types  # a BMC offering fewer ResetTypes than its profile's
        self.system_id = {"dell": "System.Embedded.1", "supermicro-x10": "1", "hpe": "1"}.get(profile, "437XR1138R2")
        self.powered = False
        self.boot = {"BootSourceOverrideEnabled": "Disabled", "BootSourceOverrideTarget": "None"}
        if profile != "supermicro-x10":
            self.boot["BootSourceOverrideMode"] = "UEFI"
        self.version = 1
        self.system_gets = 0
        self.sessions = {}  # id -> token
        self.next_session = 1
        self.session_cap = 2 if profile == "sessioncap2" else 16
        self.resets = []  # ResetType values carried out
        self.boots = []   # what each power-on/reset booted from: "Pxe", "Hdd", "None"
        self.lock = threading.RLock()

    # -- the system ----------------------------------------------------------------------
    @property
    def system_path(self):
        return "/redfish/v1/Systems/" + self.system_id

    def etag(self):
        if self.profile == "supermicro-x10":
            return ""
        digest = hashlib.sha1(("%s-%d" % (self.system_id, self.version)).encode()).hexdigest()[:12]
        return '"%s"' % digest if self.ifmatch_bare else 'W/"%s"' % digest

    def etag_accepts(self, if_match):
        tag = self.etag()
        if if_match.strip() == "*":
            return True
        if self.ifmatch_bare:
            return if_match.strip() == tag.strip('"')
        return if_match.strip() == tag

    def is_on(self):
        return self.chassis.get_power() if self.chassis else self.powered

    def reset_types(self):
        if self.only_reset_types is not None:
            return list(self.only_reset_types)
        if self.profile == "nopowercycle":
            return [t for t in ALL_RESET_TYPES if t != "PowerCycle"]
        if self.profile == "supermicro-x10":
            return ["On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "Nmi", "ForceOn"]
        return list(ALL_RESET_TYPES)

    def system_document(self):
        boot = dict(self.boot)
        boot["BootSourceOverrideTarget@Redfish.AllowableValues"] = BOOT_TARGETS
        if self.profile != "supermicro-x10":
            boot["BootSourceOverrideEnabled@Redfish.AllowableValues"] = ["Disabled", "Once", "Continuous"]
        if self.profile in ("dmtf", "hpe", "ifmatch", "sessioncap2", "nopowercycle"):
            boot["BootSourceOverrideMode@Redfish.AllowableValues"] = ["Legacy", "UEFI"]
        doc = {
            "@odata.type": "#ComputerSystem.v1_13_0.ComputerSystem",
            "@odata.id": self.system_path,
            "Id": self.system_id,
            "Name": "WebFrontEnd483",
            "SystemType": "Physical",
            "Manufacturer": {"dell": "Dell Inc.", "hpe": "HPE", "supermicro-x10": "Supermicro"}.get(self.profile, "Contoso"),
            "PowerState": "On" if self.is_on() else "Off",
            "Boot": boot,
            "Actions": {"#ComputerSystem.Reset": {
                "target": self.system_path + "/Actions/ComputerSystem.Reset",
                "ResetType@Redfish.AllowableValues": self.reset_types()}},
        }
        if self.etag():
            doc["@odata.etag"] = self.etag()
        return doc

    def boot_now(self):
        """The machine starts (power on, reset, cycle): it boots from the override, which a
        Once override then clears, as BMCs do."""
        target = self.boot["BootSourceOverrideTarget"] if self.boot["BootSourceOverrideEnabled"] != "Disabled" else "None"
        if self.chassis:
            self.chassis.set("boot", "pxe" if target == "Pxe" else "none")
        self.boots.append(target)
        if self.boot["BootSourceOverrideEnabled"] == "Once":
            self.boot["BootSourceOverrideEnabled"] = "Disabled"
            self.version += 1

    def power_on(self):
        if self.is_on():
            return
        self.boot_now()
        if self.chassis:
            self.chassis.set("power", "1")
        self.powered = True

    def power_off(self, graceful):
        if self.chassis:
            self.chassis.set("shutdown" if graceful else "power", "1" if graceful else "0")
        self.powered = False

    def reset(self, reset_type):
        was_on = self.is_on()
        if reset_type in ("On", "ForceOn"):
            self.power_on()
        elif reset_type == "ForceOff":
            self.power_off(False)
        elif reset_type == "GracefulShutdown":
            self.power_off(True)
        elif reset_type in ("ForceRestart", "GracefulRestart"):
            if was_on:
                self.boot_now()
                if self.chassis:
                    self.chassis.set("reset", "1")
        elif reset_type == "PowerCycle":
            if was_on:
                self.power_off(False)
            self.power_on()
        elif reset_type == "PushPowerButton":
            if was_on:
                self.power_off(True)
            else:
                self.power_on()
        self.resets.append(reset_type)
        self.version += 1

    def snapshot(self):
        return {"profile": self.profile, "power": "On" if self.is_on() else "Off", "boot": dict(self.boot),
                "etag": self.etag(), "sessions": sorted(self.sessions), "resets": list(self.resets),
                "boots": list(self.boots)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 15
    server_version = "redfish-mock"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    # -- plumbing ----------------------------------------------------------------------------
    def _reply(self, status, body=None, headers=None):
        data = b"" if body is None else json.dumps(body, indent=1).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("OData-Version", "4.0")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method):
        mock = self.server.mock
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if mock.delay:
            time.sleep(mock.delay)  # a slow BMC (hundreds of ms per answer are common)
        entry = {"method": method, "path": self.path, "headers": dict(self.headers.items()),
                 "body": raw.decode("utf-8", "replace"), "client_port": self.client_address[1]}
        with mock.state.lock:
            mock.requests.append(entry)
            try:
                status, body, headers = self._route(method, self.path.split("?")[0].rstrip("/") or "/", raw)
            except Exception as e:  # a bug in the mock or the chassis program: a 500, logged
                status, body, headers = 500, error_body("Base.1.8.InternalError", str(e)), {}
            entry["status"] = status
            mock.write_log()
        self._reply(status, body, headers)

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")

    def _authorized(self, st):
        token = self.headers.get("X-Auth-Token")
        if token is not None:
            return token in st.sessions.values()
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            except Exception:
                return False
            return user == st.user and pw == st.password
        return False

    # -- the service ---------------------------------------------------------------------------
    def _route(self, method, path, raw):
        st = self.server.mock.state
        sessions = "/redfish/v1/SessionService/Sessions"
        if path == "/redfish/v1" and method == "GET":
            return 200, {"@odata.type": "#ServiceRoot.v1_11_0.ServiceRoot", "@odata.id": "/redfish/v1/",
                         "Id": "RootService", "Name": "Root Service", "RedfishVersion": "1.15.0",
                         "UUID": "92384634-2938-2342-8820-489239905423",
                         "Systems": {"@odata.id": "/redfish/v1/Systems"},
                         "SessionService": {"@odata.id": "/redfish/v1/SessionService"},
                         "Links": {"Sessions": {"@odata.id": sessions}}}, {}
        if path == sessions and method == "POST":
            return self._login(st, raw)
        if not self._authorized(st):
            return 401, error_body("Base.1.8.NoValidSession", "There is no valid session established with the implementation."), \
                {"WWW-Authenticate": 'Basic realm="redfish-mock"'}
        if path == "/redfish/v1/SessionService" and method == "GET":
            return 200, {"@odata.id": "/redfish/v1/SessionService", "Id": "SessionService", "ServiceEnabled": True,
                         "SessionTimeout": 30, "Sessions": {"@odata.id": sessions}}, {}
        if path == sessions and method == "GET":
            return 200, {"@odata.id": sessions, "Members": [{"@odata.id": "%s/%s" % (sessions, i)} for i in sorted(st.sessions)],
                         "Members@odata.count": len(st.sessions)}, {}
        if path.startswith(sessions + "/"):
            sid = path[len(sessions) + 1:]
            if sid not in st.sessions:
                return 404, error_body("Base.1.8.ResourceMissingAtURI", "The resource at the URI %s was not found." % path), {}
            if method == "DELETE":
                del st.sessions[sid]
                return 204, None, {}
            if method == "GET":
                return 200, {"@odata.id": path, "Id": sid, "UserName": st.user}, {}
        if path == "/redfish/v1/Systems" and method == "GET":
            return 200, {"@odata.type": "#ComputerSystemCollection.ComputerSystemCollection", "@odata.id": "/redfish/v1/Systems",
                         "Members": [{"@odata.id": st.system_path}], "Members@odata.count": 1}, {}
        if path == st.system_path and method == "GET":
            doc = st.system_document()
            st.system_gets += 1
            if st.stale_etag_once and st.system_gets == 1:
                st.version += 1  # someone else changed the system right after we answered
            return 200, doc, ({"ETag": doc["@odata.etag"]} if "@odata.etag" in doc else {})
        if path == st.system_path and method == "PATCH":
            return self._patch(st, raw)
        if path == st.system_path + "/Actions/ComputerSystem.Reset" and method == "POST":
            try:
                reset_type = json.loads(raw or b"{}").get("ResetType")
            except ValueError:
                return 400, error_body("Base.1.8.MalformedJSON", "The request body submitted was malformed JSON."), {}
            if reset_type not in st.reset_types():
                return 400, error_body("Base.1.8.ActionParameterValueNotInList",
                                       "The value %r for the parameter ResetType is not in the list of acceptable values." % reset_type,
                                       [info("Base.1.8.ActionParameterValueNotInList", "ResetType not allowed", ["ResetType"])]), {}
            st.reset(reset_type)
            return 204, None, {}
        return 404, error_body("Base.1.8.ResourceMissingAtURI", "The resource at the URI %s was not found." % path), {}

    def _login(self, st, raw):
        try:
            creds = json.loads(raw or b"{}")
        except ValueError:
            return 400, error_body("Base.1.8.MalformedJSON", "The request body submitted was malformed JSON."), {}
        if creds.get("UserName") != st.user or creds.get("Password") != st.password:
            return 401, error_body("Base.1.8.NoValidSession", "Invalid username or password"), {}
        if len(st.sessions) >= st.session_cap:
            return 503, error_body("Base.1.8.GeneralError",
                                   "Failed to create a session: the maximum number of user sessions is reached.",
                                   [info("Base.1.8.SessionLimitExceeded",
                                         "The session establishment failed due to the number of simultaneous sessions exceeding the limit of the implementation.")]), \
                {"Retry-After": "30"}
        sid = str(st.next_session)
        st.next_session += 1
        token = secrets.token_hex(16)
        st.sessions[sid] = token
        location = "/redfish/v1/SessionService/Sessions/" + sid
        return 201, {"@odata.id": location, "Id": sid, "UserName": st.user}, {"X-Auth-Token": token, "Location": location}

    def _patch(self, st, raw):
        if_match = self.headers.get("If-Match")
        if st.profile == "ifmatch" and if_match is None:
            return 428, error_body("Base.1.8.PreconditionRequired", "A precondition header or annotation is required to change the resource."), {}
        if if_match is not None and not st.etag_accepts(if_match):
            return 412, error_body("Base.1.8.PreconditionFailed", "The ETag supplied did not match the ETag required to change this resource."), {}
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return 400, error_body("Base.1.8.MalformedJSON", "The request body submitted was malformed JSON."), {}
        boot = body.get("Boot")
        if not isinstance(boot, dict) or not boot:
            return 400, error_body("Base.1.8.PropertyMissing", "No Boot object in the request."), {}
        if "BootSourceOverrideMode" in boot and st.profile == "supermicro-x10":
            return 400, error_body("Base.1.4.GeneralError", "See ExtendedInfo",
                                   [info("Base.1.4.PropertyUnknown", "The property BootSourceOverrideMode is not in the list of valid properties for the resource.",
                                         ["#/Boot/BootSourceOverrideMode"])]), {}
        if "BootSourceOverrideMode" in boot and st.profile == "dell":
            return 400, error_body("Base.1.2.GeneralError", "A general error has occurred. See ExtendedInfo for more information",
                                   [info("IDRAC.1.6.SYS410", "Unable to modify the attribute because the attribute is read-only and depends on other attributes.",
                                         ["#/Boot/BootSourceOverrideMode"])]), {}
        if st.profile == "hpe" and set(boot) - {"BootSourceOverrideTarget", "BootSourceOverrideEnabled"}:
            return 400, error_body("iLO.0.10.ExtendedInfo", "See @Message.ExtendedInfo for more information.",
                                   [info("iLO.2.14.UnsupportedOperation", "The operation was not successful due to the current request body.")]), {}
        allowed = {"BootSourceOverrideTarget": BOOT_TARGETS, "BootSourceOverrideEnabled": ["Disabled", "Once", "Continuous"],
                   "BootSourceOverrideMode": ["Legacy", "UEFI"]}
        for key, value in boot.items():
            if key not in allowed:
                return 400, error_body("Base.1.8.PropertyUnknown", "The property %s is not known." % key), {}
            if value not in allowed[key]:
                return 400, error_body("Base.1.8.PropertyValueNotInList", "The value %r for %s is not allowed." % (value, key),
                                       [info("Base.1.8.PropertyValueNotInList", "not allowed", ["#/Boot/" + key])]), {}
        st.boot.update(boot)
        st.version += 1
        return 204, None, {}


class RedfishMock:
    """One mock BMC on 127.0.0.1. `requests` is the request log, `state` the system."""

    def __init__(self, profile="dmtf", port=0, tls=True, user="admin", password="password", chassis_program=None,
                 log_path=None, cert_dir=None, cert_san="IP:127.0.0.1,DNS:localhost", stale_etag_once=False,
                 ifmatch_bare=False, delay=0.0, reset_types=None):
        self.delay = delay
        self.state = MockState(profile, user, password, chassis_program, stale_etag_once, ifmatch_bare, reset_types)
        self.requests = []
        self.log_path = log_path
        self.tls = tls
        self.cert = self.key = None
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.server.mock = self
        if tls:
            self._cert_dir = cert_dir or tempfile.mkdtemp(prefix="redfish-mock-")
            self.cert, self.key = make_certificate(self._cert_dir, cert_san)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.cert, self.key)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True, do_handshake_on_connect=False)
            # A client refusing the certificate is a test outcome, not an error to print.
            self.server.handle_error = lambda request, address: None
        self.port = self.server.server_address[1]
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def snapshot(self):
        with self.state.lock:
            return self.state.snapshot()

    def take_session_slot(self):
        """Logs in as another client would (and never out), so a test sees how a client behaves
        with one slot of the session limit already taken. Returns the sessions now open."""
        scheme = "https" if self.tls else "http"
        login = urllib.request.Request(f"{scheme}://127.0.0.1:{self.port}/redfish/v1/SessionService/Sessions",
                                       data=json.dumps({"UserName": self.state.user,
                                                        "Password": self.state.password}).encode(),
                                       headers={"Content-Type": "application/json"}, method="POST")
        ctx = ssl.create_default_context(cafile=self.cert) if self.tls else None
        with urllib.request.urlopen(login, context=ctx, timeout=10) as answer:
            assert answer.status == 201, answer.status
        return self.snapshot()["sessions"]

    def requests_to(self, method, path_suffix=""):
        with self.state.lock:
            return [copy.deepcopy(r) for r in self.requests if r["method"] == method and r["path"].endswith(path_suffix)]

    def write_log(self):
        if not self.log_path:
            return
        tmp = self.log_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"requests": self.requests, "state": self.state.snapshot()}, f, indent=1)
        os.replace(tmp, self.log_path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--profile", default="dmtf", choices=PROFILES)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", help="write the port here once listening")
    p.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    p.add_argument("--user", default="admin")
    p.add_argument("--password", default="password")
    p.add_argument("--chassis-program", help='"PROGRAM ARGS" speaking the ipmi_sim chassis_control protocol')
    p.add_argument("--log", help="JSON request log and state, rewritten after each request")
    p.add_argument("--cert-dir", help="where the self-signed certificate goes (default: a temp dir)")
    p.add_argument("--cert-san", default="IP:127.0.0.1,DNS:localhost")
    p.add_argument("--stale-etag-once", action="store_true", help="the ETag changes right after the first GET of the system")
    p.add_argument("--ifmatch-bare", action="store_true", help="ETag sent quoted, If-Match accepted only unquoted")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    a = p.parse_args(argv)
    mock = RedfishMock(a.profile, a.port, not a.http, a.user, a.password, a.chassis_program, a.log, a.cert_dir,
                       a.cert_san, a.stale_etag_once, a.ifmatch_bare, a.delay)
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(str(mock.port))
        os.replace(a.port_file + ".tmp", a.port_file)
    print("redfish-mock profile=%s port=%d tls=%s cert=%s" % (a.profile, mock.port, not a.http, mock.cert), flush=True)
    try:
        mock.server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
