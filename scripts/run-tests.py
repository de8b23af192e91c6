#!/usr/bin/python3
"""Runs every gtest executable registered with meson, then the pytest suites under
tests/integration and tests/e2e, and prints one closing line: "N passed, N failed"."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")


def run_unit(filter_text):
    tests = json.loads(subprocess.check_output(["meson", "introspect", "--tests"], cwd=BUILD))
    passed = failed = 0
    for t in tests:
        if filter_text and filter_text not in t["name"]:
            continue
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
            report = f.name
        cmd = t["cmd"] + [f"--gtest_output=json:{report}"]
        print(f"== unit {t['name']}", flush=True)
        rc = subprocess.call(cmd, cwd=t.get("workdir") or ROOT, timeout=t.get("timeout") or 600)
        try:
            with open(report) as f:
                data = json.load(f)
            n_fail = data.get("failures", 0) + data.get("errors", 0)
            n_total = data.get("tests", 0) - data.get("disabled", 0)
            passed += n_total - n_fail
            failed += n_fail
            if rc != 0 and n_fail == 0:
                failed += 1  # crashed after writing its report, or a global failure
        except (OSError, ValueError):
            print(f"   {t['name']}: no report (exit {rc}), counted as one failure", flush=True)
            failed += 1
        finally:
            if os.path.exists(report):
                os.unlink(report)
    return passed, failed


def run_pytest(paths, extra):
    paths = [p for p in paths if os.path.isdir(os.path.join(ROOT, p))]
    if not paths:
        return 0, 0
    with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as f:
        report = f.name
    cmd = ["/usr/bin/python3", "-m", "pytest", "-p", "no:cacheprovider", "-rfE",
           f"--junitxml={report}", *extra, *paths]
    print("== " + " ".join(cmd), flush=True)
    rc = subprocess.call(cmd, cwd=ROOT)
    passed = failed = 0
    try:
        for case in ET.parse(report).getroot().iter("testcase"):
            if case.find("skipped") is not None:
                continue
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            else:
                passed += 1
    except (OSError, ET.ParseError):
        failed += 1
    finally:
        os.unlink(report)
    if rc not in (0, 5) and failed == 0:  # 5: nothing collected
        failed += 1
    return passed, failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--unit-only", action="store_true")
    ap.add_argument("--no-unit", action="store_true")
    ap.add_argument("-k", default="", help="pytest -k expression / substring of unit suite names")
    args = ap.parse_args()
    passed = failed = 0
    if not args.no_unit:
        p, f = run_unit(args.k)
        passed += p
        failed += f
    if not args.unit_only:
        extra = ["-k", args.k] if args.k else []
        p, f = run_pytest(["tests/integration", "tests/e2e"], extra)
        passed += p
        failed += f
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed or passed == 0 else 0)


if __name__ == "__main__":
    main()
