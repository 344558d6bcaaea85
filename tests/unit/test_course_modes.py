"""Course modes: live, rootless (live except cells whose directive asks for more) and recorded.

A host is described by a stub with the three things :func:`boxkit.course.decide` asks of a probe
report (``root``, ``rootless``, ``live_for``); the real probe is tested in test_probe_parsing and, on
this kernel, in tests/integration/test_rootless.py.
"""

from __future__ import annotations

import pytest

from boxkit import course


class Host:
    def __init__(self, *, root: bool, rootless: bool = False, topics: tuple[str, ...] = (),
                 cgroup_mode: str = "hybrid"):
        self.root = root
        self.cgroup_mode = cgroup_mode
        self.rootless = rootless
        self.topics = set(topics)
        self.checks: list = []

    def live_for(self, topic: str) -> bool:
        return topic in self.topics


FULL = Host(root=True, topics=("namespaces", "overlay", "cgroups", "network", "containers"))
LAPTOP = Host(root=False, rootless=True, topics=("namespaces", "rootless", "overlay"))
BINDER = Host(root=False)


# --- directives and keys --------------------------------------------------------------------------

def test_key_ignores_directive_lines_so_recordings_stay_valid():
    plain = "# NBVAL_IGNORE_OUTPUT\nc = boxkit.run('busybox', ['true'])\n"
    assert course.key("# boxkit: needs root\n" + plain) == course.key(plain)
    assert course.key("#boxkit:needs network, cgroups  \n" + plain) == course.key(plain)
    assert course.key("x = 1\n# boxkit: needs root\ny = 2") == course.key("x = 1\ny = 2")
    # any other comment is part of the source: an edited cell has no recording
    assert course.key("# boxkit is nice\n" + plain) != course.key(plain)
    assert course.key("# boxkit: needs root\n" + plain) != course.key("print(2)")
    # the same code in another edition prints other words: a key of its own
    assert course.key(plain, "pt_BR") != course.key(plain) == course.key(plain, "en")


def test_directives_name_what_a_cell_needs():
    assert course.directives("# boxkit: needs root\nprint(1)") == {"root"}
    assert course.directives("# boxkit: needs network, cgroups\n# NBVAL_IGNORE_OUTPUT\nx") == {"network", "cgroups"}
    assert course.directives("print('# boxkit: needs root')") == set()   # not a whole comment line
    assert course.directives("print(1)") == set()
    assert course.directives("# boxkit: needs gpu") == {"gpu"}   # unknown: kept, so the cell is replayed


# --- the decision ---------------------------------------------------------------------------------

def test_root_on_a_full_host_runs_live():
    m = course.decide(FULL, "cgroups")
    assert m.name == "live" and m.have == frozenset(course.NEEDS) - {"cgroup2"}


def test_only_a_cgroup_v2_host_runs_the_cgroup2_cells_live():
    v2 = Host(root=True, topics=FULL.topics, cgroup_mode="v2")
    assert course.decide(v2, "cgroups").have == frozenset(course.NEEDS)
    assert "cgroup2" in course.decide(Host(root=False, rootless=True, topics=("cgroups",), cgroup_mode="v2"),
                                      "containers").have
    assert "cgroup2" not in course.decide(FULL, "containers", "live").have   # forced live on v1: still no v2
    assert course.directives("# boxkit: needs cgroups, cgroup2\nx") == {"cgroups", "cgroup2"}


def test_a_laptop_without_root_runs_rootless_and_lacks_root_cgroups_network():
    m = course.decide(LAPTOP, "containers")
    assert m.name == "rootless" and m.have == frozenset()
    assert "root or cgroups or network" in m.reason


def test_no_user_namespaces_means_recorded():
    m = course.decide(BINDER, "namespaces")
    assert m.name == "recorded" and "root" in m.reason


def test_the_topic_decides_before_rootless():
    # the namespaces topic runs live on the laptop: no replay at all
    assert course.decide(LAPTOP, "namespaces").name == "live"


@pytest.mark.parametrize("forced, name", [("recorded", "recorded"), ("rootless", "rootless"), ("live", "live"),
                                          ("nonsense", "recorded")])
def test_boxkit_mode_forces_a_mode(forced, name):
    m = course.decide(FULL, "containers", forced)
    assert m.name == name
    assert m.reason == f"BOXKIT_MODE={name}"
    if name == "rootless":
        assert "root" not in m.have and {"cgroups", "network"} <= m.have


# --- the transformer -------------------------------------------------------------------------------

@pytest.fixture
def rootless_mode(monkeypatch):
    monkeypatch.setitem(course._state, "have", frozenset())
    monkeypatch.setitem(course._state, "reason", "rootless")


def test_rootless_runs_unmarked_cells_live(rootless_mode):
    lines = ["r = boxkit.run('busybox', ['true'])\n", "print(r.exit_code)\n"]
    assert course._transform(lines) == lines


def test_rootless_replays_a_marked_cell_and_keeps_its_imports(rootless_mode, monkeypatch):
    src = "# boxkit: needs root\nimport os\nfrom os import path as p\nmount_overlay_here()\n"
    code = "".join(course._transform(src.splitlines(keepends=True)))
    assert "mount_overlay_here" not in code
    calls = []
    monkeypatch.setattr(course, "replay", lambda k, needs="", exercise=False: calls.append((k, needs)))
    ns: dict = {}
    exec(code, ns)   # what IPython runs instead of the cell
    assert calls == [(course.key(src), "root")]
    assert ns["os"].sep == "/" and ns["p"].join("a", "b") == "a/b"


