"""Reading the host: the mount table, sysctls, cgroup trees and binaries, as pure functions.

Everything here reads files under a root directory (``/`` on a real host, a temp dir in unit tests), so
the parsing is tested without root:

* ``/proc/self/mountinfo`` has one line per mount: ``ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - FSTYPE
  SOURCE SUPEROPTS``. The cgroup mode falls out of it, as runc's statfs check would tell: a ``cgroup2``
  at ``/sys/fs/cgroup`` is v2; a tmpfs there holding per-controller ``cgroup`` mounts is v1; v1 plus a
  ``cgroup2`` at ``/sys/fs/cgroup/unified`` (systemd's "hybrid") is hybrid, and that v2 tree carries no
  controllers because each controller can be bound to one hierarchy only.
* ``/proc/cgroups`` lists the controllers the kernel has and whether they are enabled.
* On v2 a process may only create groups below a directory it can write to: root anywhere, a user only
  in a subtree systemd *delegated* to it. And v2's "no internal processes" rule means a group that
  holds processes cannot hand controllers to children: a privileged container whose processes sit in
  its cgroup root must first move them into a leaf (``deploy/cgroup-nest.sh``).
* A static ELF binary has no ``PT_INTERP`` program header (no dynamic loader named), so it runs in an
  image that contains nothing else: that is why the offline busybox image needs busybox-static.
"""

from __future__ import annotations

import os
import shutil
import struct

from .i18n import N_, _


class Said(str):
    """A sentence of the host check: its English text (what a ``str`` of it reads, what ``boxkit probe
    --json`` prints and tests compare) that remembers its message id and fields, so the table says it
    again in the learner's language (:meth:`said`). ``terms`` name the fields whose values are message
    ids themselves (a trial's detail, the kernel's ``strerror`` words); a field holding a ``Said`` is
    said in turn."""

    template: str
    params: dict
    terms: tuple

    def __new__(cls, template: str, params: dict | None = None, terms: tuple = ()):
        params = params or {}
        self = super().__new__(cls, template.format(**params) if params else template)
        self.template, self.params, self.terms = template, params, tuple(terms)
        return self

    @classmethod
    def raw(cls, text: str) -> Said:
        """Words made elsewhere (a trial's detail, ``strerror``): said in the learner's language where
        the catalogue has them (a message id marked there), else as they are."""
        return text if isinstance(text, Said) else cls("{text}", {"text": text}, ("text",))

    def said(self) -> str:
        """This sentence in the current language (the English where the catalogue lacks it)."""
        return say(self)

    def __reduce__(self):
        return (Said, (self.template, self.params, self.terms))


def say(text) -> str:
    """``text`` in the current language: a :class:`Said` with its fields filled, a message id marked
    with ``N_`` translated; an empty string stays empty."""
    if not isinstance(text, Said):
        return _(text) if text else text
    values = {}
    for k, v in text.params.items():
        if isinstance(v, Said):
            v = v.said()
        elif k in text.terms and isinstance(v, str) and v:
            v = _(v)
        values[k] = v
    if not values:
        return _(text.template) if text.template else text.template
    for candidate in (_(text.template), text.template):   # a translation that lost a field: the English
        try:
            return candidate.format(**values)
        except (KeyError, IndexError, ValueError):
            continue
    return str(text)


# the course's three modes, as the banner opens with them and the badge on a replayed cell reads them
# i18n: the course modes in capitals: the banner opens with one ("LIVE: linux 6.1, ...") and a replayed cell's badge reads RECORDED; glossary: ao vivo / sem root / gravado
MODE_WORDS = {"live": N_("LIVE"), "rootless": N_("ROOTLESS"), "recorded": N_("RECORDED")}


def mode_word(mode: str) -> str:
    """``"live"`` → ``LIVE`` in the current language (a mode boxkit does not know: in capitals)."""
    return _(MODE_WORDS[mode]) if mode in MODE_WORDS else mode.upper()


