"""The course's exercise checkers against real containers: the notebooks' committed answers say
"✓ right", a wrong answer says "✗ not yet", and every checker leaves nothing behind (the session leak
check). Needs root; skips with the reason otherwise."""

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


def test_namespaces_right_and_wrong(capsys):
    assert ex.namespaces(["mount", "uts"], {"mnt", "uts", "net"}).ok
    assert _line(capsys).startswith("✓ right: ps inside lists the host's processes")
    assert not ex.namespaces(["mount", "uts"], {"mount", "uts"}).ok          # forgot the added net
    assert _line(capsys) == ("✗ not yet: the container works, but /proc/PID/ns says net is its own too — "
                             "boxkit.run adds a namespace you did not ask for: which one, and why?")
    assert not ex.namespaces(["mount", "pid", "uts"], {"mnt", "pid", "uts", "net"}).ok   # misses the goal
    assert "PID namespace of its own" in _line(capsys)
    assert not ex.namespaces(["uts"], {"uts"}).ok                               # refused by the spec
    assert _line(capsys).startswith("✗ not yet: boxkit refused it: ")


def test_memory_limit_right_and_wrong(capsys):
    assert ex.memory_limit("350M").ok
    assert _line(capsys) == "✓ right: the hog finished under 350M and was OOM-killed under 300M"
    assert not ex.memory_limit("300M").ok
    assert _line(capsys) == "✗ not yet: the OOM killer ended the hog under 300M: it needs more room"


def test_overlay_upper_right_and_wrong(capsys):
    cmd = "rm /bin/ls; echo admin >> /etc/passwd; echo hi > /tmp/note"
    assert ex.overlay_upper(cmd, {"bin/ls": "whiteout", "etc/passwd": "copy-up", "tmp/note": "new"}).ok
    assert _line(capsys) == "✓ right: the upper dir holds exactly bin/ls (whiteout), etc/passwd (copy-up), tmp/note (new)"
    assert not ex.overlay_upper(cmd, {"bin/ls": "new", "etc/passwd": "copy-up", "tmp/note": "new"}).ok
    assert _line(capsys) == "✗ not yet: bin/ls is whiteout, not new"


def test_overlay_upper_sees_an_opaque_dir(capsys):
    assert ex.overlay_upper("rm -r /home; mkdir /home; touch /home/me", {"home": "opaque", "home/me": "new"}).ok
    assert _line(capsys).startswith("✓ right: ")


def test_reachability_right_and_wrong(capsys):
    right = {("a", "b"): True, ("a", "c"): False, ("c", "host"): True, ("host", "c"): True}
    assert ex.reachability(right).ok
    assert _line(capsys).startswith("✓ right: all 4 predictions match")
    assert not ex.reachability({"a -> b": True, "c -> a": True}).ok
    assert _line(capsys) == "✗ not yet: 1 of 2 predictions differ from what ping measured: c → a does not answer"
    assert ex.SECOND_NETWORK not in {n["name"] for n in __import__("boxkit.net").net.list_networks()}


def test_shop_orders_right_and_wrong(capsys):
    assert ex.shop_orders("30M", 640).ok
    assert _line(capsys) == ("✓ right: the OOM killer (exit 137) ended the shop within 20% of the 640 orders "
                             "you predicted under 30M")
    assert not ex.shop_orders("30M", 200).ok
    assert "not within 20% of 200" in _line(capsys)
    assert not ex.shop_orders("150M", 100).ok                              # 3000 orders fit in 150M
    assert _line(capsys).startswith(f"✗ not yet: the shop survived all {ex.MAX_ORDERS} orders under 150M")
