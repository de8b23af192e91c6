"""The store never acknowledges what it has not persisted (issue #13): data_dir on a small
tmpfs filled while objects are created, and a flipped byte in the middle of the log."""

import glob
import json
import os
import subprocess
import time

import pytest

from kubelab import Cluster, server_manifest, write_manifest
import netlab  # noqa: E402 (on the path kubelab sets)

WRITER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "writer.py")


@pytest.fixture
def small_disk_cluster():
    """The embedded API with its data_dir on a 4 MiB tmpfs of its own (unmounted afterwards)."""
    lab = netlab.Lab()
    c = None
    mounted = None
    try:
        host = lab.add_host("api", 10)
        c = Cluster(lab, host)
        os.makedirs(c.data_dir)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", c.data_dir], check=True)
        mounted = c.data_dir
        c.start()
        yield c
    finally:
        if c:
            c.close()
        if mounted:
            subprocess.run(["umount", mounted], check=False)
        lab.close()


def readyz(c):
    return c.host.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:8080/readyz"]).stdout


def fill(path):
    """Writes zeros to `path` until the file system is full."""
    # Unbuffered: a buffered file would raise ENOSPC again when it is closed.
    with open(path, "wb", buffering=0) as f:
        block = b"\0" * 65536
        try:
            while True:
                f.write(block)
        except OSError:
            pass
        try:  # the last bytes a smaller write still fits
            while True:
                f.write(b"\0" * 512)
        except OSError:
            pass


def names(c):
    code, body = c.curl("/apis/metal.sidero.dev/v1alpha2/servers")
    assert code == 200, body
    return {i["metadata"]["name"] for i in json.loads(body)["items"]}


def test_full_disk_refuses_writes_and_loses_nothing_acknowledged(small_disk_cluster):
    c = small_disk_cluster
    assert readyz(c) == "200"
    writer = c.host.popen(["/usr/bin/python3", WRITER, os.path.join(c.data_dir, "ca.crt"), c.token(), "w", "100000"],
                          stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    filler = os.path.join(c.data_dir, "filler")
    fill(filler)  # while the writer creates
    acked = []
    refused = None
    for line in writer.stdout:
        line = line.strip()
        if line.startswith("ERROR"):
            refused = line
            break
        acked.append(line)
    writer.wait()
    assert len(acked) > 20, acked[:5]
    assert refused == "ERROR 503", refused
    # The refused create is not there: rolled back, not half-applied.
    failed_name = f"w-{len(acked):05d}"
    code, _ = c.curl(f"/apis/metal.sidero.dev/v1alpha2/servers/{failed_name}")
    assert code == 404
    # kubectl's create is refused too, with the Status reason; /readyz says so.
    r = c.kubectl("create", "-f", write_manifest(server_manifest("00000000-0000-4000-8000-00000000f001")), check=False)
    assert r.returncode != 0
    assert "ServiceUnavailable" in r.stderr or "unavailable" in r.stderr.lower(), r.stderr
    code, body = c.curl("/apis/metal.sidero.dev/v1alpha2/servers", "-X", "POST", "-H", "Content-Type: application/json",
                        "-d", json.dumps(server_manifest("00000000-0000-4000-8000-00000000f002")))
    assert code == 503, body
    assert json.loads(body)["reason"] == "ServiceUnavailable"
    assert readyz(c) != "200"
    metrics = c.host.run(["curl", "-s", "http://127.0.0.1:8080/metrics"]).stdout
    assert "ironboot_kube_store_write_failures_total" in metrics
    assert "ironboot_kube_store_writable 0" in metrics
    assert names(c) >= set(acked)

    # Space freed: the store resumes by itself, without a restart.
    os.unlink(filler)
    deadline = time.monotonic() + 15
    while readyz(c) != "200" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert readyz(c) == "200", c.daemon.read_log()[-2000:]
    later = "00000000-0000-4000-8000-00000000f003"
    c.kubectl("create", "-f", write_manifest(server_manifest(later)))

    c.restart(kill=True)
    present = names(c)
    missing = [a for a in acked + [later] if a not in present]
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:3]}"
    assert failed_name not in present
    assert "00000000-0000-4000-8000-00000000f002" not in present


def test_flipped_byte_mid_log_refuses_start(cluster):
    for i in range(6):  # six batches: the flipped record is followed by acknowledged ones
        cluster.kubectl("create", "-f", write_manifest(server_manifest(f"00000000-0000-4000-8000-00000000a00{i}")))
    cluster.daemon.stop()
    log_path = os.path.join(cluster.data_dir, "store.log")
    size = os.path.getsize(log_path)
    with open(log_path, "rb") as f:
        data = f.read()
    # A byte inside the third Server's record.
    at = data.index(b"00000000-0000-4000-8000-00000000a002") + 10
    with open(log_path, "r+b") as f:
        f.seek(at)
        f.write(b"#")
    with pytest.raises(RuntimeError) as failed:
        cluster.daemon.start()
    message = str(failed.value)
    assert "corrupt" in message and "offset" in message, message[-2000:]
    copies = glob.glob(log_path + ".corrupt-*")
    assert len(copies) == 1, os.listdir(cluster.data_dir)
    assert os.path.basename(copies[0]) in message
    with open(copies[0], "rb") as f:
        assert f.read()[at:at + 1] == b"#"
    assert os.path.getsize(log_path) == size, "the log itself is left as it was"