# cgroup v1 controllers the course uses (memory, cpu, pids) — one directory per hierarchy
_V1_PROBE_CONTROLLERS = ("memory", "cpu", "pids")


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
    for point, fstype, _opts in parse_mountinfo(mountinfo):
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
    hints: list[str] = []
    if os.path.exists(os.path.join(root, ".dockerenv")):
        hints.append(Said(N_("/.dockerenv exists (docker)")))
    if os.path.exists(os.path.join(root, "run/.containerenv")):
        hints.append(Said(N_("/run/.containerenv exists (podman)")))
    env = os.environ.get("container")
    if env and root == "/":
        hints.append(f"$container={env}")
    if root == "/" and os.environ.get("KUBERNETES_SERVICE_HOST"):
        hints.append(Said(N_("$KUBERNETES_SERVICE_HOST is set (a kubernetes pod)")))
    cg = _read(root, "proc/1/cgroup") or ""
    words = sorted({w for w in _CONTAINER_WORDS if w in cg})
    if words:
        hints.append(Said(N_("/proc/1/cgroup names {engines}"), {"engines": ", ".join(words)}))
    for point, fstype, _opts in parse_mountinfo(_read(root, "proc/self/mountinfo") or ""):
        if point == "/" and fstype == "overlay":
            hints.append(Said(N_("/ is an overlay mount (an image's layers)")))
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


def chrooted(root: str = "/") -> bool | None:
    """Is our ``/`` a different directory from PID 1's? Then we are probably in a chroot, where the
    kernel refuses ``unshare(CLONE_NEWUSER)`` with EPERM (unshare(2)). None when PID 1 is not ours
    to inspect."""
    try:
        a = os.stat(root)
        b = os.stat(os.path.join(root, "proc/1/root/"))
    except OSError:
        return None
    return (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino)


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
        return False, Said("mkdir {path}: {error}", {"path": path, "error": (e.strerror or str(e)).lower()},
                           ("error",))
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
        return [], False, Said(N_("no cgroup file system is mounted at {base}"), {"base": base})
    if mode in ("v1", "hybrid"):
        hier = v1_hierarchies(mountinfo, base)
        enabled = v1_enabled(_read(root, "proc/cgroups"))
        ctrls = sorted(c for c in hier if c in enabled or not enabled)
        wanted = [c for c in _V1_PROBE_CONTROLLERS if c in hier]
        if not wanted:
            return ctrls, False, Said(N_("none of the memory, cpu and pids hierarchies is mounted"))
        made, failed = [], []
        for c in wanted:
            ok, msg = _try_mkdir(os.path.join(root, hier[c].lstrip("/")))
            (made if ok else failed).append(c if ok else msg)
        if failed:
            return ctrls, False, (failed[0] if euid == 0 else
                                  Said(N_("{failure} (not root)"), {"failure": failed[0]}))
        made_in = {"hierarchies": ", ".join(made)}
        if mode == "hybrid":
            return ctrls, True, Said(N_("created and removed a group in the {hierarchies} hierarchies "
                                        "(the cgroup2 tree at unified/ has no controllers)"), made_in)
        return ctrls, True, Said(N_("created and removed a group in the {hierarchies} hierarchies"), made_in)
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
        if euid == 0:
            return ctrls, False, msg
        return ctrls, False, Said(N_("{failure} (no delegated subtree: systemd-run --user --scope "
                                     "-p Delegate=yes)"), {"failure": msg})
    enabled = (_read(parent, "cgroup.subtree_control") or "").split()
    procs = (_read(parent, "cgroup.procs") or "").split()
    if procs and not enabled:
        return ctrls, True, Said(N_("created and removed a group under {parent}; the group holds processes "
                                    "and no controller is enabled for its children: move them to a leaf "
                                    "first (deploy/cgroup-nest.sh, the 'no internal processes' rule)"),
                                 {"parent": parent})
    return ctrls, True, Said(N_("created and removed a group under {parent}"), {"parent": parent})
