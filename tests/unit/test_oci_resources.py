"""An OCI bundle's ``linux.resources`` as hostile input: typed in ``bundle.to_plan``, every bad value
refused with the config file and the field, before anything is made (no root needed)."""

from __future__ import annotations

import copy
import json
import os

import pytest

from boxkit.cgroups import host
from boxkit.cgroups.cpu import CPU
from boxkit.cgroups.devices import RULES, DeviceRule
from boxkit.cgroups.hugetlb import HugepageLimit
from boxkit.cgroups.io import BlockIO, Throttle, WeightDevice
from boxkit.cgroups.memory import Memory
from boxkit.cgroups.network import Network
from boxkit.cgroups.resources import Resources
from boxkit.errors import SpecError
from boxkit.oci import bundle, cli
from boxkit.oci import resources as ociresources
from boxkit.runtime.plan import Plan

FULL = {
    "memory": {"limit": 200 << 20, "reservation": 100 << 20, "swap": 300 << 20, "kernel": 0, "kernelTCP": -1,
               "swappiness": 10, "disableOOMKiller": True, "useHierarchy": True},
    "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "realtimeRuntime": 950000,
            "realtimePeriod": 1000000, "cpus": "0-1,3", "mems": "0", "burst": 0, "idle": 0},
    "pids": {"limit": 0},
    "blockIO": {"weight": 500, "leafWeight": 0,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 600, "leafWeight": 400}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 40}]},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}],
    "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]},
    "devices": [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 10, "minor": 229,
                                                    "access": "rw"}, {"allow": True, "type": "b", "major": -1}],
    "someFutureField": {"whatever": 1},
}


def test_every_field_becomes_its_typed_value():
    nodes = [{"type": "c", "major": 1, "minor": 3}, {"type": "p", "major": 0, "minor": 0}]
    r = ociresources.parse(FULL, "/b/config.json", nodes)
    assert r == Resources(
        # 0 is "not set", as runc reads Go's zero value; -1 is "no limit"
        memory=Memory(limit=200 << 20, reservation=100 << 20, swap=300 << 20, kernel=None, kernel_tcp=-1,
                      swappiness=10, disable_oom_killer=True),
        cpu=CPU(shares=1024, quota=50000, period=100000, burst=0, realtime_runtime=950000,
                realtime_period=1000000, cpus="0-1,3", mems="0", idle=0),
        pids=0,
        block_io=BlockIO(weight=500, leaf_weight=None, weight_device=(WeightDevice(8, 0, 600, 400),),
                         throttle_read_bps=(Throttle(8, 0, 1000),), throttle_write_iops=(Throttle(8, 16, 40),)),
        hugepage_limits=(HugepageLimit("2MB", 4 << 20),),
        network=Network(1048577, (("eth0", 5),)),
        # the bundle's rules, then every container's, then the nodes linux.devices makes (a fifo is no rule)
        devices=(DeviceRule(False), DeviceRule(True, "c", 10, 229, "rw"), DeviceRule(True, "b", None, None),
                 *RULES, DeviceRule(True, "c", 1, 3)))


def test_no_resources_or_no_devices_leave_the_groups_device_list_alone():
    assert ociresources.parse(None, "/b/config.json") == Resources()
    assert ociresources.parse({"pids": {"limit": 5}}, "/b/config.json").devices is None
    assert ociresources.parse({"devices": []}, "/b/config.json").devices == RULES


