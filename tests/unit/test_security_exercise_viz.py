"""Notebook 06's exercise judge and stack picture, fed made-up measurements."""

from __future__ import annotations

import matplotlib
import pytest

from boxkit import exercises as ex
from boxkit.viz.security import ALLOWED, REFUSED, layer_order, stack_figure

matplotlib.use("Agg")

MEASURED = {"chown a file": True, "mount a tmpfs": False, "create a user namespace": False}


def test_judge_root_can():
    assert ex.judge_root_can(dict(MEASURED), MEASURED).ok
    v = ex.judge_root_can({**MEASURED, "mount a tmpfs": True}, MEASURED)
    assert not v.ok and "2 of 3 predictions match" in v.why and "mount a tmpfs" not in v.why   # no give-away
    v = ex.judge_root_can({"chown a file": True, "mount a tmpfs": "no"}, MEASURED)
    assert not v.ok and "True or False" in v.why and "create a user namespace" in v.why
    v = ex.judge_root_can({"fly": True}, MEASURED)
    assert not v.ok and "not an action" in v.why


def test_the_placeholder_measures_nothing(capsys, monkeypatch):
    import boxkit

    monkeypatch.setattr(boxkit, "run", lambda *a, **k: pytest.fail("started a container"), raising=False)
    assert ex.root_can({a: ... for a in ex.ROOT_ACTIONS}) is None
    assert capsys.readouterr().out.startswith(ex.YOUR_TURN)


def test_every_action_has_a_command():
    assert all(cmd.strip() for cmd in ex.ROOT_ACTIONS.values())
    assert "{py}" in ex.ROOT_ACTIONS["listen on port 80"]


def test_stack_figure_draws_each_verdict_on_its_layer():
    verdicts = [("capabilities", "mount", True, True), ("capabilities", "ip link add", True, True),
                ("seccomp", "unshare -U", True, True), ("kernel", "mount cgroup v1 in a userns", True, False),
                ("devices", "read /dev/null", False, None)]
    assert layer_order(verdicts) == ["capabilities", "seccomp", "kernel", "devices"]
    fig = stack_figure(verdicts)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    for layer in ("capabilities", "seccomp", "kernel", "devices"):
        assert layer in texts
    assert "refused; works without it" in texts and "refused; refused without it too" in texts
    assert "allowed; not tried without it" in texts
    colors = [p.get_facecolor()[:3] for p in ax.patches]
    red = matplotlib.colors.to_rgb(REFUSED)
    green = matplotlib.colors.to_rgb(ALLOWED)
    assert sum(1 for c in colors if all(abs(a - b) < 1e-6 for a, b in zip(c, red, strict=True))) == 4
    assert sum(1 for c in colors if all(abs(a - b) < 1e-6 for a, b in zip(c, green, strict=True))) == 1
