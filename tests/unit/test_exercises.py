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


def test_namespaces_prediction_wrong_names_the_difference():
    v = ex.judge_namespaces({"mnt", "uts", "net"}, {"mnt", "uts"}, True, True)
    assert not v.ok and "net is its own too" in v.why and "adds a namespace" in v.why
    v = ex.judge_namespaces({"mnt", "uts", "net"}, {"mnt", "uts", "net", "ipc"}, True, True)
    assert not v.ok and "ipc is shared with the host" in v.why and "adds" not in v.why


def test_namespaces_bad_prediction_starts_nothing(monkeypatch, capsys):
    import boxkit

    monkeypatch.setattr(boxkit, "run", lambda *a, **k: pytest.fail("started a container"), raising=False)
    v = ex.namespaces(["mount"], ["mnt", "bogus"])
    assert not v.ok
    assert capsys.readouterr().out.startswith("✗ not yet: unknown namespace 'bogus'")


# --- 02 ---------------------------------------------------------------------------------------------

M = 1 << 20


def test_memory_limit_judgements():
    assert ex.judge_memory_limit(350 * M, 50 * M, True, False).why == \
        "the hog finished under 350M and was OOM-killed under 300M"
    assert not ex.judge_memory_limit(300 * M, 50 * M, False, None).ok
    v = ex.judge_memory_limit(400 * M, 50 * M, True, True)
    assert not v.ok and "under 350M too" in v.why
    assert ex.judge_memory_limit(50 * M, 50 * M, True, None).ok


@pytest.fixture
def fake_hog(monkeypatch):
    """memory_oom replaced by a rule: the hog finishes under 320 MiB or more; records each limit."""
    from boxkit.cgroups import experiments
    from boxkit.runtime.container import Result

    limits: list[int] = []

    def memory_oom(memory, target_mb):
        limits.append(memory)
        ok = memory >= 320 * M
        return Result(exit_code=0 if ok else 137, oom_killed=not ok), None
    monkeypatch.setattr(experiments, "memory_oom", memory_oom)
    return limits


def test_memory_limit_runs_the_limit_and_the_step_below(fake_hog, capsys):
    assert ex.memory_limit("350M").ok
    assert fake_hog == [350 * M, 300 * M]
    assert capsys.readouterr().out == "✓ right: the hog finished under 350M and was OOM-killed under 300M\n"


def test_memory_limit_too_high_and_too_low(fake_hog):
    assert not ex.memory_limit("400M").ok
    assert not ex.memory_limit("300M").ok
    assert fake_hog == [400 * M, 350 * M, 300 * M]   # a limit that fails is not tried lower


def test_memory_limit_off_step_and_bad_size_run_nothing(fake_hog, capsys):
    assert not ex.memory_limit("320M").ok
    assert not ex.memory_limit("lots").ok
    assert fake_hog == []
    out = capsys.readouterr().out.splitlines()
    assert "not a step of 50M" in out[0] and out[1].startswith("✗ not yet: ")


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
    assert v.why == "bin/ls is whiteout, not new; tmp/note (new) is in the upper dir too; tmp/other is not in the upper dir"
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


# --- 04 ---------------------------------------------------------------------------------------------

def test_parse_pairs_accepts_tuples_and_arrows():
    assert ex.parse_pairs({("a", "b"): True, "a -> c": False, "c → host": True}) == {
        ("a", "b"): True, ("a", "c"): False, ("c", "host"): True}


@pytest.mark.parametrize("bad", [{("a", "d"): True}, {"a b": True}, {("host", "host"): True},
                                 {("a", "b"): "yes"}])
def test_parse_pairs_refuses(bad):
    with pytest.raises(ValueError):
        ex.parse_pairs(bad)


def test_judge_reachability():
    measured = {("a", "b"): True, ("a", "c"): False}
    v = ex.judge_reachability({("a", "b"): True, ("a", "c"): False}, measured)
    assert v.ok and v.why == "all 2 predictions match what ping measured: a → b answers; a → c does not answer"
    v = ex.judge_reachability({("a", "b"): True, ("a", "c"): True}, measured)
    assert not v.ok and v.why == "1 of 2 predictions differ from what ping measured: a → c does not answer"


def test_reachability_bad_prediction_starts_nothing(monkeypatch):
    import boxkit

    monkeypatch.setattr(boxkit, "run", lambda *a, **k: pytest.fail("started a container"), raising=False)
    assert not ex.reachability({("a", "z"): True}).ok


# --- 05 ---------------------------------------------------------------------------------------------

def test_judge_shop():
    assert ex.judge_shop(640, 650, True, False, "30M").why == \
        "the OOM killer (exit 137) ended the shop within 20% of the 640 orders you predicted under 30M"
    v = ex.judge_shop(1000, 650, True, False, "30M")
    assert not v.ok and "after 650 orders, not within 20% of 1000" in v.why
    assert "survived all 1380 orders" in ex.judge_shop(640, 1380, False, True, "1G").why
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
    out = capsys.readouterr().out
    assert out.count("✗ not yet: predict a whole number") == 3 and "expected a size like 500M" in out
