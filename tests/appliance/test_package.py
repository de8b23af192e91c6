"""The Debian package: built with dpkg-buildpackage, clean under lintian, installed with
dpkg -i into a fresh minbase root filesystem (the appliance's mmdebstrap cache), where
`ironboot version` and `ironboot check-config` run and the unit is enabled."""

import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import project_version


def test_lintian_reports_no_errors_or_unexplained_warnings(deb):
    r = subprocess.run(["lintian", "--fail-on", "error,warning", "--display-info", deb],
                       text=True, capture_output=True, timeout=600)
    tags = [l for l in r.stdout.splitlines() if l[:2] in ("E:", "W:")]
    assert r.returncode == 0 and not tags, r.stdout + r.stderr


def test_package_contents(deb):
    listing = subprocess.run(["dpkg-deb", "-c", deb], check=True, text=True, capture_output=True).stdout
    paths = {line.split()[5].lstrip(".") for line in listing.splitlines()}
    for path in ("/usr/bin/ironboot", "/usr/lib/ironboot/agent/vmlinuz", "/usr/lib/ironboot/agent/initramfs",
                 "/usr/share/ironboot/crds/server.yaml", "/usr/share/ironboot/rbac/clusterrole.yaml",
                 "/lib/systemd/system/ironboot.service", "/etc/ironboot/ironboot.yaml"):
        assert path in paths, f"{path} not in the package"
    assert "/usr/bin/ironboot-agent" not in paths  # the agent is the initramfs's init
    fields = subprocess.run(["dpkg-deb", "-f", deb, "Depends", "Version", "Architecture"],
                            check=True, text=True, capture_output=True).stdout
    assert "ipxe" in fields and "libyaml-cpp" in fields, fields
    assert f"Version: {project_version()}" in fields
    conffiles = subprocess.run(["dpkg-deb", "--ctrl-tarfile", deb], check=True, capture_output=True).stdout
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["tar", "-x", "-C", d], input=conffiles, check=True)
        with open(os.path.join(d, "conffiles")) as f:
            assert "/etc/ironboot/ironboot.yaml" in f.read().split()


def test_installs_into_a_fresh_minbase_rootfs(deb, rootfs_tar):
    root = tempfile.mkdtemp(prefix="ironboot-pkg-root-")
    try:
        subprocess.run(["tar", "-C", root, "--numeric-owner", "-xpf", rootfs_tar], check=True)
        shutil.copy(deb, os.path.join(root, "tmp", "ironboot.deb"))

        def chroot(*args, check=True):
            return subprocess.run(["chroot", root, *args], text=True, capture_output=True, check=check, timeout=300)

        r = chroot("dpkg", "-i", "/tmp/ironboot.deb", check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        assert chroot("ironboot", "version").stdout.strip() == f"ironboot {project_version()}"
        r = chroot("ironboot", "check-config", check=False)
        assert r.returncode == 0 and "/etc/ironboot/ironboot.yaml: ok" in r.stdout, r.stdout + r.stderr
        assert chroot("systemctl", "is-enabled", "ironboot.service").stdout.strip() == "enabled"
        with open(os.path.join(root, "etc", "ironboot", "ironboot.yaml")) as f:
            assert "kernel: /usr/lib/ironboot/agent/vmlinuz" in f.read()
        # A conffile: dpkg knows it, and purge removes it.
        assert "/etc/ironboot/ironboot.yaml" in chroot("dpkg-query", "-W", "-f=${Conffiles}", "ironboot").stdout
        r = chroot("dpkg", "--purge", "ironboot", check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        assert not os.path.exists(os.path.join(root, "usr", "bin", "ironboot"))
        assert not os.path.exists(os.path.join(root, "etc", "ironboot", "ironboot.yaml"))
    finally:
        shutil.rmtree(root, ignore_errors=True)
