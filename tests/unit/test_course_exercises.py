"""The committed notebooks ship every exercise unsolved: each answer cell holds a ``...`` placeholder
and not the reference answer, no check cell holds a verdict, every exercise has a reference answer
(boxkit.exercises.SOLUTIONS) its checker takes, and the recording holds the measurements a host that
cannot measure judges a learner's answer against."""

from __future__ import annotations

import ast
import glob
import json
import os

import pytest

from boxkit import course, exercises_byhand, exercises_oci, exercises_pid1
from boxkit import exercises as ex

NOTEBOOKS = os.path.join(os.path.dirname(course.__file__), "..", "notebooks")
VERDICTS = (ex.RIGHT, ex.NOT_YET)
CHECKERS = {"namespaces": "namespaces", "memory": "memory_charge", "overlay": "overlay_upper",
            "network": "reachability", "shop": "shop_orders", "security": "root_can"}


def _committed() -> list[tuple[str, list[dict]]]:
    paths = sorted(glob.glob(os.path.join(NOTEBOOKS, "0[0-6]-*.ipynb")))
    if not paths:
        pytest.skip("needs the committed notebooks of a checkout")
    out = []
    for p in paths:
        with open(p) as f:
            out.append((os.path.basename(p), json.load(f)["cells"]))
    return out


def _src(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _text(cell) -> str:
    parts = []
    for o in cell.get("outputs", []):
        t = o.get("text") or o.get("data", {}).get("text/plain") or ""
        parts.append("".join(t) if isinstance(t, list) else t)
    return "".join(parts)


def _exercise_cells():
    for name, cells in _committed():
        code = [c for c in cells if c["cell_type"] == "code" and course.is_exercise(_src(c))]
        if code:
            yield name, code


def _assigned(src: str) -> dict:
    """The learner's variables as the answer cell sets them (literals only)."""
    out = {}
    for node in ast.parse(src).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                out[node.targets[0].id] = None
    return out


def test_every_exercise_notebook_has_an_answer_and_a_check_cell():
    found = {name: len(cells) for name, cells in _exercise_cells()}
    assert set(found) == {"01-namespaces.ipynb", "02-cgroups.ipynb", "03-overlay.ipynb", "04-network.ipynb",
                          "05-capstone.ipynb", "06-security.ipynb"}, found
    assert all(n == 2 for n in found.values()), found


def test_no_committed_check_cell_holds_a_verdict():
    for name, cells in _committed():
        for c in cells:
            if c["cell_type"] != "code":
                continue
            text = _text(c)
            assert not any(v in text for v in VERDICTS), f"{name}: a committed cell shows a verdict: {text!r}"
    for name, cells in _exercise_cells():
        check = cells[1]
        assert _text(check).startswith(ex.YOUR_TURN), f"{name}: the check cell should say it is your turn"


def test_no_committed_answer_cell_holds_the_reference_answer():
    references = [answer for answer, _why in ex.SOLUTIONS.values()]
    for name, cells in _exercise_cells():
        answer = _assigned(_src(cells[0]))
        assert answer and ex.unanswered(*answer.values()), f"{name}: the answer cell has no ... placeholder"
        for ref in references:
            for value in ref.values():
                if isinstance(value, str) and value in (ex.SHOP_MEMORY, *ex.UPPER_COMMANDS):
                    continue   # the exercise's own setting (a limit, a command), not an answer
                assert value not in answer.values(), f"{name}: the answer cell holds a reference answer {value!r}"


def test_every_reference_answer_fits_its_checker():
    import inspect

    for name, (answer, why) in ex.SOLUTIONS.items():
        params = inspect.signature(getattr(ex, CHECKERS[name])).parameters
        assert set(answer) <= set(params), (name, answer)
        assert not ex.unanswered(*answer.values()) and len(why) > 40


def test_the_recording_holds_every_exercises_measurements():
    rec = course.load().get("exercises") or {}
    # chapters 01-06 in boxkit.exercises, 07-09 a module each (tools/record.py measures both)
    chapters = set(ex.SOLUTIONS) | {m.NAME for m in (exercises_oci, exercises_byhand, exercises_pid1)}
    assert set(rec) == chapters, "run tools/notebooks.py on a live host to measure the exercises"
    assert ex.UPPER_COMMANDS[0] in rec["overlay"] and ex.SHOP_MEMORY in rec["shop"]
    assert set(rec["memory"]) == set(ex.CHARGE_PROGRAMS)
    assert {"mount", "mount+uts", "mount+pid"} <= set(rec["namespaces"])
    assert len(rec["network"]) == len(ex.ALL_PAIRS)


def test_every_reference_answer_is_right_against_the_recording(monkeypatch, capsys):
    """What a Binder learner meets: the reference is judged right, a wrong answer not, by judge_*."""
    rec = course.load().get("exercises") or {}
    if not rec:
        pytest.skip("the recording has no exercise measurements yet")
    monkeypatch.setitem(course._state, "active", True)
    monkeypatch.setitem(course._state, "have", None)
    for name, (answer, _why) in ex.SOLUTIONS.items():
        v = getattr(ex, CHECKERS[name])(**answer)
        assert v is not None and v.ok, (name, capsys.readouterr().out)
    assert not ex.shop_orders("30M", 100).ok
    assert not ex.memory_charge({"heap": "finishes", "file": "finishes", "shm": "finishes"}).ok
