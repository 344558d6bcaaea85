#!/usr/bin/env python3
"""The whole course under nbval, several times in a row, then once more on a busy machine.

    sudo .venv/bin/python tools/soak.py [--runs 5] [--burners 2] [NOTEBOOK ...]

A notebook whose outcome depends on how fast the machine is passes once and fails on the next run (a
load generator that runs for a fixed time fills a memory limit on a quick laptop; a plot that races a
timer misses the kill). This runs every notebook (or the ones named) under nbval ``--runs`` times back
to back, each run a fresh pytest session, then once more with ``--burners`` processes spinning on the
CPU beside it (each a busy loop, ended by its PID afterwards), and prints one line per run — passed,
failed, seconds — and exits non-zero if any run failed. Every run's pytest output is kept in
``--log-dir`` (default: a new temporary directory, printed at the end).
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SUMMARY = re.compile(r"(\d+) (passed|failed|error|errors|skipped)")


def run_course(notebooks: list[str], log: str) -> tuple[int, int, float]:
    """One nbval session over ``notebooks``: (passed, failed or errored, seconds)."""
    argv = [sys.executable, "-m", "pytest", *notebooks, "--nbval", "--nbval-sanitize-with",
            os.path.join(REPO, "notebooks", "sanitize.cfg"), "--nbval-cell-timeout", "300",
            "-p", "no:cacheprovider", "-q"]
    t = time.monotonic()
    with open(log, "w") as out:
        subprocess.run(argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    seconds = time.monotonic() - t
    with open(log) as f:
        tail = f.read()[-2000:]
    counts = {k: 0 for k in ("passed", "failed", "error", "errors", "skipped")}
    for n, kind in _SUMMARY.findall(tail.splitlines()[-1] if tail.strip() else ""):
        counts[kind] += int(n)
    return counts["passed"], counts["failed"] + counts["error"] + counts["errors"], seconds


def burners(n: int) -> list[subprocess.Popen]:
    """``n`` processes that keep a CPU busy until they are killed."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="runs in a row on a quiet machine (default 5)")
    ap.add_argument("--burners", type=int, default=2, help="CPU-burning processes for the last run (default 2; 0: none)")
    ap.add_argument("--log-dir", help="where each run's pytest output goes")
    ap.add_argument("notebooks", nargs="*", help="default: notebooks/*.ipynb")
    a = ap.parse_args()
    notebooks = a.notebooks or sorted(glob.glob(os.path.join(REPO, "notebooks", "*.ipynb")))
    logs = a.log_dir or tempfile.mkdtemp(prefix="boxkit-soak-")
    os.makedirs(logs, exist_ok=True)
    plan = [(f"run {i + 1}", 0) for i in range(a.runs)] + ([("under load", a.burners)] if a.burners else [])
    rows = []
    for label, load in plan:
        hogs = burners(load)
        try:
            passed, failed, seconds = run_course(notebooks, os.path.join(logs, label.replace(" ", "-") + ".log"))
        finally:
            for h in hogs:
                h.send_signal(signal.SIGKILL)
                h.wait()
        rows.append((label, load, passed, failed, seconds))
        print(f"{label:<11} burners {load}  {passed:>3} passed  {failed:>2} failed  {seconds:>6.0f} s", flush=True)
    bad = [r for r in rows if r[3] or not r[2]]
    print(f"{len(rows)} runs of {len(notebooks)} notebooks: {len(rows) - len(bad)} green, {len(bad)} not; logs in {logs}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
