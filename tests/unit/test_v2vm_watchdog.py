"""The v2 VM runner gives up on a guest whose CPU is stuck, instead of waiting out its timeout."""

from __future__ import annotations

import time

from tools.v2vm import runner


def test_the_lockup_line_of_a_ci_run_is_recognised():
    line = "[ 1484.810650] watchdog: BUG: soft lockup - CPU#0 stuck for 1337s! [python:145]"
    m = runner.LOCKUP.search(line)
    assert m and m.groups() == ("0", "1337")
    assert runner.LOCKUP.search("[  101.9] python3 invoked oom-killer: gfp_mask=0xcc0") is None


def test_a_stuck_guest_is_killed_at_once_and_a_short_stall_is_not():
    cfg = runner.VMConfig(echo=False, timeout=60)
    short = ["sh", "-c", "echo 'watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [modprobe:150]'; sleep 1; echo done"]
    res = runner._boot(cfg, short)
    assert res.wedged is None and "done" in res.console
    stuck = ["sh", "-c", "echo 'watchdog: BUG: soft lockup - CPU#1 stuck for 95s! [modprobe:150]'; exec sleep 50"]
    t = time.monotonic()
    res = runner._boot(cfg, stuck)
    took = time.monotonic() - t
    assert res.wedged == "guest soft lockup: CPU#1 stuck for 95 s", res.error
    assert took < 10, f"the runner waited {took:.1f} s for a wedged guest"