def test_rootless_replays_when_any_need_is_missing(monkeypatch):
    monkeypatch.setitem(course._state, "have", frozenset({"root", "network"}))
    assert course._transform(["# boxkit: needs network\n", "x = 1\n"]) == ["# boxkit: needs network\n", "x = 1\n"]
    (code,) = course._transform(["# boxkit: needs network, cgroups\n", "x = 1\n"])
    assert "replay(" in code and "'cgroups'" in code


def test_recorded_mode_replays_every_cell(monkeypatch):
    monkeypatch.setitem(course._state, "have", None)
    (code,) = course._transform(["print(1)\n"])
    assert course.key("print(1)") in code and "replay(" in code


def test_a_marked_cell_without_recording_says_what_it_needs(capsys, monkeypatch):
    monkeypatch.setitem(course._state, "recording", {"cells": {}, "meta": {}})
    course.replay(course.key("# boxkit: needs cgroups\nnew()"), "cgroups")
    out = capsys.readouterr().out
    assert "not in the recording" in out and "it needs cgroups" in out


def test_the_shipped_recording_has_every_marked_cell():
    """Directive lines are left out of the key: every marked cell of the course keeps its recording."""
    import glob
    import os
    import re

    src_dir = os.path.join(os.path.dirname(course.__file__), "..", "notebooks", "src")
    # the English sources and each edition's generated ones (notebooks/src/pt_BR/): an edition's cell
    # prints the package's words in its language, so it has a recording of its own
    sources = sorted(glob.glob(os.path.join(src_dir, "0*.py"))) + \
        sorted(glob.glob(os.path.join(src_dir, "*", "0*.py")))
    if not sources:
        pytest.skip("needs the notebooks/src sources of a checkout")
    rec = course.load()["cells"]
    cell = re.compile(r"^# %%(?: \[(markdown)\])?[ \t]*$", re.M)
    marked = missing = 0
    for path in sources:
        text = open(path).read()
        lang = os.path.basename(os.path.dirname(path))
        lang = "en" if lang == "src" else lang
        marks = list(cell.finditer(text))
        for i, m in enumerate(marks):
            body = text[m.end():marks[i + 1].start() if i + 1 < len(marks) else len(text)].strip("\n")
            if m.group(1) is None and course.directives(body):
                marked += 1
                missing += course.key(body, lang) not in rec
    assert marked > 0 and missing == 0, f"{missing} of {marked} marked cells have no recording"


def test_an_ipython_session_in_rootless_mode(monkeypatch, capsys):
    """The transformer in a real IPython shell: unmarked cells run, a marked one prints its recording
    and still imports what it imports."""
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    marked = "# boxkit: needs root\nimport json\nz = 3\nprint('live z')"
    rec = {"cells": {course.key(marked): [{"output_type": "stream", "name": "stdout", "text": "recorded z\n"}]},
           "meta": {}}
    for k, v in (("recording", rec), ("badge", b"png"), ("reason", ""), ("have", None), ("active", False)):
        monkeypatch.setitem(course._state, k, v)
    ip = InteractiveShell.instance()
    course.activate("rootless", have=frozenset())
    try:
        assert ip.run_cell("y = 2\nprint('live y')").success
        assert ip.run_cell(marked).success
        assert ip.run_cell("# boxkit: needs cgroups\nprint('never')").success   # no recording: explains
    finally:
        course.deactivate()
        user_ns = dict(ip.user_ns)
        # the shell is a process-wide singleton: left alive, later tests see "a notebook" (get_ipython())
        InteractiveShell.clear_instance()
    ip.user_ns = user_ns
    out = capsys.readouterr().out
    assert ip.user_ns["y"] == 2 and "z" not in ip.user_ns and ip.user_ns["json"].dumps(1) == "1"
    assert "live y" in out and "recorded z" in out and "live z" not in out
    assert "it needs cgroups" in out and "never" not in out


# --- the host check as a notebook shows it ----------------------------------------------------------

class Shown(Host):
    euid, kernel = 0, "6.1.0-18-amd64"

    def plain_html(self, banner: bool = True) -> str:
        assert not banner, "the course shows its own banner above the table"
        return "<table><tr><td>run containers</td></tr></table>"

    def plain_text(self) -> str:
        return "  run containers: yes — every row"


def _shown(monkeypatch, full: bool, mode: course.Mode) -> dict:
    import IPython.display

    got = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: got.append((obj, raw)))
    course._show(Shown(root=True), mode, full)
    assert len(got) == 1 and got[0][1] is True
    return got[0][0]


def test_chapters_show_one_line_and_fold_the_table(monkeypatch):
    out = _shown(monkeypatch, False, course.Mode("live", "", frozenset()))
    assert out["text/plain"] == ("LIVE: linux 6.1.0-18-amd64, cgroup hybrid, root: the cells below start "
                                 "real containers on this kernel.")
    html = out["text/html"]
    assert html.index("<details>") < html.index("<table>") < html.index("</details>")


def test_notebook_00_shows_the_whole_table(monkeypatch):
    out = _shown(monkeypatch, True, course.Mode("recorded", "boxkit needs root", frozenset()))
    assert out["text/plain"].startswith("RECORDED: linux 6.1.0-18-amd64, cgroup hybrid, root: boxkit needs root.")
    assert "every row" in out["text/plain"]
    assert "<details>" not in out["text/html"] and "<table>" in out["text/html"]


def test_banner_says_not_root_with_the_uid():
    h = Shown(root=False)
    h.euid = 1000
    assert course.banner(h, course.Mode("rootless", "", frozenset())).endswith("not root (uid 1000)")


def test_start_keeps_its_signature():
    import inspect

    params = inspect.signature(course.start).parameters
    assert list(params)[:1] == ["topic"] and params["force"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["full"].default is False
