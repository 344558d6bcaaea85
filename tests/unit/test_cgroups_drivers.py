"""Both cgroup drivers against a temporary directory standing in for /sys/fs/cgroup (no root needed)."""

from __future__ import annotations

import os

import pytest

from boxkit import cgroups
from boxkit.cgroups import controllers, host
from boxkit.spec import Limits


def _files(d, names):
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


def test_v1_apply_writes_docker_equivalents(tmp_path):
    dirs = {c: str(tmp_path / c) for c in ("memory", "cpu", "pids", "devices", "cpuset")}
    for d in dirs.values():
        _files(d, ["memory.memsw.limit_in_bytes"])
    lim = Limits.parse(memory="500M", cpus="0.5", cpu_shares=512, pids=20, cpuset="0")
    controllers.V1.apply(dirs, lim)
    read = lambda c, f: open(os.path.join(dirs[c], f)).read()  # noqa: E731
    assert read("memory", "memory.limit_in_bytes") == str(500 << 20)
    assert read("memory", "memory.memsw.limit_in_bytes") == str(500 << 20), "no swap beyond the limit"
    assert read("cpu", "cpu.cfs_quota_us") == "50000" and read("cpu", "cpu.cfs_period_us") == "100000"
    assert read("cpu", "cpu.shares") == "512"
    assert read("pids", "pids.max") == "20"
    assert read("cpuset", "cpuset.cpus") == "0"
    # the last write wins in a plain file; the kernel appends rules — check the last rule written
    assert read("devices", "devices.allow") == controllers.DEVICE_RULES[-1]


def test_v2_apply_and_stats(tmp_path):
    d = str(tmp_path / "g")
    _files(d, ["memory.swap.max"])
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
