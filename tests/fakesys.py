"""One recording fake of boxkit's kernel seam (:class:`boxkit._sys.Sys`), shared by the unit tests.

Every container set-up step is a call on the seam, so the order of the steps *is* the list of calls.
:class:`FakeSys` is a subclass of the real ``Sys`` in which every public method — the ones there today
and any added later — records its call instead of making it: nothing reaches the kernel, and a test
that compares the whole list sees a step that went past the seam (it is missing) as well as one out of
order. A call may be made to fail with an errno, as the kernel would fail it::

    fake = FakeSys(fail={"pivot_root": errno.EINVAL})
    fake = FakeSys(fail=lambda call: errno.EPERM if call.name == "setresuid" and call.args["ruid"] else None)

The failed call is recorded too (it was attempted), and is also in ``fake.failed``.
"""

from __future__ import annotations

import inspect
import os

from boxkit import _sys

ALL_CAPS = (1 << (_sys.CAP_LAST_CAP + 1)) - 1

# what a call returns when the test does not say: a process holding every capability, prctl's 0
DEFAULT_RETURNS = {"capget": (ALL_CAPS, ALL_CAPS, 0), "prctl": 0, "last_cap": _sys.CAP_LAST_CAP}

# the os.* calls the container side makes only through the seam (see boxkit/_sys.py)
SEAM_ONLY = ("setresuid", "setresgid", "setgroups", "chroot", "fchdir", "mknod", "chown", "lchown",
             "fchown", "setxattr")


class Call(tuple):
    """One recorded call: the tuple ``(name, *arguments)`` in the order of the real method's signature,
    defaults filled in — ``("mount", None, "/", None, flags, None)``; ``.name`` and ``.args`` (a dict by
    parameter name) read it by name."""

    name: str
    args: dict

    def __new__(cls, name: str, args: dict):
        self = super().__new__(cls, (name, *args.values()))
        self.name = name
        self.args = args
        return self


class FakeSys(_sys.Sys):
    """Records each seam call in order, changes nothing, fails what ``fail`` names.

    ``fail``: a dict ``{method name: errno}`` (every call of it fails) or a function of the
    :class:`Call` returning an errno or None. ``returns``: ``{method name: value}``, or a function of
    the call, for the calls whose result the code reads (``capget``, ``vfork_sibling`` ...).
    ``hook(call)`` runs at each call before anything else, to look at the world as the call sees it
    (the cwd of a mount, say)."""

    def __init__(self, fail=None, returns: dict | None = None, hook=None):
        self.calls: list[Call] = []
        self.failed: list[Call] = []
        self._fail = fail or {}
        self._returns = {**DEFAULT_RETURNS, **(returns or {})}
        self._hook = hook

    def names(self) -> list[str]:
        return [c.name for c in self.calls]

    def note(self, name: str, **args) -> None:
        """Record an event that is not a seam call (an ``execve`` the test stood in for) in the same
        list, so its place among the calls is checked too."""
        self.calls.append(Call(name, args))

    def _record(self, name: str, args: dict):
        call = Call(name, args)
        self.calls.append(call)
        if self._hook is not None:
            self._hook(call)
        eno = self._fail(call) if callable(self._fail) else self._fail.get(name)
        if eno:
            self.failed.append(call)
            raise OSError(eno, f"{name}: {os.strerror(eno)}")
        value = self._returns.get(name)
        return value(call) if callable(value) else value


def _recorder(name: str, real):
    sig = inspect.signature(real)

    def method(self, *args, **kw):
        bound = sig.bind(self, *args, **kw)   # a call the real method would refuse is refused here
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        arguments.pop("self")
        return self._record(name, arguments)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"Records a call of :meth:`boxkit._sys.Sys.{name}`."
    return method


for _name, _real in inspect.getmembers(_sys.Sys, inspect.isfunction):
    if not _name.startswith("_"):
        setattr(FakeSys, _name, _recorder(_name, _real))


def forbid_direct_calls(monkeypatch) -> None:
    """Make the ``os`` functions the seam wraps raise AssertionError for the rest of the test (a
    :class:`FakeSys` never calls them): code that forgot to route a call fails loudly instead of
    really changing the test process's uid or root (the tests run as root too)."""
    for name in SEAM_ONLY:
        real = getattr(os, name, None)
        if real is None:
            continue

        def refused(*args, _name=name, **kw):
            raise AssertionError(f"os.{_name} called past the kernel seam (boxkit._sys.Sys)")

        monkeypatch.setattr(os, name, refused)
