#!/usr/bin/python3
"""The demo lab: a bridge, the site's DHCP server (dnsmasq), the ironboot appliance, and
PXE clients, all in network namespaces that are removed on exit."""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import netlab  # noqa: E402

SUBNET = "10.77.0"
CLIENTS = [  # name, MAC, PXE arch (option 93), what it stands for
    ("bios-node", "52:54:00:00:0b:01", 0, "legacy BIOS PXE ROM"),
    ("uefi-node", "52:54:00:00:0e:02", 7, "UEFI x86-64 firmware"),
]


def stage_tftp_root(workdir):
    """The iPXE binaries from Debian's ipxe package, copied so that the root holds real files."""
    root = os.path.join(workdir, "tftp")
    os.makedirs(root)
    for name in ("undionly.kpxe", "ipxe.efi", "snponly.efi"):
        src = os.path.join("/usr/lib/ipxe", name)
        if os.path.exists(src):
            shutil.copy(os.path.realpath(src), os.path.join(root, name))
    return root


def start_dnsmasq(site, workdir):
    cmd = ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface=eth0",
           "--bind-interfaces", f"--dhcp-range={SUBNET}.100,{SUBNET}.199,255.255.255.0,1h",
           # root: the lease and log files live in our private work directory; no ping: a
           # fresh lab has no address in use, and the ping check delays every OFFER by ~3 s.
           "--user=root", "--no-ping", "--dhcp-authoritative",
           f"--dhcp-leasefile={workdir}/dnsmasq.leases", f"--pid-file={workdir}/dnsmasq.pid",
           "--log-dhcp", "--log-facility=" + os.path.join(workdir, "dnsmasq.log")]
    return site.popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--once", action="store_true", help="exit after the clients have booted")
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="ironboot-demo-")
    lab = netlab.Lab(subnet=SUBNET)
    dnsmasq = ironboot = None
    status = 0
    try:
        site = lab.add_host("site", 1)
        appliance = lab.add_host("appliance", 2)
        dnsmasq = start_dnsmasq(site, workdir)
        config = {
            "interface": "eth0",
            "tftp": {"root": stage_tftp_root(workdir)},
            "cluster": {"embedded": {"data_dir": os.path.join(workdir, "data")}},
            "log": {"level": "info"},
        }
        ironboot = netlab.Ironboot(appliance, config, workdir=workdir).start()
        print(f"lab: site DHCP (dnsmasq) {site.address}, ironboot {appliance.address}, bridge {lab.switch}/br0")
        print(f"ironboot log: {ironboot.log_path}\n")
        for name, mac, arch, what in CLIENTS:
            client = lab.add_host(name, mac=mac)
            out = client.run([netlab.SYSTEM_PYTHON, os.path.join(ROOT, "tests/lib/pxe_client.py"),
                              "--arch", str(arch)], check=False)
            try:
                got = json.loads(out.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                got = {}
                print(out.stdout, out.stderr)
            ok = bool(got.get("address") and got.get("boot_file"))
            status |= 0 if ok else 1
            print(f"{name} ({what}, mac {mac}, arch {arch}):")
            print(f"  address   {got.get('address')}  from the site DHCP server {got.get('dhcp_server')}")
            print(f"  boot file {got.get('boot_file')}  from ironboot {got.get('proxy')} (next-server {got.get('boot_server')})")
        if not args.once:
            print("\nironboot is serving the lab. Ctrl-C stops it and removes the lab.")
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
    except KeyboardInterrupt:
        pass
    finally:
        if ironboot:
            ironboot.stop()
        if dnsmasq and dnsmasq.poll() is None:
            dnsmasq.terminate()
            dnsmasq.wait(5)
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)
        print("lab removed")
    return status


if __name__ == "__main__":
    if "--once" not in sys.argv:
        # Ctrl-C during setup waits for sigwait(), so the lab is always removed cleanly.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    sys.exit(main())
