"""Which plans a prebuilt spare may serve (logic only: temp dirs as layers, no container)."""

from __future__ import annotations

import os
import shutil

from boxkit.runtime.plan import Plan
from boxkit.runtime.spare import SPARE_NS, Guess, built_for, pin, spare_kind, stamps, unpin


def _plan(layers, **kw):
    return Plan(**{"layers": [str(x) for x in layers], "ns": list(SPARE_NS) + ["cgroup"], **kw})


def _guess(layers):
    return Guess(Plan(layers=list(layers)), stamps(list(layers)), [], "")


def test_same_layers_unchanged_fit(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    guess = _guess([str(a), str(b)])
    assert built_for(guess, _plan([a, b]))
    (a / "d").mkdir()
    guess = _guess([str(a), str(b)])
    (a / "d" / "new-file").write_text("x")    # below the top: the spare holds the same directory
    assert built_for(guess, _plan([a, b]))


def test_other_layers_order_volumes_or_a_replaced_directory_do_not(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    pins = pin([str(a), str(b)])   # as the supervisor does: a removed directory's inode stays taken
    guess = _guess([str(a), str(b)])
    assert not built_for(guess, _plan([b, a]))
    assert not built_for(guess, _plan([a]))
    assert not built_for(guess, _plan([a, b], mounts=[["/srv", "/srv", False]]))
    shutil.rmtree(b)
    assert not built_for(guess, _plan([a, b]))    # gone
    b.mkdir()
    assert not built_for(guess, _plan([a, b]))    # back, but another directory (another inode)
    os.rename(a, tmp_path / "c")
    assert not built_for(guess, _plan([a, b]))
    unpin(pins)
    assert pins == []


def test_an_entry_added_at_the_top_of_a_layer_is_a_miss(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    guess = _guess([str(a)])
    (a / "etc").mkdir()
    assert not built_for(guess, _plan([a]))


def test_spare_kind_is_the_default_namespaces_without_maps():
    assert spare_kind(_plan(["/x"]), SPARE_NS, None)
    assert not spare_kind(_plan(["/x"], ns=["pid", "mount"]), SPARE_NS, None)
    assert not spare_kind(_plan(["/x"], uid_map=[0, 100000, 65536]), SPARE_NS, None)
    assert not spare_kind(_plan(["/x"], time_offset=3600), SPARE_NS, None)
    assert not spare_kind(_plan(["/x"], join_net="/proc/1/ns/net"), SPARE_NS, None)
    assert not spare_kind(_plan(["/x"], rootless=[1000, 1000]), SPARE_NS, None)
    rootless = _plan(["/x"], rootless=[1000, 1000], ns=["user"] + list(SPARE_NS))
    assert spare_kind(rootless, SPARE_NS + ("user",), [1000, 1000])
