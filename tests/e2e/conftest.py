"""End-to-end fixtures: the agent image, built once per test session into the build
directory's agent/ folder (downloaded packages cached in build/cache)."""

import os
import shutil

import pytest

import guests
import netlab

NEEDED = ("qemu-system-x86_64", "dnsmasq", "kubectl")


@pytest.fixture(scope="session")
def agent_image():
    missing = [t for t in NEEDED if not shutil.which(t)]
    missing += [f for f in (guests.OVMF_CODE, guests.OVMF_VARS) if not os.path.exists(f)]
    if missing:
        pytest.fail(f"missing {missing} (scripts/install-deps installs them)")
    return guests.build_agent_image(os.path.join(os.path.dirname(netlab.IRONBOOT), "agent"))
