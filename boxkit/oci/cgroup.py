"""``linux.cgroupsPath`` and ``linux.resources``: the bundle's cgroup, where it says, with what it says.

``boxkit run`` names its groups itself (``boxkit/<id>`` in each hierarchy, :mod:`boxkit.cgroups`). A
bundle names the path (podman: ``/libpod_parent/libpod-<id>``; relative paths are taken below the
caller's own cgroup, as runc does) and lists the OCI resource fields, which this module writes to the
kernel's files — on v1 one directory per hierarchy (``memory.limit_in_bytes``, ``cpu.cfs_quota_us``,
``blkio.throttle.read_bps_device`` ...), on v2 the unified names (``memory.max``, ``cpu.max`` ...).
The group is a :class:`boxkit.cgroups.Group`, so killing and removing it is boxkit's code.
"""

from __future__ import annotations

import errno
import os

from ..cgroups import Group, cpuset
from ..cgroups.host import detect
from ..errors import HostError

DEFAULT_PARENT = "boxkit-runtime"


def _write(d: str, name: str, value) -> None:
    path = os.path.join(d, name)
    try:
        with open(path, "w") as f:
            f.write(str(value))
    except OSError as e:
        raise HostError("cannot write cgroup file", path, errno=e.errno,
                        hint="the host's kernel may lack this controller or refuse the value") from e


def _own_v1(controller_dir_name: str) -> str:
    """This process's group in one v1 hierarchy (for a relative cgroupsPath)."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            _n, ctrls, path = line.rstrip("\n").split(":", 2)
            if controller_dir_name in ctrls.split(","):
                return path
    return "/"


def group_dirs(cid: str, cgroups_path: str) -> tuple[Group, list[str]]:
    """The group's directories (not made yet) and the list of those to create, outermost first."""
    host = detect()
    if host.mode == "none":
        raise HostError("cannot create cgroup for", cid, errno=errno.ENOENT,
                        detail="no cgroup file system is mounted at /sys/fs/cgroup")
    # no cgroupsPath: boxkit-runtime/<id> below the caller's group, as boxkit run nests (host.parents)
    rel = cgroups_path or f"/{DEFAULT_PARENT}/{cid}"
    dirs: dict[str, str] = {}
    if host.version == 2:
        base = host.v2_root or "/sys/fs/cgroup"
        if not cgroups_path:
            rel = os.path.join(host.parents.get("", "/"), DEFAULT_PARENT, cid)
        elif not rel.startswith("/"):
            with open("/proc/self/cgroup") as f:
                own = next((ln.split(":", 2)[2].strip() for ln in f if ln.startswith("0::")), "/")
            rel = os.path.join(own, rel)
        d = os.path.join(base, rel.lstrip("/"))
        dirs = {c: d for c in host.v2_controllers} or {"unified": d}
    else:
        for ctrl, mnt in host.v1.items():
            if not cgroups_path:
                r = os.path.join(host.parents.get(ctrl, "/"), DEFAULT_PARENT, cid)
            else:
                r = rel if rel.startswith("/") else os.path.join(_own_v1(ctrl), rel)
            dirs[ctrl] = os.path.join(mnt, r.lstrip("/"))
    return Group(cid, host, dirs), sorted(set(dirs.values()))


def create(cid: str, cgroups_path: str, resources: dict, pid: int, devices: list[dict]) -> Group:
    group, todo = group_dirs(cid, cgroups_path)
    for d in todo:
        _makedirs(d, group)
    try:
        if group.host.version == 2:
            _apply_v2(group, resources)
        else:
            _apply_v1(group, resources, [x for x in devices if x["type"] in ("c", "b")])
        group.add(pid)
    except BaseException:
        try:
            group.remove()
        except OSError:
            pass
        remove_default_parent(group.dirs)
        raise
    return group


