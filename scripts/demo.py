#!/usr/bin/python3
"""The demo lab: a bridge, the site's DHCP server (dnsmasq), the ironboot appliance and three
virtual servers (QEMU, software emulation) that PXE-boot the agent and appear as Server
objects, all in network namespaces that are removed on exit.

  demo.py           the full demo; Ctrl-C stops it and removes everything
  demo.py --once    no QEMU: two scripted PXE clients show the proxyDHCP answers, the
                    worker-large class is applied, then everything is removed
  demo.py --appliance   the same rack served by the appliance image (image/build-appliance)
                    booted in a QEMU VM (UEFI) instead of `ironboot serve` in a namespace;
                    kubectl runs from an operator namespace on its management network, with
                    the kubeconfig fetched over ssh as an operator does (with --once too)
"""

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "appliance"))
import guests  # noqa: E402
import netlab  # noqa: E402

SUBNET = "10.77.0"
PXE_CLIENTS = [  # name, MAC, PXE arch (option 93), what it stands for
    ("bios-node", "52:54:00:00:0b:01", 0, "legacy BIOS PXE ROM"),
    ("uefi-node", "52:54:00:00:0e:02", 7, "UEFI x86-64 firmware"),
]
DELL = guests.THREE_SERVERS[0]
WORKER_LARGE = """\
apiVersion: metal.sidero.dev/v1alpha2
kind: ServerClass
metadata:
  name: worker-large
spec:
  qualifiers:
    systemInformation:
      - manufacturer: Dell
    cpu:
      - version: EPYC
    labelSelectors:
      - rack: rack-a
"""


