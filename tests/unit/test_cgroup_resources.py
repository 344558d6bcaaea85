"""Every field of the typed resources, written by the controller modules into a temporary cgroup tree
(no root needed), on v1 and v2, for both fronts: an OCI bundle's ``Resources`` and ``boxkit run``'s
``Limits`` (translated by ``resources.from_limits``).

The tree holds the control files a kernel offers, so a write to a file the kernel would not have fails
(``files.write`` never creates one). ``kernel`` records every write in order, as the kernel sees them
(one ``write(2)`` each), and can refuse some, as the kernel does: its memory files keep v1's rule that
``memsw.limit_in_bytes`` never goes below ``limit_in_bytes``.
"""

from __future__ import annotations

import errno
import os

import pytest

from boxkit import cgroups
from boxkit.cgroups import controllers, files, host
from boxkit.cgroups.cpu import CPU
from boxkit.cgroups.devices import RULES, DeviceRule
from boxkit.cgroups.hugetlb import HugepageLimit, size_name, sizes
from boxkit.cgroups.io import BlockIO, Throttle, WeightDevice
from boxkit.cgroups.memory import V1_UNLIMITED, Memory
from boxkit.cgroups.network import Network
from boxkit.cgroups.pregroup import PreGroup
from boxkit.cgroups.resources import Resources
from boxkit.spec import Limits

V1_FILES = {
    "memory": {"memory.limit_in_bytes": V1_UNLIMITED, "memory.memsw.limit_in_bytes": V1_UNLIMITED,
               "memory.soft_limit_in_bytes": "", "memory.kmem.limit_in_bytes": "",
               "memory.kmem.tcp.limit_in_bytes": "", "memory.swappiness": "60", "memory.oom_control": ""},
    "cpu": {n: "" for n in ("cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.cfs_burst_us",
                            "cpu.rt_period_us", "cpu.rt_runtime_us", "cpu.idle")},
    "cpuacct": {},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "pids": {"pids.max": ""},
    "blkio": {n: "" for n in ("blkio.weight", "blkio.weight_device", "blkio.leaf_weight", "blkio.leaf_weight_device",
                              "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
                              "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device")},
    "hugetlb": {"hugetlb.2MB.limit_in_bytes": "", "hugetlb.1GB.limit_in_bytes": ""},
    "net_cls": {"net_cls.classid": ""},
    "net_prio": {"net_prio.ifpriomap": ""},
    "devices": {"devices.allow": "", "devices.deny": ""},
}
V2_FILES = ["memory.max", "memory.swap.max", "memory.low", "memory.high", "cpu.weight", "cpu.max", "cpu.max.burst",
            "cpu.idle", "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max", "hugetlb.2MB.max"]

EVERYTHING = Resources(
    memory=Memory(limit=200 << 20, reservation=100 << 20, swap=300 << 20, kernel=64 << 20, kernel_tcp=32 << 20,
                  swappiness=10, disable_oom_killer=True),
    cpu=CPU(shares=512, quota=50000, period=200000, burst=1000, realtime_runtime=950000, realtime_period=1000000,
            cpus="0-1", mems="0", idle=1),
    pids=42,
    block_io=BlockIO(weight=500, leaf_weight=300, weight_device=(WeightDevice(8, 0, 600, 400),),
                     throttle_read_bps=(Throttle(8, 0, 1000),), throttle_write_bps=(Throttle(8, 0, 2000),),
                     throttle_read_iops=(Throttle(8, 16, 30),), throttle_write_iops=(Throttle(8, 16, 40),)),
    hugepage_limits=(HugepageLimit("2MB", 4 << 20),),
    network=Network(class_id=0x100001, priorities=(("eth0", 5), ("lo", 2))),
    devices=(DeviceRule(False), DeviceRule(True, "c", 10, 229, "rwm"), *RULES, DeviceRule(True, "b", 7, 0)),
)


@pytest.fixture
def v1(tmp_path):
    """One directory per hierarchy, with the files a v1 kernel offers; ``name=systemd`` has none."""
    dirs = {}
    for ctrl, names in V1_FILES.items():
        d = tmp_path / ctrl
        d.mkdir()
        for name, text in names.items():
            (d / name).write_text(str(text))
        dirs[ctrl] = str(d)
    return dirs


