"""ironboot's TFTP server against real clients (atftp, tftp-hpa, curl) in network namespaces."""

import os
import time

import pytest

from tftplab import SERVER_IP, sha256_file


def fetch_atftp(lab, name, out, *options, server=SERVER_IP, port=69, timeout=120):
    args = ["atftp"]
    for opt in options:
        args += ["--option", opt]
    args += ["-g", "-r", name, "-l", out, server, str(port)]
    return lab.client.run(args, timeout=timeout)


def test_atftp_with_blksize_windowsize_tsize(tftp_lab):
    out = tftp_lab.out_path("atftp-small")
    fetch_atftp(tftp_lab, "small.bin", out, "blksize 1428", "windowsize 16", "tsize 0")
    assert sha256_file(out) == tftp_lab.files.sha("small.bin")


def test_atftp_exact_multiple_and_nested_path(tftp_lab):
    out = tftp_lab.out_path("atftp-exact")
    fetch_atftp(tftp_lab, "exact.bin", out, "blksize 1428", "windowsize 16", "tsize 0")
    assert sha256_file(out) == tftp_lab.files.sha("exact.bin")
    out = tftp_lab.out_path("atftp-nested")
    fetch_atftp(tftp_lab, "sub/dir/nested.bin", out)
    assert sha256_file(out) == tftp_lab.files.sha("sub/dir/nested.bin")


def test_40mib_at_blksize_512_rolls_over(tftp_lab):
    # 81 921 blocks of 512 bytes: the block number wraps past 65535.
    out = tftp_lab.out_path("big40")
    fetch_atftp(tftp_lab, "big40.bin", out, "blksize 512", "windowsize 16", "tsize 0", timeout=180)
    assert os.path.getsize(out) == os.path.getsize(tftp_lab.files.path("big40.bin"))
    assert sha256_file(out) == tftp_lab.files.sha("big40.bin")


@pytest.mark.parametrize("mode", ["binary", "ascii"])
def test_tftp_hpa_octet_and_netascii(tftp_lab, mode):
    for name in ["small.bin", "text.txt"] if mode == "binary" else ["text.txt"]:
        out = tftp_lab.out_path(f"hpa-{mode}-{name}")
        tftp_lab.client.run(["tftp", "-m", mode, SERVER_IP, "-c", "get", name, out], timeout=120)
        # In netascii mode the client turns CR LF / CR NUL back into the local form.
        assert sha256_file(out) == tftp_lab.files.sha(name), name


def test_tftp_hpa_netascii_wire_format(tftp_lab):
    # The bytes on the wire are netascii: check with a raw request in that mode.
    res = tftp_lab.probe("request", SERVER_IP, "69", "text.txt", "--option", "tsize", "0")
    assert res["opcode"] == 6 and res["options"]["tsize"] == str(os.path.getsize(tftp_lab.files.path("text.txt")))


@pytest.mark.parametrize("blksize", ["512", "1468", "8"])
def test_curl_with_tftp_blksize(tftp_lab, blksize):
    name = "sub/dir/nested.bin" if blksize == "8" else "small.bin"
    out = tftp_lab.out_path(f"curl-{blksize}")
    tftp_lab.client.run(["curl", "-sS", "--fail", "--tftp-blksize", blksize, "-o", out,
                         f"tftp://{SERVER_IP}/{name}"], timeout=120)
    assert sha256_file(out) == tftp_lab.files.sha(name)


def test_empty_file(tftp_lab):
    out = tftp_lab.out_path("curl-empty")
    tftp_lab.client.run(["curl", "-sS", "--fail", "-o", out, f"tftp://{SERVER_IP}/empty.bin"])
    assert os.path.getsize(out) == 0
    out = tftp_lab.out_path("atftp-empty")
    fetch_atftp(tftp_lab, "empty.bin", out, "tsize 0")
    assert os.path.getsize(out) == 0


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "escape", "passwd-link",
                                  "sub/../../escape", "..\\..\\etc\\passwd"])
def test_traversal_is_refused_with_access_violation(tftp_lab, path):
    res = tftp_lab.probe("request", SERVER_IP, "69", path)
    assert res["opcode"] == 5 and res["code"] == 2, res


def test_traversal_with_real_clients(tftp_lab):
    res = tftp_lab.client.run(["tftp", SERVER_IP, "-c", "get", "../../etc/passwd", tftp_lab.out_path("x")],
                              check=False)
    assert "Access violation" in (res.stdout + res.stderr) or "access violation" in (res.stdout + res.stderr)
    res = tftp_lab.client.run(["curl", "-sS", "-o", tftp_lab.out_path("y"), f"tftp://{SERVER_IP}/escape"],
                              check=False)
    assert res.returncode != 0


