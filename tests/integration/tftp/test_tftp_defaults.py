"""The default configuration (root /usr/lib/ipxe on Debian, where ipxe.efi is a symlink to
/boot/ipxe.efi) serves the iPXE binaries, and single-port mode works."""

import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import netlab  # noqa: E402
from tftplab import SERVER_IP, sha256_file  # noqa: E402


def start(lab, tftp_config, workdir):
    server = lab.add_host("srv", 1)
    client = lab.add_host("cli", 2)
    os.makedirs(os.path.join(workdir, "daemon"))
    config = {"interface": "eth0", "dhcp": {"enabled": False},
              "cluster": {"embedded": {"data_dir": os.path.join(workdir, "data")}}}
    if tftp_config:
        config["tftp"] = tftp_config
    daemon = netlab.Ironboot(server, config, workdir=os.path.join(workdir, "daemon")).start()
    return server, client, daemon


@pytest.mark.skipif(not os.path.islink("/usr/lib/ipxe/ipxe.efi"), reason="Debian ipxe package not installed")
def test_default_root_serves_ipxe_efi_through_the_package_symlink():
    workdir = tempfile.mkdtemp(prefix="tftp-default-")
    lab = netlab.Lab()
    daemon = None
    try:
        _, client, daemon = start(lab, None, workdir)  # no tftp section: every default
        for name, real in [("ipxe.efi", "/boot/ipxe.efi"), ("undionly.kpxe", "/usr/lib/ipxe/undionly.kpxe")]:
            out = os.path.join(workdir, name)
            # EDK2's way: ask with tsize, abort with ERROR 8, then download.
            client.run([netlab.SYSTEM_PYTHON, os.path.join(os.path.dirname(__file__), "tftp_probe.py"),
                        "request", SERVER_IP, "69", name, "--option", "tsize", "0"])
            client.run(["atftp", "--option", "blksize 1428", "--option", "tsize 0", "-g", "-r", name, "-l", out,
                        SERVER_IP, "69"], timeout=60)
            assert sha256_file(out) == sha256_file(real), name
    finally:
        if daemon:
            daemon.stop()
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)


def test_single_port_mode():
    workdir = tempfile.mkdtemp(prefix="tftp-single-")
    root = os.path.join(workdir, "root")
    os.makedirs(root)
    with open(os.path.join(root, "f.bin"), "wb") as f:
        f.write(os.urandom(200 * 1024 + 5))
    lab = netlab.Lab()
    daemon = None
    try:
        # 20 parallel downloads from one address: above the per-client default of 16.
        _, client, daemon = start(lab, {"root": root, "single_port": True, "max_transfers_per_client": 32}, workdir)
        args = ["curl", "-sS", "--fail", "--parallel", "--parallel-max", "20"]
        outs = [os.path.join(workdir, f"o{i}") for i in range(20)]
        for o in outs:
            args += ["-o", o, f"tftp://{SERVER_IP}/f.bin"]
        client.run(args, timeout=60)
        out = os.path.join(workdir, "atftp")
        client.run(["atftp", "--option", "windowsize 16", "--option", "blksize 1428", "-g", "-r", "f.bin",
                    "-l", out, SERVER_IP, "69"], timeout=60)
        expected = sha256_file(os.path.join(root, "f.bin"))
        assert [sha256_file(o) for o in outs + [out]] == [expected] * 21
        # SIGTERM with nothing in flight: the service releases the event loop, exit 0.
        assert daemon.stop() == 0
        daemon = None
    finally:
        if daemon:
            daemon.stop()
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)


def test_busy_beyond_max_transfers():
    workdir = tempfile.mkdtemp(prefix="tftp-busy-")
    root = os.path.join(workdir, "root")
    os.makedirs(root)
    with open(os.path.join(root, "f.bin"), "wb") as f:
        f.write(os.urandom(5000))
    lab = netlab.Lab()
    daemon = None
    try:
        _, client, daemon = start(lab, {"root": root, "max_transfers": 1}, workdir)
        res = client.run([netlab.SYSTEM_PYTHON, os.path.join(os.path.dirname(__file__), "tftp_probe.py"),
                          "busy", SERVER_IP, "69", "f.bin"])
        import json
        res = json.loads(res.stdout)
        assert res["first"] == {"opcode": 3, "block": 1}
        assert res["second"]["opcode"] == 5 and res["second"]["code"] == 3, res
        assert "busy" in res["second"]["message"]
    finally:
        if daemon:
            daemon.stop()
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)


def test_one_host_cannot_take_every_transfer_slot():
    """A host that floods RRQs asking for timeout 255 and never acknowledges gets 16 transfers
    (the per-client default); the 17th and later are refused, another host is served
    meanwhile, and the slots free themselves after the first-ACK limit (3 s), not after
    255 s times the retries."""
    import json
    import time
    workdir = tempfile.mkdtemp(prefix="tftp-flood-")
    root = os.path.join(workdir, "root")
    os.makedirs(root)
    with open(os.path.join(root, "f.bin"), "wb") as f:
        f.write(os.urandom(100 * 1024 + 3))
    lab = netlab.Lab()
    daemon = None
    probe = os.path.join(os.path.dirname(__file__), "tftp_probe.py")
    try:
        server, client, daemon = start(lab, {"root": root}, workdir)
        other = lab.add_host("cl2", 3)
        res = json.loads(client.run([netlab.SYSTEM_PYTHON, probe, "flood", SERVER_IP, "69", "f.bin", "24"]).stdout)
        assert res["oacks"] == 16, res
        assert res["errors"] == ["too many transfers from this address"] * 8, res
        out = os.path.join(workdir, "other")
        other.run(["curl", "-sS", "--fail", "-o", out, f"tftp://{SERVER_IP}/f.bin"], timeout=30)
        assert sha256_file(out) == sha256_file(os.path.join(root, "f.bin"))
        time.sleep(4)
        res = json.loads(client.run([netlab.SYSTEM_PYTHON, probe, "flood", SERVER_IP, "69", "f.bin", "16"]).stdout)
        assert res == {"oacks": 16, "errors": []}, res
        metrics = server.run(["curl", "-sS", f"http://{SERVER_IP}:8080/metrics"]).stdout
        assert 'ironboot_tftp_requests_refused_total{reason="per_client"} 8' in metrics
        assert 'ironboot_tftp_transfers_failed_total{reason="timed_out"} 16' in metrics
    finally:
        if daemon:
            daemon.stop()
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)
