"""linux.cgroupsPath's three forms, as group_dirs places them (no group is made here)."""

from __future__ import annotations

from boxkit.cgroups import host
from boxkit.oci import cgroup as oci_cgroup

V1 = host.CgroupHost("v1", {"memory": "/sys/fs/cgroup/memory", "pids": "/sys/fs/cgroup/pids"}, None, [],
                     {"memory": "/pod/c1", "pids": "/pod/c1"}, "own cgroup")
V2 = host.CgroupHost("v2", {}, "/sys/fs/cgroup", ["memory", "pids"], {"": "/pod/c1"}, "own cgroup")


def test_absolute_relative_and_default_paths(monkeypatch):
    with open("/proc/self/cgroup") as f:
        own = host.own_groups(f.read())
    monkeypatch.setattr(oci_cgroup, "detect", lambda: V1)
    g, _ = oci_cgroup.group_dirs("x1", "/libpod_parent/libpod-x1")
    assert g.dirs == {"memory": "/sys/fs/cgroup/memory/libpod_parent/libpod-x1",
                      "pids": "/sys/fs/cgroup/pids/libpod_parent/libpod-x1"}
    g, _ = oci_cgroup.group_dirs("x1", "")   # none: boxkit-runtime/<id> below the parent boxkit run uses
    assert g.dirs["memory"] == "/sys/fs/cgroup/memory/pod/c1/boxkit-runtime/x1"
    g, _ = oci_cgroup.group_dirs("x1", "rel/x1")   # relative: below this process's own group, as runc
    assert g.dirs["pids"] == "/sys/fs/cgroup/pids" + own.get("pids", "/").rstrip("/") + "/rel/x1"
    monkeypatch.setattr(oci_cgroup, "detect", lambda: V2)
    g, todo = oci_cgroup.group_dirs("x1", "")
    assert set(g.dirs.values()) == {"/sys/fs/cgroup/pod/c1/boxkit-runtime/x1"} and len(todo) == 1