BAD = [
    # wrong types
    ("memory", "lots", "memory"),
    ("cpu", [1], "cpu"),
    ("blockIO", 5, "blockIO"),
    ("network", "eth0", "network"),
    ("blockIO.throttleWriteBpsDevice", {"major": 8}, "blockIO.throttleWriteBpsDevice"),
    ("network.priorities", ["eth0"], "network.priorities[0]"),
    ("memory.limit", "64M", "memory.limit"),
    ("memory.limit", 1.5, "memory.limit"),
    ("memory.limit", True, "memory.limit"),
    ("memory.disableOOMKiller", 1, "memory.disableOOMKiller"),
    ("memory.useHierarchy", "yes", "memory.useHierarchy"),
    ("cpu.cpus", 3, "cpu.cpus"),
    ("hugepageLimits", {"pageSize": "2MB"}, "hugepageLimits"),
    ("devices", {"allow": True}, "devices"),
    ("blockIO.weightDevice", [7], "blockIO.weightDevice[0]"),
    # negative or absurd
    ("memory.limit", -2, "memory.limit"),
    ("memory.limit", 1 << 63, "memory.limit"),
    ("memory.reservation", -5, "memory.reservation"),
    ("memory.swappiness", 101, "memory.swappiness"),
    ("memory.swappiness", -2, "memory.swappiness"),
    ("cpu.shares", 1, "cpu.shares"),
    ("cpu.shares", 262145, "cpu.shares"),
    ("cpu.quota", 999, "cpu.quota"),
    ("cpu.quota", -2, "cpu.quota"),
    ("cpu.period", 999, "cpu.period"),
    ("cpu.period", 1_000_001, "cpu.period"),
    ("cpu.idle", 2, "cpu.idle"),
    ("cpu.burst", -1, "cpu.burst"),
    ("cpu.realtimeRuntime", -2, "cpu.realtimeRuntime"),
    ("pids.limit", -2, "pids.limit"),
    ("pids.limit", 5_000_000, "pids.limit"),
    ("pids", {}, "pids"),
    ("blockIO.weight", 5, "blockIO.weight"),
    ("blockIO.weight", 1001, "blockIO.weight"),
    ("blockIO.throttleReadBpsDevice", [{"major": 8, "minor": 0, "rate": -1}], "blockIO.throttleReadBpsDevice[0].rate"),
    ("blockIO.throttleReadBpsDevice", [{"major": -8, "minor": 0, "rate": 1}], "blockIO.throttleReadBpsDevice[0].major"),
    ("blockIO.throttleReadBpsDevice", [{"major": 8, "minor": 0}], "blockIO.throttleReadBpsDevice[0]"),
    ("hugepageLimits", [{"pageSize": "2MB", "limit": -1}], "hugepageLimits[0].limit"),
    ("network.classID", 1 << 32, "network.classID"),
    ("network.priorities", [{"name": "eth0", "priority": -1}], "network.priorities[0].priority"),
    ("network.priorities", [{"name": "a/b", "priority": 1}], "network.priorities[0].name"),
    ("network.priorities", [{"name": "x" * 16, "priority": 1}], "network.priorities[0].name"),
    # unknown device types and malformed rules
    ("devices", [{"allow": True, "type": "u"}], "devices[0].type"),
    ("devices", [{"allow": True, "type": "p"}], "devices[0].type"),
    ("devices", [{"allow": True, "access": "rwx"}], "devices[0].access"),
    ("devices", [{"allow": True, "access": "rr"}], "devices[0].access"),
    ("devices", [{"type": "c"}], "devices[0]"),
    ("devices", [{"allow": "yes"}], "devices[0].allow"),
    ("devices", [{"allow": True, "type": "c", "major": -2}], "devices[0].major"),
    # a hugepage size that is not a size, a cpus/mems list that does not parse
    ("hugepageLimits", [{"pageSize": "2M", "limit": 1}], "hugepageLimits[0].pageSize"),
    ("hugepageLimits", [{"pageSize": "0MB", "limit": 1}], "hugepageLimits[0].pageSize"),
    ("cpu.cpus", "0-", "cpu.cpus"),
    ("cpu.cpus", "3-1", "cpu.cpus"),
    ("cpu.cpus", "0,,1", "cpu.cpus"),
    ("cpu.mems", "zero", "cpu.mems"),
    ("cpu.mems", "0 1", "cpu.mems"),
    # memory+swap below the limit, or without one
    ("memory.swap", 100 << 20, "memory.swap"),
    # what the runtime does not write
    ("unified", {"memory.high": "1"}, "unified"),
    ("rdma", {"mlx": {"hcaHandles": 1}}, "rdma"),
]


def _put(res: dict, where: str, value) -> dict:
    res = copy.deepcopy(res)
    *path, last = where.split(".")
    d = res
    for k in path:
        d = d.setdefault(k, {})
    d[last] = value
    return res


@pytest.mark.parametrize("where,value,field", BAD, ids=[f"{w}={v!r}"[:60] for w, v, _ in BAD])
def test_a_bad_value_is_refused_naming_the_config_file_and_the_field(where, value, field):
    base = {"memory": {"limit": 200 << 20}}
    with pytest.raises(SpecError) as e:
        ociresources.parse(_put(base, where, value), "/bundles/b1/config.json")
    msg = str(e.value)
    assert msg.startswith(f"invalid /bundles/b1/config.json field linux.resources.{field} "), msg
    assert e.value.exit_code == 125 and ": " in msg


def test_a_swap_limit_needs_a_memory_limit():
    for memory in ({"swap": 1 << 30}, {"limit": -1, "swap": 1 << 30}):
        with pytest.raises(SpecError, match="linux.resources.memory.swap .*needs a memory limit"):
            ociresources.parse({"memory": memory}, "/b/config.json")
    assert ociresources.parse({"memory": {"swap": -1}}, "/b/config.json").memory.swap == -1


def test_resources_that_are_not_an_object_are_refused():
    with pytest.raises(SpecError, match="/b/config.json field linux.resources "):
        ociresources.parse(["memory"], "/b/config.json")