def pxe_clients(site):
    """Scripted PXE clients (scapy): the address from dnsmasq, the boot file from ironboot."""
    ok = True
    for name, mac, arch, what in PXE_CLIENTS:
        client = site.lab.add_host(name, mac=mac)
        out = client.run([netlab.SYSTEM_PYTHON, os.path.join(ROOT, "tests/lib/pxe_client.py"),
                          "--arch", str(arch)], check=False)
        try:
            got = json.loads(out.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            got = {}
            print(out.stdout, out.stderr)
        ok = ok and bool(got.get("address") and got.get("boot_file"))
        print(f"{name} ({what}, mac {mac}, arch {arch}):")
        print(f"  address   {got.get('address')}  from the site DHCP server {got.get('dhcp_server')}")
        print(f"  boot file {got.get('boot_file')}  from ironboot {got.get('proxy')} (next-server {got.get('boot_server')})")
    return ok


def kubectl_wrapper(site):
    """A script in the work directory running kubectl in the namespace that reaches the
    embedded API (the appliance's own, or the operator's for the appliance VM), so the
    printed commands can be pasted as they are."""
    path = os.path.join(site.workdir, "kubectl")
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexec " + " ".join(shlex.quote(a) for a in site.kubectl_cmd()) + ' "$@"\n')
    os.chmod(path, 0o755)
    return path


def label_when_listed(site, stop):
    """The Dell server is in rack A: label it as soon as it appears, as an operator would."""
    while not stop.is_set():
        if site.get("server", DELL.uuid):
            site.kubectl("label", "server", DELL.uuid, "rack=rack-a", "--overwrite")
            print(f"\n>>> labelled Server {DELL.uuid} ({DELL.manufacturer} {DELL.product}) rack=rack-a\n", flush=True)
            return
        stop.wait(2)


def power_on_rack(site, kubectl):
    print(f"\nthe ServerClass worker-large (Dell, EPYC, label rack=rack-a):\n{WORKER_LARGE}")
    print("powering on three virtual servers (QEMU without KVM: about 20-45 s each to appear):")
    for i, ident in enumerate(guests.THREE_SERVERS):
        guest = site.add_guest(f"server-{i + 1}", ident).power_on()
        cpu = f", cpu {ident.cpu_version}" if ident.cpu_version else ""
        print(f"  {guest.name}: {ident.manufacturer} {ident.product}, serial {ident.serial}{cpu}\n"
              f"            uuid {ident.uuid}, mac {ident.mac}, console {guest.console_path}")
    print(f"""
When a server is listed, accept it (the agent wipes its disk, then it boots from disk):
  {kubectl} patch server {DELL.uuid} --type merge -p '{{"spec":{{"accepted":true}}}}'
Then see which servers the class holds:
  {kubectl} get serverclass worker-large -o jsonpath='{{.status}}{{"\\n"}}'
  {kubectl} get server {DELL.uuid} -o yaml

kubectl get servers -w  (Ctrl-C stops the demo and removes the lab):
""", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--once", action="store_true", help="no QEMU servers: PXE clients only, then clean up and exit")
    ap.add_argument("--appliance", action="store_true", help="serve the rack from the appliance image in a VM")
    args = ap.parse_args()
    agent_dir = os.path.join(os.path.dirname(netlab.IRONBOOT), "agent")  # beside the binaries
    image = None
    if args.appliance:
        print("building the appliance image (image/build-appliance: the package, a Debian 12 root; "
              "cached in build/, minutes the first time) ...", flush=True)
        image = subprocess.run([os.path.join(ROOT, "image", "build-appliance")], check=True, text=True,
                               stdout=subprocess.PIPE).stdout.strip().splitlines()[-1]
    elif not args.once:
        print("building the agent image (image/build-agent, cached in build/cache) ...", flush=True)
        guests.build_agent_image(agent_dir)
    workdir = tempfile.mkdtemp(prefix="ironboot-demo-")
    site = watcher = None
    stop = threading.Event()
    status = 0
    try:
        if args.appliance:
            import appliance_lab  # noqa: E402 (tests/appliance)
            print(f"booting {image} in a VM (UEFI, no KVM: a minute or two) ...", flush=True)
            site = appliance_lab.ApplianceSite(image, SUBNET, workdir)
            print(f"lab: site DHCP (dnsmasq) {site.site.address}, the appliance VM: PXE on {site.address} "
                  f"(bridge {site.lab.switch}/br0), management {appliance_lab.MGMT_IP} on the operator "
                  f"network (namespace {site.operator.ns}, bridge br1); up in {site.boot_seconds:.0f} s")
            print(f"appliance console: {site.vm.console_path()}")
            print(f"ssh to it: ip netns exec {site.operator.ns} ssh -i {site.operator.key} "
                  f"root@{appliance_lab.MGMT_IP}\n")
        else:
            site = guests.Site(agent_dir, subnet=SUBNET, workdir=workdir, log_level="info")
            print(f"lab: site DHCP (dnsmasq) {site.site.address}, ironboot {site.appliance.address}, "
                  f"bridge {site.lab.switch}/br0")
            print(f"ironboot log: {site.daemon.log_path}\n")
        kubectl = kubectl_wrapper(site)
        site.kubectl("apply", "-f", "-", input=WORKER_LARGE)
        if args.once:
            status = 0 if pxe_clients(site) else 1
            classes = site.kubectl("get", "serverclasses", "-o", "name").stdout.split()
            print(f"\nServerClass worker-large applied; classes: {' '.join(classes)}")
        else:
            power_on_rack(site, kubectl)
            threading.Thread(target=label_when_listed, args=(site, stop), daemon=True).start()
            while True:
                # kubectl ends a watch when the API server closes it; watch again (the table
                # is printed anew, so nothing is missed in between).
                watcher = subprocess.Popen(site.kubectl_cmd("get", "servers", "-w"))
                watcher.wait()
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the cleanup short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop.set()
        if watcher and watcher.poll() is None:
            watcher.terminate()
            watcher.wait(5)
        if site:
            site.close()
        shutil.rmtree(workdir, ignore_errors=True)
        print("lab removed")
    return status


def interrupted(signo, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    # SIGTERM stops the demo like Ctrl-C: at any point, the finally clause removes the lab.
    signal.signal(signal.SIGTERM, interrupted)
    sys.exit(main())
