"""Notebook 06's exercise judge, its helpers, and the stack picture, fed made-up measurements."""

from __future__ import annotations

import matplotlib
import pytest

from boxkit import exercise_runs as runs
from boxkit import exercises as ex
from boxkit.viz.security import ALLOWED, HOW, REFUSED, UNTRIED, Probe, layer_order, stack_figure

matplotlib.use("Agg")

MEASURED = {"chown a file": True, "set the clock": False, "load a kernel module": False}


def test_judge_root_can():
    assert ex.judge_root_can(dict(MEASURED), MEASURED).ok
    v = ex.judge_root_can({**MEASURED, "set the clock": True}, MEASURED)
    assert not v.ok and "2 of 3 predictions match" in v.why and "set the clock" not in v.why   # no give-away
    v = ex.judge_root_can({"chown a file": True, "set the clock": "no"}, MEASURED)
    assert not v.ok and "True or False" in v.why and "load a kernel module" in v.why
    v = ex.judge_root_can({"fly": True}, MEASURED)
    assert not v.ok and "not an action" in v.why


def test_the_hint_names_no_action_and_no_answer():
    every = {a: False for a in ex.ROOT_ACTIONS}
    wrong = {a: not v for a, v in every.items()}
    why = ex.judge_root_can(wrong, every).why
    assert not any(a in why for a in ex.ROOT_ACTIONS), why
    assert "True" not in why and "False" not in why


def test_the_reference_answer_is_judged_right_and_covers_every_action():
    answer = ex.SOLUTIONS["security"][0]["predicted"]
    assert set(answer) == set(ex.ROOT_ACTIONS)
    assert ex.judge_root_can(answer, dict(answer)).ok
    assert {True, False} <= set(answer.values())   # a prediction, not one answer for all


def test_the_placeholder_measures_nothing(capsys, monkeypatch):
    import boxkit

    monkeypatch.setattr(boxkit, "run", lambda *a, **k: pytest.fail("started a container"), raising=False)
    assert ex.root_can({a: ... for a in ex.ROOT_ACTIONS}) is None
    assert capsys.readouterr().out.startswith(ex.YOUR_TURN)


def test_every_action_has_a_command_that_formats():
    for action, cmd in ex.ROOT_ACTIONS.items():
        line = cmd.format(py="/usr/bin/python3", major=254, minor=0)
        assert line.strip() and "{" not in line.replace("{'", "").replace("{ ", ""), action
    assert "{py}" in ex.ROOT_ACTIONS["listen on port 80"]
    assert "{major}" in ex.ROOT_ACTIONS["read the host's disk through a node it makes"]
    # read only: the disk action opens O_RDONLY and writes nothing
    disk = ex.ROOT_ACTIONS["read the host's disk through a node it makes"]
    assert "O_RDONLY" in disk and "write" not in disk


def test_measure_root_actions_runs_each_action_once(monkeypatch):
    seen = []

    class R:
        def __init__(self, code):
            self.exit_code = code

    def fake_run(image, cmd, **kw):
        seen.append(cmd)
        return R(0 if "chown" in cmd else 1)

    monkeypatch.setattr(runs, "run", fake_run)
    monkeypatch.setattr(runs, "host_disk", lambda: ("vdz", 254, 16))
    m = runs.measure_root_actions()
    assert list(m) == list(ex.ROOT_ACTIONS) and m["chown a file"] and not m["set the clock"]
    assert len(seen) == len(ex.ROOT_ACTIONS)
    assert any("os.makedev(254, 16)" in c for c in seen)


def test_host_disk_takes_the_first_whole_disk(tmp_path, monkeypatch):
    table = ("major minor  #blocks  name\n\n"
             "   7        0      1024 loop0\n"
             " 259        0  1000000 nvme0n1\n"
             " 259        1   500000 nvme0n1p1\n"
             "   8        0  2000000 sda\n"
             "   8        1  1000000 sda1\n")
    real_open = open

    def fake_open(path, *a, **k):
        if path == "/proc/partitions":
            p = tmp_path / "partitions"
            p.write_text(table)
            return real_open(p, *a, **k)
        return real_open(path, *a, **k)

    monkeypatch.setattr("builtins.open", fake_open)
    assert runs.host_disk() == ("nvme0n1", 259, 0)
    table = table.replace(" 259        0  1000000 nvme0n1\n", "").replace(" 259        1   500000 nvme0n1p1\n", "")
    assert runs.host_disk() == ("sda", 8, 0)     # loop devices are not disks; sda1 is sda's partition
    table = "major minor  #blocks  name\n\n"
    assert runs.host_disk() == ("sda", 8, 0)     # none listed: the conventional first disk


