"""OpenIPMI's ipmi_sim as the BMC of a QEMU guest, for the agent's in-band tests: QEMU's
ipmi-bmc-extern + isa-ipmi-kcs connect to its VM serial port (so /dev/ipmi0 in the guest is
real), and its LAN channel 1 listens on loopback for ipmitool. Debian ships no example
config: lan.conf, the .emu file and the lan_config_program are written here.

(This test-local helper covers what the agent tests need; the out-of-band tests have their
own in tests/lib.)
"""

import os
import subprocess
import sys
import time

# What the BMC's LAN settings are, as lan_config_program reports them to ipmi_sim.
LAN = {
    "ip_addr_src": "static",
    "ip_addr": "10.88.0.5",
    "subnet_mask": "255.255.255.0",
    "default_gw_ip_addr": "10.88.0.1",
    "mac_addr": "52:54:00:be:ef:05",
    "default_gw_mac_addr": "52:54:00:be:ef:01",
    "backup_gw_ip_addr": "0.0.0.0",
    "backup_gw_mac_addr": "00:00:00:00:00:00",
}

LAN_PROGRAM = """#!{python}
# ipmi_sim's lan_config_program: "<dev> get name..." -> "name:value" lines.
import sys
values = {values!r}
args = sys.argv[1:]
if "get" in args:
    for name in args[args.index("get") + 1:]:
        print(name + ":" + values.get(name, "0"))
"""

EMU = """mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
mc_enable 0x20
"""

LAN_CONF = """name "ironbootagent"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 {lan_port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
    lan_config_program "{program} eth0"
  endlan
  serial 15 127.0.0.1 {serial_port} codec VM
  user 1 true  ""      "anonymous" user  10 none md2 md5 straight
  user 2 true  "admin" "admin"     admin 10 none md2 md5 straight
"""


class IpmiSim:
    """ipmi_sim run by `prefix` (e.g. ["ip", "netns", "exec", ns]) in `workdir`."""

    def __init__(self, workdir, prefix, lan_port=39623, serial_port=39002):
        self.workdir, self.prefix = str(workdir), list(prefix)
        self.lan_port, self.serial_port = lan_port, serial_port
        self.proc = None

    def start(self):
        program = os.path.join(self.workdir, "lan_config.py")
        with open(program, "w") as f:
            f.write(LAN_PROGRAM.format(python=sys.executable, values=LAN))
        os.chmod(program, 0o755)
        conf = os.path.join(self.workdir, "lan.conf")
        with open(conf, "w") as f:
            f.write(LAN_CONF.format(lan_port=self.lan_port, serial_port=self.serial_port, program=program))
        emu = os.path.join(self.workdir, "sim.emu")
        with open(emu, "w") as f:
            f.write(EMU)
        state = os.path.join(self.workdir, "state")
        os.makedirs(state, exist_ok=True)
        self.log = open(os.path.join(self.workdir, "ipmi_sim.log"), "w")
        self.proc = subprocess.Popen(self.prefix + ["ipmi_sim", "-c", conf, "-f", emu, "-s", state, "-n"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.ipmitool("admin", "admin", "mc", "info").returncode == 0:
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.3)
        raise RuntimeError("ipmi_sim did not come up: " + open(self.log.name).read()[-2000:])

    def ipmitool(self, user, password, *args):
        return subprocess.run(self.prefix + ["ipmitool", "-I", "lanplus", "-H", "127.0.0.1", "-p", str(self.lan_port),
                                             "-U", user, "-P", password, "-C", "3", *args],
                              capture_output=True, text=True, timeout=30)

    def qemu_args(self):
        return ["-chardev", f"socket,id=ipmi0,host=127.0.0.1,port={self.serial_port},reconnect=10",
                "-device", "ipmi-bmc-extern,id=bmc0,chardev=ipmi0",
                "-device", "isa-ipmi-kcs,bmc=bmc0"]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
