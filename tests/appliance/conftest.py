"""Fixtures of the appliance suite: the Debian package (image/build-deb), the cached minbase
root filesystem (image/build-rootfs) and the appliance image (image/build-appliance), each
built once per session and reused from build/ when already there. Nothing is skipped: a
step that cannot run here fails with the reason."""

import json
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
    # The package's compiler cache lives with the other caches under build/ (or CCACHE_DIR).
    env.setdefault("CCACHE_DIR", os.path.join(BUILD, "ccache"))
    env.setdefault("CCACHE_BASEDIR", os.path.dirname(ROOT))
    return env


def run_script(args, timeout, env=None):
    r = subprocess.run(args, cwd=ROOT, env=env or build_env(), text=True, capture_output=True, timeout=timeout)
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


UPDATE_BUILD = os.path.join(BUILD, "appliance-update-test")
NEWER_SUFFIX = "+update1"


@pytest.fixture(scope="session")
def newer_appliance_image(deb, appliance_image):
    """The appliance image under a higher version (<version>+update1), for the update test: the
    session's package relabeled by image/relabel-deb (the same build, its binary's version
    stamp and the control Version changed; nothing is compiled again), then image/build-appliance
    with it on the cached root filesystem. Both steps cache by their inputs."""
    version = project_version() + NEWER_SUFFIX
    newer_deb = run_script([os.path.join(ROOT, "image", "relabel-deb"), deb, version,
                            os.path.join(UPDATE_BUILD, "package")], timeout=600)
    return run_script([os.path.join(ROOT, "image", "build-appliance"), os.path.join(UPDATE_BUILD, "newer")],
                      timeout=1800, env=dict(build_env(), IRONBOOT_DEB=newer_deb))


# What the broken image's ironboot is given: a configuration `ironboot check-config` rejects,
# so ironboot.service never reports READY=1 on it.
BROKEN_CONFIG_LINE = "no_such_key: breaks the configuration check\n"


@pytest.fixture(scope="session")
def broken_appliance_image(appliance_image):
    """The appliance image with a root whose ironboot cannot start, built only for the update
    test: the packaged ironboot.yaml of its root filesystem gets an unknown key (debugfs on the
    partition inside the image file; nothing is mounted). Cached by the source image's key."""
    out = os.path.join(UPDATE_BUILD, "broken")
    image = os.path.join(out, "ironboot-appliance-broken.img")
    with open(os.path.join(os.path.dirname(appliance_image), ".key")) as f:
        key = f.read().strip() + " " + BROKEN_CONFIG_LINE
    stamp = os.path.join(out, ".key")
    if os.path.exists(image) and os.path.exists(stamp) and open(stamp).read() == key:
        return image
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    subprocess.run(["cp", "--sparse=always", appliance_image, image + ".partial"], check=True)
    table = json.loads(subprocess.run(["sfdisk", "-J", image + ".partial"], check=True, capture_output=True,
                                      text=True).stdout)["partitiontable"]["partitions"]
    root = next(p for p in table if p.get("name") == "root-a")
    fs = f"{image}.partial?offset={root['start'] * 512}"  # e2fsprogs' io option: the partition's start
    inside = "/usr/lib/ironboot/appliance/ironboot.yaml"
    packaged = os.path.join(out, "ironboot.yaml")
    subprocess.run(["debugfs", "-R", f"dump -p {inside} {packaged}", fs], check=True, capture_output=True)
    with open(packaged) as f:
        text = f.read()
    assert text.strip(), f"{inside} is empty in {appliance_image}"
    with open(packaged, "w") as f:
        f.write(text + BROKEN_CONFIG_LINE)
    script = os.path.join(out, "debugfs.cmd")
    with open(script, "w") as f:
        f.write(f"rm {inside}\nwrite {packaged} {inside}\nsif {inside} mode 0100644\n")
    subprocess.run(["debugfs", "-w", "-f", script, fs], check=True, capture_output=True)
    r = subprocess.run(["debugfs", "-R", f"cat {inside}", fs], check=True, capture_output=True, text=True)
    assert r.stdout.endswith(BROKEN_CONFIG_LINE), r.stdout[-500:]
    r = subprocess.run(["e2fsck", "-fn", fs], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    os.rename(image + ".partial", image)
    with open(stamp, "w") as f:
        f.write(key)
    return image
