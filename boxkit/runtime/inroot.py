"""Paths and mounts inside a container's root before ``pivot_root``: resolving a path as the container
will see it, and making a bind mount read-only.

Until the pivot, the container's root is a directory of the host (``/…/merged``), and a path from an
image, a bundle or a volume (``/etc/../../host``, a symlink to ``/``) resolves against the *host* if it
is simply joined. :func:`secure_join` resolves it component by component as if the root were ``/`` —
``..`` stops at the root, an absolute symlink restarts there — so a hostile image cannot point a mount
outside itself (runc CVE-2021-30465 raced exactly that: a symlink swapped in between check and mount;
resolving again right before each mount is why every mount step calls this).
"""

from __future__ import annotations

import errno
import os
import stat

from .. import _sys
from .._sys import MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REMOUNT

_ST_FLAGS = {os.ST_RDONLY: MS_RDONLY, os.ST_NOSUID: MS_NOSUID, os.ST_NODEV: MS_NODEV,
             os.ST_NOEXEC: MS_NOEXEC}


def secure_join(root: str, path: str, *, max_links: int = 40) -> str:
    """Resolve ``path`` as if ``root`` were ``/``: ``..`` and symlinks (absolute or relative) can never
    leave ``root``. Components that do not exist are appended as they are (the caller creates them).
    Like Go's filepath-securejoin, which runc uses for the same job."""
    root = os.path.realpath(root)
    todo = [c for c in path.split("/") if c not in ("", ".")]
    done: list[str] = []
    links = 0
    while todo:
        comp = todo.pop(0)
        if comp == "..":
            if done:
                done.pop()
            continue
        cand = os.path.join(root, *done, comp)
        try:
            st = os.lstat(cand)
        except FileNotFoundError:
            done.append(comp)
            continue
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > max_links:
                raise OSError(errno.ELOOP, "too many symlinks", os.path.join("/", *done, comp))
            target = os.readlink(cand)
            if target.startswith("/"):
                done = []
            todo = [c for c in target.split("/") if c not in ("", ".")] + todo
            continue
        done.append(comp)
    return os.path.join(root, *done)


def remount_ro(target: str, sys: _sys.Sys, extra: int = 0) -> None:
    """Bind mounts ignore MS_RDONLY on the first call; a remount makes them read-only. The flags the
    mount already has must be repeated, or a locked mount (user namespace) refuses with EPERM."""
    keep = 0
    try:
        fl = os.statvfs(target).f_flag
        for st_bit, ms_bit in _ST_FLAGS.items():
            if fl & st_bit:
                keep |= ms_bit
    except OSError:
        pass
    sys.mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | keep | extra)


def mask(root: str, path: str, sys: _sys.Sys) -> None:
    """Hide ``path`` inside ``root`` as runc's maskPath does: an empty read-only tmpfs over a directory,
    ``/dev/null`` bound over a file (``/proc/kcore`` reads nothing, ``/proc/keys`` lists nothing); a
    path this kernel lacks is left alone. One copy for every route: the long way and a spare before
    pivot_root (docker's list), an OCI bundle's ``linux.maskedPaths`` after it."""
    full = secure_join(root, path)
    if not os.path.lexists(full):
        return
    if os.path.isdir(full):
        sys.mount("tmpfs", full, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0")
    else:
        sys.mount("/dev/null", full, None, MS_BIND)
