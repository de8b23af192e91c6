"""The version comes from one place: meson.build's project version, which `ironboot version`
prints (common/version.hpp is generated from it); debian/changelog must name the same."""

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
