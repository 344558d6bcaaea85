"""Notebook 08's exercise without a kernel: the judge with made-up measurements, the reference answer
(``exercises_byhand.solution()``) against them, hints that never give the answer away, answers of the
wrong shape refused before anything runs, and recorded mode judging against the recording."""

from __future__ import annotations

import pytest

from boxkit import course
from boxkit import exercises_byhand as xb

# what the kernel did on the recording host (linux 6.18, root), in measure()'s shape
MEASURED = {"caps moved before pivot_root": {"fails": "pivot_root", "errno": "EPERM"},
            "detach moved before pivot_root": {"fails": "detach", "errno": "ENOENT"},
            "detach left out": {"fails": None, "errno": None, "exit": 0},
            "caps moved before hostname": {"fails": "hostname", "errno": "EPERM"}}


def _line(capsys) -> str:
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1, out
    return out[0]


def test_every_recipe_differs_from_the_notebooks_order_by_one_step():
    order = [s for s in xb.byhand.STEPS if s not in ("cgroup", "uid_map", "exec")]
    for name, steps in xb.RECIPES.items():
        names = [s for s, _a in steps]
        assert names != order and len(set(names)) == len(names), name
        assert len(order) - len(names) in (0, 1), name   # one step moved or left out
        assert set(names) <= set(order), name


def test_the_solution_is_right_against_the_measurements(capsys):
    answer = xb.solution()
    out = capsys.readouterr().out
    assert "EPERM" in out and "CAP_SYS_ADMIN" in out   # the reasoning is printed
    v = xb.judge(xb.parse(answer["predicted"]), MEASURED)
    assert v.ok, v.why
    assert "caps moved before pivot_root: pivot_root fails with EPERM" in v.why


def test_a_wrong_errno_is_told_the_step_is_right_and_not_which_errno():
    wrong = {**xb.ANSWER, "detach moved before pivot_root": ("detach", "EINVAL")}
    v = xb.judge(xb.parse(wrong), MEASURED)
    assert not v.ok
    assert v.why.startswith("1 of 4 predictions differ") and "the step is right" in v.why
    assert "detach moved" not in v.why   # never which recipe


def test_a_wrong_step_gets_a_reason_never_the_answer():
    wrong = {**xb.ANSWER, "detach left out": ("exec", "ENOENT"),
             "caps moved before pivot_root": ("detach", "EINVAL")}
    v = xb.judge(xb.parse(wrong), MEASURED)
    assert not v.ok and v.why.startswith("2 of 4 predictions differ")
    assert "a different step fails first, or none does" in v.why
    for recipe in xb.RECIPES:
        assert recipe not in v.why
    assert "pivot_root" not in v.why and "hostname" not in v.why


def test_predicting_none_where_a_step_fails_is_wrong():
    v = xb.judge(xb.parse({k: None for k in xb.RECIPES}), MEASURED)
    assert not v.ok and v.why.startswith("3 of 4")


@pytest.mark.parametrize("bad, says", [
    ("pivot_root EPERM", "give a dict"),
    ({"bogus": None}, "the recipes are"),
    ({"detach left out": None}, "predict every recipe"),
    ({**xb.ANSWER, "detach left out": "pivot_root"}, 'give ("step", "ERRNO")'),
    ({**xb.ANSWER, "detach left out": ("teleport", "EPERM")}, "is not a step"),
    ({**xb.ANSWER, "detach left out": ("detach", "EWHAT")}, "is not an errno name"),
])
def test_an_answer_of_the_wrong_shape_is_refused_before_anything_runs(bad, says, monkeypatch, capsys):
    monkeypatch.setattr(xb, "measure", lambda **k: pytest.fail("measured"))
    v = xb.check(bad)
    assert not v.ok and says in v.why
    assert _line(capsys).startswith("✗ not yet: ")


def test_errno_names_are_read_in_any_case():
    assert xb.parse({**xb.ANSWER, "detach left out": (" detach ", "enoent")})["detach left out"] == (
        "detach", "ENOENT")


def test_unanswered_measures_nothing(monkeypatch, capsys):
    monkeypatch.setattr(xb, "measure", lambda **k: pytest.fail("measured"))
    assert xb.check({k: ... for k in xb.RECIPES}) is None
    assert _line(capsys).startswith("✎ your turn")


def test_recorded_mode_judges_against_the_recording(monkeypatch, capsys):
    monkeypatch.setattr(xb, "measure", lambda **k: pytest.fail("measured on a host that cannot"))
    monkeypatch.setitem(course._state, "active", True)
    monkeypatch.setitem(course._state, "have", None)
    monkeypatch.setattr(course, "recorded_measurements", lambda name: MEASURED if name == xb.NAME else None)
    assert xb.check(xb.ANSWER).ok
    line = _line(capsys)
    assert line.startswith("✓ right: ") and "judged against a run recorded on" in line
    assert not xb.check({**xb.ANSWER, "detach left out": ("detach", "ENOENT")}).ok
    assert "judged against a run recorded on" in _line(capsys)


def test_recorded_mode_without_the_measurements_says_so(monkeypatch, capsys):
    monkeypatch.setattr(xb, "measure", lambda **k: pytest.fail("measured"))
    monkeypatch.setitem(course._state, "active", True)
    monkeypatch.setitem(course._state, "have", None)
    monkeypatch.setattr(course, "recorded_measurements", lambda name: None)
    assert not xb.check(xb.ANSWER).ok
    assert "the recording has no measurement for the recipes" in _line(capsys)


def test_08_is_committed_unsolved():
    import json
    import os

    path = os.path.join(os.path.dirname(course.__file__), "..", "notebooks", "08-by-hand.ipynb")
    if not os.path.exists(path):
        pytest.skip("needs the committed notebook of a checkout")
    with open(path) as f:
        cells = [c for c in json.load(f)["cells"] if c["cell_type"] == "code"]
    src = ["".join(c["source"]) for c in cells]
    ex = [i for i, s in enumerate(src) if course.is_exercise(s)]
    assert len(ex) == 2, "an answer cell and a check cell"
    answer, checker = (cells[i] for i in ex)
    assert src[ex[0]].count(": ...,") == len(xb.RECIPES)
    assert all(f'"{r}": ...' in src[ex[0]] for r in xb.RECIPES)
    assert "exercises_byhand.check(my_prediction)" in src[ex[1]]
    out = "".join("".join(o.get("text", "")) for o in checker.get("outputs", []))
    assert out.startswith("✎ your turn") and "right" not in out
    assert not answer.get("outputs")
    assert not any("solution()" in s for s in src)   # named in the prose, never run in a cell
