"""Notebook 09's exercise without root: the judge against made-up measurements (right, wrong, badly
shaped answers; the hint never names a case nor its signal), the reference answer judged right against
the measurements it describes, the recorded mode (a learner's answer judged against a recording, a
missing recording said so), and the committed notebook ships it unsolved."""

from __future__ import annotations

import json
import os
import signal

import pytest

from boxkit import course, exercises
from boxkit import exercises_pid1 as ex

# what the kernel did on a real run (tools/record.py measures the same shape)
MEASURED = {"shell": {"ended_by": "SIGKILL", "exit_code": 137},
            "shell with a trap": {"ended_by": "SIGKILL", "exit_code": 137},
            "shell with a trap, in wait": {"ended_by": "SIGTERM", "exit_code": 7},
            "init=True, shell": {"ended_by": "SIGTERM", "exit_code": 143},
            "init=True, shell ignoring TERM": {"ended_by": "SIGKILL", "exit_code": 137}}


def test_the_reference_answer_is_right_against_the_measurement_it_explains():
    v = ex.judge(ex.SOLUTION, MEASURED)
    assert v.ok, v.why
    assert "exit 7" in v.why and "exit 143" in v.why


def test_signal_names_numbers_and_short_names_are_accepted():
    answer = {"shell": 9, "shell with a trap": "kill", "shell with a trap, in wait": signal.SIGTERM,
              "init=True, shell": " term ", "init=True, shell ignoring TERM": "SIGKILL"}
    assert ex.judge(answer, MEASURED).ok
    assert ex.normalize(True) is None and ex.normalize("SIGINT") is None and ex.normalize(2.0) is None


@pytest.mark.parametrize("case", list(ex.CASES))
def test_one_wrong_case_is_counted_and_never_named(case):
    answer = dict(ex.SOLUTION)
    answer[case] = "SIGTERM" if answer[case] == "SIGKILL" else "SIGKILL"
    v = ex.judge(answer, MEASURED)
    assert not v.ok
    assert v.why.startswith(f"{len(ex.CASES) - 1} of {len(ex.CASES)} predictions match")
    for name in ex.CASES:
        assert f"{name} ended" not in v.why and f"{name}:" not in v.why
    # the same text whichever case is wrong: it cannot point at one
    assert v.why == ex.judge({**ex.SOLUTION, "shell": "SIGTERM"}, MEASURED).why


def test_the_judge_follows_the_measurement_not_the_reference():
    flipped = {n: {"ended_by": "SIGTERM" if m["ended_by"] == "SIGKILL" else "SIGKILL", "exit_code": 0}
               for n, m in MEASURED.items()}
    assert not ex.judge(ex.SOLUTION, flipped).ok
    assert ex.judge({n: m["ended_by"] for n, m in flipped.items()}, flipped).ok


@pytest.mark.parametrize("answer, says", [
    (["SIGKILL"], "give a dict"),
    ({**ex.SOLUTION, "tini": "SIGTERM"}, "'tini'"),
    ({**ex.SOLUTION, "shell": "SIGSTOP"}, "not 'SIGSTOP'"),
    ({n: v for n, v in ex.SOLUTION.items() if n != "shell"}, "shell is left"),
])
def test_a_badly_shaped_answer_says_what_is_wrong(answer, says):
    v = ex.judge(answer, MEASURED)
    assert not v.ok and says in v.why


def test_an_unanswered_prediction_is_your_turn_and_measures_nothing(monkeypatch, capsys):
    monkeypatch.setattr(ex, "measure", lambda *a, **k: pytest.fail("measured an unanswered exercise"))
    assert ex.check({n: ... for n in ex.CASES}) is None
    assert capsys.readouterr().out.startswith(exercises.YOUR_TURN)


def test_recorded_mode_judges_against_the_recording(monkeypatch, capsys):
    monkeypatch.setitem(course._state, "active", True)
    monkeypatch.setitem(course._state, "have", None)          # recorded mode: everything replays
    monkeypatch.setattr(course, "recorded_measurements", lambda name: MEASURED if name == ex.NAME else None)
    monkeypatch.setattr(ex, "measure", lambda *a, **k: pytest.fail("measured in recorded mode"))
    assert ex.check(dict(ex.SOLUTION)).ok
    assert "judged against a run recorded on" in capsys.readouterr().out
    assert not ex.check({**ex.SOLUTION, "shell": "SIGTERM"}).ok


def test_recorded_mode_without_a_recording_says_so(monkeypatch, capsys):
    monkeypatch.setitem(course._state, "active", True)
    monkeypatch.setitem(course._state, "have", None)
    monkeypatch.setattr(course, "recorded_measurements", lambda name: None)
    v = ex.check(dict(ex.SOLUTION))
    assert not v.ok and "has no measurement" in v.why


def test_live_mode_measures(monkeypatch):
    monkeypatch.setattr(ex, "measure", lambda *a, **k: MEASURED)
    assert ex.check(dict(ex.SOLUTION)).ok


def test_solution_prints_the_answer_and_why(capsys):
    answer = ex.solution()
    out = capsys.readouterr().out
    assert answer == {"predicted": ex.SOLUTION} and "predicted = " in out and len(ex.WHY) > 200
    assert set(ex.SOLUTION) == set(ex.CASES)


def test_show_lists_every_case_with_its_command(capsys):
    ex.show()
    out = capsys.readouterr().out
    for name, (command, _init) in ex.CASES.items():
        assert name in out and command in out


def test_the_committed_notebook_ships_the_exercise_unsolved():
    path = os.path.join(os.path.dirname(course.__file__), "..", "notebooks", "09-pid1.ipynb")
    if not os.path.exists(path):
        pytest.skip("needs the committed notebook of a checkout")
    with open(path) as f:
        cells = [c for c in json.load(f)["cells"] if c["cell_type"] == "code"]
    src = ["".join(c["source"]) for c in cells]
    exercise = [i for i, s in enumerate(src) if course.is_exercise(s)]
    assert len(exercise) == 3, "show, answer, check"
    answer = src[exercise[1]]
    assert answer.count("...") == len(ex.CASES) and "SIGKILL" not in answer and "SIGTERM" not in answer
    out = "".join("".join(o.get("text", "")) for o in cells[exercise[2]].get("outputs", []))
    assert out.startswith(exercises.YOUR_TURN) and exercises.RIGHT not in out
