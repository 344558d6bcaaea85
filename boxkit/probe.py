"""What this host allows: the check every notebook runs first.

A container is a bundle of kernel features, and hosts hand them out differently. Before a notebook
starts a container it asks :func:`probe`, which *tries* each feature instead of guessing from version
numbers, because the answer depends on more than the kernel:

* **Root.** ``unshare(CLONE_NEWNS)``, ``mount`` and ``pivot_root`` need ``CAP_SYS_ADMIN`` in the user
  namespace that owns the mount namespace. Root in the host's first user namespace has it, unless a
  surrounding container dropped it (``docker run`` without ``--privileged`` keeps root but drops
  ``CAP_SYS_ADMIN`` and adds a seccomp filter that refuses ``unshare``).
* **User namespaces** let anyone be "root" inside a namespace of their own: ``unshare(CLONE_NEWUSER)``
  gives the caller every capability *over the namespaces that user namespace owns*, not over the host.
  Distributions gate this with sysctls: ``user.max_user_namespaces`` (0 disables it), Debian's old
  ``kernel.unprivileged_userns_clone``, and Ubuntu 23.10+'s
  ``kernel.apparmor_restrict_unprivileged_userns``. Inside one, an unprivileged learner can still make
  mount, PID, UTS, IPC, network and cgroup namespaces — most of the course runs rootless.
* **overlayfs** stacks read-only image layers under a writable upper directory. Root could always mount
  it; inside a user namespace only since Linux 5.11. The probe mounts a real one on a private tmpfs,
  writes through it and deletes a lower file to see the whiteout (a character device 0/0) appear.
* **cgroups** come in three shapes, told apart as runc does: ``/sys/fs/cgroup`` is a ``cgroup2`` mount
  (v2, one tree), a tmpfs full of per-controller ``cgroup`` mounts (v1), or v1 plus a ``cgroup2`` at
  ``/sys/fs/cgroup/unified`` that carries no controllers (hybrid). The probe reads the mount table and
  then really creates (and removes) a group, since a read-only ``/sys/fs/cgroup`` or a missing
  delegation only shows up when you try.
* **pivot_root** needs the new root to be a mount point in a mount namespace whose ``/`` is not shared;
  it fails on an initramfs root (docker's ``--rootfs`` on a ramdisk) where only ``chroot`` is left.

Every trial runs in a throw-away process: :func:`probe` starts a fresh, single-threaded
``python -m boxkit.probe --child`` (never forking a multi-threaded Jupyter kernel), and that child forks
once per trial, so a namespace entered or a mount made in a trial dies with its process. The result is
cached per process. Each check is *ok*, *missing* or *info*, with one sentence on why and one on what
it means for the course: which demos run **live** and which replay a **RECORDED** real run.

    >>> import boxkit
    >>> report = boxkit.probe()          # a table in a notebook
    >>> report.mode                      # 'live', 'partial' or 'recorded'
    >>> report.live_for("cgroups")       # can the cgroups notebook run live here?
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass, field

__all__ = ["Check", "HostReport", "probe", "cgroup_mode", "container_hints", "is_static_elf"]

NOBODY = 65534
# cgroup v1 controllers the course uses (memory, cpu, pids) — one directory per hierarchy
_V1_PROBE_CONTROLLERS = ("memory", "cpu", "pids")
NAMESPACES = ("mount", "uts", "ipc", "pid", "net", "user", "cgroup", "time")

_NS_MEANS = {
    "mount": "containers get their own mount table (the root file system, /proc, /dev)",
    "uts": "containers get their own hostname",
    "ipc": "containers get their own System V IPC and POSIX message queues",
    "pid": "the container's command is PID 1 and sees only its own processes",
    "net": "containers get an empty network stack (only lo) and, as root, veth links and bridges",
    "user": "root inside a container can be an unprivileged uid outside",
    "cgroup": "the container sees its own cgroup as /",
    "time": "the time-namespace demo (a different uptime) runs live",
}
_NS_MIN_KERNEL = {"cgroup": "4.6", "time": "5.6"}


@dataclass(frozen=True)
class Check:
    """One probed feature: ``ok`` is True, False, or None for plain information."""

    key: str
    name: str
    ok: bool | None
    why: str
    means: str

    @property
    def status(self) -> str:
        return "info" if self.ok is None else ("ok" if self.ok else "missing")


@dataclass
class HostReport:
    """What this host allows, as found by :func:`probe`."""

    euid: int
    root: bool
    cap_sys_admin: bool
    kernel: str
    kernel_version: tuple[int, int]
    userns_unprivileged: bool | None
    max_user_namespaces: int | None
    unprivileged_userns_clone: int | None
    apparmor_restrict_userns: int | None
    namespaces: dict[str, str]          # name -> "ok" | "userns" (only inside a user ns) | "missing"
    overlay: bool
    overlay_userns: bool | None
    pivot_root: bool
    netns: bool
    veth: bool | None
    cgroup_mode: str                    # "v1" | "v2" | "hybrid" | "none"
    cgroup_controllers: list[str]
    cgroup_writable: bool
    in_container: bool
    container_hints: list[str]
    seccomp: bool
    busybox: str | None
    checks: list[Check] = field(default_factory=list)
    live: bool = False
    mode: str = "recorded"

    # --- questions the notebooks ask ------------------------------------------------------------
    def check(self, key: str) -> Check:
        for c in self.checks:
            if c.key == key:
                return c
        raise KeyError(key)

    def live_for(self, topic: str) -> bool:
        """Can the demos of one topic run live here? Topics: ``namespaces``, ``rootless``,
        ``overlay``, ``images``, ``cgroups``, ``network``, ``containers`` (a full container)."""
        ns_ok = all(self.namespaces.get(n) in ("ok", "userns") for n in ("mount", "uts", "ipc", "pid"))
        if topic == "namespaces":
            return ns_ok
        if topic == "rootless":
            return bool(self.userns_unprivileged) and ns_ok
        if topic in ("overlay", "images"):
            return self.overlay if self.root else bool(self.overlay_userns)
        if topic == "cgroups":
            return self.cgroup_writable
        if topic == "network":
            return self.root and self.netns and bool(self.veth)
        if topic == "containers":
            return self.live
        raise ValueError(f"unknown topic {topic!r}; one of namespaces, rootless, overlay, images, "
                         f"cgroups, network, containers")

    # --- renderings -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["checks"] = [dict(dataclasses.asdict(c), status=c.status) for c in self.checks]
        d["kernel_version"] = list(self.kernel_version)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def summary(self) -> str:
        return {
            "live": "every demo runs live on this host",
            "partial": "some demos run live here; the rest replay RECORDED runs from a real kernel",
            "recorded": "nothing can run live here: every demo replays a RECORDED run from a real kernel",
        }[self.mode]

    def text(self) -> str:
        lines = [f"boxkit probe: mode {self.mode.upper()} — {self.summary()}",
                 f"kernel {self.kernel}, cgroup {self.cgroup_mode}, "
                 f"{'root' if self.root else f'uid {self.euid}'}"
                 f"{', inside a container' if self.in_container else ''}", ""]
        width = max(len(c.name) for c in self.checks) if self.checks else 10
        for c in self.checks:
            lines.append(f"  {c.status:<7} {c.name:<{width}}  {c.why}")
            lines.append(f"  {'':<7} {'':<{width}}  → {c.means}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        colors = {"ok": "#1a7f37", "missing": "#cf222e", "info": "#57606a"}
        marks = {"ok": "✔ ok", "missing": "✘ missing", "info": "ℹ info"}
        rows = []
        for c in self.checks:
            rows.append(
                f"<tr><td style='text-align:left'>{html.escape(c.name)}</td>"
                f"<td style='text-align:left;color:{colors[c.status]};white-space:nowrap'>"
                f"<b>{marks[c.status]}</b></td>"
                f"<td style='text-align:left'>{html.escape(c.why)}</td>"
                f"<td style='text-align:left'>{html.escape(c.means)}</td></tr>")
        mode_color = {"live": "#1a7f37", "partial": "#9a6700", "recorded": "#cf222e"}[self.mode]
        return (
            "<div class='boxkit-probe'>"
            f"<p><b>boxkit probe</b>: mode <b style='color:{mode_color}'>{self.mode.upper()}</b> — "
            f"{html.escape(self.summary())}<br>"
            f"kernel {html.escape(self.kernel)}, cgroup {html.escape(self.cgroup_mode)}, "
            f"{'root' if self.root else f'uid {self.euid}'}"
            f"{', inside a container' if self.in_container else ''}</p>"
            "<table><thead><tr><th style='text-align:left'>check</th><th style='text-align:left'>status</th>"
            "<th style='text-align:left'>why</th><th style='text-align:left'>what it means for the course</th>"
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>")


# ==================================================================================================
# reading the host: pure functions over a file-system root, so unit tests can hand in a fake /proc
# ==================================================================================================

def _read(root: str, path: str) -> str | None:
    try:
        with open(os.path.join(root, path.lstrip("/")), errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _read_int(root: str, path: str) -> int | None:
    raw = _read(root, path)
    try:
        return int(raw.strip()) if raw is not None else None
    except ValueError:
        return None


def kernel_version(release: str) -> tuple[int, int]:
    """``6.18.44-fc-v782`` → ``(6, 18)``; anything unparsable → ``(0, 0)``."""
    parts = release.split(".")
    try:
        major = int(parts[0])
        minor = int("".join(ch for ch in parts[1].split("-")[0] if ch.isdigit()) or 0) if len(parts) > 1 else 0
        return major, minor
    except ValueError:
        return 0, 0


def parse_mountinfo(text: str) -> list[tuple[str, str, str]]:
    """(mount point, fstype, super options) per line of /proc/self/mountinfo. The mount point is
    field 5; the fields after the lone ``-`` are fstype, source and super options."""
    out = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        lf, rf = left.split(), right.split()
        if len(lf) < 5 or not rf:
            continue
        point = lf[4].replace("\\040", " ")
        out.append((point, rf[0], rf[2] if len(rf) > 2 else ""))
    return out


def cgroup_mode(mountinfo: str, base: str = "/sys/fs/cgroup") -> str:
    """v2 when ``base`` is cgroup2; hybrid when it is v1 with a cgroup2 at ``base/unified``; v1 when it
    holds v1 hierarchies only; none when nothing is mounted there. The last mount on a point wins."""
    types: dict[str, str] = {}
    for point, fstype, _ in parse_mountinfo(mountinfo):
        types[point] = fstype
    top = types.get(base)
    if top == "cgroup2":
        return "v2"
    v1 = any(t == "cgroup" and p.startswith(base + "/") for p, t in types.items())
    if types.get(base + "/unified") == "cgroup2":
        return "hybrid" if v1 else "v2"
    return "v1" if v1 else "none"


# super options of a v1 cgroup mount that are not controller names
_V1_MOUNT_OPTIONS = {"rw", "ro", "none", "xattr", "noprefix", "clone_children", "cpuset_v2_mode",
                     "favordynmods"}


def v1_hierarchies(mountinfo: str, base: str = "/sys/fs/cgroup") -> dict[str, str]:
    """controller → mount point of its v1 hierarchy (``cpu,cpuacct`` share one)."""
    out: dict[str, str] = {}
    for point, fstype, opts in parse_mountinfo(mountinfo):
        if fstype != "cgroup" or not point.startswith(base):
            continue
        for opt in opts.split(","):
            if opt not in _V1_MOUNT_OPTIONS and "=" not in opt:
                out[opt] = point
    return out


def v1_enabled(proc_cgroups: str | None) -> set[str]:
    """Controllers the kernel has enabled, from /proc/cgroups (its last column)."""
    found = set()
    for line in (proc_cgroups or "").splitlines():
        if line.startswith("#"):
            continue
        f = line.split()
        if len(f) >= 4 and f[3] == "1":
            found.add(f[0])
    return found


_CONTAINER_WORDS = ("docker", "kubepods", "libpod", "containerd", "lxc", "crio", "garden")


def container_hints(root: str = "/") -> list[str]:
    """The signs that this process runs inside a container, each as a short phrase."""
    hints = []
    if os.path.exists(os.path.join(root, ".dockerenv")):
        hints.append("/.dockerenv exists (docker)")
    if os.path.exists(os.path.join(root, "run/.containerenv")):
        hints.append("/run/.containerenv exists (podman)")
    env = os.environ.get("container")
    if env and root == "/":
        hints.append(f"$container={env}")
    if root == "/" and os.environ.get("KUBERNETES_SERVICE_HOST"):
        hints.append("$KUBERNETES_SERVICE_HOST is set (a kubernetes pod)")
    cg = _read(root, "proc/1/cgroup") or ""
    words = sorted({w for w in _CONTAINER_WORDS if w in cg})
    if words:
        hints.append(f"/proc/1/cgroup names {', '.join(words)}")
    for point, fstype, _ in parse_mountinfo(_read(root, "proc/self/mountinfo") or ""):
        if point == "/" and fstype == "overlay":
            hints.append("/ is an overlay mount (an image's layers)")
            break
    return hints


def is_static_elf(path: str) -> bool:
    """True for an ELF executable without a PT_INTERP program header: it needs no dynamic loader, so
    it runs in an image that holds nothing else (busybox-static)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF":
                return False
            is64, little = head[4] == 2, head[5] == 1
            e = "<" if little else ">"
            if is64:
                phoff, = struct.unpack(e + "Q", head[32:40])
                phentsize, phnum = struct.unpack(e + "HH", head[54:58])
            else:
                phoff, = struct.unpack(e + "I", head[28:32])
                phentsize, phnum = struct.unpack(e + "HH", head[42:46])
            if phnum > 512 or phentsize < 8:
                return False
            f.seek(phoff)
            table = f.read(phentsize * phnum)
            for i in range(phnum):
                p_type, = struct.unpack(e + "I", table[i * phentsize:i * phentsize + 4])
                if p_type == 3:  # PT_INTERP
                    return False
            return True
    except (OSError, struct.error):
        return False


