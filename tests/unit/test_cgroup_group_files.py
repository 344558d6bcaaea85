"""cgroup_experiments.group_files: the files a column of the v1/v2 table names, found (or not) in a
process's own groups, as its /proc/PID/cgroup places them (made-up trees)."""

from __future__ import annotations

from boxkit.cgroup_experiments import group_files

ROWS = [("memory limit", "memory/memory.limit_in_bytes", "memory.max"),
        ("memory throttle line (v2 only)", "— (v1 has none)", "memory.high"),
        ("CPU quota", "cpu/cpu.cfs_quota_us + cpu.cfs_period_us", "cpu.max"),
        ("OOM kills", "memory/memory.oom_control: oom_kill", "memory.events: oom_kill"),
        ("CPU weight", "cpu/cpu.shares (1024 = 1x)", "cpu.weight (100 = 1x)"),
        ("pressure (PSI)", "— (none)", "memory.pressure, cpu.pressure, io.pressure")]


def _touch(path, *names):
    path.mkdir(parents=True, exist_ok=True)
    for n in names:
        (path / n).write_text("0\n")


def test_v1_files_are_looked_up_in_each_hierarchy_the_process_is_in(tmp_path):
    _touch(tmp_path / "memory/boxkit/abc", "memory.limit_in_bytes", "memory.oom_control")
    _touch(tmp_path / "cpu/boxkit/abc", "cpu.cfs_quota_us", "cpu.shares")   # no cpu.cfs_period_us
    lines = "9:name=systemd:/boxkit/abc\n4:memory:/boxkit/abc\n1:cpu,cpuacct:/boxkit/abc\n0::/\n"
    found = group_files(1, ROWS, "hybrid", root=str(tmp_path), cgroup_lines=lines)
    assert [(w, f, p is not None) for w, f, p in found] == [
        ("memory limit", "memory/memory.limit_in_bytes", True),
        ("CPU quota", "cpu/cpu.cfs_quota_us", True),
        ("CPU quota", "cpu/cpu.cfs_period_us", False),
        ("OOM kills", "memory/memory.oom_control", True),
        ("CPU weight", "cpu/cpu.shares", True)]
    assert found[0][2] == str(tmp_path / "memory/boxkit/abc/memory.limit_in_bytes")


def test_v2_files_are_looked_up_in_the_one_group(tmp_path):
    _touch(tmp_path / "boxkit/abc", "memory.max", "memory.high", "cpu.max", "memory.events",
           "memory.pressure", "cpu.pressure")
    found = group_files(1, ROWS, "v2", root=str(tmp_path), cgroup_lines="0::/boxkit/abc\n")
    missing = [f for _, f, p in found if p is None]
    assert missing == ["cpu.weight", "io.pressure"]
    assert len(found) == 8


def test_a_process_in_no_such_hierarchy_finds_nothing(tmp_path):
    found = group_files(1, ROWS[:1], "v1", root=str(tmp_path), cgroup_lines="0::/\n")
    assert found == [("memory limit", "memory/memory.limit_in_bytes", None)]


def test_the_file_table_does_not_say_a_soft_limit_is_reclaimed_last():
    from boxkit.viz import cgroups as viz

    labels = [row[0] for row in viz.file_map("hybrid").rows]
    assert not any("reclaimed last" in label for label in labels)
    assert "memory reservation (acts when the host runs short)" in labels


def test_read_back_gives_the_numbers_each_found_file_holds(tmp_path):
    from boxkit.cgroup_experiments import read_back

    d = tmp_path / "boxkit/abc"
    _touch(d)
    (d / "memory.max").write_text("67108864\n")
    (d / "cpu.max").write_text("50000 100000\n")
    (d / "memory.high").write_text("max\n")
    found = [("memory limit", "memory.max", str(d / "memory.max")),
             ("CPU quota", "cpu.max", str(d / "cpu.max")),
             ("memory throttle line (v2 only)", "memory.high", str(d / "memory.high")),
             ("CPU weight", "cpu.weight", None),
             ("unreadable", "devices.deny", str(d))]          # a directory: read fails (EISDIR)
    assert read_back(found) == {"memory.max": [67108864], "cpu.max": [50000, 100000],
                                "memory.high": [], "devices.deny": []}
