"""Notebook 07's exercise (boxkit.exercises_oci): the judge with made-up measurements, the reference
answer right, a wrong answer told how many and why (never which), an unanswered placeholder and a
bad shape measuring nothing, recorded mode judging against the recording, the exercise's bundle the
same as runc spec's (boxkit.oci.bundle.example_config), and 07 committed unsolved."""

from __future__ import annotations

import json
import os

import pytest

from boxkit import course
from boxkit import exercises_oci as E
from boxkit.oci.bundle import example_config

SYS_ADMIN = 'add "CAP_SYS_ADMIN" to process.capabilities'
# made up: what a kernel did after each edit (not read from a run)
MEASURED = {
    "root.readonly = False": {"write a file in /": True, "mount a tmpfs on /tmp": False,
                              "change the hostname": False, "listen on port 80": True},
    SYS_ADMIN: {"write a file in /": False, "mount a tmpfs on /tmp": True,
                "change the hostname": True, "listen on port 80": True},
}


def test_the_reference_answer_is_right():
    answer = E.SOLUTION[0]
    v = E.judge(answer["edit"], answer["predicted"], MEASURED[answer["edit"]])
    assert v.ok and "mount a tmpfs on /tmp" in v.why and "refused: write a file in /" in v.why


def test_a_wrong_answer_says_how_many_and_why_never_which():
    wrong = dict(E.SOLUTION[0]["predicted"], **{"write a file in /": True})
    v = E.judge(SYS_ADMIN, wrong, MEASURED[SYS_ADMIN])
    assert not v.ok and v.why.startswith("3 of 4 predictions match")
    assert "write a file" not in v.why and "read-only" not in v.why   # no action, no answer named
    assert "seccomp" in v.why and "execve" in v.why                   # the reasons to look at


def test_the_judge_follows_the_measurement_not_a_stored_answer():
    other = {a: not b for a, b in MEASURED[SYS_ADMIN].items()}
    assert E.judge(SYS_ADMIN, other, other).ok
    assert not E.judge(SYS_ADMIN, MEASURED[SYS_ADMIN], other).ok


@pytest.mark.parametrize("predicted,edit,says", [
    ({}, "root.readonly = true", "not one of the edits"),
    ([True], SYS_ADMIN, "give a dict"),
    ({"fly": True}, SYS_ADMIN, "not an action of this exercise"),
    ({"write a file in /": True}, SYS_ADMIN, "not yet: mount a tmpfs on /tmp"),
])
def test_a_badly_shaped_answer_is_told_and_nothing_runs(predicted, edit, says, monkeypatch, capsys):
    monkeypatch.setattr(E, "run_edit", lambda edit: pytest.fail("measured"))
    v = E.check(predicted, edit=edit)
    assert not v.ok and says in v.why
    assert capsys.readouterr().out.startswith("✗ not yet: ")


def test_a_failed_verb_is_said():
    v = E.judge(SYS_ADMIN, E.SOLUTION[0]["predicted"], {"failed": "boxkit-runtime create refused it: x"})
    assert not v.ok and "create refused" in v.why


def test_the_placeholder_measures_nothing(monkeypatch, capsys):
    monkeypatch.setattr(E, "run_edit", lambda edit: pytest.fail("measured"))
    assert E.check({a: ... for a in E.ACTIONS}, edit=SYS_ADMIN) is None
    assert E.check(E.SOLUTION[0]["predicted"], edit=...) is None
    assert capsys.readouterr().out.startswith("✎ your turn")


def test_recorded_mode_judges_against_the_recording(monkeypatch, capsys):
    monkeypatch.setitem(course._state, "recording", {"cells": {}, "meta": {"kernel": "6.1", "date": "d"},
                                                     "exercises": {E.NAME: MEASURED}})
    monkeypatch.setitem(course._state, "active", True)
    monkeypatch.setitem(course._state, "have", None)
    monkeypatch.setattr(E, "run_edit", lambda edit: pytest.fail("measured on a host that cannot"))
    assert E.check(**E.solution()).ok
    assert "judged against a run recorded on linux 6.1" in capsys.readouterr().out
    v = E.check(MEASURED["root.readonly = False"], edit='process.user.uid = 1000')
    assert not v.ok and "no measurement" in v.why


def test_the_exercise_bundle_is_runc_specs():
    mine, runc = E.bundle_config(["sh"]), example_config(["sh"])
    for field in ("user", "capabilities", "noNewPrivileges", "cwd", "args"):
        assert mine["process"][field] == runc["process"][field], field
    assert mine["root"] == runc["root"] and "seccomp" not in mine["linux"] and "seccomp" not in runc["linux"]
    want = [n for n in runc["linux"]["namespaces"] if n["type"] != "cgroup"]
    assert mine["linux"]["namespaces"] == want


def test_each_edit_changes_one_field():
    base = E.bundle_config(["sh"])
    for edit in E.EDITS:
        cfg = E.edited(edit, ["sh"])
        changed = [k for k in ("root", "process") if cfg[k] != base[k]]
        assert len(changed) == 1, edit
    assert E.edited("process.user.uid = 1000")["process"]["user"] == {"uid": 1000, "gid": 0}
    assert E.bundle_config()["process"]["capabilities"]["bounding"] == E.CAPS   # not changed in place


def test_07_is_committed_unsolved():
    path = os.path.join(os.path.dirname(course.__file__), "..", "notebooks", "07-oci.ipynb")
    if not os.path.exists(path):
        pytest.skip("needs the committed notebook of a checkout")
    with open(path) as f:
        cells = [c for c in json.load(f)["cells"] if c["cell_type"] == "code"]
    src = ["".join(c["source"]) for c in cells]
    ex = [i for i, s in enumerate(src) if course.is_exercise(s)]
    assert len(ex) == 2, "an answer cell and a check cell"
    answer, checker = (cells[i] for i in ex)
    assert "edit = ..." in src[ex[0]] and src[ex[0]].count(": ...") == len(E.ACTIONS)
    out = "".join("".join(o.get("text", "")) for o in checker.get("outputs", []))
    assert out.startswith("✎ your turn") and "right" not in out
    assert not answer.get("outputs")
