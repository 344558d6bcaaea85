#!/usr/bin/env python3
"""Run the whole course under nbval several times in a row, then once more beside CPU burners.

    sudo .venv/bin/python tools/course_soak.py                 # 5 runs, then 1 with 2 burners
    sudo .venv/bin/python tools/course_soak.py --runs 2 --loaded-runs 1 --burners 2

The proof that no notebook's outcome depends on how fast or how loaded the machine is (a demo bounded
by a count of work, not by a timer racing it): every run must pass. Prints one line per run (passed,
failed, seconds) and a summary; exits 1 if any run failed. The burners are busy loops this script
starts and ends by PID.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def nbval_once(notebooks: list[str]) -> tuple[int, int, float]:
    t = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "pytest", *notebooks, "--nbval", "--nbval-sanitize-with",
                        os.path.join(HERE, "notebooks", "sanitize.cfg"), "--nbval-cell-timeout", "300",
                        "-p", "no:cacheprovider", "-q", "--color=no"], cwd=HERE, capture_output=True, text=True)
    seconds = time.monotonic() - t
    tail = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    passed = int(m.group(1)) if (m := re.search(r"(\d+) passed", tail)) else 0
    failed = int(m.group(1)) if (m := re.search(r"(\d+) failed", tail)) else 0
    if r.returncode != 0 and not failed:
        failed = 1
    if failed:
        sys.stdout.write("\n".join(line for line in r.stdout.splitlines() if line.startswith("FAILED")) + "\n")
    return passed, failed, seconds


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--loaded-runs", type=int, default=1)
    ap.add_argument("--burners", type=int, default=2)
    a = ap.parse_args(argv)
    notebooks = sorted(glob.glob(os.path.join(HERE, "notebooks", "[0-9][0-9]-*.ipynb")))
    results = []
    for i in range(a.runs):
        p, f, s = nbval_once(notebooks)
        results.append(("quiet", p, f, s))
        print(f"run {i + 1}: {p} passed, {f} failed, {s:.0f} s", flush=True)
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(a.loaded_runs and a.burners)]
    try:
        for i in range(a.loaded_runs):
            p, f, s = nbval_once(notebooks)
            results.append((f"{a.burners} burners", p, f, s))
            print(f"run {a.runs + i + 1} beside {a.burners} CPU burners: {p} passed, {f} failed, {s:.0f} s", flush=True)
    finally:
        for b in burners:
            os.kill(b.pid, signal.SIGKILL)
            b.wait()
    bad = sum(1 for r in results if r[2])
    print(f"{len(results)} runs of {len(notebooks)} notebooks: {len(results) - bad} green, {bad} red; "
          f"{sum(r[3] for r in results):.0f} s in all")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
