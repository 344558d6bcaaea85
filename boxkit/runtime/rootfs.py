"""Building the container's file system view inside its new mount namespace.

After ``unshare(CLONE_NEWNS)`` the process has a *copy* of the host's mount table. Three things make that
copy a container root:

1. **Make ``/`` private, recursively, before any mount.** Host mounts are usually *shared* (systemd
   makes ``/`` shared), so a mount made in the copy would propagate back to the host (and the host's
   later mounts into the container). ``mount(NULL, "/", NULL, MS_REC|MS_PRIVATE)`` cuts both ways.
2. **Assemble the new root** at ``merged``: an overlay of the image layers with a per-container upper
   dir (writes land there; the image stays untouched), then ``/proc`` (a fresh procfs shows only the
   new PID namespace), a tmpfs ``/dev`` holding only the safe device nodes, ``/dev/pts``, ``/dev/shm``,
   ``/dev/mqueue``, a read-only ``/sys``; then Docker's *masked* paths (``/proc/kcore``, ``/proc/keys``
   ... hidden under ``/dev/null`` or an empty read-only tmpfs) and read-only paths (``/proc/sys``,
   ``/proc/sysrq-trigger`` ...).
3. **``pivot_root(".", ".")`` then ``umount2(".", MNT_DETACH)``**: the merged dir becomes the root
   mount of the namespace and the host's tree, stacked on top of it by the call, is detached. Unlike
   ``chroot``, nothing of the host remains reachable through ``..`` or a leaked directory fd.

Device nodes: ``/dev`` is a tmpfs mounted ``nodev``, and each safe node (null, zero, full, random,
urandom, tty) is a *bind mount* of the host's node, which keeps its own mount flags. A process that
``mknod``s ``/dev/sda`` inside gets a node it cannot open: the same allow-list as Docker's device rules,
enforced by mount flags instead of the v1 devices cgroup or a v2 BPF program (the rootfs overlay is
``nodev`` too). On v1 boxkit also writes the devices cgroup rules (see :mod:`boxkit.cgroups`).

Every path taken from the image or the user is resolved *inside* the new root with
:func:`secure_join`: a hostile image whose ``/proc`` is a symlink to ``/`` must not make us mount procfs
over the host's root (CVE-2019-19921, CVE-2023-27561 in runc).

This module only plans and performs mount calls through :data:`boxkit._sys.SYS`; unit tests pass a
recording fake and check the order and flags.
"""

from __future__ import annotations

import errno
import os
import re
import stat

from .. import _sys
from .._sys import (
    MNT_DETACH,
    MS_BIND,
    MS_MOVE,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    MS_STRICTATIME,
)
from ..images.overlay import escape, mount_overlay
from .cgroupfs import mount_cgroupfs
from .inroot import mask, secure_join
from .inroot import remount_ro as _remount_ro
from .plan import Plan

# Docker's defaults (moby/oci/defaults.go)
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
SAFE_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
             "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx", "core": "/proc/kcore"}

# overlayfs "volatile" (Linux 5.10): no sync of the upper file system when the root is unmounted at
# the container's exit — the upper dir of a container is thrown away or committed from the page
# cache, never needed after a crash. The sync was on the exit path (sync_filesystem in a profile).
VOLATILE = ",volatile" if tuple(int(x) for x in re.findall(r"\d+", os.uname().release)[:2]) >= (5, 10) else ""


def _mkdir_in(root: str, path: str) -> str:
    full = secure_join(root, path)
    os.makedirs(full, exist_ok=True)
    return full


def _touch_in(root: str, path: str) -> str:
    full = secure_join(root, path)
    if not os.path.lexists(full):
        os.makedirs(os.path.dirname(full), exist_ok=True)
        os.close(os.open(full, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644))
    return full


def write_file_in(root: str, path: str, content: str) -> None:
    full = secure_join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    fd = os.open(full, os.O_CREAT | os.O_TRUNC | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, content.encode())
    finally:
        os.close(fd)