@pytest.fixture
def v2(tmp_path):
    d = tmp_path / "g"
    d.mkdir()
    for name in V2_FILES:
        (d / name).write_text("")
    return str(d)


class Kernel:
    """Records each write as (file name, value); refuses what ``refuse`` names, with its errno."""

    def __init__(self):
        self.writes: list[tuple[str, str]] = []
        self.refuse: dict[str, int] = {}

    def write(self, path, value):
        name = os.path.basename(path)
        if name in self.refuse:
            raise OSError(self.refuse[name], os.strerror(self.refuse[name]), path)
        d = os.path.dirname(path)
        if name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"):   # v1: memsw >= limit, always
            cur = {n: int(files.read(os.path.join(d, n)) or V1_UNLIMITED) if os.path.exists(os.path.join(d, n))
                   else V1_UNLIMITED for n in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes")}
            cur[name] = V1_UNLIMITED if int(value) == -1 else int(value)
            if cur["memory.memsw.limit_in_bytes"] < cur["memory.limit_in_bytes"]:
                raise OSError(errno.EINVAL, "Invalid argument", path)
        files.write(path, value)
        self.writes.append((name, str(value)))

    def to(self, name: str) -> list[str]:
        return [v for n, v in self.writes if n == name]


@pytest.fixture
def kernel(monkeypatch):
    k = Kernel()
    for mod in controllers.CONTROLLERS:
        monkeypatch.setattr(mod, "write", k.write)
    return k


def test_every_field_lands_in_its_v1_file(v1, kernel):
    controllers.V1.apply(v1, EVERYTHING)
    last = {n: vs[-1] for n in {n for n, _ in kernel.writes} for vs in [kernel.to(n)]}
    assert last == {
        "memory.limit_in_bytes": str(200 << 20), "memory.memsw.limit_in_bytes": str(300 << 20),
        "memory.soft_limit_in_bytes": str(100 << 20), "memory.kmem.limit_in_bytes": str(64 << 20),
        "memory.kmem.tcp.limit_in_bytes": str(32 << 20), "memory.swappiness": "10", "memory.oom_control": "1",
        "cpu.shares": "512", "cpu.cfs_period_us": "200000", "cpu.cfs_quota_us": "50000", "cpu.cfs_burst_us": "1000",
        "cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "950000", "cpu.idle": "1",
        "cpuset.cpus": "0-1", "cpuset.mems": "0", "pids.max": "42",
        "blkio.weight": "500", "blkio.leaf_weight": "300", "blkio.weight_device": "8:0 600",
        "blkio.leaf_weight_device": "8:0 400", "blkio.throttle.read_bps_device": "8:0 1000",
        "blkio.throttle.write_bps_device": "8:0 2000", "blkio.throttle.read_iops_device": "8:16 30",
        "blkio.throttle.write_iops_device": "8:16 40", "hugetlb.2MB.limit_in_bytes": str(4 << 20),
        "net_cls.classid": str(0x100001), "net_prio.ifpriomap": "lo 2",
        "devices.deny": "a", "devices.allow": "b 7:0 rwm",
    }
    assert kernel.to("net_prio.ifpriomap") == ["eth0 5", "lo 2"], "one interface per write"
    # the period before the quota and the real-time period before its runtime: the kernel checks each pair
    names = [n for n, _ in kernel.writes]
    assert names.index("cpu.cfs_period_us") < names.index("cpu.cfs_quota_us")
    assert names.index("cpu.rt_period_us") < names.index("cpu.rt_runtime_us")


def test_device_rules_go_one_per_write_bundle_first_then_the_defaults_then_the_nodes(v1, kernel):
    controllers.V1.apply(v1, EVERYTHING)
    rules = [(n, v) for n, v in kernel.writes if n.startswith("devices.")]
    assert rules[:2] == [("devices.deny", "a"), ("devices.allow", "c 10:229 rwm")]
    assert [v for _, v in rules[2:-1]] == [r.line() for r in RULES] == [
        "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
        "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"]
    assert rules[-1] == ("devices.allow", "b 7:0 rwm")


def test_no_device_list_leaves_the_groups_rules_alone(v1, kernel):
    controllers.V1.apply(v1, Resources(pids=5))
    assert kernel.writes == [("pids.max", "5")]


def test_every_field_lands_in_its_v2_file(v2, kernel):
    controllers.V2.apply(v2, EVERYTHING)
    assert kernel.writes[:3] == [("memory.max", str(200 << 20)), ("memory.swap.max", str(100 << 20)),
                                 ("memory.low", str(100 << 20))]
    last = dict(kernel.writes)
    assert last["cpu.weight"] == str(controllers.shares_to_weight(512)) == "20"
    assert last["cpu.max"] == "50000 200000" and last["cpu.max.burst"] == "1000" and last["cpu.idle"] == "1"
    assert (last["cpuset.cpus"], last["cpuset.mems"], last["pids.max"]) == ("0-1", "0", "42")
    assert last["io.weight"] == "500" and last["hugetlb.2MB.max"] == str(4 << 20)
    assert kernel.to("io.max") == ["8:0 rbps=1000", "8:0 wbps=2000", "8:16 riops=30", "8:16 wiops=40"]
    # what v2 has no file for is not written: kernel memory, swappiness, the OOM switch, real time, leaf and
    # per-device weights, net_cls/net_prio, device rules (v2's is an eBPF program)
    assert {n for n, _ in kernel.writes} <= set(V2_FILES)


def test_v1_memory_and_memsw_keep_the_kernels_order_growing_and_shrinking(v1, kernel):
    m = v1["memory"]
    controllers.V1.apply(v1, Resources(memory=Memory(limit=200 << 20, swap=300 << 20)))   # a fresh group
    assert kernel.writes == [("memory.limit_in_bytes", str(200 << 20)), ("memory.memsw.limit_in_bytes", str(300 << 20))]
    kernel.writes.clear()
    controllers.V1.apply({"memory": m}, Resources(memory=Memory(limit=400 << 20, swap=500 << 20)))   # growing
    assert [n for n, _ in kernel.writes] == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]
    kernel.writes.clear()
    controllers.V1.apply({"memory": m}, Resources(memory=Memory(limit=100 << 20, swap=150 << 20)))   # shrinking
    assert [n for n, _ in kernel.writes] == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
    assert files.read(f"{m}/memory.limit_in_bytes") == str(100 << 20)
    assert files.read(f"{m}/memory.memsw.limit_in_bytes") == str(150 << 20)


