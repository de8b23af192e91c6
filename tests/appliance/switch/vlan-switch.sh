#!/bin/sh
# Test only, never in the shipped image: turns a VM booted from the appliance image into an
# 802.1Q switch, a VLAN-filtering bridge over its NICs (the test host's kernel cannot tag
# frames). The lab (tests/appliance/appliance_lab.py, VlanSwitchVm) writes this file onto a
# small extra disk followed by one line per port and `switch_ready`, and the kernel command
# line makes it the first process of the root (init=/bin/sh -- /dev/vdb): no systemd, no udev,
# so the bridge is up seconds after the root is mounted. An error exits PID 1: the kernel
# panics and the VM ends (panic=-1, -no-reboot), which the lab reports with this console.
#   trunk MAC VID...   the NIC with MAC carries the VLANs VID... tagged (nothing untagged)
#   access MAC VID     the NIC with MAC is an untagged member of VLAN VID (its pvid)
set -eu
exec >/dev/ttyS0 2>&1

say() { echo "vlan-switch: $*"; }

# Nothing loads drivers for us (the initrd has none for NICs).
modprobe virtio_net
modprobe bridge

# The NIC with this MAC (names follow probe order, MACs are what the lab chose).
nic() {
  tries=0
  while [ "$tries" -lt 300 ]; do
    for dev in /sys/class/net/*; do
      if [ "$(cat "$dev/address")" = "$1" ]; then
        basename "$dev"
        return 0
      fi
    done
    tries=$((tries + 1))
    sleep 0.1
  done
  say "no NIC with MAC $1"
  exit 1
}

# vlan_default_pvid 0: no port is in VLAN 1, so an untagged frame on a trunk is dropped.
ip link add sw0 type bridge vlan_filtering 1 vlan_default_pvid 0 stp_state 0
ip link set sw0 up

trunk() {
  dev=$(nic "$1")
  shift
  ip link set "$dev" master sw0
  for vid in "$@"; do bridge vlan add dev "$dev" vid "$vid"; done
  ip link set "$dev" up
  say "trunk $dev tagged $*"
}

access() {
  dev=$(nic "$1")
  ip link set "$dev" master sw0
  bridge vlan add dev "$dev" vid "$2" pvid untagged
  ip link set "$dev" up
  say "access $dev vlan $2"
}

switch_ready() {
  bridge vlan show
  say "ready"
  exec sleep infinity
}
