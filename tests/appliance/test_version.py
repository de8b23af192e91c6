"""The version comes from one place: meson.build's project version, which `ironboot version`
prints (common/version.hpp is generated from it); debian/changelog must name the same."""

import gzip
import os
import subprocess

from conftest import ROOT, project_version


def test_changelog_version_is_the_meson_version():
    changelog = subprocess.run(["dpkg-parsechangelog", "-l", os.path.join(ROOT, "debian", "changelog"),
                                "-S", "Version"], check=True, text=True, capture_output=True).stdout.strip()
    assert changelog == project_version(), "add a debian/changelog entry for the new meson.build version"


def test_packaged_binary_reports_the_version(ironboot_bin):
    out = subprocess.run([ironboot_bin, "version"], check=True, text=True, capture_output=True).stdout
    assert out.strip() == f"ironboot {project_version()}"


def test_relabeled_package_reports_its_new_version(deb, tmp_path):
    """image/relabel-deb: the same build under another version; the binary reports the version
    it carries (its stamp), the control file names it, and every other file is unchanged."""
    version = project_version() + "+relabel1"
    out = subprocess.run([os.path.join(ROOT, "image", "relabel-deb"), deb, version, str(tmp_path)],
                         check=True, text=True, capture_output=True).stdout.strip().splitlines()[-1]
    assert os.path.basename(out) == f"ironboot_{version}_amd64.deb"
    assert subprocess.run(["dpkg-deb", "-f", out, "Version"], check=True, text=True,
                          capture_output=True).stdout.strip() == version
    old, new = tmp_path / "old", tmp_path / "new"
    for package, tree in ((deb, old), (out, new)):
        subprocess.run(["dpkg-deb", "-R", package, str(tree)], check=True)
    r = subprocess.run([str(new / "usr" / "bin" / "ironboot"), "version"], check=True, text=True, capture_output=True)
    assert r.stdout.strip() == f"ironboot {version}"
    r = subprocess.run(["diff", "-r", "-q", str(old), str(new)], text=True, capture_output=True)
    changed = sorted(line.split()[1].replace(str(old), "") for line in r.stdout.splitlines())
    assert changed == ["/DEBIAN/control", "/DEBIAN/md5sums", "/usr/bin/ironboot",
                       "/usr/share/doc/ironboot/changelog.gz"], r.stdout
    # md5sums is right for the new binary (dpkg --verify relies on it).
    r = subprocess.run(["md5sum", "-c", "--quiet", "DEBIAN/md5sums"], cwd=new, text=True, capture_output=True)
    assert r.returncode == 0, r.stdout + r.stderr
    with gzip.open(new / "usr" / "share" / "doc" / "ironboot" / "changelog.gz", "rt") as f:
        assert f.readline().startswith(f"ironboot ({version}) ")