HYBRID = host.CgroupHost("hybrid", {c: f"/sys/fs/cgroup/{c}" for c in
                                    ("memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "devices", "freezer")})
V2 = host.CgroupHost("v2", {}, "/sys/fs/cgroup", ["cpuset", "cpu", "io", "memory", "pids"])


@pytest.mark.parametrize("res,on,field,why", [
    ({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}, HYBRID, "hugepageLimits", "no hugetlb cgroup hierarchy"),
    ({"network": {"classID": 1}}, HYBRID, "network.classID", "no net_cls cgroup hierarchy"),
    ({"network": {"priorities": [{"name": "lo", "priority": 1}]}}, HYBRID, "network.priorities", "no net_prio"),
    ({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}, V2, "hugepageLimits", "offers no hugetlb controller"),
    ({"memory": {"limit": 1 << 30}}, host.CgroupHost("v1", {"pids": "/p"}), "memory", "no memory cgroup hierarchy"),
    ({"cpu": {"realtimePeriod": 1000}}, host.CgroupHost("v1", {"pids": "/p"}), "cpu.realtime", "no cpu cgroup"),
    ({"cpu": {"mems": "0"}}, host.CgroupHost("v2", {}, "/c", ["memory"]), "cpu.cpus", "offers no cpuset controller"),
    ({"blockIO": {"weight": 100}}, host.CgroupHost("v2", {}, "/c", ["memory"]), "blockIO", "offers no io controller"),
    ({"pids": {"limit": 1}}, host.CgroupHost("v2", {}, "/c", ["memory"]), "pids", "offers no pids controller"),
])
def test_a_limit_the_host_cannot_enforce_is_refused(res, on, field, why):
    r = ociresources.parse(res, "/b/config.json")
    with pytest.raises(SpecError) as e:
        ociresources.check_host(r, "/b/config.json", on, page_sizes=["2MB", "1GB"])
    assert f"/b/config.json field linux.resources.{field} " in str(e.value) and why in str(e.value)


def test_a_hugepage_size_the_kernel_lacks_is_refused():
    on = host.CgroupHost("v2", {}, "/sys/fs/cgroup", ["memory", "hugetlb"])
    r = ociresources.parse({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}, {"pageSize": "16GB", "limit": 1}]},
                           "/b/config.json")
    with pytest.raises(SpecError, match=r"hugepageLimits\[1\].pageSize '16GB': this kernel has huge pages of 2MB, 1GB"):
        ociresources.check_host(r, "/b/config.json", on, page_sizes=["2MB", "1GB"])
    with pytest.raises(SpecError, match="this kernel has no huge pages"):
        ociresources.check_host(r, "/b/config.json", on, page_sizes=[])
    ociresources.check_host(ociresources.parse({"hugepageLimits": [{"pageSize": "1GB", "limit": 0}]}, "/b/c"),
                            "/b/c", on, page_sizes=["2MB", "1GB"])


def test_v2_takes_what_it_has_no_file_for_as_runc_does():
    """Fields v2 has no file for are not refused there (runc does not write them either)."""
    r = ociresources.parse({"memory": {"swappiness": 10, "kernel": 1 << 20}, "cpu": {"realtimeRuntime": 1000},
                            "network": {"classID": 1}, "devices": [{"allow": False}]}, "/b/config.json")
    ociresources.check_host(r, "/b/config.json", V2, page_sizes=[])
    ociresources.check_host(r, "/b/config.json", host.CgroupHost("none"), page_sizes=[])


@pytest.fixture
def bdir(tmp_path):
    (tmp_path / "rootfs").mkdir()
    return tmp_path


def test_the_bundle_carries_the_typed_value_through_the_plans_json(bdir):
    cfg = bundle.example_config(["true"])
    cfg["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 42}, "cpu": {"shares": 512},
                                 "devices": [{"allow": False}]}
    cfg["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]
    (bdir / "config.json").write_text(json.dumps(cfg))
    plan = bundle.to_plan("x", str(bdir), bundle.load(str(bdir)))
    assert plan.resources.memory.limit == 64 << 20 and plan.resources.pids == 42
    assert plan.resources.devices[-1] == DeviceRule(True, "c", 10, 229), "linux.devices' nodes are allowed last"
    assert Plan.from_wire(json.loads(json.dumps(plan.to_wire()))) == plan
    old = plan.to_wire() | {"resources": {}}   # a plan.json written before resources were typed
    assert Plan.from_wire(old).resources is None


def test_create_with_a_bad_value_stops_before_anything_is_made(bdir, tmp_path, capsys):
    """The exit status bundle errors use (1, as runc's), one sentence with the path and the field, and
    no state directory: nothing was made, so nothing is half-applied."""
    cfg = bundle.example_config(["true"])
    cfg["linux"]["resources"]["pids"] = {"limit": -7}
    (bdir / "config.json").write_text(json.dumps(cfg))
    root = tmp_path / "state"
    code = cli.main(["--root", str(root), "create", "--bundle", str(bdir), "hostile"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"invalid {os.path.realpath(bdir)}/config.json field linux.resources.pids.limit -7: " in err, err
    assert not (root / "hostile").exists()
