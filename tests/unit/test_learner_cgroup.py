"""deploy/onevm/learner_cgroup.py on fake cgroup trees: which files it writes on v1 (hybrid) and v2, in
what order, what it reads back, and what it refuses. The real kernel's side (the limits holding) is
tests/hub/test_hub_users.py's."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "deploy", "onevm"))
import learner_cgroup as lc  # noqa: E402


def v1_tree(root) -> str:
    for ctrl in ("memory", "pids", "cpu"):
        os.makedirs(root / ctrl)
        (root / ctrl / "cgroup.procs").write_text("")
    return str(root)


def v2_tree(root) -> str:
    (root / "cgroup.controllers").write_text("cpu memory pids\n")
    (root / "cgroup.subtree_control").write_text("")
    return str(root)


def read(path) -> str:
    with open(path) as f:
        return f.read()


def test_layout_names_v1_v2_and_what_is_missing(tmp_path):
    assert lc.layout(v1_tree(tmp_path / "a")) == "v1"
    (tmp_path / "b").mkdir()
    assert lc.layout(v2_tree(tmp_path / "b")) == "v2"
    (tmp_path / "c" / "memory").mkdir(parents=True)
    with pytest.raises(OSError, match="no cgroup v2 root and no v1 memory and pids hierarchies"):
        lc.layout(str(tmp_path / "c"))


def test_v1_makes_a_memory_and_a_pids_group_at_each_hierarchy_root(tmp_path):
    root = v1_tree(tmp_path)
    g = lc.LearnerGroup("ann", root=root).create(512 * 2**20, 100)
    assert g.dirs == {"memory": f"{root}/memory/boxkit-class/ann", "pids": f"{root}/pids/boxkit-class/ann"}
    assert read(f"{root}/memory/boxkit-class/ann/memory.limit_in_bytes") == str(512 * 2**20)
    assert read(f"{root}/pids/boxkit-class/ann/pids.max") == "100"
    assert not os.path.exists(f"{root}/cpu/boxkit-class")
    g.join(4242)
    assert read(f"{root}/memory/boxkit-class/ann/cgroup.procs") == "4242"
    assert read(f"{root}/pids/boxkit-class/ann/cgroup.procs") == "4242"


def test_v1_sets_memsw_where_swap_is_accounted_in_the_order_the_kernel_takes(tmp_path, monkeypatch):
    root = v1_tree(tmp_path)
    d = tmp_path / "memory" / "boxkit-class" / "ann"
    d.mkdir(parents=True)
    (d / "memory.limit_in_bytes").write_text("1000")
    (d / "memory.memsw.limit_in_bytes").write_text("1000")
    order = []
    real = lc._write
    monkeypatch.setattr(lc, "_write", lambda p, v: (order.append(os.path.basename(p)), real(p, v)))
    lc.LearnerGroup("ann", root=root).create(2000, 10)       # growing: memsw first
    lc.LearnerGroup("ann", root=root).create(500, 10)        # shrinking: the limit first
    assert order == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes", "pids.max",
                     "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "pids.max"]
    assert read(d / "memory.memsw.limit_in_bytes") == "500"


def test_v2_hands_memory_and_pids_down_and_takes_swap_away(tmp_path):
    root = v2_tree(tmp_path)
    top = tmp_path / "boxkit-class"
    g = lc.LearnerGroup("ann", root=root)
    top.mkdir()
    (top / "ann").mkdir()
    (top / "ann" / "memory.swap.max").write_text("max")
    g.create(300 * 2**20, 64)
    assert read(tmp_path / "cgroup.subtree_control") == "+memory +pids"
    assert read(top / "cgroup.subtree_control") == "+memory +pids"
    assert read(top / "ann" / "memory.max") == str(300 * 2**20)
    assert read(top / "ann" / "memory.swap.max") == "0"
    assert read(top / "ann" / "pids.max") == "64"
    assert g.dirs == {"unified": str(top / "ann")}


def test_usage_reads_each_layouts_files(tmp_path):
    root = v1_tree(tmp_path / "v1")
    m = tmp_path / "v1" / "memory" / "boxkit-class" / "ann"
    p = tmp_path / "v1" / "pids" / "boxkit-class" / "ann"
    m.mkdir(parents=True)
    p.mkdir(parents=True)
    for name, value in {"memory.usage_in_bytes": "10", "memory.max_usage_in_bytes": "20",
                        "memory.limit_in_bytes": "30", "memory.failcnt": "1", "memory.memsw.failcnt": "2",
                        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"}.items():
        (m / name).write_text(value)
    for name, value in {"pids.current": "5", "pids.max": "max", "pids.events": "max 7\n"}.items():
        (p / name).write_text(value)
    assert lc.LearnerGroup("ann", root=root).usage() == lc.Usage(10, 20, 30, 3, 3, 5, -1, 7)
    (tmp_path / "v2").mkdir()
    root = v2_tree(tmp_path / "v2")
    u = tmp_path / "v2" / "boxkit-class" / "ann"
    u.mkdir(parents=True)
    for name, value in {"memory.current": "11", "memory.peak": "22", "memory.max": "33",
                        "memory.events": "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n", "pids.current": "6",
                        "pids.max": "64", "pids.events": "max 2\n"}.items():
        (u / name).write_text(value)
    assert lc.LearnerGroup("ann", root=root).usage() == lc.Usage(11, 22, 33, 4, 1, 6, 64, 2)


@pytest.mark.parametrize("name", ["../etc", "a/b", ".", "..", "Ann", "", "x" * 40])
def test_a_name_that_is_no_user_name_is_refused(tmp_path, name):
    with pytest.raises(ValueError, match="Unix user name"):
        lc.LearnerGroup(name, root=v1_tree(tmp_path))


def test_limits_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="must be positive"):
        lc.LearnerGroup("ann", root=v1_tree(tmp_path)).create(0, 10)


def test_groups_left_lists_the_parent_and_each_learner(tmp_path):
    root = v1_tree(tmp_path)
    assert lc.groups_left(root=root) == []
    lc.LearnerGroup("ann", root=root).create(100, 10)
    assert sorted(lc.groups_left(root=root)) == sorted([
        f"{root}/memory/boxkit-class", f"{root}/memory/boxkit-class/ann",
        f"{root}/pids/boxkit-class", f"{root}/pids/boxkit-class/ann"])