def test_status_fields_and_attempt(monkeypatch):
    st = runs.status_fields("Name:\tcat\nCapEff:\t00000000a80425fb\nSeccomp:\t2\n")
    assert st == {"Name": "cat", "CapEff": "00000000a80425fb", "Seccomp": "2"}

    class R:
        def __init__(self, code, out, err):
            self.exit_code, self.stdout, self.stderr = code, out, err

    monkeypatch.setattr(runs, "run", lambda image, cmd, **kw: R(0, "a\nmounted\n", ""))
    assert runs.attempt("x") == (True, "mounted")
    monkeypatch.setattr(runs, "run", lambda image, cmd, **kw: R(32, "", "mount: denied.\ndmesg(1) may\n"))
    assert runs.attempt("x") == (False, "mount: denied.")
    monkeypatch.setattr(runs, "run", lambda image, cmd, **kw: R(1, "", ""))
    assert runs.attempt("x") == (False, "exit status 1")


PROBES = [Probe("seccomp", "unshare -U", True, "unshare failed: Operation not permitted",
                "seccomp=unconfined", True, "nested user namespace"),
          Probe("capabilities", "mount a tmpfs", True, "mount: permission denied", "--cap-add SYS_ADMIN",
                True, "mounted"),
          Probe("capabilities", "ip link add", True, "RTNETLINK answers: Operation not permitted",
                "--cap-add NET_ADMIN", False, "still refused"),
          Probe("a cgroup of its own", "mount each v1 hierarchy", True, "release_agent absent in 9 of 9",
                "no group of its own", None, "not tried"),
          Probe("devices", "read /dev/null", False, "read 1", "--privileged", None, "")]


def _count(colors, hex_color):
    rgb = matplotlib.colors.to_rgb(hex_color)
    return sum(1 for c in colors if all(abs(a - b) < 1e-6 for a, b in zip(c, rgb, strict=True)))


def test_stack_figure_draws_each_probe_twice_with_its_layers_way_of_refusing():
    assert layer_order(PROBES) == ["seccomp", "capabilities", "a cgroup of its own", "devices"]
    fig = stack_figure(PROBES)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    for layer in ("seccomp", "capabilities", "a cgroup of its own", "devices"):
        assert layer in texts and HOW[layer] in texts
    assert "default: refused" in texts and "default: allowed" in texts
    assert "--cap-add SYS_ADMIN: works" in texts and "--cap-add NET_ADMIN: still refused" in texts
    assert "no group of its own: not tried" in texts
    assert "RTNETLINK answers: Operation not permitted" in texts   # the measured message, drawn
    colors = [p.get_facecolor()[:3] for p in ax.patches]
    assert _count(colors, REFUSED) == 4 + 1      # four refused by default, one still refused without
    assert _count(colors, ALLOWED) == 1 + 2      # one allowed by default, two work without the layer
    assert _count(colors, UNTRIED) == 2


def test_stack_figure_fits_the_notebook_column():
    fig = stack_figure(PROBES)
    w, _h = fig.get_size_inches() * fig.dpi
    assert w <= 900
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    boxes = [t.get_window_extent(renderer) for t in fig.axes[0].texts if t.get_text()]
    for i, a in enumerate(boxes):   # no label overlaps another
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)
    right = fig.axes[0].get_window_extent(renderer).x1
    assert all(b.x1 <= right + 1 for b in boxes)   # nothing runs off the drawing


def test_a_long_message_keeps_its_reason():
    from boxkit.viz.security import _short

    line = "/bin/sh: 1: cannot create /proc/sys/net/ipv4/ip_forward: Read-only file system"
    short = _short(line)
    assert len(short) <= 54 and short.endswith("Read-only file system") and short.startswith("/bin/sh")
    assert _short("mounted") == "mounted"
