"""Errors that say what failed, where, and what to do next.

Every failure boxkit reports is a ``BoxkitError``: an ``OSError`` subclass that keeps the errno of the
system call that failed (so ``except PermissionError`` style checks keep working) and carries a message
in one sentence of three parts — the operation, the path or input, and a hint::

    cannot create cgroup /sys/fs/cgroup/memory/boxkit/x: permission denied — run as root or see boxkit probe

Messages are lowercase and end without a period, as in youki and crun. The CLI prints ``str(err)`` and
exits 125, never a traceback.
"""

from __future__ import annotations

import errno as _errno
import os

__all__ = [
    "BoxkitError",
    "SpecError",
    "NotFoundError",
    "HostError",
    "ContainerError",
    "ExecError",
    "UsageError",
    "check_linux",
    "to_wire",
    "from_wire",
]

_ERRNO_HINTS = {
    _errno.EPERM: "run as root or see boxkit probe",
    _errno.EACCES: "run as root or see boxkit probe",
    _errno.ENOSPC: "free some disk space or raise the kernel limit",
    _errno.EBUSY: "something still uses it; run boxkit gc",
    _errno.ENOSYS: "this kernel lacks the feature; see boxkit probe",
}


class BoxkitError(OSError):
    """A failure with an operation, a path or input, and a hint for the user."""

    exit_code = 125

    def __init__(self, op: str, path: str | None = None, *, errno: int | None = None,
                 hint: str | None = None, detail: str | None = None):
        self.op = op
        self.path = path
        self.hint = hint if hint is not None else _ERRNO_HINTS.get(errno or 0)
        self.detail = detail if detail is not None else (os.strerror(errno).lower() if errno else None)
        super().__init__(errno or 0, self._render())
        # OSError.__str__ shows "[Errno N] msg"; keep ours to the sentence alone.
        self.args = (self._render(),)

    def _render(self) -> str:
        msg = self.op
        if self.path:
            msg += f" {self.path}"
        if self.detail:
            msg += f": {self.detail}"
        if self.hint:
            msg += f" — {self.hint}"
        return msg

    def __str__(self) -> str:
        return self._render()

    @classmethod
    def from_oserror(cls, op: str, path: str | None, err: OSError, hint: str | None = None) -> BoxkitError:
        return cls(op, path, errno=err.errno, hint=hint)


class SpecError(BoxkitError, ValueError):
    """Bad input: a malformed option, an impossible limit, an unknown name."""

    def __init__(self, what: str, value: object, why: str, hint: str | None = None):
        super().__init__(f"invalid {what}", repr(value) if not isinstance(value, str) else f"'{value}'",
                         errno=_errno.EINVAL, detail=why, hint=hint)


class UsageError(SpecError):
    """A command line argparse could not read: a missing argument, an unknown option or verb."""

    def __init__(self, prog: str, message: str):
        BoxkitError.__init__(self, f"invalid use of {prog}", errno=_errno.EINVAL, detail=message,
                             hint=f"see {prog} --help")


class NotFoundError(BoxkitError):
    """An image, rootfs, container or network that does not exist."""

    def __init__(self, what: str, name: str, hint: str | None = None):
        super().__init__(f"no such {what}", f"'{name}'", errno=_errno.ENOENT, detail="not found", hint=hint)


class HostError(BoxkitError):
    """The host does not allow something (no root, no overlay, cgroup controller missing)."""


class ContainerError(BoxkitError):
    """A step of container set-up failed inside the new namespaces."""


class ExecError(ContainerError):
    """The container's command could not be executed (126) or was not found (127)."""

    def __init__(self, argv0: str, errno: int):
        self.exit_code = 127 if errno == _errno.ENOENT else 126
        hint = ("check the command exists in the image" if errno == _errno.ENOENT
                else "check the file is an executable for this machine")
        super().__init__("cannot execute", argv0, errno=errno, hint=hint)


_WIRE_TYPES: dict[str, type[BoxkitError]] = {}


def _wire_types() -> dict[str, type[BoxkitError]]:
    if not _WIRE_TYPES:
        for cls in (BoxkitError, SpecError, UsageError, NotFoundError, HostError, ContainerError, ExecError):
            _WIRE_TYPES[cls.__name__] = cls
    return _WIRE_TYPES


def to_wire(err: BaseException, op: str = "cannot start container") -> dict:
    """An error as JSON for the helper's socket, whole: its class (the nearest one :func:`from_wire`
    knows, e.g. ``SpecError`` for an images ``LayerError``), operation, path, errno, detail, hint and
    exit code. An ``OSError`` that is not ours becomes ``op`` with its file name and errno; anything
    else ``op`` with its type and text."""
    if isinstance(err, BoxkitError):
        kind = next(c.__name__ for c in type(err).__mro__ if c.__name__ in _wire_types()
                    and issubclass(c, BoxkitError))
        return {"type": kind, "name": type(err).__name__, "op": err.op, "path": err.path,
                "errno": err.errno or 0, "detail": err.detail, "hint": err.hint,
                "exit_code": getattr(err, "exit_code", 125), "message": str(err)}
    if isinstance(err, OSError):
        return to_wire(BoxkitError(op, err.filename, errno=err.errno or 0,
                                   hint="see boxkit probe" if err.errno not in _ERRNO_HINTS else None))
    return to_wire(BoxkitError(op, detail=f"{type(err).__name__}: {err}"))


def from_wire(d: dict) -> BoxkitError:
    """The error :func:`to_wire` described, as the same class with the same fields. A payload from an
    older helper (only ``message``) still gives a ``ContainerError`` saying what it said."""
    cls = _wire_types().get(d.get("type", ""), ContainerError)
    e = cls.__new__(cls)
    if "op" in d:
        BoxkitError.__init__(e, d["op"], d.get("path"), errno=d.get("errno") or 0, hint=d.get("hint"),
                             detail=d.get("detail"))
    else:
        BoxkitError.__init__(e, d.get("message", "the boxkit helper failed"), hint="")
        e.errno = d.get("errno") or 0
    e.exit_code = d.get("exit_code", 125)
    return e


def check_linux() -> None:
    """boxkit drives Linux kernel features; anywhere else it stops with a sentence."""
    import sys

    if not sys.platform.startswith("linux"):
        raise HostError("boxkit needs a linux kernel", sys.platform, errno=_errno.ENOSYS,
                        detail="namespaces, cgroups and overlayfs exist only on linux",
                        hint="use the VM route in the README (Lima, Vagrant or Multipass)")
