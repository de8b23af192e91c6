#!/usr/bin/python3
"""The chassis of a QEMU "server": ipmi_sim's chassis_control program (and a Redfish mock's).

    vm_chassis.py STATEDIR get PARM [PARM ...]        prints PARM:VALUE lines
    vm_chassis.py STATEDIR set PARM VALUE [PARM VALUE ...]

PARMs: power (0|1), reset (1), boot (none|pxe|default|cdrom|bios), shutdown (1: ACPI power
button). The VM is QEMU (TCG, no display, no NIC backend, so nothing leaves the box) started
with -daemonize; its pid file is the power state: no process, or a zombie, is off. The next
boot recorded by `set boot` is used when QEMU starts: pxe -> `-boot once=n`. Every call returns
within a fraction of a second (ipmi_sim waits for it). STATEDIR holds:
  qemu.pid      the running QEMU
  boot          the recorded next boot device
  qemu.cmdline  the command line of the last start (tests read it)
  qmp.sock      QEMU's QMP socket (soft shutdown)
  calls.log     one line per call, for tests
  extra_args    optional: more QEMU arguments, one a line (a disk image, ...)
  retired       written by retire(): never start again (test teardown)
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

QEMU = os.environ.get("VM_CHASSIS_QEMU", "qemu-system-x86_64")
STARTING_GRACE = 20.0


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def qemu_pid(state):
    """The pid of a live QEMU, or None (absent, dead or zombie count as off)."""
    text = read(os.path.join(state, "qemu.pid"))
    if not text.isdigit():
        return None
    pid = int(text)
    stat = read(f"/proc/{pid}/stat")
    if not stat:
        return None
    # The state letter follows the parenthesised command name.
    fields = stat.rsplit(")", 1)[-1].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    if "qemu" not in read(f"/proc/{pid}/cmdline").replace("\0", " "):
        return None  # a recycled pid
    return pid


def starting(state):
    """True while a QEMU started less than STARTING_GRACE s ago has not written its pid file."""
    mark = read(os.path.join(state, "starting"))
    try:
        return time.time() - float(mark) < STARTING_GRACE
    except ValueError:
        return False


def powered(state):
    if qemu_pid(state) is not None:
        return True
    return starting(state) and not read(os.path.join(state, "qemu.pid"))


def retire(state):
    """Stops the VM for good: a chassis call still in flight (ipmi_sim repeats them and may
    leave one running when it is stopped) can no longer start it again."""
    with open(os.path.join(state, "retired"), "w") as f:
        f.write("1\n")
    stop(state)


def start(state):
    if os.path.exists(os.path.join(state, "retired")):
        return
    boot = read(os.path.join(state, "boot"), "default")
    try:
        os.unlink(os.path.join(state, "qemu.pid"))
    except FileNotFoundError:
        pass
    cmd = [QEMU, "-daemonize", "-pidfile", os.path.join(state, "qemu.pid"), "-display", "none",
           "-machine", "pc", "-accel", "tcg", "-m", "64", "-nodefaults", "-nic", "none",
           "-qmp", f"unix:{os.path.join(state, 'qmp.sock')},server=on,wait=off"]
    if boot == "pxe":
        cmd += ["-boot", "once=n"]
    elif boot == "cdrom":
        cmd += ["-boot", "once=d"]
    extra = read(os.path.join(state, "extra_args"))
    cmd += [a for a in extra.splitlines() if a]
    with open(os.path.join(state, "qemu.cmdline"), "w") as f:
        f.write(" ".join(cmd) + "\n")
    # Not waited for: QEMU's start can take seconds on a loaded machine and ipmi_sim blocks on
    # this program. Until its pid file appears the "starting" mark counts as on.
    with open(os.path.join(state, "starting"), "w") as f:
        f.write(f"{time.time()}\n")
    subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=open(os.path.join(state, "qemu.stderr"), "a"), start_new_session=True)
    # A boot override applies once (ipmi_sim clears persistent ones itself).
    if boot in ("pxe", "cdrom"):
        with open(os.path.join(state, "boot"), "w") as f:
            f.write("default\n")


def stop(state):
    # A QEMU still starting gets a moment to write its pid file, so that it can be killed.
    for _ in range(200):
        if not starting(state) or read(os.path.join(state, "qemu.pid")):
            break
        time.sleep(0.05)
    try:
        os.unlink(os.path.join(state, "starting"))
    except FileNotFoundError:
        pass
    pid = qemu_pid(state)
    if pid is None:
        return
    os.kill(pid, signal.SIGKILL)
    for _ in range(50):
        if qemu_pid(state) is None:
            return
        time.sleep(0.01)


def powerdown(state):
    """ACPI power button over QMP; a guest without an OS may ignore it, like a real one."""
    if qemu_pid(state) is None:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        s.connect(os.path.join(state, "qmp.sock"))
        f = s.makefile("rw")
        f.readline()
        for cmd in ("qmp_capabilities", "system_powerdown"):
            f.write(json.dumps({"execute": cmd}) + "\n")
            f.flush()
            f.readline()


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    state, op, parms = argv[0], argv[1], argv[2:]
    os.makedirs(state, exist_ok=True)
    with open(os.path.join(state, "calls.log"), "a") as log:
        log.write(" ".join([op] + parms) + "\n")
    if op == "get":
        for parm in parms:
            if parm == "power":
                print(f"power:{1 if powered(state) else 0}")
            elif parm == "boot":
                print(f"boot:{read(os.path.join(state, 'boot'), 'default')}")
        return 0
    if op != "set" or len(parms) % 2:
        return 2
    for parm, value in zip(parms[::2], parms[1::2]):
        if parm == "power":
            if value == "1" and not powered(state):
                start(state)
            elif value == "0":
                stop(state)
        elif parm == "reset" and value == "1":
            stop(state)
            start(state)
        elif parm == "boot":
            with open(os.path.join(state, "boot"), "w") as f:
                f.write(value + "\n")
        elif parm == "shutdown" and value == "1":
            powerdown(state)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
