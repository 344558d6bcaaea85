"""The exercises' judging logic, fed made-up measurements (no root, no containers): every verdict
branch, the answer parsers, and the upper-dir scan on a temp dir."""

from __future__ import annotations

import os
import stat

import pytest

from boxkit import exercises as ex
from boxkit.exercises import UpperEntry, Verdict


def test_verdict_line_and_truth():
    assert str(Verdict(True, "because")) == "✓ right: because"
    assert str(Verdict(False, "look again")) == "✗ not yet: look again"
    assert Verdict(True, "") and not Verdict(False, "")


# --- 01 ---------------------------------------------------------------------------------------------

def test_proc_names_maps_run_names_to_proc_names():
    assert ex.proc_names(["mount", "UTS", "net"]) == {"mnt", "uts", "net"}
    assert ex.proc_names("pid") == {"pid"}
    with pytest.raises(ValueError, match="unknown namespace 'mounts'"):
        ex.proc_names(["mounts"])


def test_namespaces_right():
    v = ex.judge_namespaces({"mnt", "uts", "net"}, {"mnt", "uts", "net"}, True, True)
    assert v.ok and "exactly mnt, net, uts" in v.why


def test_namespaces_goal_not_met():
    v = ex.judge_namespaces({"mnt", "pid", "uts", "net"}, {"mnt", "pid", "uts", "net"}, False, True)
    assert not v.ok and "PID namespace" in v.why
    v = ex.judge_namespaces({"mnt", "net"}, {"mnt", "net"}, True, False)
    assert not v.ok and "UTS namespace" in v.why


def test_namespaces_prediction_wrong_says_why_not_which():
    v = ex.judge_namespaces({"mnt", "uts", "net"}, {"mnt", "uts"}, True, True)
    assert not v.ok and "1 link(s) you predicted shared" in v.why and "adds a namespace" in v.why
    assert "net" not in v.why.replace("namespace", "")   # the hint never names the measured answer
    v = ex.judge_namespaces({"mnt", "uts", "net"}, {"mnt", "uts", "net", "ipc"}, True, True)
    assert not v.ok and "1 link(s) you predicted its own are the host's" in v.why and "adds" not in v.why
    assert "ipc" not in v.why


def test_namespaces_bad_prediction_starts_nothing(monkeypatch, capsys):
    import boxkit

    monkeypatch.setattr(boxkit, "run", lambda *a, **k: pytest.fail("started a container"), raising=False)
    v = ex.namespaces(["mount"], ["mnt", "bogus"])
    assert not v.ok
    assert capsys.readouterr().out.startswith("✗ not yet: unknown namespace 'bogus'")
    assert ex.namespaces(..., ...) is None and ex.namespaces(["mount"], ...) is None
    assert capsys.readouterr().out.count("✎ your turn: replace each ...") == 2


def test_recorded_namespaces_combines_the_single_runs():
    rec = {"mount": {"own": ["mnt", "net"]}, "mount+pid": {"own": ["mnt", "net", "pid"]},
           "mount+uts": {"own": ["mnt", "net", "uts"]}, "without-mount": {"refused": "needs mount"}}
    assert ex.recorded_namespaces(["mount", "uts"], rec) == {
        "own": ["mnt", "net", "uts"], "sees_host_processes": True, "own_hostname": True}
    m = ex.recorded_namespaces(["mount", "uts", "pid"], rec)
    assert m["own"] == ["mnt", "net", "pid", "uts"] and not m["sees_host_processes"]
    assert ex.recorded_namespaces(["uts"], rec) == {"refused": "needs mount"}
    assert ex.recorded_namespaces(["mount", "ipc"], rec) is None     # not recorded


# --- 02 ---------------------------------------------------------------------------------------------

M = 1 << 20


