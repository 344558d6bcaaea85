"""The course's exercise checkers against real containers: each reference answer
(``exercises.SOLUTIONS``, what ``exercises.solution(name)`` reveals) says "✓ right", a wrong answer
says "✗ not yet" with a hint that does not give the measured answer away, the unanswered placeholder
measures nothing, and every checker leaves nothing behind (the session leak check). The same answers
are judged in recorded mode against the recording (tests/unit/test_course_exercises.py). Needs root;
skips with the reason otherwise."""

from __future__ import annotations

import os
import shutil

import pytest

from boxkit import exercises as ex

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: starts real containers"),
              pytest.mark.skipif(not shutil.which("busybox"), reason="needs busybox-static (apt-get install busybox-static)")]


def _line(capsys) -> str:
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1, out   # one line, nothing else
    return out[0]


def _right(name: str, capsys) -> str:
    answer, _why = ex.SOLUTIONS[name]
    checker = {"namespaces": ex.namespaces, "memory": ex.memory_charge, "overlay": ex.overlay_upper,
               "network": ex.reachability, "shop": ex.shop_orders, "security": ex.root_can}[name]
    assert checker(**answer).ok
    line = _line(capsys)
    assert line.startswith("✓ right: ") and "recorded" not in line   # measured here, live
    return line


def test_namespaces_right_and_wrong(capsys):
    assert "ps inside lists the host's processes" in _right("namespaces", capsys)
    assert not ex.namespaces(["mount", "uts"], {"mount", "uts"}).ok          # forgot the added net
    line = _line(capsys)
    assert "1 link(s) you predicted shared" in line and "boxkit.run adds a namespace" in line
    assert not ex.namespaces(["mount", "pid", "uts"], {"mnt", "pid", "uts", "net"}).ok   # misses the goal
    assert "PID namespace of its own" in _line(capsys)
    assert not ex.namespaces(["uts"], {"uts"}).ok                               # refused by the spec
    assert _line(capsys).startswith("✗ not yet: boxkit refused it: ")


def test_memory_charge_right_and_wrong(capsys):
    line = _right("memory", capsys)
    assert "all three were charged up to the limit" in line
    assert not ex.memory_charge({"heap": "killed", "file": "killed", "shm": "finishes"}).ok
    line = _line(capsys)
    assert line.startswith("✗ not yet: 2 of 3 predictions differ") and "finishes" not in line


def test_overlay_upper_right_and_wrong(capsys):
    assert "bin/ls (whiteout), etc/passwd (copy-up), tmp/note (new)" in _right("overlay", capsys)
    cmd = ex.UPPER_COMMANDS[0]
    assert not ex.overlay_upper(cmd, {"bin/ls": "new", "etc/passwd": "copy-up", "tmp/note": "new"}).ok
    line = _line(capsys)
    assert line.startswith("✗ not yet: bin/ls: a new entry is one the image never had") and "whiteout" not in line


def test_overlay_upper_sees_an_opaque_dir(capsys):
    assert ex.overlay_upper(ex.UPPER_COMMANDS[1], {"home": "opaque", "home/me": "new"}).ok
    assert _line(capsys).startswith("✓ right: ")


def test_reachability_right_and_wrong(capsys):
    from boxkit.net import links

    assert "all 4 predictions match" in _right("network", capsys)
    assert not ex.reachability({"a -> b": True, "c -> a": True}).ok
    line = _line(capsys)
    assert line.startswith("✗ not yet: 1 of 2 predictions differ from what ping measured") and "c → a" not in line
    # a wrong guess about the outside: the hint names the reason (the way back), never the pair or the outcome
    assert not ex.reachability({("a", "outside"): True, ("outside", "host"): True}).ok
    line = _line(capsys)
    assert line.startswith("✗ not yet: 1 of 2") and "source address" in line and "a → outside" not in line
    assert ex.SECOND_NETWORK not in {n["name"] for n in __import__("boxkit.net").net.list_networks()}
    assert not links.link_exists(ex.runs.OUTSIDE_IFNAME)   # the outside's veth went with its namespace


def test_shop_orders_right_and_wrong(capsys):
    assert "ended the shop after" in _right("shop", capsys)
    assert not ex.shop_orders("30M", 200).ok
    assert "not within 20% of 200 orders under 30M: too few" in _line(capsys)
    assert not ex.shop_orders("150M", 100).ok                              # 3000 orders fit in 150M
    assert _line(capsys).startswith("✗ not yet: the shop survived every order the check sends under 150M")


def test_root_can_right_and_wrong(capsys):
    line = _right("security", capsys)
    assert "root in a default container could chown a file" in line
    answer = dict(ex.SOLUTIONS["security"][0]["predicted"])
    answer["set the clock"] = True                                   # CAP_SYS_TIME is not kept
    assert not ex.root_can(answer).ok
    line = _line(capsys)
    assert line.startswith(f"✗ not yet: {len(answer) - 1} of {len(answer)} predictions match")
    assert not any(action in line for action in ex.ROOT_ACTIONS)    # the hint names no action


def test_the_placeholder_measures_nothing(capsys, monkeypatch):
    import boxkit

    monkeypatch.setattr(boxkit, "run", lambda *a, **k: pytest.fail("started a container"), raising=False)
    assert ex.shop_orders("30M", ...) is None and ex.memory_charge({"heap": ..., "file": ..., "shm": ...}) is None
    assert capsys.readouterr().out.count(ex.YOUR_TURN) == 2


def test_record_measurements_holds_what_the_judges_need():
    m = ex.record_measurements()
    assert set(m) == set(ex.SOLUTIONS)
    assert m["memory"]["heap"]["oom_killed"] and not m["memory"]["file"]["oom_killed"]
    assert m["namespaces"]["mount+uts"]["own_hostname"] and "refused" in m["namespaces"]["without-mount"]
    assert m["network"]["a->b"] and not m["network"]["a->c"]
    assert m["network"]["c->host@bridge"] and m["network"]["outside->host"]
    assert not m["network"]["a->outside"] and not m["network"]["outside->c"]
    assert len(m["network"]) == len(ex.ALL_PAIRS)
