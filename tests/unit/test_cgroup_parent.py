"""Where boxkit's subtree goes: below the group of the process that starts containers (unit tests of
the rule; tests/integration/test_cgroup_nesting.py proves it with real groups and a memory limit)."""

from __future__ import annotations

import os

import pytest

from boxkit import cgroups
from boxkit.cgroups import host
from boxkit.spec import Limits

V1_MOUNTS = [("/sys/fs/cgroup/memory", "cgroup", "rw,memory"), ("/sys/fs/cgroup/pids", "cgroup", "rw,pids"),
             ("/sys/fs/cgroup/cpu,cpuacct", "cgroup", "rw,cpu,cpuacct"),
             ("/sys/fs/cgroup/systemd", "cgroup", "rw,name=systemd")]
V1 = host.parse(V1_MOUNTS, host.TMPFS_MAGIC)
V2 = host.parse([("/sys/fs/cgroup", "cgroup2", "rw")], host.CGROUP2_SUPER_MAGIC)


def never(_d):
    return False


def test_own_groups_reads_every_line_of_proc_self_cgroup():
    text = "5:memory:/kubepods/pod1/c1\n4:cpu,cpuacct:/kubepods/pod1/c1\n1:name=systemd:/\n0::/\n"
    assert host.own_groups(text) == {"memory": "/kubepods/pod1/c1", "cpu": "/kubepods/pod1/c1",
                                     "cpuacct": "/kubepods/pod1/c1", "name=systemd": "/", "": "/"}


@pytest.mark.parametrize("path, owner", [
    ("/", "/"), ("/kubepods/pod1/c1", "/kubepods/pod1/c1"),
    ("/class/alice/init", "/class/alice"),              # moved to the leaf by v2's rule
    ("/class/alice/boxkit/spare-3", "/class/alice"),    # a spare waiting in its pre-group
    ("/boxkit/abc", "/"), ("/init", "/"),               # deploy/cgroup-nest.sh's leaf at a namespace root
])
def test_owner_is_the_group_above_boxkits_subtree_and_the_leaf(path, owner):
    assert host.owner_of(path) == owner


def test_auto_nests_under_the_own_group_in_every_hierarchy():
    own = host.own_groups("3:memory:/kubepods/p/c\n2:pids:/kubepods/p/c\n1:cpu,cpuacct:/\n0::/\n")
    parents, rule = host.parents(V1, own, None, undelegated=never)
    assert parents == {"memory": "/kubepods/p/c", "pids": "/kubepods/p/c", "cpu": "/", "cpuacct": "/",
                       "name=systemd": "/"}
    assert rule == "own cgroup"
    v1 = host.CgroupHost(V1.mode, V1.v1, V1.v2_root, [], parents, rule)
    assert v1.base("memory") == "/sys/fs/cgroup/memory/kubepods/p/c/boxkit"
    assert v1.base("cpu") == "/sys/fs/cgroup/cpu,cpuacct/boxkit"
    assert "/sys/fs/cgroup/pids/kubepods/p/c/boxkit" in v1.bases()
    assert cgroups._v1_dirs(v1, "x1", ["memory", "cpu"]) == {
        "memory": "/sys/fs/cgroup/memory/kubepods/p/c/boxkit/x1", "cpu": "/sys/fs/cgroup/cpu,cpuacct/boxkit/x1"}


def test_v2_nests_in_the_one_tree():
    parents, rule = host.parents(V2, host.own_groups("0::/kubepods.slice/pod/cri.scope\n"), "self")
    v2 = host.CgroupHost("v2", {}, "/sys/fs/cgroup", [], parents, rule)
    assert v2.base() == "/sys/fs/cgroup/kubepods.slice/pod/cri.scope/boxkit" and rule == "own cgroup"
    assert v2.bases() == [v2.base()]


def test_auto_keeps_off_a_systemd_unit_not_delegated_but_self_does_not():
    own = host.own_groups("0::/user.slice/user-1000.slice/session-3.scope\n")
    seen = []

    def undelegated(d):
        seen.append(d)
        return True

    parents, rule = host.parents(V2, own, "auto", undelegated=undelegated)
    assert parents == {"": "/"} and rule.startswith("root")
    assert seen == ["/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope"]
    assert host.parents(V2, own, "self", undelegated=undelegated)[0] == {"": "/user.slice/user-1000.slice/session-3.scope"}


def test_systemd_unit_without_the_delegate_attribute_is_undelegated(tmp_path):
    unit = tmp_path / "app.scope"
    unit.mkdir()
    assert host.systemd_undelegated(str(unit)) is True
    assert host.systemd_undelegated(str(tmp_path / "pod1")) is False    # not a systemd unit's name
    try:
        os.setxattr(unit, "user.delegate", b"1")
    except OSError as e:   # a file system without user attributes: the rule above is what matters
        pytest.skip(f"no user xattrs on {tmp_path}: {e}")
    assert host.systemd_undelegated(str(unit)) is False
    assert "systemd" in host.delegation(str(unit))


def test_a_configured_parent_is_used_in_every_hierarchy():
    parents, rule = host.parents(V1, {}, "/class//alice/")
    assert set(parents.values()) == {"/class/alice"} and set(parents) == set(V1.v1) and rule == "configured"
    assert host.parents(V1, host.own_groups("3:memory:/x\n"), "/")[0]["memory"] == "/"


@pytest.mark.parametrize("bad", ["/class/../etc", "class", "yes", "../x"])
def test_a_bad_setting_is_refused_with_a_reason(bad):
    with pytest.raises(ValueError, match="BOXKIT_CGROUP_PARENT"):
        host.parents(V1, {}, bad)


def test_a_bad_setting_stops_a_start_with_exit_125(monkeypatch):
    h = host.CgroupHost(V1.mode, V1.v1, None, [], {}, "invalid: BOXKIT_CGROUP_PARENT=yes: give 'auto', ...")
    monkeypatch.setattr(cgroups, "detect", lambda: h)
    monkeypatch.setenv("BOXKIT_CGROUP_PARENT", "yes")
    with pytest.raises(cgroups.SpecError) as e:
        cgroups.create("x1", Limits())
    assert e.value.exit_code == 125
    assert "BOXKIT_CGROUP_PARENT" in str(e.value) and "'yes'" in str(e.value)


def test_groups_are_unavailable_only_to_a_user_namespaces_root_on_a_tree_it_may_not_write(tmp_path, monkeypatch):
    """The rule's logic (tests/hub/test_hub_podman.py starts containers for real on a read-only tree)."""
    tree = tmp_path / "memory"
    tree.mkdir()
    h = host.CgroupHost("v1", {"memory": str(tree)}, None, [], {"memory": "/"}, "root")
    nested = "0 1879048192 165536\n"
    assert host.initial_user_namespace("0 0 4294967295\n") and not host.initial_user_namespace(nested)
    assert host.groups_unavailable(h, nested) is None                  # writable: groups as usual
    monkeypatch.setattr(host.os, "access", lambda p, mode: False)     # a read-only mount
    why = host.groups_unavailable(h, nested)
    assert why and str(tree) in why
    # the first user namespace never starts a container without a group (release_agent: see cgroups)
    assert host.groups_unavailable(h, "0 0 4294967295\n") is None