CHARGED = {"heap": {"exit_code": 137, "oom_killed": True, "peak": 48 * M},
           "file": {"exit_code": 0, "oom_killed": False, "peak": 47 * M},
           "shm": {"exit_code": 137, "oom_killed": True, "peak": 48 * M}}


def test_memory_charge_judgements():
    v = ex.judge_memory_charge({"heap": "killed", "file": "finishes", "shm": "killed"}, CHARGED)
    assert v.ok and "heap 48 MiB, file 47 MiB, shm 48 MiB" in v.why
    v = ex.judge_memory_charge({"heap": "killed", "file": "killed", "shm": "finishes"}, CHARGED)
    assert not v.ok and v.why.startswith("2 of 3 predictions differ") and "reclaims" in v.why
    assert "\"file\"" not in v.why and "shm" not in v.why and "finishes" not in v.why   # why, never which
    assert "not 'gone'" in ex.judge_memory_charge({"heap": "gone", "file": "finishes", "shm": "killed"}, CHARGED).why
    assert "shm is left" in ex.judge_memory_charge({"heap": "killed", "file": "finishes"}, CHARGED).why
    assert "the programs are" in ex.judge_memory_charge({"stack": "killed"}, CHARGED).why


def test_memory_charge_measures_only_a_whole_answer(monkeypatch, capsys):
    monkeypatch.setattr(ex.runs, "measure_memory_charge", lambda memory=ex.CHARGE_LIMIT: pytest.fail("measured"))
    assert ex.memory_charge({"heap": ..., "file": "finishes", "shm": "killed"}) is None
    assert not ex.memory_charge({"heap": "killed"}).ok
    assert not ex.memory_charge("killed").ok
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("✎ your turn") and out[1].startswith("✗ not yet: predict every program")
    assert out[2] == '✗ not yet: give a dict: program → "finishes" or "killed"'
    monkeypatch.setattr(ex.runs, "measure_memory_charge", lambda memory=ex.CHARGE_LIMIT: CHARGED)
    assert ex.memory_charge(ex.SOLUTIONS["memory"][0]["predicted"]).ok


# --- 03 ---------------------------------------------------------------------------------------------

def test_classify_kinds_and_unchanged_entries():
    before = {"etc": UpperEntry("dir", stamp=(1,)), "etc/hosts": UpperEntry("file", stamp=(1,))}
    after = dict(before)
    after.update({
        "bin": UpperEntry("dir", stamp=(2,)),               # parent of a whiteout, in the image: left out
        "bin/ls": UpperEntry("char0", stamp=(3,)),
        "etc/passwd": UpperEntry("file", stamp=(4,)),
        "tmp/note": UpperEntry("file", stamp=(5,)),
        "data": UpperEntry("dir", stamp=(6,)),              # not in the image: new
        "usr": UpperEntry("dir", opaque=True, stamp=(7,)),
    })
    image = {"bin", "bin/ls", "etc", "etc/hosts", "etc/passwd", "tmp", "usr"}
    assert ex.classify(before, after, image.__contains__) == {
        "bin/ls": "whiteout", "etc/passwd": "copy-up", "tmp/note": "new", "data": "new", "usr": "opaque"}


def test_classify_sees_a_rewritten_entry():
    before = {"etc/hosts": UpperEntry("file", stamp=(1, 10))}
    after = {"etc/hosts": UpperEntry("file", stamp=(1, 20))}
    assert ex.classify(before, after, lambda p: True) == {"etc/hosts": "copy-up"}


