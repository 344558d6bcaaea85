"""Errors that say what failed, where, and what to do next.

Every failure boxkit reports is a ``BoxkitError``: an ``OSError`` subclass that keeps the errno of the
system call that failed (so ``except PermissionError`` style checks keep working) and carries a message
in one sentence of three parts — the operation, the path or input, and a hint::

    cannot create cgroup /sys/fs/cgroup/memory/boxkit/x: permission denied — run as root or see boxkit probe

Messages are lowercase and end without a period, as in youki and crun. The CLI prints ``str(err)`` and
exits 125, never a traceback.

Each part is an English message id (:mod:`boxkit.i18n`), translated when the error is *printed*, not when
it is raised: ``op``, ``detail`` and ``hint`` may name fields (``"no running container named {name}"``)
filled from ``params``, and the fields listed in ``terms`` are message ids themselves (``what`` in
``invalid {what}``: "memory limit"). :func:`to_wire` sends the ids and fields, not the sentence, so the
warm helper (which speaks English) and a Portuguese client agree: the client renders it.
"""

from __future__ import annotations

import errno as _errno
import os

from .i18n import N_, _

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
    _errno.EPERM: N_("run as root or see boxkit probe"),
    _errno.EACCES: N_("run as root or see boxkit probe"),
    _errno.ENOSPC: N_("free some disk space or raise the kernel limit"),
    _errno.EBUSY: N_("something still uses it; run boxkit gc"),
    _errno.ENOSYS: N_("this kernel lacks the feature; see boxkit probe"),
}

# strerror(3) in the C locale, lowercased as boxkit prints it: the ones a learner meets, so that a
# Portuguese sentence does not end in English (a rarer one is printed as the C library says it)
STRERROR = (N_("operation not permitted"), N_("no such file or directory"), N_("no such process"),
            N_("permission denied"), N_("file exists"), N_("device or resource busy"),
            N_("invalid argument"), N_("no space left on device"), N_("read-only file system"),
            N_("function not implemented"), N_("directory not empty"), N_("resource temporarily unavailable"),
            N_("cannot allocate memory"), N_("not a directory"), N_("is a directory"),
            N_("too many levels of symbolic links"), N_("address already in use"), N_("connection refused"),
            N_("exec format error"), N_("argument list too long"), N_("no child processes"))


def _fill(template: str, params: dict | None, terms: tuple = ()) -> str:
    text = _(template)
    if not params:
        return text
    values = {k: (_(v) if k in terms and isinstance(v, str) else v) for k, v in params.items()}
    for candidate in (text, template):   # a translation that lost a field: say the English
        try:
            return candidate.format(**values)
        except (KeyError, IndexError, ValueError, AttributeError):
            continue
    return text   # not a template at all (a detail formatted by its caller, with braces of its own)


class BoxkitError(OSError):
    """A failure with an operation, a path or input, and a hint for the user."""

    exit_code = 125

    def __init__(self, op: str, path: str | None = None, *, errno: int | None = None,
                 hint: str | None = None, detail: str | None = None, params: dict | None = None,
                 terms: tuple = ()):
        self.op = op
        self.path = path
        self.params = dict(params) if params else None
        self.terms = tuple(terms)
        self.hint = hint if hint is not None else _ERRNO_HINTS.get(errno or 0)
        self.detail = detail if detail is not None else (os.strerror(errno).lower() if errno else None)
        super().__init__(errno or 0, self._render())
        # OSError.__str__ shows "[Errno N] msg"; keep ours to the sentence alone.
        self.args = (self._render(),)

    def _render(self) -> str:
        msg = _fill(self.op, self.params, self.terms)
        if self.path:
            msg += f" {self.path}"
        if self.detail:
            msg += f": {_fill(self.detail, self.params, self.terms)}"
        if self.hint:
            msg += f" — {_fill(self.hint, self.params, self.terms)}"
        return msg

    def __str__(self) -> str:
        return self._render()

    @classmethod
    def from_oserror(cls, op: str, path: str | None, err: OSError, hint: str | None = None) -> BoxkitError:
        return cls(op, path, errno=err.errno, hint=hint)