def mount_dev(root: str, plan: Plan, sys: _sys.Sys) -> None:
    dev = _mkdir_in(root, "/dev")
    sys.mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NODEV | MS_STRICTATIME, "mode=755,size=65536k")
    for name in host_devices() if plan.privileged else SAFE_DEVICES:
        node = os.path.join(dev, name)
        os.close(os.open(node, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o666))
        sys.mount(f"/dev/{name}", node, None, MS_BIND)
    userns = "user" in plan.ns
    os.mkdir(os.path.join(dev, "pts"), 0o755)
    pts_opts = "newinstance,ptmxmode=0666,mode=0620" + ("" if userns else ",gid=5")
    sys.mount("devpts", os.path.join(dev, "pts"), "devpts", MS_NOSUID | MS_NOEXEC, pts_opts)
    os.mkdir(os.path.join(dev, "shm"), 0o1777)
    sys.mount("shm", os.path.join(dev, "shm"), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "mode=1777,size=65536k")
    if "ipc" in plan.ns:
        os.mkdir(os.path.join(dev, "mqueue"), 0o755)
        sys.mount("mqueue", os.path.join(dev, "mqueue"), "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name, target in DEV_LINKS.items():
        os.symlink(target, os.path.join(dev, name))


def bind_console(root: str, fd: int, sys: _sys.Sys) -> None:
    """``boxkit run -t``: the terminal's slave is a pty of the host's devpts (the client made it before
    the container existed), a node the container's own devpts instance does not have, so ``tty`` and
    ``ttyname()`` found no name for stdin. Bound at ``/dev/console`` — where runc binds a container's
    console — it is found: glibc's ``ttyname`` falls back to a scan of ``/dev`` for the same inode.
    Before the pivot: a bind's source must be a mount of this namespace, and the host's devpts is
    gone after it (EINVAL). ``/dev`` is the container's fresh tmpfs: nothing of the image's is there."""
    # by its path in this namespace's copy of the host's /dev/pts: an fd opened in the caller's
    # namespace names that namespace's mount, which a bind here refuses (EINVAL)
    source = os.readlink(f"/proc/self/fd/{fd}")
    st, want = os.stat(source), os.fstat(fd)
    if (st.st_rdev, st.st_ino) != (want.st_rdev, want.st_ino):
        raise OSError(errno.ENODEV, "the terminal is not where its fd says", source)
    target = os.path.join(root, "dev", "console")
    os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600))
    sys.mount(source, target, None, MS_BIND)


def mount_proc_sys(root: str, plan: Plan, sys: _sys.Sys) -> None:
    proc = _mkdir_in(root, "/proc")
    sys.mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    sysdir = _mkdir_in(root, "/sys")
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (0 if plan.privileged else MS_RDONLY)
    try:
        sys.mount("sysfs", sysdir, "sysfs", flags)
    except OSError as e:
        # sysfs may only be mounted by the owner of the current network namespace; without a network
        # namespace of our own inside a user namespace, bind the host's read-only instead
        if e.errno not in (errno.EPERM, errno.EACCES):
            raise
        sys.mount("/sys", sysdir, None, MS_BIND | MS_REC)
        if not plan.privileged:
            _remount_ro(sysdir, sys)


def host_devices() -> list[str]:
    """--privileged: every device node at the top of the host's /dev (disks too), as docker's."""

    out = []
    for name in sorted(os.listdir("/dev")):
        try:
            mode = os.lstat(os.path.join("/dev", name)).st_mode
        except OSError:
            continue
        if (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) and name not in ("ptmx", "console"):
            out.append(name)
    return out


def mask_paths(root: str, sys: _sys.Sys) -> None:
    for p in MASKED_PATHS:
        mask(root, p, sys)
    for p in READONLY_PATHS:
        full = secure_join(root, p)
        if not os.path.lexists(full):
            continue
        sys.mount(full, full, None, MS_BIND | MS_REC)
        # the flags of the procfs we just mounted are known: no statvfs per path
        sys.mount(None, full, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | MS_NOSUID | MS_NODEV | MS_NOEXEC)


