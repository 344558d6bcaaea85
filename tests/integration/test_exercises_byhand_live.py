"""Notebook 08's exercise checker against the kernel: the reference answer says "✓ right", a wrong
one "✗ not yet" without giving the answer away, every recipe measured as the recording expects, and
nothing left behind (no helper, no directory, no cgroup, no mount). Needs root."""

from __future__ import annotations

import os
import shutil

import pytest

from boxkit import byhand
from boxkit import exercises_byhand as xb

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: unshares namespaces and mounts"),
              pytest.mark.skipif(not shutil.which("busybox"), reason="needs busybox-static (apt-get install busybox-static)")]


def _leftovers() -> list[str]:
    base = "/tmp"
    with open("/proc/self/mountinfo") as f:
        mounts = [line for line in f if byhand.PREFIX in line]
    return mounts + sorted(n for n in os.listdir(base) if n.startswith(byhand.PREFIX))


def _line(capsys) -> str:
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1, out
    return out[0]


def test_measure_runs_every_recipe_and_leaves_nothing():
    before = _leftovers()
    m = xb.measure()
    assert set(m) == set(xb.RECIPES)
    for name, r in m.items():
        assert r["fails"] is None or r["fails"] in byhand.STEPS, (name, r)
        assert (r["errno"] is None) == (r["fails"] is None), (name, r)
    assert m["detach left out"]["exit"] == 0
    assert _leftovers() == before


def test_the_reference_answer_is_right_live(capsys):
    v = xb.check(xb.ANSWER)
    line = _line(capsys)
    assert v.ok, line
    assert line.startswith("✓ right: ") and "recorded" not in line


def test_a_wrong_answer_is_told_why_not_what(capsys):
    wrong = {**xb.ANSWER, "caps moved before pivot_root": ("pivot_root", "EINVAL"), "detach left out": (
        "detach", "ENOENT")}
    assert not xb.check(wrong).ok
    line = _line(capsys)
    assert line.startswith("✗ not yet: 2 of 4 predictions differ")
    assert "EPERM" in line   # only inside the list of what each errno means
    for recipe in xb.RECIPES:
        assert recipe not in line