def test_v1_unlimited_swap_or_no_swap_accounting_writes_the_limit_alone(v1, kernel):
    controllers.V1.apply(v1, Resources(memory=Memory(limit=64 << 20, swap=-1)))
    assert kernel.writes == [("memory.limit_in_bytes", str(64 << 20))]
    kernel.writes.clear()
    os.remove(os.path.join(v1["memory"], "memory.memsw.limit_in_bytes"))   # booted without swapaccount=1
    controllers.V1.apply(v1, Resources(memory=Memory(limit=32 << 20, swap=64 << 20)))
    assert kernel.writes == [("memory.limit_in_bytes", str(32 << 20))]
    assert not os.path.exists(os.path.join(v1["memory"], "memory.memsw.limit_in_bytes")), "no file is created"


def test_kernel_memory_limits_are_passed_over_when_refused_or_absent(v1, kernel):
    kernel.refuse["memory.kmem.limit_in_bytes"] = errno.EOPNOTSUPP   # newer kernels refuse them
    os.remove(os.path.join(v1["memory"], "memory.kmem.tcp.limit_in_bytes"))
    controllers.V1.apply(v1, Resources(memory=Memory(limit=64 << 20, kernel=1 << 20, kernel_tcp=1 << 20,
                                                     disable_oom_killer=True)))
    assert [n for n, _ in kernel.writes] == ["memory.limit_in_bytes", "memory.oom_control"]


