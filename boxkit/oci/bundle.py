"""An OCI bundle's ``config.json``, checked as hostile input and turned into boxkit's plan.

The bundle is written by someone else (podman, a test suite, a user): every field is checked for its
type before it is used, paths inside the container must be absolute and free of NUL bytes, and the
root file system must be a directory of the bundle's (a symlink out of it is resolved and then must
still exist as a directory). What boxkit cannot do, it refuses with a sentence naming the field —
the spec lets a runtime ignore *unknown* properties, never known ones it does not honour.

The plan is the same :class:`~boxkit.runtime.plan.Plan` :mod:`boxkit.runtime.init` executes for
``boxkit run``, with the fields the OCI front fills (their defaults are ``boxkit run``'s behaviour):

* ``mount_entries`` — the bundle's mounts in order, replacing boxkit's own /proc, /dev, /sys set;
* ``masked`` / ``readonly_paths`` — replacing docker's defaults; ``devices``, ``sysctl``;
* ``cap_sets`` — the five capability sets as masks; ``no_new_privs``; ``rlimits``; ``oom_score_adj``;
  ``additional_gids``; ``join`` (namespaces joined by path); ``id_maps`` (multi-range maps);
* ``rootfs_propagation``, ``no_pivot``, ``terminal``;
* ``cgroups_path`` and ``resources`` — ``linux.resources`` as the typed
  :class:`~boxkit.cgroups.resources.Resources` that ``boxkit run``'s limits also become, checked by
  :mod:`boxkit.oci.resources` (against this host too) and written by :mod:`boxkit.cgroups`.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal

from .. import _sys
from ..errors import SpecError
from ..runtime.plan import Plan
from ..security import seccomp
from . import resources

CONFIG_MAX = 4 << 20   # bytes: a config.json is a few KiB; a huge one is not a config

NAMESPACES = {"pid": "pid", "network": "net", "mount": "mount", "ipc": "ipc", "uts": "uts",
              "user": "user", "cgroup": "cgroup", "time": "time"}

MOUNT_FLAGS = {
    "ro": (_sys.MS_RDONLY, True), "rw": (_sys.MS_RDONLY, False),
    "nosuid": (_sys.MS_NOSUID, True), "suid": (_sys.MS_NOSUID, False),
    "nodev": (_sys.MS_NODEV, True), "dev": (_sys.MS_NODEV, False),
    "noexec": (_sys.MS_NOEXEC, True), "exec": (_sys.MS_NOEXEC, False),
    "sync": (16, True), "async": (16, False),
    "dirsync": (128, True), "remount": (_sys.MS_REMOUNT, True),
    "mand": (64, True), "nomand": (64, False),
    "atime": (_sys.MS_NOATIME, False), "noatime": (_sys.MS_NOATIME, True),
    "diratime": (2048, False), "nodiratime": (2048, True),
    "relatime": (1 << 21, True), "norelatime": (1 << 21, False),
    "strictatime": (_sys.MS_STRICTATIME, True), "nostrictatime": (_sys.MS_STRICTATIME, False),
    "bind": (_sys.MS_BIND, True), "rbind": (_sys.MS_BIND | _sys.MS_REC, True),
    "silent": (_sys.MS_SILENT, True), "loud": (_sys.MS_SILENT, False),
}
MS_UNBINDABLE = 1 << 17
MS_SHARED = 1 << 20
PROPAGATION = {
    "private": _sys.MS_PRIVATE, "rprivate": _sys.MS_PRIVATE | _sys.MS_REC,
    "shared": MS_SHARED, "rshared": MS_SHARED | _sys.MS_REC,
    "slave": _sys.MS_SLAVE, "rslave": _sys.MS_SLAVE | _sys.MS_REC,
    "unbindable": MS_UNBINDABLE, "runbindable": MS_UNBINDABLE | _sys.MS_REC,
}
# mount options the kernel does not take and runc ignores or handles itself
IGNORED_OPTIONS = {"defaults", "private", "rprivate", "shared", "rshared", "slave", "rslave",
                   "unbindable", "runbindable", "tmpcopyup", "idmap", "ridmap", "nocopyup", "copyup"}
MOUNT_TYPES = {"bind", "tmpfs", "proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2", "none", "",
               "shm", "ramfs", "overlay", "fuse.overlay"}

RLIMITS = {name: getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_")}

# fields this runtime knows and does not honour: refused rather than ignored
REFUSED = {
    ("linux", "intelRdt"): "Intel RDT is not supported; remove linux.intelRdt",
    ("linux", "personality"): "execution domains are not supported; remove linux.personality",
    ("linux", "mountLabel"): "SELinux is not supported; remove linux.mountLabel",
    ("process", "apparmorProfile"): "AppArmor is not supported; remove process.apparmorProfile",
    ("process", "selinuxLabel"): "SELinux is not supported; remove process.selinuxLabel",
    ("process", "ioPriority"): "I/O priorities are not supported; remove process.ioPriority",
    ("process", "scheduler"): "scheduler settings are not supported; remove process.scheduler",
    ("process", "execCPUAffinity"): "exec CPU affinity is not supported; remove process.execCPUAffinity",
    ("linux", "timeOffsets"): "time namespace offsets are not supported; remove linux.timeOffsets",
    ("linux", "netDevices"): "moving network devices in is not supported; remove linux.netDevices",
    ("linux", "memoryPolicy"): "NUMA memory policies are not supported; remove linux.memoryPolicy",
}


def refuse(field: str, value: object, why: str) -> SpecError:
    return SpecError(f"config.json field {field}", value, why)


def _typed(obj: dict, key: str, kind, field: str, default=None):
    v = obj.get(key, default)
    if v is None:
        return default
    if kind is int and isinstance(v, bool):
        raise refuse(field, v, "expected a number")
    if not isinstance(v, kind):
        raise refuse(field, v, f"expected {_KIND_NAMES.get(kind, 'a value of another type')}")
    return v


_KIND_NAMES = {dict: "an object", list: "a list", str: "a string", int: "a number", bool: "true or false"}


def _path_in(field: str, p: object) -> str:
    if not isinstance(p, str) or not p.startswith("/") or "\0" in p:
        raise refuse(field, p, "expected an absolute path inside the container")
    return os.path.normpath(p)


def _strings(field: str, v: object) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(s, str) and "\0" not in s for s in v):
        raise refuse(field, v, "expected a list of strings")
    return list(v)


def load(bundle: str) -> dict:
    path = os.path.join(bundle, "config.json")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as e:
        raise SpecError("bundle", bundle, f"cannot open config.json: {os.strerror(e.errno or 0).lower()}") from e
    with os.fdopen(fd, "rb") as f:
        data = f.read(CONFIG_MAX + 1)
    if len(data) > CONFIG_MAX:
        raise SpecError("bundle config", path, f"larger than {CONFIG_MAX} bytes")
    try:
        cfg = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise SpecError("bundle config", path, f"not JSON: {e}") from None
    if not isinstance(cfg, dict):
        raise SpecError("bundle config", path, "expected a JSON object")
    return cfg


def to_plan(cid: str, bundle: str, cfg: dict) -> Plan:
    """config.json → plan. Raises :class:`SpecError` naming the first field it cannot honour."""
    bundle = os.path.realpath(bundle)
    version = cfg.get("ociVersion")
    if not isinstance(version, str) or not re.fullmatch(r"1\.\d+\.\d+(-[0-9A-Za-z.+-]+)?", version):
        raise refuse("ociVersion", version, "expected a 1.x.y version of the runtime spec")
    for (sect, key), why in REFUSED.items():
        sub = cfg.get(sect)
        if isinstance(sub, dict) and sub.get(key) not in (None, "", {}, []):
            raise refuse(f"{sect}.{key}", "...", why)
    root = _typed(cfg, "root", dict, "root", {})
    rpath = _typed(root, "path", str, "root.path", "")
    if not rpath or "\0" in rpath:
        raise refuse("root.path", rpath, "the bundle must name its root file system")
    rootfs = os.path.realpath(os.path.join(bundle, rpath))
    if not os.path.isdir(rootfs):
        raise refuse("root.path", rpath, f"{rootfs} is not a directory")
    linux = _typed(cfg, "linux", dict, "linux", {})
    # no process: create sets the container up, start refuses (runtime.md: start MUST fail then)
    proc = _typed(cfg, "process", dict, "process", None)
    namespaces = _namespaces(linux)
    if "mount" not in namespaces["ns"] and "mount" not in namespaces["join"] and rootfs == "/":
        raise refuse("root.path", rpath, "a container in the runtime's own mount namespace needs a root "
                     "other than the host's /")
    process = _process(proc if proc is not None else {"args": ["/"], "capabilities": {}})
    plan = Plan(id=cid, oci=True, bundle=bundle, merged=rootfs,
                readonly=_typed(root, "readonly", bool, "root.readonly", False),
                hostname=_typed(cfg, "hostname", str, "hostname", None),
                annotations=_annotations(cfg), network="none", no_process=proc is None,
                **namespaces, **process)
    plan.mount_entries = [_mount(i, m) for i, m in enumerate(_typed(cfg, "mounts", list, "mounts", []))]
    plan.masked = [_path_in("linux.maskedPaths", p) for p in _strings("linux.maskedPaths",
                                                                         linux.get("maskedPaths"))]
    plan.readonly_paths = [_path_in("linux.readonlyPaths", p)
                              for p in _strings("linux.readonlyPaths", linux.get("readonlyPaths"))]
    plan.devices = [_device(d) for d in _typed(linux, "devices", list, "linux.devices", [])]
    sysctl = _typed(linux, "sysctl", dict, "linux.sysctl", {})
    for k, v in sysctl.items():
        if not isinstance(v, str):
            raise refuse(f"linux.sysctl.{k}", v, "expected a string value")
        if ".." in k or k.startswith(".") or "\0" in k or "\0" in v:
            raise refuse(f"linux.sysctl.{k}", v, "not a sysctl name")
    plan.sysctl = dict(sysctl)
    prop = _typed(linux, "rootfsPropagation", str, "linux.rootfsPropagation", "")
    if prop and prop not in PROPAGATION:
        raise refuse("linux.rootfsPropagation", prop, "expected one of " + ", ".join(PROPAGATION))
    plan.rootfs_propagation = PROPAGATION.get(prop, 0)
    plan.cgroups_path = _typed(linux, "cgroupsPath", str, "linux.cgroupsPath", "")
    if "\0" in plan.cgroups_path or ".." in plan.cgroups_path.split("/"):
        raise refuse("linux.cgroupsPath", plan.cgroups_path, "expected a path without '..'")
    # linux.resources: typed and checked against this host before anything is made (oci/resources.py)
    config = os.path.join(bundle, "config.json")
    plan.resources = resources.parse(linux.get("resources"), config, plan.devices)
    resources.check_host(plan.resources, config)
    sc = _typed(linux, "seccomp", dict, "linux.seccomp", None)
    if sc:   # the same checks and compiler as boxkit run's profiles (boxkit/security/seccomp.py)
        caps = (plan.cap_sets or {}).get("bounding")
        plan.seccomp = seccomp.program(seccomp.Profile(sc, "linux.seccomp"),
                                          caps if caps is not None else _sys.cap_mask(list(_sys.CAPABILITIES)))
    if cfg.get("domainname"):
        raise refuse("domainname", cfg["domainname"], "setting the NIS domain name is not supported; remove it")
    plan.hooks = _hooks(cfg)
    if plan.hostname and "uts" not in plan.ns and "uts" not in plan.join:
        raise refuse("hostname", plan.hostname, "setting a hostname needs a uts namespace of its own")
    return plan


def _annotations(cfg: dict) -> dict:
    ann = _typed(cfg, "annotations", dict, "annotations", {})
    for k, v in ann.items():
        if not isinstance(v, str):
            raise refuse(f"annotations.{k}", v, "expected a string")
    return dict(ann)


def _namespaces(linux: dict) -> dict:
    ns: list[str] = []
    join: dict[str, str] = {}
    for i, n in enumerate(_typed(linux, "namespaces", list, "linux.namespaces", [])):
        if not isinstance(n, dict) or n.get("type") not in NAMESPACES:
            raise refuse(f"linux.namespaces[{i}].type", n.get("type") if isinstance(n, dict) else n,
                         "expected one of " + ", ".join(NAMESPACES))
        name = NAMESPACES[n["type"]]
        if name in ns or name in join:
            raise refuse(f"linux.namespaces[{i}]", n["type"], "the namespace is listed twice")
        path = n.get("path")
        if path:
            join[name] = _path_in(f"linux.namespaces[{i}].path", path)
        else:
            ns.append(name)
    if "mount" not in ns and "mount" not in join and ("user" in ns or "user" in join):
        # the spec lets a container inherit the runtime's mount namespace (see process.setup_bundle_rootfs);
        # a user namespace's root may not mount in a namespace its user namespace does not own
        raise refuse("linux.namespaces", "user", "a user namespace needs a mount namespace of the container's "
                     "own too")
    maps = {}
    for key in ("uidMappings", "gidMappings"):
        rows = []
        for j, m in enumerate(_typed(linux, key, list, f"linux.{key}", [])):
            vals = [m.get(f) if isinstance(m, dict) else None for f in ("containerID", "hostID", "size")]
            if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 32 for v in vals):
                raise refuse(f"linux.{key}[{j}]", m, "expected containerID, hostID and size as numbers")
            rows.append(vals)
        maps[key] = rows
    if (maps["uidMappings"] or maps["gidMappings"]) and "user" not in ns:
        raise refuse("linux.uidMappings", maps["uidMappings"], "id mappings need a new user namespace")
    if "user" in ns and not maps["uidMappings"]:
        raise refuse("linux.uidMappings", [], "a new user namespace needs id mappings")
    return {"ns": ns, "join": join, "id_maps": maps}


def _process(proc: dict) -> dict:
    args = _strings("process.args", proc.get("args"))
    if not args:
        raise refuse("process.args", proc.get("args"), "expected the command as a non-empty list")
    env = {}
    for item in _strings("process.env", proc.get("env")):
        k, eq, v = item.partition("=")
        if not eq or not k:
            raise refuse("process.env", item, "expected KEY=VALUE")
        env[k] = v
    cwd = _path_in("process.cwd", proc.get("cwd", "/") or "/")
    user = _typed(proc, "user", dict, "process.user", {})
    ids = []
    for f in ("uid", "gid"):
        v = _typed(user, f, int, f"process.user.{f}", 0)
        if not 0 <= v < 1 << 32:
            raise refuse(f"process.user.{f}", v, "out of range")
        ids.append(v)
    gids = user.get("additionalGids") or []
    if not isinstance(gids, list) or not all(isinstance(g, int) and not isinstance(g, bool) for g in gids):
        raise refuse("process.user.additionalGids", gids, "expected a list of numbers")
    if user.get("username"):
        raise refuse("process.user.username", user["username"], "only numeric ids are supported (Windows field)")
    umask = user.get("umask")
    if umask is not None and (not isinstance(umask, int) or not 0 <= umask <= 0o777):
        raise refuse("process.user.umask", umask, "expected a number up to 0777")
    caps = None
    if proc.get("capabilities") is not None:
        c = _typed(proc, "capabilities", dict, "process.capabilities", {})
        caps = {}
        for s in ("bounding", "effective", "permitted", "inheritable", "ambient"):
            names = _strings(f"process.capabilities.{s}", c.get(s))
            for n in names:
                if n not in _sys.CAPABILITIES:
                    raise refuse(f"process.capabilities.{s}", n, "not a capability this kernel knows")
            caps[s] = _sys.cap_mask(names) if names else 0
    rlimits = []
    for i, r in enumerate(_typed(proc, "rlimits", list, "process.rlimits", [])):
        if not isinstance(r, dict) or r.get("type") not in RLIMITS:
            raise refuse(f"process.rlimits[{i}].type", r.get("type") if isinstance(r, dict) else r,
                         "not a resource limit name")
        soft, hard = r.get("soft"), r.get("hard")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (soft, hard)):
            raise refuse(f"process.rlimits[{i}]", r, "expected soft and hard as numbers")
        if soft > hard:
            raise refuse(f"process.rlimits[{i}]", r, "soft is above hard")
        rlimits.append([RLIMITS[r["type"]], soft, hard])
    oom = proc.get("oomScoreAdj")
    if oom is not None and (not isinstance(oom, int) or isinstance(oom, bool) or not -1000 <= oom <= 1000):
        raise refuse("process.oomScoreAdj", oom, "expected a number from -1000 to 1000")
    cs = proc.get("consoleSize")
    if cs is not None and not (isinstance(cs, dict) and all(isinstance(cs.get(k), int) for k in ("height", "width"))):
        raise refuse("process.consoleSize", cs, "expected height and width as numbers")
    return {"argv": args, "env": env, "cwd": cwd, "user": ids if ids != [0, 0] or gids else None,
            "ids": ids, "additional_gids": gids, "umask": umask, "cap_sets": caps, "rlimits": rlimits,
            "no_new_privs": _typed(proc, "noNewPrivileges", bool, "process.noNewPrivileges", False),
            "oom_score_adj": oom, "terminal": _typed(proc, "terminal", bool, "process.terminal", False),
            "console_size": cs}


def _mount(i: int, m: object) -> dict:
    field = f"mounts[{i}]"
    if not isinstance(m, dict):
        raise refuse(field, m, "expected an object")
    dest = _path_in(f"{field}.destination", m.get("destination"))
    mtype = _typed(m, "type", str, f"{field}.type", "")
    opts = _strings(f"{field}.options", m.get("options"))
    src = _typed(m, "source", str, f"{field}.source", "") or ""
    if "\0" in src:
        raise refuse(f"{field}.source", src, "contains a NUL byte")
    if mtype not in MOUNT_TYPES:
        raise refuse(f"{field}.type", mtype, "this mount type is not supported")
    if m.get("uidMappings") or m.get("gidMappings"):
        raise refuse(f"{field}.uidMappings", "...", "id-mapped mounts are not supported")
    flags, prop, data = 0, 0, []
    bind = mtype == "bind"
    for o in opts:
        if o in MOUNT_FLAGS:
            bit, on = MOUNT_FLAGS[o]
            flags = flags | bit if on else flags & ~bit
            if bit & _sys.MS_BIND:
                bind = True
        elif o in PROPAGATION:
            prop |= PROPAGATION[o]
        elif o in IGNORED_OPTIONS:
            continue
        elif "," in o or "\0" in o:
            raise refuse(f"{field}.options", o, "an option may not contain ',' or NUL")
        else:
            data.append(o)
    if bind:
        flags |= _sys.MS_BIND
        if not src.startswith("/"):
            raise refuse(f"{field}.source", src, "a bind mount needs an absolute host path")
        if not os.path.exists(src):
            raise refuse(f"{field}.source", src, "the host path does not exist")
    return {"source": src or mtype, "destination": dest, "type": "" if bind else (mtype or "none"),
            "flags": flags, "data": ",".join(data), "propagation": prop, "bind": bind}


def _device(d: object) -> dict:
    if not isinstance(d, dict):
        raise refuse("linux.devices", d, "expected an object")
    path = _path_in("linux.devices.path", d.get("path"))
    kind = d.get("type")
    if kind not in ("c", "b", "u", "p"):
        raise refuse(f"linux.devices[{path}].type", kind, "expected c, b, u or p")
    nums = []
    for f in ("major", "minor"):
        v = d.get(f, 0)
        if kind != "p" and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise refuse(f"linux.devices[{path}].{f}", v, "expected a number")
        nums.append(v if isinstance(v, int) else 0)
    mode = d.get("fileMode", 0o666)
    if not isinstance(mode, int) or not 0 <= mode <= 0o7777:
        raise refuse(f"linux.devices[{path}].fileMode", mode, "expected a file mode")
    ids = []
    for f in ("uid", "gid"):
        v = d.get(f, 0)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise refuse(f"linux.devices[{path}].{f}", v, "expected a number")
        ids.append(v)
    return {"path": path, "type": kind, "major": nums[0], "minor": nums[1], "mode": mode,
            "uid": ids[0], "gid": ids[1]}


HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


def _hooks(cfg: dict) -> dict:
    hooks = _typed(cfg, "hooks", dict, "hooks", {})
    out: dict[str, list[dict]] = {}
    for kind in HOOK_KINDS:
        rows = []
        for i, h in enumerate(_typed(hooks, kind, list, f"hooks.{kind}", [])):
            field = f"hooks.{kind}[{i}]"
            if not isinstance(h, dict):
                raise refuse(field, h, "expected an object")
            path = _path_in(f"{field}.path", h.get("path"))
            timeout = h.get("timeout")
            if timeout is not None and (not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0):
                raise refuse(f"{field}.timeout", timeout, "expected a number of seconds above zero")
            rows.append({"path": path, "args": _strings(f"{field}.args", h.get("args")) or [path],
                         "env": _strings(f"{field}.env", h.get("env")), "timeout": timeout})
        out[kind] = rows
    return out


def parse_signal(text: str) -> int:
    """``KILL``, ``SIGKILL``, ``9``, ``sigterm`` → the number; anything else is refused."""
    s = str(text).strip().upper()
    if s.isdigit():
        n = int(s)
        if 0 < n < signal.NSIG:
            return n
        raise SpecError("signal", text, f"expected a number from 1 to {signal.NSIG - 1}")
    name = s if s.startswith("SIG") else "SIG" + s
    if name.startswith("SIGRTMIN") or name.startswith("SIGRTMAX"):
        base, _, off = name[3:].partition("+") if "+" in name else (name[3:].partition("-")[0], "", "")
        n = (signal.SIGRTMIN if base == "RTMIN" else signal.SIGRTMAX)
        return int(n) + (int(off) if off.isdigit() else 0)
    sig = getattr(signal.Signals, name, None) if name in signal.Signals.__members__ else None
    if sig is None:
        raise SpecError("signal", text, "expected a name like TERM or SIGKILL, or a number")
    return int(sig)


def example_config(args: list[str], *, root: str = "rootfs", terminal: bool = False) -> dict:
    """A config.json like ``runc spec`` writes: the namespaces, mounts, masked paths and capabilities
    a container gets by default — for tests, the notebook and ``boxkit-runtime spec``."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    return {
        "ociVersion": "1.0.2",
        "process": {"terminal": terminal, "user": {"uid": 0, "gid": 0}, "args": list(args),
                    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
                    "cwd": "/", "capabilities": {k: list(caps) for k in ("bounding", "effective", "permitted")},
                    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                    "noNewPrivileges": True},
        "root": {"path": root, "readonly": True},
        "hostname": "boxkit",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                            "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }
