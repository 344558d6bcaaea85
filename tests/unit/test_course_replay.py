"""The RECORDED fallback: recordings are made from executed notebooks and replayed by source hash."""

from __future__ import annotations

import json

from boxkit import course


def _nb(path, cells):
    nb = {"cells": [{"cell_type": "code", "source": src, "outputs": outs, "metadata": {}, "execution_count": 1}
                    for src, outs in cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    path.write_text(json.dumps(nb))
    return str(path)


def test_record_then_replay_prints_the_real_outputs(tmp_path, capsys, monkeypatch):
    nb = _nb(tmp_path / "01-x.ipynb", [
        (["print('OOM killed:', True)\n"], [{"output_type": "stream", "name": "stdout", "text": ["OOM killed: True\n"]}]),
        ("x = 1", []),
    ])
    out = tmp_path / "rec.json"
    assert course.record([nb], str(out)) == 2
    rec = json.loads(out.read_text())
    assert rec["meta"]["notebooks"] == ["01-x.ipynb"]
    monkeypatch.setitem(course._state, "recording", rec)
    monkeypatch.setitem(course._state, "badge", b"png")
    shown = []
    monkeypatch.setattr("IPython.display.publish_display_data", lambda data, metadata=None: shown.append(data))
    course.replay(course.key("print('OOM killed:', True)\n\n"))   # whitespace around the source does not matter
    assert capsys.readouterr().out == "OOM killed: True\n"
    assert shown and set(shown[0]) == {"image/png"}, "every replayed cell carries a RECORDED badge nbval skips"


def test_an_edited_cell_explains_instead_of_failing(capsys, monkeypatch):
    monkeypatch.setitem(course._state, "recording", {"cells": {}, "meta": {}})
    monkeypatch.setitem(course._state, "reason", "boxkit needs root")
    course.replay(course.key("something new"))
    assert "not in the recording" in capsys.readouterr().out


def test_transform_routes_a_cell_to_its_recording():
    lines = ["print(1)\n"]
    (code,) = course._transform(lines)
    assert course.key("print(1)") in code and "replay" in code


def test_the_shipped_recording_covers_the_course_notebooks():
    rec = course.load()
    assert rec["cells"], "boxkit/recordings/course.json is empty: run tools/notebooks.py"
    names = set(rec["meta"]["notebooks"])
    assert {"00-index.ipynb", "01-namespaces.ipynb"} <= names


def test_an_exercise_check_says_its_verdict_is_the_committed_answers(tmp_path, monkeypatch):
    src = "from boxkit import exercises\n\nexercises.memory_limit(my_limit, target_mb=300)\n"
    rec = {"cells": {course.key(src): [{"output_type": "stream", "name": "stdout", "text": "✓ right\n"}]},
           "meta": {}}
    monkeypatch.setitem(course._state, "recording", rec)
    monkeypatch.setitem(course._state, "have", None)
    (code,) = course._transform(src.splitlines(keepends=True))
    assert code.rstrip().endswith("True)"), code
    shown = []
    monkeypatch.setattr("IPython.display.publish_display_data",
                        lambda data, metadata=None: shown.append((data, metadata)))
    exec(code)
    kinds = [m.get("boxkit") for _d, m in shown]
    assert kinds[:2] == ["recorded", "recorded-exercise"]
    assert all(set(d) == {"image/png"} for d, _m in shown[:2]), "badges must be images nbval skips"
    (code,) = course._transform(["print(1)\n"])
    assert code.rstrip().endswith("False)"), "an ordinary cell gets no exercise badge"
