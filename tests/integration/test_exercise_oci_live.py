"""Notebook 07's exercise against the real runtime: the reference answer (what
``exercises_oci.solution()`` reveals) says "✓ right" measured live, a wrong one "✗ not yet" without
naming the action, each edit changes what the container's shell could do from the unedited bundle's,
and nothing is left behind (the session leak check). Needs root; skips with the reason otherwise."""

from __future__ import annotations

import os
import shutil

import pytest

from boxkit import exercises_oci as E

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: boxkit-runtime creates namespaces"),
              pytest.mark.skipif(not shutil.which("busybox"),
                                 reason="needs busybox-static (apt-get install busybox-static)")]


def test_the_reference_answer_is_right_live(capsys):
    assert E.check(**E.SOLUTION[0]).ok
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("✓ right: ") and "recorded" not in out[0]


def test_a_wrong_answer_is_not_yet_live(capsys):
    wrong = dict(E.SOLUTION[0]["predicted"], **{"write a file in /": True})
    v = E.check(wrong, edit=E.SOLUTION[0]["edit"])
    assert not v.ok and v.why.startswith("3 of 4") and "write a file" not in v.why


def test_every_edit_runs_and_the_reasons_hold():
    m = E.measure()
    assert set(m) == set(E.EDITS) and all("failed" not in r for r in m.values()), m
    ro, admin = m["root.readonly = False"], m['add "CAP_SYS_ADMIN" to process.capabilities']
    uid, nobind = m["process.user.uid = 1000"], m['remove "CAP_NET_BIND_SERVICE" from process.capabilities']
    assert ro["write a file in /"] and not admin["write a file in /"]     # a read-only mount beats caps
    assert admin["mount a tmpfs on /tmp"] and admin["change the hostname"]  # no seccomp in the bundle
    assert not ro["mount a tmpfs on /tmp"] and not ro["change the hostname"]
    assert ro["listen on port 80"] and not nobind["listen on port 80"]
    assert not any(uid.values())                                           # uid 1000 keeps no caps