def test_judge_upper():
    found = {"bin/ls": "whiteout", "etc/passwd": "copy-up", "tmp/note": "new"}
    v = ex.judge_upper(found, {"/bin/ls": "whiteout", "etc//passwd": "copy-up", "tmp/note": "new"})
    assert v.ok and v.why == "the upper dir holds exactly bin/ls (whiteout), etc/passwd (copy-up), tmp/note (new)"
    v = ex.judge_upper(found, {"bin/ls": "new", "etc/passwd": "copy-up", "tmp/other": "new"})
    assert not v.ok
    assert v.why == ("bin/ls: a new entry is one the image never had — is that what the command did to it?; "
                     "1 more path(s) are in the upper dir: every change lands there, a changed or deleted "
                     "image file as much as a new one; tmp/other is not among what the command changed: does "
                     "the command write, delete or make it?")
    assert "whiteout" not in v.why and "tmp/note" not in v.why   # why, never the measured kinds or paths
    v = ex.judge_upper(found, {"bin/ls": "deleted"})
    assert not v.ok and "'deleted' is not one of" in v.why


def test_scan_upper_reads_kinds_and_changes(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root\n")
    os.symlink("busybox", tmp_path / "etc" / "link")
    first = ex.scan_upper(str(tmp_path))
    assert {k: e.kind for k, e in first.items()} == {"etc": "dir", "etc/passwd": "file", "etc/link": "file"}
    assert not first["etc"].opaque
    (tmp_path / "etc" / "passwd").write_text("root\nadmin\n")
    second = ex.scan_upper(str(tmp_path))
    assert second["etc/passwd"] != first["etc/passwd"] and second["etc/link"] == first["etc/link"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: mknod of a whiteout and trusted.* xattrs")
def test_whiteouts_and_opaque_dirs_in_layers(tmp_path):
    low, high, upper = (tmp_path / n for n in ("low", "high", "upper"))
    for d in (low / "etc", low / "docs", high / "docs", upper):
        d.mkdir(parents=True)
    (low / "etc" / "old").write_text("x")
    (low / "etc" / "kept").write_text("x")
    (low / "docs" / "a.txt").write_text("x")
    (high / "etc").mkdir()
    os.mknod(high / "etc" / "old", 0o600 | stat.S_IFCHR, 0)
    os.setxattr(high / "docs", "trusted.overlay.opaque", b"y")
    exists = ex.in_layers([str(low), str(high)])
    assert exists("etc/kept") and exists("etc") and exists("docs")
    assert not exists("etc/old")          # hidden by the whiteout above it
    assert not exists("docs/a.txt")       # hidden by the opaque dir above it
    assert not exists("nowhere")
    os.mknod(upper / "gone", 0o600 | stat.S_IFCHR, 0)
    (upper / "d").mkdir()
    os.setxattr(upper / "d", "trusted.overlay.opaque", b"y")
    seen = ex.scan_upper(str(upper))
    assert seen["gone"].kind == "char0" and seen["d"].opaque


def test_a_rootless_overlays_opaque_mark_is_read_too(tmp_path):
    # overlay mounted with userxattr (rootless) marks opaque dirs user.overlay.opaque
    (tmp_path / "d").mkdir()
    try:
        os.setxattr(tmp_path / "d", "user.overlay.opaque", b"y")
    except OSError as e:
        pytest.skip(f"this file system takes no user.* xattrs: {e}")
    assert ex.scan_upper(str(tmp_path))["d"].opaque


# --- 04 ---------------------------------------------------------------------------------------------

def test_parse_pairs_accepts_tuples_and_arrows():
    assert ex.parse_pairs({("a", "b"): True, "a -> c": False, "c → host": True, "c -> host@bridge": True,
                           ("outside", "a"): False}) == {
        ("a", "b"): True, ("a", "c"): False, ("c", "host"): True, ("c", "host@bridge"): True,
        ("outside", "a"): False}


@pytest.mark.parametrize("bad", [{("a", "d"): True}, {"a b": True}, {("host", "host"): True},
                                 {("a", "b"): "yes"}, {("host@bridge", "a"): True}, {("a", "a"): True},
                                 {("host", "host@exercise"): True}])
def test_parse_pairs_refuses(bad):
    with pytest.raises(ValueError):
        ex.parse_pairs(bad)


def test_judge_reachability():
    measured = {("a", "b"): True, ("a", "c"): False}
    v = ex.judge_reachability({("a", "b"): True, ("a", "c"): False}, measured)
    assert v.ok and v.why == "all 2 predictions match what ping measured: a → b answers; a → c does not answer"
    v = ex.judge_reachability({("a", "b"): True, ("a", "c"): True}, measured)
    assert not v.ok and v.why.startswith("1 of 2 predictions differ from what ping measured. Think again about: ")
    assert "ip_forward" in v.why and "a → c" not in v.why and "does not answer" not in v.why


def test_reachability_hints_never_say_whether_a_pair_answers():
    """Every kind of pair gets a reason to think about, and no reason states an outcome."""
    for pair in ex.ALL_PAIRS:
        why = ex._pair_reason(pair)
        assert why and "answers" not in why and "reaches" not in why and "does not" not in why, pair
    assert len({ex._pair_reason(p) for p in ex.ALL_PAIRS}) >= 6
    v = ex.judge_reachability({("c", "host@bridge"): False}, {("c", "host@bridge"): True})
    assert not v.ok and "host@bridge" not in v.why and "forwarded through the host, or delivered" in v.why


def test_the_reference_pairs_were_not_measured_in_the_notebook():
    """The exercise asks about pairs 04 does not show: the other network's gateway and the outside."""
    pairs = set(ex.SOLUTIONS["network"][0]["predicted"])
    shown = {("a", "b"), ("host", "a"), ("c", "a"), ("a", "c"), ("c", "b"), ("b", "c"), ("host", "b")}
    assert not pairs & shown and len(pairs) == 4
    assert set(ex.SOLUTIONS["network"][0]["predicted"].values()) == {True, False}


def test_reachability_bad_prediction_starts_nothing(monkeypatch, capsys):
    import boxkit

    monkeypatch.setattr(boxkit, "run", lambda *a, **k: pytest.fail("started a container"), raising=False)
    assert not ex.reachability({("a", "z"): True}).ok
    assert ex.reachability({("a", "b"): ..., ("a", "c"): False}) is None
    assert "✎ your turn" in capsys.readouterr().out


# --- 05 ---------------------------------------------------------------------------------------------

def test_judge_shop():
    assert ex.judge_shop(640, 650, True, False, "30M").why == \
        "the OOM killer (exit 137) ended the shop after 650 orders under 30M, within 20% of the 640 you predicted"
    v = ex.judge_shop(1000, 650, True, False, "30M")
    assert not v.ok and "not within 20% of 1000 orders under 30M: too many" in v.why and "650" not in v.why
    v = ex.judge_shop(300, 650, True, False, "30M")
    assert not v.ok and "too few" in v.why and "650" not in v.why
    assert "survived every order" in ex.judge_shop(640, 1380, False, True, "1G").why
    assert "before its first order" in ex.judge_shop(640, 0, True, False, "8M").why
    assert "not by the OOM killer" in ex.judge_shop(640, 10, False, False, "30M").why
    assert not ex.judge_shop(640, 10, False, False, "30M").ok


def test_shop_orders_refuses_bad_answers_before_starting(monkeypatch, capsys):
    import boxkit

    monkeypatch.setattr(boxkit, "run", lambda *a, **k: pytest.fail("started a container"), raising=False)
    assert not ex.shop_orders("30M", 12.5).ok
    assert not ex.shop_orders("30M", 0).ok
    assert not ex.shop_orders("30M", True).ok
    assert not ex.shop_orders("lots", 500).ok
    assert ex.shop_orders("30M", ...) is None
    out = capsys.readouterr().out
    assert out.count("✗ not yet: predict a whole number") == 3 and "expected a size like 500M" in out
    assert out.count("✎ your turn") == 1


# --- placeholders, solutions, and recorded mode ------------------------------------------------------

def test_unanswered_finds_a_placeholder_anywhere():
    assert ex.unanswered(...) and ex.unanswered({"a": ...}) and ex.unanswered({...: "new"})
    assert ex.unanswered([1, ...]) and ex.unanswered("x", {("a", "b"): ...})
    assert not ex.unanswered("30M", 640, {"a": "b"}, ["mount"], {("a", "b"): True})


def test_solution_prints_the_reference_and_returns_it(capsys):
    answer = ex.solution("shop")
    assert answer == {"memory": "30M", "predicted": 640}
    out = capsys.readouterr().out
    assert "predicted = 640" in out and "32 KiB" in out
    with pytest.raises(ValueError, match="the exercises are namespaces, memory, overlay, network, shop"):
        ex.solution("nope")


def _reaches(src: str, dst: str) -> bool:
    """What ping measures on a live host: one network, the host (any of its addresses) and the
    outside's own link answer; between networks, and across the outside without NAT, nothing does."""
    if dst.startswith("host@") or "host" in (src, dst):
        return src != "outside" or dst == "host"
    if "outside" in (src, dst):
        return False
    return ex.NETWORK_OF[src] == ex.NETWORK_OF[dst]


@pytest.fixture
def recorded_mode(monkeypatch):
    """A Binder-like kernel: every cell replayed, exercises judged against this recording."""
    from boxkit import course

    rec = {"cells": {}, "meta": {"kernel": "6.18-test", "date": "2026-12-03"}, "exercises": {
        "namespaces": {"mount": {"own": ["mnt", "net"]}, "mount+uts": {"own": ["mnt", "net", "uts"]},
                       "mount+pid": {"own": ["mnt", "net", "pid"]}},
        "memory": CHARGED,
        "overlay": {ex.UPPER_COMMANDS[0]: {"found": {"bin/ls": "whiteout", "etc/passwd": "copy-up",
                                                     "tmp/note": "new"}}},
        "network": {f"{s}->{d}": _reaches(s, d) for s, d in ex.ALL_PAIRS},
        "shop": {"30M": {"served": 645, "oom_killed": True, "survived": False}}}}
    monkeypatch.setitem(course._state, "recording", rec)
    monkeypatch.setitem(course._state, "active", True)
    monkeypatch.setitem(course._state, "have", None)
    import boxkit

    monkeypatch.setattr(boxkit, "run", lambda *a, **k: pytest.fail("started a container"), raising=False)
    return rec


@pytest.mark.parametrize("name, checker", [("namespaces", ex.namespaces), ("memory", ex.memory_charge),
                                           ("overlay", ex.overlay_upper), ("network", ex.reachability),
                                           ("shop", ex.shop_orders)])
def test_recorded_mode_judges_the_learners_answer(recorded_mode, capsys, name, checker):
    right = ex.SOLUTIONS[name][0]
    v = checker(**right)
    line = capsys.readouterr().out
    assert v.ok and line.startswith("✓ right: ") and "recorded on linux 6.18-test, 2026-12-03" in line
    wrong = {k: v for k, v in right.items()}
    key = list(wrong)[-1]
    wrong[key] = {"namespaces": {"mnt"}, "memory": {"heap": "finishes", "file": "finishes", "shm": "finishes"},
                  "overlay": {"bin/ls": "new"}, "network": {("a", "c"): True}, "shop": 100}[name]
    v = checker(**wrong)
    line = capsys.readouterr().out
    assert not v.ok and line.startswith("✗ not yet: ") and "recorded on linux" in line


def test_recorded_mode_says_what_it_has_no_measurement_for(recorded_mode, capsys):
    assert not ex.shop_orders("40M", 900).ok
    assert not ex.overlay_upper("touch /x", {"x": "new"}).ok
    assert not ex.namespaces(["mount", "ipc"], {"mnt", "ipc", "net"}).ok
    out = capsys.readouterr().out.splitlines()
    assert all("the recording has no measurement for" in line for line in out) and len(out) == 3
