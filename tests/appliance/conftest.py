"""Fixtures of the appliance suite: the Debian package (image/build-deb), the cached minbase
root filesystem (image/build-rootfs) and the appliance image (image/build-appliance), each
built once per session and reused from build/ when already there. Nothing is skipped: a
step that cannot run here fails with the reason."""

import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
PACKAGE_TOOLS = ("dpkg-buildpackage", "dh", "lintian", "mmdebstrap")
IMAGE_TOOLS = ("mkfs.ext4", "mkfs.vfat", "mcopy", "sfdisk", "zstd")


def project_version():
    with open(os.path.join(ROOT, "meson.build")) as f:
        return re.search(r"^\s*version\s*:\s*'([^']+)'", f.read(), re.M).group(1)


def need(tools):
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.fail(f"missing {missing} (scripts/install-deps installs them)")
    if os.geteuid() != 0:
        pytest.fail("needs root (mmdebstrap --mode=root, chroot, network namespaces)")


def build_env():
    env = dict(os.environ)
    env.setdefault("CCACHE_DIR", "/work/ccache" if os.path.isdir("/work/ccache") else os.path.join(BUILD, "ccache"))
    env.setdefault("CCACHE_BASEDIR", os.path.dirname(ROOT))
    return env


def run_script(args, timeout):
    r = subprocess.run(args, cwd=ROOT, env=build_env(), text=True, capture_output=True, timeout=timeout)
    if r.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed ({r.returncode}):\n{r.stderr[-4000:]}")
    return r.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def deb():
    need(PACKAGE_TOOLS)
    # Rebuilt every session: incremental (the build directory and ccache are kept).
    return run_script([os.path.join(ROOT, "image", "build-deb")], timeout=3600)


@pytest.fixture(scope="session")
def rootfs_tar():
    need(PACKAGE_TOOLS)
    return run_script([os.path.join(ROOT, "image", "build-rootfs")], timeout=1800)


@pytest.fixture(scope="session")
def appliance_image(deb, rootfs_tar):
    need(IMAGE_TOOLS)
    return run_script([os.path.join(ROOT, "image", "build-appliance")], timeout=1800)


@pytest.fixture(scope="session")
def ironboot_bin(deb):
    """/usr/bin/ironboot of the package, unpacked (the tree's own build may not exist)."""
    out = os.path.join(BUILD, "package", "unpacked")
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(["dpkg-deb", "-x", deb, out], check=True)
    return os.path.join(out, "usr", "bin", "ironboot")
