"""Stacking image layers with overlayfs, however many there are.

overlayfs shows several directories as one. Its mount takes::

    mount -t overlay overlay -o lowerdir=L3:L2:L1,upperdir=U,workdir=W  MERGED

* ``lowerdir`` — read-only layers, **top-most first** (``L3`` hides files of ``L2`` which hides ``L1``);
* ``upperdir`` — where every change lands: a write to a lower file first *copies it up* whole; a
  deleted lower file becomes a *whiteout* (a character device 0/0) in the upper dir; a directory
  replaced wholesale gets the xattr ``trusted.overlay.opaque=y`` so nothing below shows through;
* ``workdir`` — an empty directory on the same file system as ``upperdir`` that the kernel uses to
  prepare copy-ups before moving them into place atomically.

Without ``upperdir``/``workdir`` the stack is read-only — but then the kernel wants **at least two**
lower dirs; a read-only view of a single layer is simply a read-only *bind mount* of it.

**The one-page limit.** ``mount(2)`` copies its ``data`` argument into one page (4096 bytes on x86-64),
so the whole option string, all lower paths included, must fit in 4095 characters. 200 layers under
``/var/lib/boxkit/images/layers/<64 hex digits>/`` need ~20 KB. Docker's overlay2 driver keeps a
directory ``l/`` of symlinks with 26-character names and mounts from *inside* it with relative paths:
the kernel resolves a relative ``lowerdir`` against the mounting process's current directory. boxkit
does the same, with even shorter names (``0``, ``1``, ... ``5k`` in base 36), in a temporary directory of
symlinks that exists only for the duration of the ``mount`` call — the kernel holds the resolved
directories, not the names. (Since linux 6.8 the new mount API's ``fsconfig(... "lowerdir+" ...)``
appends lower dirs one by one with no page limit; the symlink trick works on every kernel.)
The kernel stacks at most 500 lower layers (``OVL_MAX_STACK``).

``,`` separates options and ``:`` separates lower dirs, so both are escaped with a backslash in paths.

**Inside a user namespace** (rootless containers, linux 5.11+) overlayfs may not use its usual
``trusted.overlay.*`` extended attributes — only the host's root may write ``trusted.`` — and
deleting a lower *directory* then fails with EIO, because its replacement in the upper dir cannot be
marked opaque. The ``userxattr`` option makes it use ``user.overlay.*`` instead (``user.overlay.opaque``
for an opaque dir); with it the kernel also turns off the features that would trust such xattrs found
in a lower layer (``redirect_dir``, ``metacopy``).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile

from .. import _sys
from .._sys import SYS
from ..errors import BoxkitError, SpecError

MAX_LAYERS = 500  # OVL_MAX_STACK in fs/overlayfs/params.h


def escape(path: str) -> str:
    """A path as overlayfs's option parser wants it: ``\\``, ``,`` and ``:`` escaped."""
    return path.replace("\\", "\\\\").replace(",", "\\,").replace(":", "\\:")


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def overlay_options(lowers_top_first: list[str], upper: str | None, work: str | None,
                    extra: str = "") -> str:
    opts = "lowerdir=" + ":".join(escape(p) for p in lowers_top_first)
    if upper is not None and work is not None:
        opts += f",upperdir={escape(upper)},workdir={escape(work)}"
    return opts + ("," + extra if extra else "")


def _page() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 4096


def mount_overlay(layers: list[str], upper: str | None, work: str | None, target: str, *,
                  flags: int = 0, sys: _sys.Sys = SYS, extra: str = "") -> None:
    """Mount ``layers`` (bottom first, as images list them) as one tree at ``target``.

    With ``upper`` and ``work`` the result is writable and changes land in ``upper``; with neither it is
    read-only. ``flags`` are extra ``MS_*`` mount flags (``MS_NODEV | MS_NOSUID`` for a container root);
    ``extra`` more overlay options (``userxattr`` in a user namespace).
    """
    if not layers:
        raise SpecError("layers", [], "an overlay needs at least one layer")
    if (upper is None) != (work is None):
        raise SpecError("overlay", target, "upper and work dirs go together: give both or neither")
    if len(layers) > MAX_LAYERS:
        raise SpecError("layers", len(layers), f"overlayfs stacks at most {MAX_LAYERS} layers",
                        hint="squash the image into fewer layers")
    try:
        if upper is None and len(layers) == 1:
            # a single read-only layer: overlay refuses one lowerdir without an upper, a bind does it
            sys.mount(layers[0], target, None, _sys.MS_BIND)
            sys.mount(None, target, None, _sys.MS_BIND | _sys.MS_REMOUNT | _sys.MS_RDONLY | flags)
            return
        ro = _sys.MS_RDONLY if upper is None else 0
        lowers = list(reversed(layers))
        opts = overlay_options(lowers, upper, work, extra)
        if len(opts.encode()) < _page():
            sys.mount("overlay", target, "overlay", flags | ro, opts)
            return
        _mount_short(lowers, upper, work, target, flags | ro, sys, extra)
    except OSError as e:
        if isinstance(e, BoxkitError):
            raise
        hint = None
        if e.errno == errno.EINVAL:
            hint = ("upper and work must be empty-or-previous dirs on one file system that is not itself "
                    "an overlay; see dmesg")
        elif e.errno == errno.ENODEV:
            hint = "load the overlay module (modprobe overlay) or see boxkit probe"
        raise BoxkitError("cannot mount overlay of", f"{len(layers)} layers on {target}", errno=e.errno,
                          hint=hint) from e


def unmount_overlay(target: str) -> None:
    """Detach the overlay at ``target`` (``MNT_DETACH``: a process still inside keeps its view until it
    leaves; the upper dir keeps every change either way)."""
    SYS.umount2(target, _sys.MNT_DETACH)


def _mount_short(lowers: list[str], upper: str | None, work: str | None, target: str, flags: int,
                 sys: _sys.Sys, extra: str = "") -> None:
    """Mount with short relative names: a temp dir of symlinks ``0 1 2 ...``, entered with chdir.

    chdir is per process; the caller is a single-threaded container set-up process (or a test), and
    the previous directory is restored before returning."""
    target = os.path.abspath(target)  # before the chdir below changes what a relative path means
    links = tempfile.mkdtemp(prefix=".bk-ovl-")
    here = None
    try:
        try:
            here = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            here = None  # the current directory is gone: return to / afterwards
        names = []
        for i, layer in enumerate(lowers):
            name = _base36(i)
            os.symlink(os.path.abspath(layer), os.path.join(links, name))
            names.append(name)
        up = wk = None
        if upper is not None and work is not None:
            os.symlink(os.path.abspath(upper), os.path.join(links, "U"))
            os.symlink(os.path.abspath(work), os.path.join(links, "W"))
            up, wk = "U", "W"  # upper case: never a base-36 layer name
        opts = overlay_options(names, up, wk, extra)
        if len(opts.encode()) >= _page():
            raise SpecError("layers", len(lowers), "too many layers for one mount option page",
                            hint="squash the image into fewer layers")
        os.chdir(links)
        try:
            sys.mount("overlay", target, "overlay", flags, opts)
        finally:
            if here is not None:
                os.fchdir(here)
            else:
                os.chdir("/")
    finally:
        if here is not None:
            os.close(here)
        shutil.rmtree(links, ignore_errors=True)
