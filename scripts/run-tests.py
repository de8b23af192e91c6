#!/usr/bin/python3
"""Runs every gtest executable registered with meson (build/), every libFuzzer target of the
fuzz build (build-fuzz/) for a bounded time, then the pytest suites under tests/integration
and tests/e2e, then tests/appliance, and prints one closing line: "N passed, N failed, N skipped".

A unit binary that hangs or crashes counts as a failure with its name; each fuzz target is
one case, failed by a crash (its reproducer stays in build-fuzz/crashes/<target>/), by a
missing corpus directory, or by not being registered with one (tests/fuzz/meson.build)."""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
BUILD_FUZZ = os.path.join(ROOT, "build-fuzz")

FUZZ_SECONDS = 15
FUZZ_OPTIONS = [f"-max_total_time={FUZZ_SECONDS}", "-timeout=10", "-rss_limit_mb=2048"]
# Loading and replaying the corpus comes before the time budget; past this the run is hung.
FUZZ_KILL_AFTER = FUZZ_SECONDS + 285
# Each libFuzzer process is single-threaded: one per core, so the targets' wall time is
# divided by the cores while each still gets a core's worth of executions.
FUZZ_PARALLEL = max(1, min(4, os.cpu_count() or 1))


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def add(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped


def run_bounded(cmd, cwd, timeout, stdout=None, env=None):
    """Runs `cmd` in its own process group; returns its exit code, or None when it was still
    running after `timeout` seconds (the whole group is then killed)."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=stdout, stderr=subprocess.STDOUT if stdout else None,
                            env=env, start_new_session=True)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        return None


def gtest_counts(report):
    """(passed, failed, skipped names) from a gtest JSON report; disabled tests are not run."""
    with open(report) as f:
        data = json.load(f)
    passed = failed = 0
    skipped = []
    for suite in data.get("testsuites", []):
        for case in suite.get("testsuite", []):
            if case.get("status") == "NOTRUN":
                continue
            if case.get("failures"):
                failed += 1
            elif case.get("result") == "SKIPPED":
                skipped.append(f"{suite.get('name')}.{case.get('name')}")
            else:
                passed += 1
    return passed, failed, skipped


def run_unit(filter_text):
    tally = Tally()
    tests = json.loads(subprocess.check_output(["meson", "introspect", "--tests"], cwd=BUILD))
    for t in tests:
        if filter_text and filter_text not in t["name"]:
            continue
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
            report = f.name
        os.unlink(report)  # gtest writes it at the end; an old one must not be read
        timeout = t.get("timeout") or 600
        cmd = t["cmd"] + [f"--gtest_output=json:{report}"]
        print(f"== unit {t['name']}", flush=True)
        rc = run_bounded(cmd, t.get("workdir") or ROOT, timeout)
        try:
            if rc is None:
                print(f"   {t['name']}: still running after {timeout} s, killed: counted as one failure",
                      flush=True)
                tally.failed += 1
                continue
            try:
                passed, failed, skipped = gtest_counts(report)
            except (OSError, ValueError):
                print(f"   {t['name']}: no report (exit {rc}), counted as one failure", flush=True)
                tally.failed += 1
                continue
            for name in skipped:
                print(f"   skipped: {name}", flush=True)
            tally.passed += passed
            tally.failed += failed
            tally.skipped += len(skipped)
            if rc != 0 and failed == 0:
                print(f"   {t['name']}: exit {rc} with no failed test, counted as one failure", flush=True)
                tally.failed += 1  # crashed after writing its report, or a global failure
        finally:
            if os.path.exists(report):
                os.unlink(report)
    return tally


def fuzz_executables():
    """Paths of the executables defined under tests/fuzz in the fuzz build."""
    targets = json.loads(subprocess.check_output(["meson", "introspect", "--targets"], cwd=BUILD_FUZZ))
    fuzz_dir = os.path.join(os.path.realpath(ROOT), "tests", "fuzz") + os.sep
    found = set()
    for t in targets:
        if t["type"] == "executable" and os.path.realpath(t["defined_in"]).startswith(fuzz_dir):
            found.update(t["filename"])
    return found


def run_fuzz_target(entry):
    """One fuzz case: (True when the target ran its time on a copy of its corpus without a
    crash, a leak, a timeout or running out of memory, the lines to print about it). The
    lines are returned rather than printed: targets run side by side."""
    out = []
    name, exe, corpus = entry["name"], entry["path"], entry["corpus"]
    if not os.path.isdir(corpus) or not os.listdir(corpus):
        out.append(f"   {name}: corpus directory {corpus} is missing or empty")
        return False, out
    if not os.path.isfile(exe):
        out.append(f"   {name}: {exe} is not built (scripts/build --fuzz)")
        return False, out
    # New inputs go into a scratch copy: the corpus in the repository is not changed.
    work = os.path.join(BUILD_FUZZ, "fuzz-corpus", name)
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(corpus, work)
    crashes = os.path.join(BUILD_FUZZ, "crashes", name)
    os.makedirs(crashes, exist_ok=True)
    before = set(os.listdir(crashes))
    log_path = os.path.join(BUILD_FUZZ, "fuzz-logs", name + ".log")
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    env = dict(os.environ)
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    cmd = [exe, *FUZZ_OPTIONS, f"-artifact_prefix={crashes}/", work]
    with open(log_path, "w") as log:
        rc = run_bounded(cmd, ROOT, FUZZ_KILL_AFTER, stdout=log, env=env)
    with open(log_path, errors="replace") as log:
        text = log.read()
    new = sorted(set(os.listdir(crashes)) - before)
    done = re.search(r"Done (\d+) runs in (\d+) second", text)
    if rc == 0 and not new:
        runs = f"{done.group(1)} runs in {done.group(2)} s" if done else "done"
        out.append(f"   {name}: ok ({runs})")
        return True, out
    why = f"still running after {FUZZ_KILL_AFTER} s, killed" if rc is None else f"exit {rc}"
    out.append(f"   {name}: FAILED ({why}); log {log_path}")
    for line in text.splitlines()[-25:]:
        out.append(f"     {line}")
    for artifact in new:
        out.append(f"   {name}: reproducer {os.path.join(crashes, artifact)} "
                   f"(run: {exe} {os.path.join(crashes, artifact)})")
    return False, out


def run_fuzz(filter_text):
    tally = Tally()
    listing = os.path.join(BUILD_FUZZ, "tests", "fuzz", "fuzz_targets.json")
    print(f"== fuzz ({FUZZ_SECONDS} s per target, ASan + UBSan, {FUZZ_PARALLEL} at a time)", flush=True)
    try:
        with open(listing) as f:
            entries = json.load(f)
        built = fuzz_executables()
    except (OSError, ValueError, subprocess.CalledProcessError) as e:
        print(f"   no fuzz build in {BUILD_FUZZ} ({e}); scripts/build --fuzz makes it", flush=True)
        tally.failed += 1
        return tally
    registered = {e["path"] for e in entries}
    for exe in sorted(built - registered):
        print(f"   {os.path.basename(exe)}: built but not registered with a corpus "
              f"(fuzz_targets in tests/fuzz/meson.build): counted as one failure", flush=True)
        tally.failed += 1
    chosen = [e for e in entries if not filter_text or filter_text in e["name"]]
    with concurrent.futures.ThreadPoolExecutor(max_workers=FUZZ_PARALLEL) as pool:
        for ok, lines in pool.map(run_fuzz_target, chosen):
            for line in lines:
                print(line, flush=True)
            if ok:
                tally.passed += 1
            else:
                tally.failed += 1
    return tally


def run_pytest(paths, extra):
    tally = Tally()
    paths = [p for p in paths if os.path.isdir(os.path.join(ROOT, p))]
    if not paths:
        return tally
    with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as f:
        report = f.name
    # --durations: the slowest tests are listed at the end of each run, for the CI budget.
    cmd = ["/usr/bin/python3", "-m", "pytest", "-p", "no:cacheprovider", "-rfEs", "--durations=25",
           f"--junitxml={report}", *extra, *paths]
    print("== " + " ".join(cmd), flush=True)
    rc = subprocess.call(cmd, cwd=ROOT)
    try:
        for case in ET.parse(report).getroot().iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                tally.failed += 1
            elif case.find("skipped") is not None:
                tally.skipped += 1
            else:
                tally.passed += 1
    except (OSError, ET.ParseError):
        tally.failed += 1
    finally:
        os.unlink(report)
    if rc not in (0, 5) and tally.failed == 0:  # 5: nothing collected
        tally.failed += 1
    return tally


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--unit-only", action="store_true", help="only the gtest executables")
    ap.add_argument("--fuzz-only", action="store_true", help="only the fuzz targets")
    ap.add_argument("--no-unit", action="store_true")
    ap.add_argument("--no-fuzz", action="store_true")
    ap.add_argument("--no-appliance", action="store_true",
                    help="without tests/appliance (the Debian package and the appliance image under QEMU)")
    ap.add_argument("-k", default="",
                    help="pytest -k expression / substring of unit suite and fuzz target names")
    args = ap.parse_args()
    if args.unit_only and args.fuzz_only:
        ap.error("--unit-only and --fuzz-only exclude each other")
    unit = not (args.no_unit or args.fuzz_only)
    fuzz = not (args.no_fuzz or args.unit_only)
    pytest = not (args.unit_only or args.fuzz_only)
    total = Tally()
    if unit:
        total.add(run_unit(args.k))
    if fuzz:
        total.add(run_fuzz(args.k))
    if pytest:
        extra = ["-k", args.k] if args.k else []
        total.add(run_pytest(["tests/integration", "tests/e2e"], extra))
        if not args.no_appliance:
            # A pytest run of its own: its test files import their own conftest module. The
            # package, rootfs and image are cached under build/ keyed by their inputs.
            total.add(run_pytest(["tests/appliance"], extra))
    print(f"{total.passed} passed, {total.failed} failed, {total.skipped} skipped", flush=True)
    sys.exit(1 if total.failed or total.passed == 0 else 0)


if __name__ == "__main__":
    main()