def test_missing_file_is_error_1(tftp_lab):
    res = tftp_lab.probe("request", SERVER_IP, "69", "no-such-file")
    assert res == {"opcode": 5, "code": 1, "message": "file not found"}


def test_write_request_is_refused(tftp_lab):
    res = tftp_lab.probe("request", SERVER_IP, "69", "upload.bin", "--write")
    assert res["opcode"] == 5 and res["code"] == 2, res
    src = tftp_lab.out_path("to-upload")
    with open(src, "wb") as f:
        f.write(b"data")
    res = tftp_lab.client.run(["tftp", SERVER_IP, "-c", "put", src, "upload.bin"], check=False)
    assert not os.path.exists(tftp_lab.files.path("upload.bin"))


def test_negotiation_edge_cases(tftp_lab):
    # Invalid values are left out of the OACK; with nothing accepted the server sends DATA 1.
    for opt, value in [("blksize", "7"), ("blksize", "65465"), ("blksize", "abc"), ("windowsize", "0")]:
        res = tftp_lab.probe("request", SERVER_IP, "69", "small.bin", "--option", opt, value)
        assert res == {"opcode": 3, "block": 1}, (opt, value, res)
    res = tftp_lab.probe("request", SERVER_IP, "69", "small.bin", "--option", "BlkSize", "65464",
                         "--option", "WINDOWSIZE", "1000", "--option", "tsize", "0", "--option", "foo", "bar")
    assert res["opcode"] == 6
    assert res["options"] == {"blksize": "1468", "tsize": str(300 * 1024 + 17), "windowsize": "64"}


def test_wrong_tid_gets_error_5_and_transfer_continues(tftp_lab):
    res = tftp_lab.probe("wrong-tid", SERVER_IP, "69", "sub/dir/nested.bin")
    assert res["intruder"]["opcode"] == 5 and res["intruder"]["code"] == 5, res
    assert res["sha256"] == tftp_lab.files.sha("sub/dir/nested.bin"), res


def test_200_concurrent_transfers(tftp_lab):
    args = ["curl", "-sS", "--fail", "--parallel", "--parallel-max", "200", "--tftp-blksize", "1468"]
    outs = []
    for i in range(200):
        out = tftp_lab.out_path(f"par-{i}")
        outs.append(out)
        args += ["-o", out, f"tftp://{SERVER_IP}/small.bin"]
    tftp_lab.client.run(args, timeout=120)
    expected = tftp_lab.files.sha("small.bin")
    assert [sha256_file(o) for o in outs] == [expected] * 200


def test_lossy_relay_drop_every_nth(tftp_lab):
    relay = tftp_lab.relay(drop_every=23)
    try:
        out = tftp_lab.out_path("lossy-hpa")
        tftp_lab.client.run(["tftp", "-m", "binary", "127.0.0.1", "6969", "-c", "get", "sub/dir/nested.bin", out],
                            timeout=120)
        assert sha256_file(out) == tftp_lab.files.sha("sub/dir/nested.bin")
        out = tftp_lab.out_path("lossy-atftp")
        fetch_atftp(tftp_lab, "small.bin", out, "blksize 1428", "windowsize 16", "tsize 0",
                    server="127.0.0.1", port=6969)
        assert sha256_file(out) == tftp_lab.files.sha("small.bin")
    finally:
        relay.kill()
        relay.wait()


def test_delaying_relay_reorders(tftp_lab):
    # Every 5th datagram is held back 150 ms: it arrives after later ones (reordering and
    # duplicates once timers fire).
    relay = tftp_lab.relay(delay_every=5, delay_ms=150, port=6970)
    try:
        out = tftp_lab.out_path("delay-atftp")
        fetch_atftp(tftp_lab, "small.bin", out, "blksize 1428", "windowsize 8", "tsize 0",
                    server="127.0.0.1", port=6970)
        assert sha256_file(out) == tftp_lab.files.sha("small.bin")
        out = tftp_lab.out_path("delay-curl")
        tftp_lab.client.run(["curl", "-sS", "--fail", "-o", out, "tftp://127.0.0.1:6970/sub/dir/nested.bin"],
                            timeout=120)
        assert sha256_file(out) == tftp_lab.files.sha("sub/dir/nested.bin")
    finally:
        relay.kill()
        relay.wait()
