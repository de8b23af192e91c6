"""A stand-in for ironboot's agent API, for the image test: records every request as a
JSON line and answers from a small script:
  REGISTER_ACTION wipe / wipe:MODE: register -> wipe (fast / MODE), wiped -> poweroff;
  bmc: the first register -> "bmcSetup": true and wait, a register carrying
       bmcCredentials -> poweroff;
  tpm: challenge -> a credential made by tpm2_makecredential (tpm2-tools, no TPM) for the
       reported EK and AK name; a register answering it with the right secret -> poweroff,
       any other register -> 403;
  anything else: register -> that action.
Register exchanges the boot token for the session token SESSION; every other request must
carry it (401 otherwise), and wiped must send back the wipe instruction's WIPE_ID (409
otherwise), as ironboot's agent API does.

Usage: recorder.py ADDRESS PORT LOGFILE REGISTER_ACTION
"""

import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ADDRESS, PORT, LOG, REGISTER_ACTION = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
SESSION = "s2.recorder-session"
CHALLENGES = {}  # id -> secret (hex)


def make_challenge(request):
    """tpm2_makecredential's credential for the request's EK and AK: the challenge answer."""
    ek, ak = bytes.fromhex(request["ekPublic"]), bytes.fromhex(request["akPublic"])
    ak_name = "000b" + hashlib.sha256(ak).hexdigest()
    secret = secrets.token_bytes(32)
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "ek.pub"), "wb") as f:
            f.write(len(ek).to_bytes(2, "big") + ek)
        with open(os.path.join(d, "secret"), "wb") as f:
            f.write(secret)
        subprocess.run(["tpm2_makecredential", "-T", "none", "-u", os.path.join(d, "ek.pub"), "-s",
                        os.path.join(d, "secret"), "-n", ak_name, "-o", os.path.join(d, "cred")], check=True,
                       capture_output=True)
        with open(os.path.join(d, "cred"), "rb") as f:
            cred = f.read()
    assert cred[:8] == bytes.fromhex("badcc0de00000001")
    n = int.from_bytes(cred[8:10], "big")
    id_object = cred[10:10 + n]
    m = int.from_bytes(cred[10 + n:12 + n], "big")
    encrypted = cred[12 + n:12 + n + m]
    challenge = secrets.token_hex(16)
    CHALLENGES[challenge] = secret.hex()
    return {"challenge": challenge, "idObject": id_object.hex(), "encryptedSecret": encrypted.hex(),
            "expiresInSeconds": 60}
WIPE_ID = "00112233445566778899aabbccddeeff"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _record(self, body):
        with open(LOG, "a") as f:
            f.write(json.dumps({"t": time.time(), "method": self.command, "path": self.path,
                                "authorization": self.headers.get("Authorization", ""),
                                "body": body}) + "\n")

    def _answer(self, status, obj=None):
        data = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if status == 200 and self.path == "/agent/v1/register":
            self.send_header("Ironboot-Session", SESSION)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(min(length, 1 << 20)).decode(errors="replace")
        self._record(body)
        if self.path == "/agent/v1/challenge":
            self._answer(200, make_challenge(json.loads(body)))
            return
        if self.path != "/agent/v1/register" and self.headers.get("Authorization", "") != "Bearer " + SESSION:
            self._answer(401, {"error": "token wrong_kind", "reason": "wrong_kind"})
            return
        if self.path == "/agent/v1/register":
            report = json.loads(body)
            uuid = report.get("uuid", "")
            if REGISTER_ACTION == "tpm":
                proof = report.get("tpm") or {}
                if CHALLENGES.pop(proof.get("challenge", ""), None) != proof.get("secret"):
                    self._answer(403, {"reason": "wrong_secret", "error": "TPM challenge not answered"})
                    return
                self._answer(200, {"server": uuid, "instruction": {"action": "poweroff"}, "session": SESSION})
                return
            if REGISTER_ACTION == "bmc":
                if "bmcCredentials" in report:
                    self._answer(200, {"server": uuid, "instruction": {"action": "poweroff"}, "session": SESSION})
                else:
                    self._answer(200, {"server": uuid, "bmcSetup": True, "instruction": {"action": "wait"},
                                       "session": SESSION})
                return
            if REGISTER_ACTION.startswith("wipe"):
                instruction = {"action": "wipe", "mode": (REGISTER_ACTION.split(":") + ["fast"])[1], "wipeId": WIPE_ID}
            else:
                instruction = {"action": REGISTER_ACTION}
            self._answer(200, {"server": uuid, "instruction": instruction, "session": SESSION})
        elif self.path == "/agent/v1/wiped":
            if json.loads(body).get("wipeId") != WIPE_ID:
                self._answer(409, {"error": "wiped refused: wrong wipeId"})
                return
            self._answer(200, {"instruction": {"action": "poweroff"}})
        elif self.path == "/agent/v1/heartbeat":
            self._answer(200, {"instruction": {"action": "wait"}})
        else:
            self._answer(204)

    def do_GET(self):
        self._record("")
        if self.headers.get("Authorization", "") != "Bearer " + SESSION:
            self._answer(401, {"error": "token wrong_kind", "reason": "wrong_kind"})
            return
        self._answer(200, {"action": "poweroff"})

    def log_message(self, *args):
        pass


ThreadingHTTPServer((ADDRESS, PORT), Handler).serve_forever()
