"""What a container should be, parsed once and checked before any process starts.

A :class:`ContainerSpec` is the whole request: which image or root directory, the command, its
environment, working directory, user, hostname, which namespaces to create, resource limits, extra
mounts and the network. Values that people type (``500M``, ``0.5``, ``1000:1000``, ``-e K=V``,
``-v /src:/dst:ro``) are parsed here and nowhere else, and bad input stops here with one sentence
(:class:`boxkit.errors.SpecError`), before anything is created on the host.

Namespaces, as in ``docker run``: pid, mount, uts, ipc, net and cgroup by default; ``user`` (root
inside mapped to an unprivileged uid outside) and ``time`` (a different boot clock) on request.
``cgroupfs=True`` mounts the container's own cgroup files read-only at ``/sys/fs/cgroup``, as docker
does, for programs that read their limits there (:func:`boxkit.runtime.cgroupfs.mount_cgroupfs`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from .errors import SpecError
from .i18n import N_

DEFAULT_NAMESPACES = ("pid", "mount", "uts", "ipc", "net", "cgroup")
ALL_NAMESPACES = ("pid", "mount", "uts", "ipc", "net", "user", "cgroup", "time")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOSTNAME_MAX = 64  # HOST_NAME_MAX in linux/utsname.h

_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_HOSTNAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,62})?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62})?)*$")
_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")
_ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_size(value: str | int, what: str = N_("memory size"), *, allow_max: bool = True,
               allow_zero: bool = False) -> int | None:
    """``"500M"`` → 524288000. ``"max"`` → None (no limit). Docker's units: b, k, m, g (1024-based)."""
    if isinstance(value, bool):
        raise SpecError(what, value, N_("expected a size like 500M or 1.5G"))
    if isinstance(value, int):
        n = value
    else:
        s = str(value).strip()
        if allow_max and s.lower() in ("max", "-1", "unlimited"):
            return None
        m = _SIZE_RE.match(s)
        if not m:
            raise SpecError(what, value, N_("expected a size like 500M, 1.5G, 512m or a number of bytes or max")
                            if allow_max else N_("expected a size like 500M, 1.5G, 512m or a number of bytes"))
        n = int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])
    if n < 0 or (n == 0 and not allow_zero):
        raise SpecError(what, value, N_("must be greater than zero"))
    return n


def parse_cpus(value: str | float, ncpu: int | None = None) -> float | None:
    """``"0.5"`` → 0.5 of one CPU. ``"max"`` → None. More CPUs than the host has is an error."""
    if isinstance(value, str) and value.strip().lower() == "max":
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise SpecError(N_("cpus"), value, N_("expected a number of CPUs like 0.5 or 2")) from None
    if not f > 0 or f != f:
        raise SpecError(N_("cpus"), value, N_("must be greater than zero"))
    ncpu = ncpu or os.cpu_count() or 1
    if f > ncpu:
        raise SpecError(N_("cpus"), value, N_("this host has {ncpu} cpus"), params={"ncpu": ncpu})
    return f


def parse_positive_int(value: str | int, what: str, *, allow_max: bool = False) -> int | None:
    if allow_max and str(value).strip().lower() in ("max", "-1"):
        return None
    try:
        n = int(str(value).strip())
    except ValueError:
        raise SpecError(what, value, N_("expected a whole number")) from None
    if n <= 0:
        raise SpecError(what, value, N_("must be greater than zero"))
    return n


def parse_list(value: str, what: str) -> tuple[str, int]:
    """A kernel list of CPUs or memory nodes (``"0"``, ``"0-1"``, ``"0,2-3"``, as ``cpuset.cpus``
    reads it): the list as given, and its highest number. A range that runs backwards is refused."""
    s = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", s):
        raise SpecError(what, value, N_("expected a list like 0, 0-1 or 0,2"))
    top = 0
    for part in s.split(","):
        lo, _, hi = part.partition("-")
        if int(lo) > int(hi or lo):
            raise SpecError(what, value, N_("range {range} runs backwards"), params={"range": part})
        top = max(top, int(hi or lo))
    return s, top