def test_swappiness_is_written_only_in_range_and_the_oom_switch_only_when_on(v1, kernel):
    for value in (0, 100, 101, -1):
        controllers.V1.apply(v1, Resources(memory=Memory(swappiness=value)))
    assert kernel.to("memory.swappiness") == ["0", "100"]
    assert kernel.to("memory.oom_control") == []


@pytest.mark.parametrize("limit,written", [(-1, "max"), (0, "max"), (1, "1"), (4096, "4096")])
def test_pids_minus_one_and_zero_are_no_limit(v1, v2, kernel, limit, written):
    controllers.V1.apply(v1, Resources(pids=limit))
    controllers.V2.apply(v2, Resources(pids=limit))
    assert kernel.to("pids.max") == [written, written]


def test_blkio_weights_go_to_bfq_where_the_kernel_has_no_cfq_files(v1, kernel):
    b = v1["blkio"]
    os.remove(os.path.join(b, "blkio.weight"))
    os.remove(os.path.join(b, "blkio.weight_device"))
    with open(os.path.join(b, "blkio.bfq.weight"), "w"):
        pass
    controllers.V1.apply(v1, Resources(block_io=BlockIO(weight=500, weight_device=(WeightDevice(8, 0, 600),))))
    assert kernel.to("blkio.bfq.weight") == ["500", "8:0 600"]


def test_v2_memory_swap_is_swap_minus_limit_and_max_for_minus_one(v2, kernel):
    controllers.V2.apply(v2, Resources(memory=Memory(limit=100 << 20, swap=100 << 20, reservation=-1)))
    controllers.V2.apply(v2, Resources(memory=Memory(limit=-1, swap=-1)))
    assert kernel.to("memory.max") == [str(100 << 20), "max"]
    assert kernel.to("memory.swap.max") == ["0", "max"]
    assert kernel.to("memory.low") == ["max"]
    kernel.writes.clear()
    os.remove(os.path.join(v2, "memory.swap.max"))   # a kernel without swap accounting: no swap to limit
    controllers.V2.apply(v2, Resources(memory=Memory(limit=64 << 20, swap=128 << 20)))
    assert kernel.writes == [("memory.max", str(64 << 20))]


@pytest.mark.parametrize("cpu,written", [
    (CPU(quota=50000), "50000 100000"),          # the period defaults to 100 ms, as runc's
    (CPU(period=50000), "max 50000"),
    (CPU(quota=-1, period=200000), "max 200000"),
    (CPU(quota=150000, period=100000), "150000 100000"),
])
def test_v2_cpu_max_is_quota_and_period(v2, kernel, cpu, written):
    controllers.V2.apply(v2, Resources(cpu=cpu))
    assert kernel.to("cpu.max") == [written]


def test_v2_writes_no_real_time_budget(v2, kernel):
    controllers.V2.apply(v2, Resources(cpu=CPU(realtime_period=1000000, realtime_runtime=950000)))
    assert kernel.writes == []


def test_boxkit_runs_limits_become_the_same_writes_on_v1(v1, kernel):
    """The policies of boxkit run, spelled out by from_limits: memsw = memory (no swap beyond the limit),
    --cpus as quota/period 100 ms, --memory-high as the v1 soft limit, deny-all then the safe nodes."""
    lim = Limits.parse(memory="500M", memory_high="400M", cpus="0.5", cpu_shares=512, pids=20, cpuset="0")
    controllers.V1.apply(v1, lim)
    assert kernel.writes[:3] == [("memory.limit_in_bytes", str(500 << 20)),
                                 ("memory.memsw.limit_in_bytes", str(500 << 20)),
                                 ("memory.soft_limit_in_bytes", str(400 << 20))]
    assert dict(kernel.writes)["cpu.cfs_quota_us"] == "50000" and dict(kernel.writes)["cpu.cfs_period_us"] == "100000"
    assert dict(kernel.writes)["cpuset.cpus"] == "0" and dict(kernel.writes)["pids.max"] == "20"
    devices = [(n, v) for n, v in kernel.writes if n.startswith("devices.")]
    assert devices == [("devices.deny", "a")] + [("devices.allow", r.line()) for r in RULES]
    assert kernel.to("memory.swappiness") == [] and kernel.to("memory.oom_control") == []


def test_boxkit_runs_limits_become_the_same_writes_on_v2(v2, kernel):
    lim = Limits.parse(memory="500M", memory_high="400M", memory_swap="600M", cpus="1.5", cpu_shares=1024, pids=20)
    controllers.V2.apply(v2, lim)
    assert dict(kernel.writes) == {"memory.max": str(500 << 20), "memory.swap.max": str(100 << 20),
                                   "memory.high": str(400 << 20), "cpu.weight": "39", "cpu.max": "150000 100000",
                                   "pids.max": "20"}


def test_privileged_allows_every_device_in_one_rule(v1, kernel):
    lim = Limits()
    lim.all_devices = True
    controllers.V1.apply(v1, lim)
    assert kernel.writes == [("devices.allow", "a")]


def test_no_limits_write_nothing_but_the_device_rules(v1, v2, kernel):
    controllers.V1.apply(v1, Limits())
    assert {n for n, _ in kernel.writes} == {"devices.deny", "devices.allow"}
    kernel.writes.clear()
    controllers.V2.apply(v2, Limits())
    assert kernel.writes == []


def test_the_typed_value_crosses_json_whole():
    import json

    assert Resources.from_wire(json.loads(json.dumps(EVERYTHING.to_wire()))) == EVERYTHING
    assert Resources.from_wire(json.loads(json.dumps(Resources().to_wire()))) == Resources()
    assert not Resources().any() and Resources(pids=1).any() and Resources(devices=()).any() is False


def test_on_request_controllers_are_switched_on_only_when_asked():
    assert controllers.v2_controllers(Resources()) == ["memory", "cpu", "pids", "io"]
    huge = Resources(hugepage_limits=(HugepageLimit("2MB", 1 << 21),), cpu=CPU(mems="0"))
    assert controllers.v2_controllers(huge) == ["memory", "cpu", "pids", "cpuset", "io", "hugetlb"]
    assert "hugetlb" not in controllers.v1_hierarchies(Resources()) and "net_cls" not in controllers.v1_hierarchies(Limits())
    assert {"hugetlb", "net_cls", "net_prio", "cpuset"} <= set(controllers.v1_hierarchies(EVERYTHING))


def test_a_refused_value_names_the_file_the_kernel_refused(v1, kernel):
    kernel.refuse["cpu.cfs_quota_us"] = errno.EINVAL
    g = cgroups.Group("x", host.CgroupHost("v1", {c: os.path.dirname(d) for c, d in v1.items()}), v1)
    with pytest.raises(cgroups.HostError) as e:
        g.apply(Resources(cpu=CPU(quota=50000, period=100000)))
    assert "cannot set limits on cgroup" in str(e.value) and e.value.path.endswith("cpu/cpu.cfs_quota_us")
    assert e.value.errno == errno.EINVAL


def test_the_spares_pre_group_takes_the_same_values_but_its_device_rules(v1, kernel):
    """A spare's group got its device rules when it was made (prepare); at the start only the limits."""
    g = PreGroup("spare-1", host.CgroupHost("v1", {c: os.path.dirname(d) for c, d in v1.items()}), dict(v1))
    g.limit("c1", Limits.parse(memory="64M", pids=7))
    assert kernel.writes == [("memory.limit_in_bytes", str(64 << 20)), ("memory.memsw.limit_in_bytes", str(64 << 20)),
                             ("pids.max", "7")]
    kernel.writes.clear()
    g.limit("c2", EVERYTHING)   # an OCI-shaped value is taken as well
    assert kernel.to("cpu.rt_runtime_us") == ["950000"] and kernel.to("devices.allow") == []


def test_hugepage_sizes_are_named_as_the_kernel_names_its_files(tmp_path):
    for kib in (2048, 1048576, 64, 32768):
        (tmp_path / f"hugepages-{kib}kB").mkdir()
    (tmp_path / "other").mkdir()
    assert sizes(str(tmp_path)) == ["64KB", "2MB", "32MB", "1GB"]
    assert sizes(str(tmp_path / "missing")) == []
    assert size_name(1536) == "1536KB"