def find_busybox() -> str | None:
    for cand in (shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"):
        if cand and os.path.isfile(cand) and is_static_elf(cand):
            return cand
    return None


def _cap_sys_admin(status: str | None) -> bool:
    for line in (status or "").splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) & (1 << 21))
    return False


def _seccomp(status: str | None) -> bool:
    for line in (status or "").splitlines():
        if line.startswith("Seccomp:"):
            return line.split()[1] != "0"
    return False


# --- cgroups: really create a group ------------------------------------------------------------------

def _try_mkdir(parent: str) -> tuple[bool, str]:
    path = os.path.join(parent, f"boxkit-probe-{os.getpid()}")
    try:
        os.mkdir(path)
    except OSError as e:
        return False, f"mkdir {path}: {(e.strerror or str(e)).lower()}"
    try:
        os.rmdir(path)
    except OSError:
        pass
    return True, path


def cgroup_access(mode: str, mountinfo: str, root: str = "/", base: str = "/sys/fs/cgroup",
                  euid: int | None = None) -> tuple[list[str], bool, str]:
    """(usable controllers, can we create a group, one sentence why)."""
    euid = os.geteuid() if euid is None else euid
    if mode == "none":
        return [], False, f"no cgroup file system is mounted at {base}"
    if mode in ("v1", "hybrid"):
        hier = v1_hierarchies(mountinfo, base)
        enabled = v1_enabled(_read(root, "proc/cgroups"))
        ctrls = sorted(c for c in hier if c in enabled or not enabled)
        wanted = [c for c in _V1_PROBE_CONTROLLERS if c in hier]
        if not wanted:
            return ctrls, False, "none of the memory, cpu and pids hierarchies is mounted"
        made, failed = [], []
        for c in wanted:
            ok, msg = _try_mkdir(os.path.join(root, hier[c].lstrip("/")))
            (made if ok else failed).append(c if ok else msg)
        if failed:
            return ctrls, False, f"{failed[0]}" + ("" if euid == 0 else " (not root)")
        extra = " (the cgroup2 tree at unified/ has no controllers)" if mode == "hybrid" else ""
        return ctrls, True, f"created and removed a group in the {', '.join(made)} hierarchies{extra}"
    # v2: one tree. Root may create groups anywhere writable; a user only below a delegated subtree.
    top = os.path.join(root, base.lstrip("/"))
    ctrls = (_read(top, "cgroup.controllers") or "").split()
    own = ""
    for line in (_read(root, "proc/self/cgroup") or "").splitlines():
        if line.startswith("0::"):
            own = line[3:].strip()
    parent = top if euid == 0 else os.path.join(top, own.lstrip("/"))
    ok, msg = _try_mkdir(parent)
    if not ok:
        hint = "" if euid == 0 else " (no delegated subtree: systemd-run --user --scope -p Delegate=yes)"
        return ctrls, False, msg + hint
    enabled = (_read(parent, "cgroup.subtree_control") or "").split()
    procs = (_read(parent, "cgroup.procs") or "").split()
    note = ""
    if procs and not enabled:
        note = ("; the group holds processes and no controller is enabled for its children: move them to "
                "a leaf first (deploy/cgroup-nest.sh, the 'no internal processes' rule)")
    return ctrls, True, f"created and removed a group under {parent}{note}"


