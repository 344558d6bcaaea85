"""The RECORDED fallback: recordings are made from executed notebooks and replayed by source hash."""

from __future__ import annotations

import json

import pytest

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


@pytest.mark.parametrize("have", [None, frozenset(), frozenset({"root", "cgroups", "network"})])
def test_an_exercise_cell_runs_as_itself_in_every_mode(monkeypatch, have):
    """The learner's own answer is judged (live, or against recorded measurements), never a replay of
    the committed verdict."""
    src = "# boxkit: exercise\nfrom boxkit import exercises\n\nexercises.shop_orders(my_memory, my_orders)\n"
    monkeypatch.setitem(course._state, "have", have)
    lines = src.splitlines(keepends=True)
    assert course._transform(lines) == lines
    assert course.is_exercise(src) and not course.is_exercise("exercises.shop_orders(m, o)\n")


def test_replaying_follows_the_mode(monkeypatch):
    monkeypatch.setitem(course._state, "active", False)
    assert not course.replaying({"root"})
    monkeypatch.setitem(course._state, "active", True)
    monkeypatch.setitem(course._state, "have", None)
    assert course.replaying(set())                                   # recorded: nothing measured here
    monkeypatch.setitem(course._state, "have", frozenset({"network"}))
    assert course.replaying({"cgroups", "network"}) and not course.replaying({"network"})


V2_CELL = "# boxkit: needs cgroups, cgroup2\nprint('memory.high held:', True)\n"
V2_OUT = [{"output_type": "stream", "name": "stdout", "text": "memory.high held: True\n"}]
BADGE = {"output_type": "display_data", "data": {"image/png": "iVBOR"}, "metadata": {"boxkit": "recorded"}}


def test_a_cell_recorded_in_the_v2_vm_survives_a_v1_rebuild(tmp_path):
    out = tmp_path / "rec.json"
    course.record([_nb(tmp_path / "02-x.ipynb", [("x = 1", [])])], str(out))
    vm = _nb(tmp_path / "vm.ipynb", [(V2_CELL, V2_OUT), ("x = 1", [])])
    assert course.record_from(vm, "cgroup2", str(out)) == [course.key(V2_CELL)]
    # the v1 host's own run of the notebook replayed that cell: its badge must not become the recording
    v1 = _nb(tmp_path / "02-x.ipynb", [(V2_CELL, [BADGE, *V2_OUT]), ("x = 1", [])])
    course.record([v1], str(out))
    assert json.loads(out.read_text())["cells"][course.key(V2_CELL)] == V2_OUT


def test_only_real_runs_are_recorded_from_the_vm(tmp_path):
    out = tmp_path / "rec.json"
    course.record([_nb(tmp_path / "02-x.ipynb", [("x = 1", [])])], str(out))
    failed = [{"output_type": "error", "ename": "HostError", "evalue": "no v2", "traceback": []}]
    for outs in (failed, [BADGE]):
        with pytest.raises(ValueError, match="cannot record cell"):
            course.record_from(_nb(tmp_path / "vm.ipynb", [(V2_CELL, outs)]), "cgroup2", str(out))


def test_live_on_a_v1_host_replays_only_the_cgroup2_cells(monkeypatch):
    monkeypatch.setitem(course._state, "have", frozenset(course.NEEDS) - {"cgroup2"})
    assert course._transform(["print(1)\n"]) == ["print(1)\n"]
    (code,) = course._transform([V2_CELL])
    assert "replay" in code and "cgroup2" in code


def test_each_edition_replays_its_own_run_of_the_same_code(tmp_path, monkeypatch):
    """The same cell in both editions prints the package's words in each one's language (a verdict, a
    badge): the recording keeps both runs, keyed by the language the notebook sets, and a replay in a
    Portuguese notebook shows the Portuguese run."""
    from boxkit import i18n

    cell = "# boxkit: needs root\nprint(demo.note())\n"
    en = _nb(tmp_path / "07-x.ipynb", [("import boxkit\n", []),
                                        (cell, [{"output_type": "stream", "name": "stdout", "text": "absent\n"}])])
    (tmp_path / "pt_BR").mkdir()
    pt = _nb(tmp_path / "pt_BR" / "07-x.ipynb", [
        ('import boxkit\nboxkit.set_language("pt_BR")\n', []),
        (cell, [{"output_type": "stream", "name": "stdout", "text": "ausente\n"}])])
    assert course.notebook_language(json.loads(open(pt).read())) == "pt_BR"
    assert course.notebook_language(json.loads(open(en).read())) == "en"
    out = tmp_path / "rec.json"
    course.record([en, pt], str(out))
    cells = json.loads(out.read_text())["cells"]
    assert cells[course.key(cell)][0]["text"] == "absent\n"
    assert cells[course.key(cell, "pt_BR")][0]["text"] == "ausente\n"
    # the kernel's transformer asks in the language the notebook set
    monkeypatch.setitem(course._state, "have", None)
    i18n.set_language("pt_BR")
    try:
        code = "".join(course._transform(cell.splitlines(keepends=True)))
    finally:
        i18n.set_language("en")
    assert repr(course.key(cell, "pt_BR")) in code and repr(course.key(cell)) not in code