def parse_cpuset(value: str, ncpu: int | None = None) -> str:
    """``"0"``, ``"0-1"``, ``"0,2"``; each CPU must exist on this host."""
    ncpu = ncpu or os.cpu_count() or 1
    s, top = parse_list(value, N_("cpuset"))
    if top >= ncpu:
        raise SpecError(N_("cpuset"), value, N_("this host has cpus 0-{last}"), params={"last": ncpu - 1})
    return s


_PORT_RE = re.compile(r"^(\d{1,5}):(\d{1,5})(?:/(tcp|udp))?$")


@dataclass(frozen=True)
class PortSpec:
    """``HOSTPORT:CTRPORT[/tcp|udp]``, the ``-p`` option of ``boxkit run``."""

    host_port: int
    container_port: int
    proto: str = "tcp"

    @classmethod
    def parse(cls, value: str) -> PortSpec:
        m = _PORT_RE.match(value.strip().lower()) if isinstance(value, str) else None
        if not m:
            raise SpecError(N_("port mapping"), value, N_("expected HOSTPORT:CONTAINERPORT[/tcp|udp]"),
                            hint=N_("for example -p 8080:80 or -p 5353:53/udp"))
        hp, cp = int(m.group(1)), int(m.group(2))
        for p in (hp, cp):
            if not 1 <= p <= 65535:
                raise SpecError(N_("port mapping"), value, N_("port {port} is outside 1-65535"), params={"port": p})
        return cls(hp, cp, m.group(3) or "tcp")

    def __str__(self) -> str:
        return f"{self.host_port}:{self.container_port}/{self.proto}"


def parse_publish(values: list[str] | tuple[str, ...] | None) -> list[PortSpec]:
    """Parse every ``-p`` value and refuse one host port given twice."""
    specs = [PortSpec.parse(v) for v in (values or [])]
    seen: set[tuple[str, int]] = set()
    for s in specs:
        key = (s.proto, s.host_port)
        if key in seen:
            raise SpecError(N_("port mapping"), str(s), N_("host port {port} is given twice"),
                            params={"port": f"{s.host_port}/{s.proto}"})
        seen.add(key)
    return specs


def parse_env(items: list[str] | dict[str, str] | None) -> dict[str, str]:
    if not items:
        return {}
    if isinstance(items, dict):
        pairs = list(items.items())
    else:
        pairs = []
        for item in items:
            if "=" not in item:
                # docker takes the value from the caller's environment
                if item in os.environ and _ENV_KEY_RE.match(item):
                    pairs.append((item, os.environ[item]))
                    continue
                raise SpecError(N_("environment variable"), item, N_("expected KEY=VALUE"))
            k, v = item.split("=", 1)
            pairs.append((k, v))
    out = {}
    for k, v in pairs:
        if not _ENV_KEY_RE.match(k):
            raise SpecError(N_("environment variable name"), k, N_("use letters, digits and _"))
        if "\0" in v:
            raise SpecError(N_("environment variable value"), k, N_("contains a NUL byte"))
        out[k] = str(v)
    return out


def parse_user(value: str | int | None) -> tuple[int, int] | None:
    """``"1000"`` or ``"1000:1000"`` (numeric only: names would need the image's /etc/passwd)."""
    if value is None or value == "":
        return None
    s = str(value)
    m = re.fullmatch(r"(\d+)(?::(\d+))?", s)
    if not m:
        raise SpecError(N_("user"), value, N_("expected UID or UID:GID as numbers, like 1000:1000"))
    uid = int(m.group(1))
    gid = int(m.group(2)) if m.group(2) is not None else uid
    if uid > 0xFFFFFFFE or gid > 0xFFFFFFFE:
        raise SpecError(N_("user"), value, N_("ids must be below 4294967295"))
    return uid, gid