# ==================================================================================================
# trials: run in a fresh single-threaded child, one fork per trial
# ==================================================================================================

def _enter_userns() -> None:
    """Become root of a new user namespace mapped onto our own uid/gid (one line each, which an
    unprivileged process may write; gid_map needs setgroups denied first, CVE-2014-8989)."""
    from ._sys import CLONE_NEWUSER, SYS

    uid, gid = os.geteuid(), os.getegid()
    SYS.unshare(CLONE_NEWUSER)
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        try:
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
        except FileNotFoundError:  # setgroups: linux < 3.19
            if name != "setgroups":
                raise


def _become_nobody() -> None:
    """Drop from root to uid/gid 65534 to see what an ordinary learner could do here. A uid change
    clears the dumpable flag, which would leave /proc/self/uid_map owned by root: set it again."""
    from ._sys import PR_SET_DUMPABLE, SYS

    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    SYS.prctl(PR_SET_DUMPABLE, 1)


def _private_tmpfs() -> str:
    """A new mount namespace with ``/`` private (so nothing propagates to the host) and a tmpfs on
    /tmp to work in; it vanishes with the process."""
    from ._sys import CLONE_NEWNS, MS_PRIVATE, MS_REC, SYS

    SYS.unshare(CLONE_NEWNS)
    SYS.mount(None, "/", None, MS_REC | MS_PRIVATE)
    where = "/tmp" if os.path.isdir("/tmp") else "/mnt"
    SYS.mount("boxkit-probe", where, "tmpfs", 0, "mode=0755,size=4m")
    return where


