"""Both cgroup drivers against a temporary directory standing in for /sys/fs/cgroup (no root needed)."""

from __future__ import annotations

import os

import pytest

from boxkit import cgroups
from boxkit.cgroups import controllers, host
from boxkit.spec import Limits


def _files(d, names):
    """Fixture control files: the drivers write only files that exist, as in a real cgroup dir."""
    os.makedirs(d, exist_ok=True)
    for n in names:
        with open(os.path.join(d, n), "w") as f:
            f.write("")


def test_mode_detection_from_mountinfo():
    v1 = [("/sys/fs/cgroup/memory", "cgroup", "rw,memory"), ("/sys/fs/cgroup/cpu,cpuacct", "cgroup", "rw,cpu,cpuacct")]
    assert host.parse(v1, host.TMPFS_MAGIC).mode == "v1"
    hybrid = v1 + [("/sys/fs/cgroup/unified", "cgroup2", "rw")]
    h = host.parse(hybrid, host.TMPFS_MAGIC)
    assert h.mode == "hybrid" and h.version == 1
    assert h.v1["cpu"] == h.v1["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct"
    v2 = host.parse([("/sys/fs/cgroup", "cgroup2", "rw")], host.CGROUP2_SUPER_MAGIC)
    assert v2.mode == "v2" and v2.version == 2
    assert host.parse([], None).mode == "none"


def test_every_v1_hierarchy_is_spanned_named_ones_included():
    """A container's group spans every mounted v1 hierarchy, not only those its limits use: where it
    sat at a hierarchy's root, a mount from its cgroup namespace showed that root's release_agent."""
    mounts = [("/sys/fs/cgroup/memory", "cgroup", "rw,memory"), ("/sys/fs/cgroup/cpu,cpuacct", "cgroup", "rw,cpu,cpuacct"),
              ("/sys/fs/cgroup/freezer", "cgroup", "rw,freezer"), ("/sys/fs/cgroup/cpuset", "cgroup", "rw,cpuset"),
              ("/sys/fs/cgroup/systemd", "cgroup", "rw,xattr,release_agent=/x,name=systemd"),
              ("/sys/fs/cgroup/unified", "cgroup2", "rw")]
    h = host.parse(mounts, host.TMPFS_MAGIC)
    assert h.v1["name=systemd"] == "/sys/fs/cgroup/systemd"
    assert "name=systemd" not in h.controllers() and "freezer" in h.controllers()
    spanned = cgroups.v1_spanned(h, Limits())
    assert set(spanned) == {"memory", "cpu", "cpuacct", "freezer", "cpuset", "name=systemd"}
    assert spanned[:3] == ["memory", "cpu", "cpuacct"]   # the limits' own first, as mounted here
    assert set(cgroups.v1_spanned(h, Limits.parse(cpuset="0"))) == set(spanned)


def test_v1_apply_writes_docker_equivalents(tmp_path):
    dirs = {c: str(tmp_path / c) for c in ("memory", "cpu", "pids", "devices", "cpuset")}
    _files(dirs["memory"], ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes"])
    _files(dirs["cpu"], ["cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.shares"])
    _files(dirs["pids"], ["pids.max"])
    _files(dirs["cpuset"], ["cpuset.cpus"])
    _files(dirs["devices"], ["devices.deny", "devices.allow"])
    lim = Limits.parse(memory="500M", cpus="0.5", cpu_shares=512, pids=20, cpuset="0")
    controllers.V1.apply(dirs, lim)
    assert not os.path.exists(os.path.join(dirs["memory"], "memory.kmem.limit_in_bytes")), "no file is created"
    read = lambda c, f: open(os.path.join(dirs[c], f)).read()  # noqa: E731
    assert read("memory", "memory.limit_in_bytes") == str(500 << 20)
    assert read("memory", "memory.memsw.limit_in_bytes") == str(500 << 20), "no swap beyond the limit"
    assert read("cpu", "cpu.cfs_quota_us") == "50000" and read("cpu", "cpu.cfs_period_us") == "100000"
    assert read("cpu", "cpu.shares") == "512"
    assert read("pids", "pids.max") == "20"
    assert read("cpuset", "cpuset.cpus") == "0"
    # the last write wins in a plain file; the kernel appends rules — check the last rule written
    assert read("devices", "devices.allow") == controllers.DEVICE_RULES[-1].line() == "c 136:* rwm"


def test_v2_apply_and_stats(tmp_path):
    d = str(tmp_path / "g")
    _files(d, ["memory.max", "memory.swap.max", "memory.high", "cpu.max", "cpu.weight", "pids.max"])
    lim = Limits.parse(memory="500M", memory_high="400M", cpus="1.5", cpu_shares=1024, pids=20)
    controllers.V2.apply(d, lim)
    assert open(f"{d}/memory.max").read() == str(500 << 20)
    assert open(f"{d}/memory.swap.max").read() == "0"
    assert open(f"{d}/memory.high").read() == str(400 << 20)
    assert open(f"{d}/cpu.max").read() == "150000 100000"
    assert open(f"{d}/cpu.weight").read() == str(controllers.shares_to_weight(1024))
    for name, text in {"memory.current": "1000", "memory.peak": "2000", "memory.events": "low 0\noom 1\noom_kill 1\n",
                       "cpu.stat": "usage_usec 77\nnr_periods 10\nnr_throttled 4\nthrottled_usec 900\n",
                       "pids.current": "3", "memory.pressure": "some avg10=1.50 avg60=0 avg300=0 total=1\n"}.items():
        with open(f"{d}/{name}", "w") as f:
            f.write(text)
    s = controllers.V2.stats(d)
    assert (s["memory_current"], s["memory_peak"], s["oom_kills"]) == (1000, 2000, 1)
    assert (s["cpu_usage_usec"], s["nr_throttled"], s["throttled_usec"]) == (77, 4, 900)
    assert s["cpu_limit"] == 1.5 and s["pids_max"] == 20 and s["psi"]["memory"] == 1.5


def test_v1_stats_oom_from_oom_control_not_failcnt(tmp_path):
    m = str(tmp_path / "memory")
    a = str(tmp_path / "cpuacct")
    _files(m, [])
    _files(a, [])
    for name, text in {"memory.usage_in_bytes": "10", "memory.max_usage_in_bytes": "20",
                       "memory.limit_in_bytes": str(controllers.V1_UNLIMITED), "memory.failcnt": "0",
                       "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"}.items():
        with open(f"{m}/{name}", "w") as f:
            f.write(text)
    with open(f"{a}/cpuacct.usage", "w") as f:
        f.write("5000000")
    s = controllers.V1.stats({"memory": m, "cpuacct": a})
    assert s["oom_kills"] == 2 and s["memory_limit"] is None and s["cpu_usage_usec"] == 5000


@pytest.mark.parametrize("shares,weight", [(2, 1), (262144, 10000), (1024, 39)])
def test_shares_to_weight_matches_runc(shares, weight):
    assert controllers.shares_to_weight(shares) == weight


def test_file_map_covers_both_versions():
    assert all(len(row) == 3 and row[1] and row[2] for row in cgroups.FILE_MAP)
    assert any("oom_kill" in row[1] and "oom_kill" in row[2] for row in cgroups.FILE_MAP)


def _group_dir(tmp_path, name, procs="", usage="0"):
    d = tmp_path / "cpu,cpuacct" / "boxkit" / name
    d.mkdir(parents=True)
    (d / "cgroup.procs").write_text(procs)
    (d / "cpuacct.usage").write_text(usage)
    return d


def _host(tmp_path):
    return host.CgroupHost("v1", {"cpu": str(tmp_path / "cpu,cpuacct"), "cpuacct": str(tmp_path / "cpu,cpuacct")})


def test_gc_never_judges_a_group_with_live_processes(tmp_path):
    """Another BOXKIT_ROOT's running container is not in our alive set: it must survive our gc."""
    d = _group_dir(tmp_path, "theirs", procs=f"{os.getpid()}\n", usage="123")
    g = cgroups.Group("theirs", _host(tmp_path), {"cpu": str(d)})
    assert cgroups._collectable(g, wait=0.05) is False


def test_gc_collects_an_ended_group_and_an_abandoned_one_only_when_old(tmp_path):
    h = _host(tmp_path)
    ended = _group_dir(tmp_path, "ended", usage="123456")
    assert cgroups._collectable(cgroups.Group("ended", h, {"cpu": str(ended)})) is True
    young = _group_dir(tmp_path, "young", usage="0")   # mkdir done, PID 1 not added yet
    assert cgroups._collectable(cgroups.Group("young", h, {"cpu": str(young)})) is False
    old = _group_dir(tmp_path, "old", usage="0")
    os.utime(old, (0, 0))                               # a start that died an hour ago
    assert cgroups._collectable(cgroups.Group("old", h, {"cpu": str(old)})) is True


def test_gc_skips_live_ids_and_the_v2_init_leaf(tmp_path, monkeypatch):
    h = _host(tmp_path)
    for name in ("live", "init", "gone"):
        _group_dir(tmp_path, name, usage="1")
    seen = []
    monkeypatch.setattr(cgroups, "_collectable", lambda g, **kw: seen.append(g.cid) or False)
    assert cgroups.gc({"live"}, host=h) == []
    assert seen == ["gone"]


def test_writes_go_to_existing_files_only(tmp_path):
    """A control file the kernel does not offer is an error naming it, never a new regular file."""
    with pytest.raises(FileNotFoundError) as e:
        controllers.write(str(tmp_path / "memory.max"), 1)
    assert e.value.filename == str(tmp_path / "memory.max")
    assert not (tmp_path / "memory.max").exists()


def test_one_module_per_controller_with_the_same_names():
    for mod in controllers.CONTROLLERS:
        for name in ("V1_HIERARCHIES", "V2_CONTROLLER", "FILES", "v1_apply", "v1_stats", "v2_apply", "v2_stats"):
            assert hasattr(mod, name), f"{mod.__name__} lacks {name}"
    # the notebook's table is the course's modules' rows, in order: it comes from the drivers themselves
    rows = [r for mod in controllers.COURSE for r in mod.FILES]
    assert cgroups.FILE_MAP[:len(rows)] == rows and cgroups.FILE_MAP[0][0] == "memory limit"
    assert len(cgroups.FILE_MAP) == len(rows) + 1, "the OCI-only controllers stay out of the course's table"


def test_hierarchies_and_controllers_follow_the_limits():
    plain, pinned = Limits.parse(memory="64M"), Limits.parse(memory="64M", cpuset="0")
    assert "cpuset" not in controllers.v1_hierarchies(plain), "no cpuset dir unless asked: one mkdir less"
    assert "cpuset" in controllers.v1_hierarchies(pinned)
    assert {"memory", "cpu", "cpuacct", "pids", "devices"} <= set(controllers.v1_hierarchies(plain))
    assert controllers.v2_controllers(plain) == ["memory", "cpu", "pids", "io"]
    assert "cpuset" in controllers.v2_controllers(pinned) and "devices" not in controllers.v2_controllers(pinned)


def test_io_bytes_parsed_on_both_versions(tmp_path):
    from boxkit.cgroups import io

    v1 = "8:0 Read 4096\n8:0 Write 512\n8:0 Sync 0\n8:0 Total 4608\n8:16 Read 100\nTotal 4708\n"
    assert io.parse_v1(v1) == (4196, 512)
    v2 = "8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n8:16 rbytes=100 wbytes=0 rios=1 wios=0\n"
    assert io.parse_v2(v2) == (4196, 512)
    d = tmp_path / "g"
    d.mkdir()
    (d / "io.stat").write_text(v2)
    (d / "io.pressure").write_text("some avg10=2.25 avg60=0 avg300=0 total=9\nfull avg10=0 avg60=0\n")
    s = controllers.V2.stats(str(d))
    assert (s["io_read_bytes"], s["io_write_bytes"]) == (4196, 512) and s["psi"] == {"io": 2.25}


def test_v1_cpuset_group_is_filled_from_its_parent(tmp_path):
    from boxkit.cgroups import cpuset

    (tmp_path / "cpuset.cpus").write_text("0-1\n")
    (tmp_path / "cpuset.mems").write_text("0\n")
    child = tmp_path / "boxkit"
    _files(str(child), ["cpuset.cpus", "cpuset.mems"])   # a new v1 cpuset group: both empty
    cpuset.v1_prepare(str(child))
    assert (child / "cpuset.cpus").read_text() == "0-1" and (child / "cpuset.mems").read_text() == "0"


def test_v2_populated_root_moves_its_processes_to_a_leaf_first(tmp_path, monkeypatch):
    """The privileged-container case: the cgroup namespace root holds processes, so the kernel refuses
    (EBUSY) controllers for children until they sit in a leaf; boxkit moves them to <root>/init."""
    import errno as _errno

    root = tmp_path / "cg"
    root.mkdir()
    (root / "cgroup.subtree_control").write_text("")
    (root / "cgroup.procs").write_text("1\n42\n")
    h = host.CgroupHost("v2", {}, str(root), ["cpuset", "cpu", "io", "memory", "pids"])
    moved, enabled = [], {}

    def fake_write(path, value):
        path = str(path)
        if path.endswith("init/cgroup.procs"):
            moved.append(int(value))
            if set(moved) >= {1, 42}:
                (root / "cgroup.procs").write_text("")
            return
        if path == str(root / "cgroup.subtree_control") and (root / "cgroup.procs").read_text().strip():
            raise OSError(_errno.EBUSY, "Device or resource busy", path)
        enabled[path] = value

    monkeypatch.setattr(cgroups, "write", fake_write)
    want = cgroups._enable_v2(h, Limits.parse(memory="64M"))
    assert want == ["memory", "cpu", "pids", "io"]
    assert sorted(moved) == [1, 42] and (root / "init").is_dir()
    assert enabled[str(root / "cgroup.subtree_control")] == "+memory +cpu +pids +io"
    assert enabled[str(root / "boxkit" / "cgroup.subtree_control")] == "+memory +cpu +pids +io"


def test_v2_enable_failure_names_the_file(tmp_path, monkeypatch):
    import errno as _errno

    root = tmp_path / "cg"
    root.mkdir()
    h = host.CgroupHost("v2", {}, str(root), ["memory", "pids"])

    def refuse(path, value):
        raise OSError(_errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(cgroups, "write", refuse)
    with pytest.raises(cgroups.HostError) as e:
        cgroups._enable_v2(h, Limits.parse(pids=5))
    msg = str(e.value)
    assert "cannot enable cgroup controllers in" in msg and "cgroup.subtree_control" in msg and "root" in msg


def test_a_value_refused_at_write_time_names_the_file():
    """The kernel refuses a cgroup value in write(2) (EBUSY, EINVAL), not open(2); /dev/full does the
    same with ENOSPC."""
    with pytest.raises(OSError) as e:
        controllers.write("/dev/full", 1)
    assert e.value.filename == "/dev/full" and e.value.errno == 28


def test_oom_killed_reads_the_oom_counter_on_both_versions(tmp_path):
    m = tmp_path / "memory"
    _files(str(m), [])
    (m / "memory.failcnt").write_text("0\n")
    (m / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    g1 = cgroups.Group("x", host.CgroupHost("v1", {"memory": str(tmp_path)}), {"memory": str(m)})
    assert g1.oom_killed() is False
    (m / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    assert g1.oom_killed() is True
    d = tmp_path / "v2"
    _files(str(d), [])
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 9\noom 1\noom_kill 0\n")
    g2 = cgroups.Group("x", host.CgroupHost("v2", {}, str(tmp_path)), {"memory": str(d)})
    assert g2.oom_killed() is False, "oom (a failed charge) is not oom_kill"
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n")
    assert g2.oom_killed() is True