class SpecError(BoxkitError, ValueError):
    """Bad input: a malformed option, an impossible limit, an unknown name."""

    def __init__(self, what: str, value: object, why: str, hint: str | None = None,
                 params: dict | None = None):
        self.what = what
        super().__init__(N_("invalid {what}"), repr(value) if not isinstance(value, str) else f"'{value}'",
                         errno=_errno.EINVAL, detail=why, hint=hint, params={**(params or {}), "what": what},
                         terms=("what",))


class UsageError(SpecError):
    """A command line argparse could not read: a missing argument, an unknown option or verb."""

    def __init__(self, prog: str, message: str):
        BoxkitError.__init__(self, N_("invalid use of {prog}"), errno=_errno.EINVAL, detail=message,
                             hint=N_("see {prog} --help"), params={"prog": prog})


class NotFoundError(BoxkitError):
    """An image, rootfs, container or network that does not exist."""

    def __init__(self, what: str, name: str, hint: str | None = None, params: dict | None = None):
        self.what = what
        super().__init__(N_("no such {what}"), f"'{name}'", errno=_errno.ENOENT, detail=N_("not found"),
                         hint=hint, params={**(params or {}), "what": what}, terms=("what",))


class HostError(BoxkitError):
    """The host does not allow something (no root, no overlay, cgroup controller missing)."""


class ContainerError(BoxkitError):
    """A step of container set-up failed inside the new namespaces."""


class ExecError(ContainerError):
    """The container's command could not be executed (126) or was not found (127)."""

    def __init__(self, argv0: str, errno: int):
        self.exit_code = 127 if errno == _errno.ENOENT else 126
        hint = (N_("check the command exists in the image") if errno == _errno.ENOENT
                else N_("check the file is an executable for this machine"))
        super().__init__(N_("cannot execute"), argv0, errno=errno, hint=hint)


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
                "params": _jsonable(getattr(err, "params", None)), "terms": list(getattr(err, "terms", ())),
                "exit_code": getattr(err, "exit_code", 125), "message": str(err)}
    if isinstance(err, OSError):
        return to_wire(BoxkitError(op, err.filename, errno=err.errno or 0,
                                   hint=N_("see boxkit probe") if err.errno not in _ERRNO_HINTS else None))
    return to_wire(BoxkitError(op, detail=f"{type(err).__name__}: {err}"))


def _jsonable(params: dict | None) -> dict | None:
    if not params:
        return None
    return {k: (v if isinstance(v, (str, int, float, bool)) or v is None else str(v)) for k, v in params.items()}


def from_wire(d: dict) -> BoxkitError:
    """The error :func:`to_wire` described, as the same class with the same fields. A payload from an
    older helper (only ``message``) still gives a ``ContainerError`` saying what it said."""
    cls = _wire_types().get(d.get("type", ""), ContainerError)
    e = cls.__new__(cls)
    if "op" in d:
        BoxkitError.__init__(e, d["op"], d.get("path"), errno=d.get("errno") or 0, hint=d.get("hint"),
                             detail=d.get("detail"), params=d.get("params"), terms=tuple(d.get("terms") or ()))
    else:
        BoxkitError.__init__(e, d.get("message", N_("the boxkit helper failed")), hint="")
        e.errno = d.get("errno") or 0
    e.exit_code = d.get("exit_code", 125)
    return e


def check_linux() -> None:
    """boxkit drives Linux kernel features; anywhere else it stops with a sentence."""
    import sys

    if not sys.platform.startswith("linux"):
        raise HostError(N_("boxkit needs a linux kernel"), sys.platform, errno=_errno.ENOSYS,
                        detail=N_("namespaces, cgroups and overlayfs exist only on linux"),
                        hint=N_("use the VM route in the README (Lima, Vagrant or Multipass)"))