def _t_ns(name: str, in_userns: bool = False) -> str:
    from ._sys import CLONE_NEWNS, MS_PRIVATE, MS_REC, NAMESPACE_FLAGS, SYS

    if in_userns:
        _enter_userns()
        if name == "user":
            return "unshare(CLONE_NEWUSER) with a one-line uid_map works"
    flag = NAMESPACE_FLAGS[name]
    SYS.unshare(flag)
    if flag == CLONE_NEWNS:
        SYS.mount(None, "/", None, MS_REC | MS_PRIVATE)
        return "unshare(CLONE_NEWNS) and making / private work"
    if name == "uts":
        SYS.sethostname("boxkit-probe")
        return "unshare(CLONE_NEWUTS) and sethostname work"
    if name == "pid":
        pid = os.fork()
        if pid == 0:
            os._exit(0 if os.getpid() == 1 else 1)
        _, st = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(st) != 0:
            raise OSError(0, "a child forked after unshare(CLONE_NEWPID) was not PID 1")
        return "a child forked after unshare(CLONE_NEWPID) is PID 1"
    if name == "net":
        SYS.link_up("lo")
        return "unshare(CLONE_NEWNET) works and lo comes up"
    return f"unshare(CLONE_{'NEWNS' if name == 'mount' else 'NEW' + name.upper()}) works"


