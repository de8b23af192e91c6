"""Debian's x86-64 kernel for QEMU boots, unpacked once into build/cache (not committed)."""

import glob
import os
import shutil
import subprocess
import tempfile

import netlab

CACHE = os.environ.get("IRONBOOT_CACHE") or os.path.join(netlab.ROOT, "build", "cache")


def _kernel_package():
    out = subprocess.run(["apt-cache", "depends", "linux-image-amd64"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Depends: linux-image-") and line.endswith("-amd64"):
            return line.split()[1]
    cached = sorted(glob.glob(os.path.join(CACHE, "debs", "linux-image-[0-9]*-amd64_*.deb")))
    if cached:
        return os.path.basename(cached[-1]).split("_")[0]
    raise RuntimeError("cannot resolve linux-image-amd64 (apt-get update?)")


def debian_vmlinuz():
    """Path of a cached vmlinuz from linux-image-amd64 (apt-get download + dpkg-deb -x)."""
    pkg = _kernel_package()
    target = os.path.join(CACHE, "ipxe-kernel", pkg, "vmlinuz")
    if os.path.exists(target):
        return target
    debs = os.path.join(CACHE, "debs")
    os.makedirs(debs, exist_ok=True)
    found = glob.glob(os.path.join(debs, f"{pkg}_*_amd64.deb"))
    if not found:
        subprocess.run(["apt-get", "download", "-q", pkg], cwd=debs, check=True, capture_output=True, timeout=600)
        found = glob.glob(os.path.join(debs, f"{pkg}_*_amd64.deb"))
    unpack = tempfile.mkdtemp(prefix="kernel-", dir=CACHE)
    try:
        subprocess.run(["dpkg-deb", "-x", sorted(found)[-1], unpack], check=True, timeout=600)
        vmlinuz = glob.glob(os.path.join(unpack, "boot", "vmlinuz-*"))[0]
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy(vmlinuz, target + ".tmp")
        os.rename(target + ".tmp", target)
    finally:
        shutil.rmtree(unpack, ignore_errors=True)
    return target


def tiny_initrd(path):
    """A newc cpio holding only /init (a shell script): enough for iPXE to fetch and Linux to
    unpack; the test stops the guest once the initrd has been fetched."""
    root = tempfile.mkdtemp(prefix="initrd-")
    try:
        with open(os.path.join(root, "init"), "w") as f:
            f.write("#!/bin/sh\necho ironboot-test-initrd\n")
        os.chmod(os.path.join(root, "init"), 0o755)
        with open(path, "wb") as out:
            subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], input=b"init\n", cwd=root, stdout=out, check=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return path