def bind_volumes(root: str, plan: Plan, sys: _sys.Sys) -> None:
    for src, dst, ro in plan.mounts:
        target = _mkdir_in(root, dst) if os.path.isdir(src) else _touch_in(root, dst)
        sys.mount(src, target, None, MS_BIND | MS_REC)
        if ro:
            _remount_ro(target, sys)


def stage_api_mounts(staging: str, ns: list[str], sys: _sys.Sys | None = None) -> None:
    """Mount /proc (with its masks), /sys and /dev in ``staging`` ahead of time; see init's spare."""
    sys = sys or _sys.SYS
    plan = Plan(ns=list(ns))
    mount_proc_sys(staging, plan, sys)
    mount_dev(staging, plan, sys)
    mask_paths(staging, sys)


def setup_rootfs(plan: Plan, mount_root, sys: _sys.Sys | None = None, staged: str | None = None,
                 files_later: bool = False) -> None:
    """Everything from "/ private" to the detached old root. ``mount_root(merged)`` mounts the image
    (an overlay) at ``merged``; it is passed in so the image layer code stays in :mod:`boxkit.images`.
    With ``staged``, /proc, /sys and /dev were mounted there in advance and are moved in. With
    ``files_later`` the files (/etc/hosts, ... whose content may still change) and a read-only
    remount are left to :func:`finish_rootfs`."""
    sys = sys or _sys.SYS
    root = plan.merged
    if staged is None:
        sys.mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount_root(root)
    if staged is None:
        mount_proc_sys(root, plan, sys)
        mount_dev(root, plan, sys)
    else:
        for d in ("proc", "sys", "dev"):
            sys.mount(os.path.join(staged, d), _mkdir_in(root, "/" + d), None, MS_MOVE)
    bind_volumes(root, plan, sys)
    if plan.cgroupfs:
        mount_cgroupfs(root, plan, sys)
    if not files_later:
        for path, content in plan.files.items():
            write_file_in(root, path, content)
    if staged is None and not plan.privileged:
        mask_paths(root, sys)
    if plan.console_from is not None:
        bind_console(root, plan.console_from, sys)
    os.chdir(root)
    sys.pivot_root(".", ".")
    sys.umount2(".", MNT_DETACH)
    os.chdir("/")
    if plan.readonly and not files_later:
        _remount_ro("/", sys)


def write_files(files: dict[str, str]) -> None:
    """After :func:`setup_rootfs` with ``files_later``, inside the new root: ``/`` is now the
    container's root, so :func:`secure_join` keeps every path, symlinks included, inside it."""
    for path, content in files.items():
        write_file_in("/", path, content)


def finish_rootfs(plan: Plan, sys: _sys.Sys | None = None) -> None:
    """After :func:`setup_rootfs` with ``files_later``, inside the new root: write the files (see
    :func:`write_files`), then make the root read-only if asked."""
    sys = sys or _sys.SYS
    write_files(plan.files)
    if plan.readonly:
        _remount_ro("/", sys)


def root_mounter(plan: Plan):
    """The container's root: an overlay with the image layers below and the container's upper dir on
    top, ``nodev`` (see "Device nodes" above). A plain root directory is a one-layer image. Rootless, the
    overlay keeps its xattrs in ``user.overlay.*`` (see :mod:`boxkit.images.overlay`)."""
    extra = (",userxattr" if plan.rootless else "") + VOLATILE
    if len(plan.layers) == 1:
        def mount_dir(target: str) -> None:
            opts = f"lowerdir={escape(plan.layers[0])},upperdir={escape(plan.upper)}," \
                   f"workdir={escape(plan.work)}{extra}"
            _sys.SYS.mount("overlay", target, "overlay", MS_NODEV, opts)
        return mount_dir

    def mount_root(target: str) -> None:
        mount_overlay(plan.layers, plan.upper, plan.work, target, flags=MS_NODEV,
                      extra=extra.lstrip(","))
    return mount_root