def _t_overlay(in_userns: bool = False, as_nobody: bool = False) -> str:
    import stat

    from ._sys import SYS

    if as_nobody:
        _become_nobody()
    if in_userns:
        _enter_userns()
    t = _private_tmpfs()
    for d in ("lower", "upper", "work", "merged"):
        os.mkdir(f"{t}/{d}")
    with open(f"{t}/lower/old", "w") as f:
        f.write("from the image\n")
    SYS.mount("overlay", f"{t}/merged", "overlay", 0,
              f"lowerdir={t}/lower,upperdir={t}/upper,workdir={t}/work")
    with open(f"{t}/merged/new", "w") as f:
        f.write("written by the container\n")
    os.unlink(f"{t}/merged/old")
    if not os.path.exists(f"{t}/upper/new"):
        raise OSError(0, "a file written through the overlay did not land in upperdir")
    st = os.lstat(f"{t}/upper/old")
    if not (stat.S_ISCHR(st.st_mode) and st.st_rdev == 0):
        raise OSError(0, "deleting a lower file left no whiteout in upperdir")
    if not os.path.exists(f"{t}/lower/old"):
        raise OSError(0, "deleting through the overlay changed the lower layer")
    return ("mounted an overlay on a private tmpfs: a new file went to upperdir and a deleted lower file "
            "became a whiteout (char device 0/0)")


def _t_pivot_root(in_userns: bool = False) -> str:
    from ._sys import MNT_DETACH, SYS

    if in_userns:
        _enter_userns()
    t = _private_tmpfs()
    new = f"{t}/new"
    os.mkdir(new)
    SYS.mount("boxkit-probe", new, "tmpfs", 0, "size=1m")  # pivot_root wants a mount point
    os.mkdir(f"{new}/old")
    os.chdir(new)
    SYS.pivot_root(".", "old")
    os.chdir("/")
    SYS.umount2("/old", MNT_DETACH)
    if os.listdir("/") != ["old"] or os.listdir("/old"):
        raise OSError(0, "after pivot_root the old root was still visible")
    return "pivot_root into a fresh tmpfs and detaching the old root work"