def parse_hostname(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > HOSTNAME_MAX:
        raise SpecError(N_("hostname"), value, N_("longer than {max} characters"), params={"max": HOSTNAME_MAX})
    if not _HOSTNAME_RE.match(value):
        raise SpecError(N_("hostname"), value, N_("use letters, digits, '-' and '.'"))
    return value


def parse_name(value: str | None) -> str | None:
    if value is None:
        return None
    if not _NAME_RE.match(value):
        raise SpecError(N_("container name"), value, N_("use letters, digits, '_', '.' and '-' (at most 63)"))
    return value


def parse_caps(cap_add=None, cap_drop=None) -> tuple[str, ...]:
    """docker's ``--cap-add``/``--cap-drop`` over its default 14: names with or without ``CAP_``, any
    case, and ``ALL``. As docker: ``--cap-add ALL`` starts from every capability (then drops),
    ``--cap-drop ALL`` from none (then adds)."""
    # lazy: _sys loads ctypes (~13 ms), and ``import boxkit`` imports this module; only caps need it
    from ._sys import CAPABILITIES
    from .security.capabilities import DEFAULT_CAPS  # lazy: loads _sys too
    def names(values, flag: str) -> list[str]:
        if isinstance(values, str):
            values = [values]
        out = []
        for v in values or []:
            n = str(v).strip().upper()
            if n == "ALL":
                out.append(n)
                continue
            n = n if n.startswith("CAP_") else "CAP_" + n
            if n not in CAPABILITIES:
                raise SpecError(flag, v, N_("not a capability name; see capabilities(7), e.g. NET_ADMIN"))
            out.append(n)
        return out

    add, drop = names(cap_add, "cap-add"), names(cap_drop, "cap-drop")
    if "ALL" in add:
        base = set(CAPABILITIES) - set(drop)
    elif "ALL" in drop:
        base = set(add)
    else:
        base = (set(DEFAULT_CAPS) | set(add)) - set(drop)
    base.discard("ALL")
    return tuple(n for n in CAPABILITIES if n in base)


def parse_security_opts(opts) -> dict:
    """docker's ``--security-opt``: ``seccomp=unconfined``, ``seccomp=PROFILE.json`` (checked and
    parsed here), ``no-new-privileges[=true|false]`` (also ``no-new-privileges:true``)."""
    if isinstance(opts, str):
        opts = [opts]
    out: dict = {}
    for opt in opts or []:
        m = re.fullmatch(r"(seccomp|no-new-privileges)(?:[=:](.*))?", str(opt), re.S)
        if not m:
            raise SpecError(N_("security option"), opt,
                            N_("known: seccomp=unconfined, seccomp=PROFILE.json, no-new-privileges[=true|false]"))
        key, value = m.group(1), m.group(2)
        if key == "no-new-privileges":
            value = "true" if value is None else value
            if value.lower() not in ("true", "false"):
                raise SpecError(N_("security option"), opt, N_("no-new-privileges takes true or false"))
            out["no_new_privileges"] = value.lower() == "true"
        elif key == "seccomp":
            if not value:
                raise SpecError(N_("security option"), opt, N_("give seccomp=unconfined or seccomp=PROFILE.json"))
            out["seccomp"] = value
    return out


def parse_seccomp(value: str | None, privileged: bool):
    """None (no filter) for unconfined or --privileged; else a checked :class:`Profile`."""
    from .security import seccomp  # lazy, as parse_caps: the compiler loads _sys and libseccomp

    if privileged or value == "unconfined":
        return None
    if value is None or value == "default":
        return seccomp.default_profile()
    return seccomp.load_profile(value)


@dataclass(frozen=True)
class Mount:
    """A host directory or file bound into the container (``-v HOST:CTR[:ro]``)."""
    source: str
    target: str
    readonly: bool = False

    @classmethod
    def parse(cls, text: str) -> Mount:
        parts = text.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            raise SpecError(N_("volume"), text, N_("expected HOST:CONTAINER or HOST:CONTAINER:ro"))
        ro = False
        if len(parts) == 3:
            if parts[2] not in ("ro", "rw"):
                raise SpecError(N_("volume"), text, N_("the third field must be ro or rw"))
            ro = parts[2] == "ro"
        src, dst = parts[0], parts[1]
        if not os.path.isabs(src):
            raise SpecError(N_("volume"), text, N_("the host path must be absolute"))
        if not os.path.isabs(dst) or ".." in dst.split("/"):
            raise SpecError(N_("volume"), text, N_("the container path must be absolute, without '..'"))
        if not os.path.exists(src):
            raise SpecError(N_("volume"), text, N_("host path {path} does not exist"), params={"path": src})
        return cls(os.path.realpath(src), os.path.normpath(dst), ro)


@dataclass
class Limits:
    """Resource limits, in kernel units. None means no limit. See :mod:`boxkit.cgroups`."""
    memory: int | None = None          # bytes (memory.max / memory.limit_in_bytes)
    memory_high: int | None = None     # bytes (v2 memory.high; throttling before the OOM killer)
    memory_swap: int | None = None     # bytes of memory+swap, docker's --memory-swap
    cpus: float | None = None          # CPUs (cpu.max quota/period / cfs_quota_us)
    cpu_shares: int | None = None      # docker's 2..262144 (cpu.shares; cpu.weight on v2)
    pids: int | None = None            # pids.max
    cpuset: str | None = None          # cpuset.cpus
    all_devices: bool | None = None    # --privileged: every device node (v1 devices.allow "a")

    @classmethod
    def parse(cls, memory=None, memory_high=None, memory_swap=None, cpus=None, cpu_shares=None,
              pids=None, cpuset=None) -> Limits:
        lim = cls(
            memory=parse_size(memory, N_("memory limit")) if memory is not None else None,
            memory_high=parse_size(memory_high, N_("memory high")) if memory_high is not None else None,
            memory_swap=parse_size(memory_swap, N_("memory+swap limit")) if memory_swap is not None else None,
            cpus=parse_cpus(cpus) if cpus is not None else None,
            cpu_shares=parse_positive_int(cpu_shares, N_("cpu shares")) if cpu_shares is not None else None,
            pids=parse_positive_int(pids, N_("pids limit"), allow_max=True) if pids is not None else None,
            cpuset=parse_cpuset(cpuset) if cpuset is not None else None,
        )
        if lim.memory is not None and lim.memory < 6 * (1 << 20):
            raise SpecError(N_("memory limit"), memory, N_("the minimum is 6M, as in docker"))
        if lim.memory_swap is not None:
            if lim.memory is None:
                raise SpecError(N_("memory+swap limit"), memory_swap, N_("set --memory too"))
            if lim.memory_swap < lim.memory:
                raise SpecError(N_("memory+swap limit"), memory_swap, N_("must be at least the memory limit"))
        if lim.cpu_shares is not None and not 2 <= lim.cpu_shares <= 262144:
            raise SpecError(N_("cpu shares"), cpu_shares, N_("must be between 2 and 262144"))
        return lim

    def any(self) -> bool:
        return any(v is not None for v in vars(self).values())


@dataclass
class ContainerSpec:
    """Everything ``run`` needs. Build it with :meth:`create`, which validates every field."""
    image: str | None = None            # an image name (busybox, host, or one from the store)
    rootfs: str | None = None           # or a root directory; the container sees it through an overlay
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = "/"
    user: tuple[int, int] | None = None
    hostname: str | None = None
    name: str | None = None
    namespaces: tuple[str, ...] = DEFAULT_NAMESPACES
    uid_map: tuple[int, int, int] | None = None   # (inside, outside, count) for a user namespace
    time_offset: float = 0.0                      # seconds added to CLOCK_BOOTTIME/MONOTONIC
    readonly: bool = False
    mounts: list[Mount] = field(default_factory=list)
    init: bool = False
    cgroupfs: bool = False                        # the container's cgroup files at /sys/fs/cgroup (ro)
    limits: Limits = field(default_factory=Limits)
    network: str = "none"
    publish: list[str] = field(default_factory=list)
    caps: tuple[str, ...] = ()                    # the capabilities root keeps (parse_caps)
    seccomp: object | None = None                 # a security.seccomp.Profile; None: unconfined
    no_new_privileges: bool = True
    privileged: bool = False

    @classmethod
    def create(cls, image: str | None = None, argv: list[str] | str | None = None, *,
               rootfs: str | None = None, env=None, cwd: str | None = None, user=None,
               hostname: str | None = None, name: str | None = None, namespaces=None,
               userns: bool = False, uid_map=None, time_offset: float = 0.0, readonly: bool = False,
               volumes=None, init: bool = False, network: str = "none", publish=None,
               memory=None, memory_high=None, memory_swap=None, cpus=None, cpu_shares=None,
               pids_limit=None, cpuset_cpus=None, cap_add=None, cap_drop=None, security_opt=None,
               privileged: bool = False, cgroupfs: bool = False) -> ContainerSpec:
        if (image is None) == (rootfs is None):
            raise SpecError(N_("container source"), image or rootfs, N_("give exactly one of image or rootfs"))
        if rootfs is not None and not os.path.isdir(rootfs):
            raise SpecError(N_("rootfs"), rootfs, N_("not a directory"),
                            hint=N_("give a directory holding a root file system, or an image name"))
        if isinstance(argv, str):
            argv = ["/bin/sh", "-c", argv]
        argv = list(argv or [])
        if any("\0" in a for a in argv):
            raise SpecError(N_("command"), argv, N_("an argument contains a NUL byte"))
        cwd = cwd or "/"
        if not cwd.startswith("/"):
            raise SpecError(N_("working directory"), cwd, N_("must be an absolute path"))
        ns = tuple(namespaces) if namespaces is not None else DEFAULT_NAMESPACES
        if userns and "user" not in ns:
            ns = ns + ("user",)
        if time_offset and "time" not in ns:
            ns = ns + ("time",)
        for n in ns:
            if n not in ALL_NAMESPACES:
                raise SpecError(N_("namespace"), n, N_("known: {names}"), params={"names": ", ".join(ALL_NAMESPACES)})
        if "mount" not in ns:
            raise SpecError(N_("namespaces"), ",".join(ns), N_("a container needs its own mount namespace"))
        if "user" in ns:
            uid_map = tuple(uid_map) if uid_map else (0, 100000, 65536)
            if len(uid_map) != 3 or min(uid_map) < 0 or uid_map[2] == 0:
                raise SpecError(N_("uid map"), uid_map, N_("expected (inside, outside, count)"))
        if network not in ("none", "host") and not network.startswith(("bridge", "container:")) \
                and not _NAME_RE.match(network):
            raise SpecError(N_("network"), network, N_("use none, host, bridge, container:NAME or a network name"))
        if network == "host":
            ns = tuple(n for n in ns if n != "net")
        elif "net" not in ns and not network.startswith("container:"):
            ns = ns + ("net",)
        mounts = [m if isinstance(m, Mount) else Mount.parse(m) for m in (volumes or [])]
        parse_publish(publish)   # a bad -p stops here, whatever the network (it was ignored with none)
        limits = Limits.parse(memory, memory_high, memory_swap, cpus, cpu_shares, pids_limit, cpuset_cpus)
        sec = parse_security_opts(security_opt)
        privileged = bool(privileged)
        if privileged:
            # lazy: _sys loads ctypes (~13 ms); only --privileged needs the full set
            from ._sys import CAPABILITIES
            caps = tuple(CAPABILITIES)   # as docker: --cap-add/--cap-drop are ignored
            limits.all_devices = True
        else:
            caps = parse_caps(cap_add, cap_drop)
        return cls(
            image=image, rootfs=os.path.realpath(rootfs) if rootfs else None, argv=argv,
            env=parse_env(env), cwd=os.path.normpath(cwd), user=parse_user(user),
            hostname=parse_hostname(hostname), name=parse_name(name), namespaces=ns,
            uid_map=uid_map if "user" in ns else None, time_offset=float(time_offset), readonly=readonly,
            mounts=mounts, init=init, cgroupfs=bool(cgroupfs), network=network, publish=list(publish or []),
            limits=limits, caps=caps, seccomp=parse_seccomp(sec.get("seccomp"), privileged), privileged=privileged,
            # boxkit sets no_new_privs unless told not to; --privileged, as docker's, does not
            no_new_privileges=sec.get("no_new_privileges", not privileged),
        )