def _makedirs(d: str, group: Group) -> None:
    # cpuset v1 groups start with no cpus and refuse tasks: each new level copies its parent's
    parts = []
    p = d
    while not os.path.isdir(p):
        parts.append(p)
        p = os.path.dirname(p)
    for p in reversed(parts):
        try:
            os.mkdir(p, 0o755)
        except FileExistsError:
            pass
        except OSError as e:
            raise HostError("cannot create cgroup", p, errno=e.errno) from e
        if group.host.version == 1 and group.dirs.get("cpuset") and d == group.dirs["cpuset"]:
            cpuset.v1_prepare(p)


def _dev(d: dict) -> str:
    return f"{d['major']}:{d['minor']}"


ALWAYS_ALLOWED = ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
                  "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"]


def _apply_v1(group: Group, res: dict, extra_devices: list[dict]) -> None:
    dirs = group.dirs
    mem = res.get("memory") or {}
    if mem and "memory" in dirs:
        m = dirs["memory"]
        limit, swap = mem.get("limit"), mem.get("swap")
        if limit is not None:
            # memsw must stay >= the limit: raise memsw first when growing, limit first when shrinking
            if swap is not None and swap != -1 and os.path.exists(os.path.join(m, "memory.memsw.limit_in_bytes")):
                try:
                    _write(m, "memory.memsw.limit_in_bytes", swap)
                    _write(m, "memory.limit_in_bytes", limit)
                except HostError:
                    _write(m, "memory.limit_in_bytes", limit)
                    _write(m, "memory.memsw.limit_in_bytes", swap)
            else:
                _write(m, "memory.limit_in_bytes", limit)
        if mem.get("reservation") is not None:
            _write(m, "memory.soft_limit_in_bytes", mem["reservation"])
        for key, name in (("kernel", "memory.kmem.limit_in_bytes"), ("kernelTCP", "memory.kmem.tcp.limit_in_bytes")):
            if mem.get(key) is not None and os.path.exists(os.path.join(m, name)):
                try:
                    _write(m, name, mem[key])
                except HostError:
                    pass   # cgroup v1 kmem limits are deprecated (5.4) and refused by newer kernels
        if mem.get("swappiness") is not None and 0 <= mem["swappiness"] <= 100:
            _write(m, "memory.swappiness", mem["swappiness"])
        if mem.get("disableOOMKiller"):
            _write(m, "memory.oom_control", 1)
    cpu = res.get("cpu") or {}
    if cpu:
        c = dirs.get("cpu")
        if c:
            if cpu.get("shares"):
                _write(c, "cpu.shares", cpu["shares"])
            if cpu.get("period"):
                _write(c, "cpu.cfs_period_us", cpu["period"])
            if cpu.get("quota") not in (None, 0):
                _write(c, "cpu.cfs_quota_us", cpu["quota"])
            if cpu.get("realtimePeriod"):
                _write(c, "cpu.rt_period_us", cpu["realtimePeriod"])
            if cpu.get("realtimeRuntime"):
                _write(c, "cpu.rt_runtime_us", cpu["realtimeRuntime"])
        s = dirs.get("cpuset")
        if s:
            if cpu.get("cpus"):
                _write(s, "cpuset.cpus", cpu["cpus"])
            if cpu.get("mems"):
                _write(s, "cpuset.mems", cpu["mems"])
    pids = res.get("pids") or {}
    if pids.get("limit") is not None and "pids" in dirs:
        _write(dirs["pids"], "pids.max", pids["limit"] if pids["limit"] > 0 else "max")
    blk = res.get("blockIO") or {}
    if blk and "blkio" in dirs:
        b = dirs["blkio"]
        weight = "blkio.weight" if os.path.exists(os.path.join(b, "blkio.weight")) else "blkio.bfq.weight"
        if blk.get("weight"):
            _write(b, weight, blk["weight"])
        if blk.get("leafWeight"):
            _write(b, "blkio.leaf_weight", blk["leafWeight"])
        for wd in blk.get("weightDevice") or []:
            if wd.get("weight"):
                _write(b, weight + "_device" if weight == "blkio.weight" else weight, f"{_dev(wd)} {wd['weight']}")
            if wd.get("leafWeight"):
                _write(b, "blkio.leaf_weight_device", f"{_dev(wd)} {wd['leafWeight']}")
        for key, name in (("throttleReadBpsDevice", "read_bps_device"), ("throttleWriteBpsDevice", "write_bps_device"),
                          ("throttleReadIOPSDevice", "read_iops_device"),
                          ("throttleWriteIOPSDevice", "write_iops_device")):
            for td in blk.get(key) or []:
                _write(b, f"blkio.throttle.{name}", f"{_dev(td)} {td['rate']}")
    for hp in res.get("hugepageLimits") or []:
        if "hugetlb" in dirs:
            _write(dirs["hugetlb"], f"hugetlb.{hp['pageSize']}.limit_in_bytes", hp["limit"])
    net = res.get("network") or {}
    if net.get("classID") is not None and "net_cls" in dirs:
        _write(dirs["net_cls"], "net_cls.classid", net["classID"])
    for prio in net.get("priorities") or []:
        if "net_prio" in dirs:
            _write(dirs["net_prio"], "net_prio.ifpriomap", f"{prio['name']} {prio['priority']}")
    if "devices" in dirs and res.get("devices") is not None:
        d = dirs["devices"]
        for rule in res["devices"]:
            kind = rule.get("type") or "a"
            major = "*" if rule.get("major") in (None, -1) else rule["major"]
            minor = "*" if rule.get("minor") in (None, -1) else rule["minor"]
            line = "a" if kind == "a" and major == "*" and minor == "*" else \
                f"{kind} {major}:{minor} {rule.get('access') or 'rwm'}"
            _write(d, "devices.allow" if rule.get("allow") else "devices.deny", line)
        # what runc allows after the bundle's rules: the nodes every container gets (and those the
        # bundle lists in linux.devices), and mknod of any node (opening it is what the rules guard)
        for line in ALWAYS_ALLOWED + [f"{x['type']} {x['major']}:{x['minor']} rwm" for x in extra_devices]:
            _write(d, "devices.allow", line)