def _t_veth() -> str | None:
    from ._sys import CLONE_NEWNET, SYS

    ip = shutil.which("ip") or ("/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else None)
    if not ip:
        return None
    SYS.unshare(CLONE_NEWNET)  # made inside a private netns: it disappears with this process
    r = subprocess.run([ip, "link", "add", "bkprobe0", "type", "veth", "peer", "name", "bkprobe1"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise OSError(1, (r.stderr.strip() or "ip link add failed").lower())
    return "created a veth pair in a private network namespace"


def _t_userns_nobody() -> str:
    _become_nobody()
    _enter_userns()
    return "uid 65534 (nobody) created a user namespace and became root inside"


def _trial(fn, *args, **kw) -> dict:
    """Run ``fn`` in a forked process; its namespaces and mounts die with it."""
    import signal

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            signal.alarm(10)
            res = {"ok": True, "errno": None, "detail": fn(*args, **kw)}
            if res["detail"] is None:
                res["ok"] = None
        except OSError as e:
            why = (e.strerror or str(e)).lower()
            res = {"ok": False, "errno": e.errno or None, "detail": why}
        except BaseException as e:  # noqa: B036 — report anything, never raise out of a fork
            res = {"ok": False, "errno": None, "detail": f"{type(e).__name__}: {e}"}
        os.write(w, json.dumps(res).encode())
        os._exit(0)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    _, st = os.waitpid(pid, 0)
    if chunks:
        return json.loads(b"".join(chunks))
    return {"ok": False, "errno": None, "detail": f"the trial process died (wait status {st})"}


def run_trials() -> dict[str, dict]:
    """Every trial, keyed. Must run in a single-threaded process (it forks)."""
    root = os.geteuid() == 0
    out: dict[str, dict] = {}
    for ns in NAMESPACES:
        out[f"ns.{ns}"] = _trial(_t_ns, ns)
        if not root and not out[f"ns.{ns}"]["ok"]:
            out[f"userns.{ns}"] = _trial(_t_ns, ns, in_userns=True)
    out["overlay"] = _trial(_t_overlay, in_userns=not root)
    out["pivot_root"] = _trial(_t_pivot_root, in_userns=not root)
    if root:
        out["userns.unprivileged"] = _trial(_t_userns_nobody)
        out["overlay.userns"] = _trial(_t_overlay, in_userns=True, as_nobody=True)
        out["veth"] = _trial(_t_veth)
    else:
        out["userns.unprivileged"] = out.get("userns.user") or out["ns.user"]
        out["overlay.userns"] = out["overlay"]
        out["veth"] = {"ok": False, "errno": 1, "detail": "a veth pair to the host needs root"}
    return out


def _child_main() -> int:
    sys.stdout.write(json.dumps(run_trials()))
    sys.stdout.flush()
    return 0


def _spawn_trials(timeout: float = 60.0) -> dict[str, dict]:
    """Run the trials in ``python -S -m boxkit.probe --child``: a fresh process with one thread,
    whatever the caller is (a Jupyter kernel runs several threads; forking it is unsafe)."""
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=pkg_parent + os.pathsep + os.environ.get("PYTHONPATH", ""),
               BOXKIT_NO_GC="1")
    try:
        r = subprocess.run([sys.executable, "-S", "-m", "boxkit.probe", "--child"], env=env,
                           capture_output=True, text=True, timeout=timeout, cwd="/")
        return json.loads(r.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired) as e:
        detail = f"the probe process failed: {str(e).lower()}"
        return {"error": {"ok": False, "errno": None, "detail": detail}}


# ==================================================================================================
# assembling the report
# ==================================================================================================

def _why(res: dict | None, fallback: str) -> str:
    if not res:
        return fallback
    return res.get("detail") or fallback


def assemble(trials: dict[str, dict], *, root_dir: str = "/", euid: int | None = None,
             release: str | None = None, busybox: str | None | bool = False,
             cgroup: tuple[list[str], bool, str] | None = None) -> HostReport:
    """Turn trial results plus what the files under ``root_dir`` say into a :class:`HostReport`.
    Pure apart from reading files (and creating a cgroup unless ``cgroup`` is given)."""
    euid = os.geteuid() if euid is None else euid
    root = euid == 0
    release = release or os.uname().release
    kv = kernel_version(release)
    status = _read(root_dir, "proc/self/status")
    capadm = _cap_sys_admin(status)
    seccomp = _seccomp(status)
    max_userns = _read_int(root_dir, "proc/sys/user/max_user_namespaces")
    clone = _read_int(root_dir, "proc/sys/kernel/unprivileged_userns_clone")
    aa = _read_int(root_dir, "proc/sys/kernel/apparmor_restrict_unprivileged_userns")
    mountinfo = _read(root_dir, "proc/self/mountinfo") or ""
    mode = cgroup_mode(mountinfo)
    ctrls, cg_ok, cg_why = cgroup if cgroup is not None else cgroup_access(mode, mountinfo, root_dir, euid=euid)
    hints = container_hints(root_dir)
    bb = find_busybox() if busybox is False else (busybox or None)
    t = trials
    checks: list[Check] = []

    # root
    if root and capadm:
        checks.append(Check("root", "root", True, "running as root (euid 0) with CAP_SYS_ADMIN",
                            "containers, cgroups and networks can run live"))
    elif root:
        checks.append(Check("root", "root", False,
                            "running as root but without CAP_SYS_ADMIN (an unprivileged container?)",
                            "start it with --privileged, or use the VM route; until then demos replay "
                            "RECORDED runs"))
    else:
        checks.append(Check("root", "root", False, f"running as uid {euid}, not root",
                            "only what user namespaces allow runs live; the rest replays RECORDED runs"))

    # user namespaces
    unpriv_res = t.get("userns.unprivileged")
    userns_unpriv: bool | None = bool(unpriv_res and unpriv_res.get("ok")) if unpriv_res else None
    gates = []
    if max_userns is not None:
        gates.append(f"user.max_user_namespaces={max_userns}")
    if clone is not None:
        gates.append(f"kernel.unprivileged_userns_clone={clone}")
    if aa is not None:
        gates.append(f"kernel.apparmor_restrict_unprivileged_userns={aa}")
    gate_txt = f" ({', '.join(gates)})" if gates else ""
    if userns_unpriv:
        why = f"an unprivileged user can create a user namespace{gate_txt}"
        means = "a learner without root runs the namespace demos live (rootless)"
    else:
        reason = _why(unpriv_res, "not tried")
        if max_userns == 0:
            reason = "user.max_user_namespaces is 0"
        elif clone == 0:
            reason = "kernel.unprivileged_userns_clone is 0 (sysctl -w kernel.unprivileged_userns_clone=1)"
        elif aa == 1:
            reason = "AppArmor restricts unprivileged user namespaces (Ubuntu 23.10+)"
        why = f"an unprivileged user cannot create a user namespace: {reason}"
        means = ("without root nothing runs live here" if not root
                 else "fine as root; learners without root get RECORDED runs")
    checks.append(Check("userns.unprivileged", "user namespaces (unprivileged)", userns_unpriv, why, means))

    # each namespace
    namespaces: dict[str, str] = {}
    for ns in NAMESPACES:
        direct = t.get(f"ns.{ns}") or {}
        via = t.get(f"userns.{ns}") or {}
        min_k = _NS_MIN_KERNEL.get(ns)
        if direct.get("ok"):
            namespaces[ns] = "ok"
            checks.append(Check(f"ns.{ns}", f"{ns} namespace", True, direct.get("detail") or "works",
                                _NS_MEANS[ns]))
        elif via.get("ok"):
            namespaces[ns] = "userns"
            checks.append(Check(f"ns.{ns}", f"{ns} namespace", True,
                                f"works inside a user namespace only: {via.get('detail')}",
                                _NS_MEANS[ns] + " (rootless)"))
        else:
            namespaces[ns] = "missing"
            why = _why(via or direct, "not tried")
            if min_k and kv < kernel_version(min_k):
                why = f"needs linux {min_k}+, this is {release}"
            checks.append(Check(f"ns.{ns}", f"{ns} namespace", False, f"unshare failed: {why}",
                                f"the {ns}-namespace demos replay RECORDED runs"))

    # overlay
    ov = t.get("overlay") or {}
    ovu = t.get("overlay.userns")
    overlay = bool(ov.get("ok"))
    checks.append(Check("overlay", "overlayfs" + ("" if root else " (in a user namespace)"), overlay,
                        _why(ov, "not tried") if overlay else f"cannot mount overlay: {_why(ov, 'not tried')}",
                        "images and container roots are layered live" if overlay
                        else "the image and layer demos replay RECORDED runs"))
    overlay_userns = None if ovu is None else bool(ovu.get("ok"))
    if root and ovu is not None:
        why = ("uid 65534 in a user namespace mounted an overlay" if overlay_userns
               else f"cannot mount overlay in a user namespace: {_why(ovu, 'not tried')}"
               + (f" (needs linux 5.11+, this is {release})" if kv < (5, 11) else ""))
        checks.append(Check("overlay.userns", "overlayfs in a user namespace", overlay_userns, why,
                             "rootless learners get live image demos" if overlay_userns
                             else "fine as root; rootless learners get RECORDED image demos"))

    # pivot_root
    pr = t.get("pivot_root") or {}
    pivot = bool(pr.get("ok"))
    checks.append(Check("pivot_root", "pivot_root", pivot,
                        _why(pr, "") if pivot else f"pivot_root failed: {_why(pr, 'not tried')}",
                        "containers swap their root and detach the host's tree (chroot-escape demo live)"
                        if pivot else "containers cannot detach the host's tree; the chroot-escape demo "
                        "replays a RECORDED run"))

    # network
    netns = namespaces.get("net") in ("ok", "userns")
    vr = t.get("veth") or {}
    veth = vr.get("ok")
    if root:
        checks.append(Check("veth", "veth pairs", veth,
                            _why(vr, "") if veth else (f"cannot create a veth pair: {_why(vr, '')}"
                                                      if veth is False else "no ip(8) to try it with"),
                            "containers get bridged networks and published ports live" if veth
                            else "the bridge and port demos replay RECORDED runs"))

    # cgroups
    checks.append(Check("cgroup.mode", "cgroup mode", None,
                        {"v1": "cgroup v1: one hierarchy per controller",
                         "v2": "cgroup v2: one unified tree",
                         "hybrid": "hybrid: v1 controllers plus an empty cgroup2 tree at unified/",
                         "none": "no cgroup file system is mounted"}[mode]
                        + (f"; controllers {', '.join(ctrls)}" if ctrls else ""),
                        "the course reads and writes the files of this mode"))
    checks.append(Check("cgroup.create", "cgroup groups", cg_ok, cg_why,
                        "memory and CPU limits are enforced and plotted live" if cg_ok
                        else "the memory/CPU limit demos replay RECORDED runs"))

    # kernel, container, busybox
    checks.append(Check("kernel", "kernel", None, f"linux {release}",
                        "overlay in user namespaces needs 5.11+, time namespaces 5.6+"))
    where = ("yes: " + "; ".join(hints)) if hints else "no sign of a surrounding container"
    if seccomp:
        where += "; a seccomp filter is active"
    checks.append(Check("container", "inside a container", None, where,
                        "a surrounding container must be privileged for live demos" if hints
                        else "nothing in the way"))
    checks.append(Check("busybox", "busybox-static", bool(bb),
                        f"a static busybox at {bb}" if bb else "no static busybox found",
                        "the busybox image is built offline from it" if bb
                        else "install busybox-static, or use the 'host' image built from host binaries"))
    if "error" in t:
        checks.insert(0, Check("probe", "probe process", False, t["error"]["detail"],
                               "the live checks could not run; everything is treated as RECORDED"))

    core = all(namespaces.get(n) == "ok" for n in ("mount", "uts", "ipc", "pid", "net"))
    live = root and capadm and core and overlay and pivot and cg_ok
    if live:
        run_mode = "live"
    elif all(namespaces.get(n) in ("ok", "userns") for n in ("mount", "pid", "uts")):
        run_mode = "partial"
    else:
        run_mode = "recorded"
    return HostReport(
        euid=euid, root=root, cap_sys_admin=capadm, kernel=release, kernel_version=kv,
        userns_unprivileged=userns_unpriv, max_user_namespaces=max_userns, unprivileged_userns_clone=clone,
        apparmor_restrict_userns=aa, namespaces=namespaces, overlay=overlay, overlay_userns=overlay_userns,
        pivot_root=pivot, netns=netns, veth=veth, cgroup_mode=mode, cgroup_controllers=ctrls,
        cgroup_writable=cg_ok, in_container=bool(hints), container_hints=hints, seccomp=seccomp,
        busybox=bb, checks=checks, live=live, mode=run_mode)


_CACHE: HostReport | None = None


def probe(refresh: bool = False) -> HostReport:
    """What this host allows; probed once per process (trials cost a few forks), then cached."""
    global _CACHE
    if _CACHE is None or refresh:
        _CACHE = assemble(_spawn_trials())
    return _CACHE


class _CallableModule(type(sys)):
    """``boxkit.probe()`` must work whether ``boxkit.probe`` names this function (boxkit's lazy
    ``__getattr__``) or this module: importing ``boxkit.probe`` anywhere (the CLI does) makes the
    import system set the package attribute to the module, which would shadow the function."""

    def __call__(self, refresh: bool = False) -> HostReport:
        return probe(refresh)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        raise SystemExit(_child_main())
    print(probe().text())