def _apply_v2(group: Group, res: dict) -> None:
    d = group.paths[0]
    mem = res.get("memory") or {}
    if mem.get("limit") is not None:
        _write(d, "memory.max", mem["limit"] if mem["limit"] > 0 else "max")
        if mem.get("swap") is not None:
            _write(d, "memory.swap.max", "max" if mem["swap"] == -1 else max(mem["swap"] - mem["limit"], 0))
    if mem.get("reservation") is not None:
        _write(d, "memory.low", mem["reservation"])
    cpu = res.get("cpu") or {}
    if cpu.get("shares"):
        _write(d, "cpu.weight", 1 + ((cpu["shares"] - 2) * 9999) // 262142)
    if cpu.get("quota") or cpu.get("period"):
        q = cpu.get("quota")
        _write(d, "cpu.max", f"{q if q and q > 0 else 'max'} {cpu.get('period') or 100000}")
    if cpu.get("cpus"):
        _write(d, "cpuset.cpus", cpu["cpus"])
    if cpu.get("mems"):
        _write(d, "cpuset.mems", cpu["mems"])
    pids = res.get("pids") or {}
    if pids.get("limit") is not None:
        _write(d, "pids.max", pids["limit"] if pids["limit"] > 0 else "max")
    if (res.get("blockIO") or {}).get("weight"):
        _write(d, "io.weight", res["blockIO"]["weight"])


def open_dirs(cid: str, dirs: dict[str, str]) -> Group:
    return Group(cid, detect(), dirs)


def remove_default_parent(dirs: dict[str, str]) -> None:
    """The last container in ``boxkit-runtime/`` takes the directory with it (the host's cgroup
    tree holds nothing of ours after delete); another container still in it keeps it (EBUSY)."""
    for d in set(dirs.values()):
        parent = os.path.dirname(d)
        if os.path.basename(parent) == DEFAULT_PARENT:
            try:
                os.rmdir(parent)
            except OSError:
                pass
