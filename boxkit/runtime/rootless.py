"""Rootless containers: what a learner without root can run, in a user namespace of their own.

Creating a mount, PID, UTS, IPC, network or cgroup namespace, mounting, ``pivot_root`` and
``sethostname`` all need ``CAP_SYS_ADMIN`` — but *in the user namespace that owns the namespace*, not
necessarily on the host. ``unshare(CLONE_NEWUSER)`` needs no privilege at all (where the host allows it:
``user.max_user_namespaces`` > 0, no Debian ``unprivileged_userns_clone=0``, no Ubuntu AppArmor
restriction — ``boxkit probe`` says which). The process that creates a user namespace holds every
capability *in it*, so it may then create the other namespaces, owned by the new one, and do inside
them what a container runtime does as root. That is a rootless container (podman, ``bwrap``, ``runc
--rootless`` work the same way).

**The id map.** A new user namespace starts with no ids mapped: inside, the process is uid 65534 and
may not become anyone. An unprivileged process may write exactly one line to its own
``/proc/self/uid_map``: its own uid outside, mapped to any one id inside — boxkit maps it to 0, so the
learner is root inside and every file the learner owns (the image layers, the overlay upper dir) shows
as owned by root. Before ``gid_map`` may be written the process must write ``deny`` to
``/proc/self/setgroups``: otherwise root-in-the-namespace could drop a supplementary group with
``setgroups(2)`` and get past a "deny this group" permission (CVE-2014-8989, linux 3.19).

A map of *many* ids (``0 1000 1`` plus ``1 100000 65536``) needs the set-uid helpers ``newuidmap`` and
``newgidmap``, which check ``/etc/subuid`` and ``/etc/subgid``. boxkit does not use them: the one line
needs nothing but the kernel (no ``uidmap`` package, no subuid entries, no set-uid program on the
start path, no extra processes per start), and the layers a learner builds or unpacks are all owned by
the learner anyway, so a wider map would give them nothing to own. The price: uid 0 is the only id
inside; ``--user 1000`` or an image whose ``User`` is not root cannot run rootless.

**What still works, and what does not.**

* overlayfs may be mounted inside a user namespace since linux 5.11 (an unprivileged user may even
  create the whiteouts, char devices 0/0, since 5.8), with the ``userxattr`` option: its own marks
  (an opaque directory) go to ``user.overlay.*``, as ``trusted.*`` belongs to the host's root;
* ``/proc`` may be mounted by the owner of the PID namespace, ``sysfs`` by the owner of the network
  namespace — both are ours;
* ``mknod`` of a real device is refused to anyone but the host's root, so ``/dev/null``, ``/dev/zero``
  ... are *bind mounts* of the host's nodes — which is what boxkit does as root too;
* the security steps are the same as with root: ``/proc``'s masked and read-only paths, Docker's
  capability set (no ``CAP_SYS_ADMIN``: the masks cannot be unmounted), ``no_new_privs``. On top, the
  host's mounts copied into the new mount namespace are *locked* there (a less privileged namespace may
  not unmount them to look underneath);
* **cgroups**: the cgroup files belong to the host's root. Only a subtree *delegated* to the user
  (systemd's ``Delegate=yes``, cgroup v2) would let a learner limit memory or CPU; boxkit does not use
  one rootless, so memory and CPU limits need root;
* **networks**: a veth pair to the host or a bridge on it needs ``CAP_NET_ADMIN`` on the host. A rootless
  container gets its own empty network namespace (``--network none``: only ``lo``) and nothing else.
"""

from __future__ import annotations

import errno
import os
import shutil

from .. import _sys
from ..errors import HostError, SpecError
from ..i18n import N_
from .plan import Plan

# what a container spec asks that a rootless container cannot have
_NEEDS_ROOT_HINT = N_("run as root (sudo), or see boxkit probe for what runs here")


def wanted() -> bool:
    """Rootless containers are used exactly when the caller is not root."""
    return os.geteuid() != 0


def require() -> None:
    """Raise unless this process can start containers: as root, or rootless where the probe found
    that an unprivileged user may create user namespaces (and the others inside one)."""
    if not wanted():
        return
    # lazy: only a start without root asks, and the probe's modules add ~8 ms to every import of the
    # runtime (measured with -X importtime), which root never needs
    from ..probe import probe

    report = probe()
    if report.rootless:
        return
    why = report.check("rootless").why
    # the probe's sentence as its message id and fields, so the printing side says it in its language
    # (a field that is itself a sentence of the probe cannot cross the wire: then the English)
    params = getattr(why, "params", None) or {}
    plain = all(type(v) in (str, int, float) for v in params.values())   # not a Said: it cannot cross the wire
    raise HostError(N_("cannot start a container as uid"), str(os.geteuid()), errno=errno.EPERM,
                    detail=getattr(why, "template", why) if plain else str(why), hint=_NEEDS_ROOT_HINT,
                    params=params if plain else None, terms=getattr(why, "terms", ()) if plain else ())


def adapt(plan: Plan, spec) -> Plan:
    """Turn a plan into a rootless one: a user namespace mapped onto the caller's own ids, no cgroup,
    no network but an empty one. Raises :class:`SpecError` (one sentence, what to do) for what a
    rootless container cannot have."""
    if plan.network != "none" or plan.join_net or plan.publish:
        raise SpecError(N_("network"), spec.network,
                        N_("a rootless container (not root) can only have --network none"), hint=_NEEDS_ROOT_HINT)
    if plan.limits:
        names = ", ".join(sorted(plan.limits))
        raise SpecError(N_("limits"), names, N_("memory, CPU and pids limits need cgroups, which a rootless "
                                                "container (not root) does not get"), hint=_NEEDS_ROOT_HINT)
    if plan.cgroupfs:
        raise SpecError("cgroupfs", "True", N_("a rootless container (not root) has no cgroup of its own "
                                               "to mount at /sys/fs/cgroup"), hint=_NEEDS_ROOT_HINT)
    if spec.uid_map is not None and tuple(spec.uid_map) != (0, 100000, 65536):
        raise SpecError(N_("uid map"), spec.uid_map, N_("a rootless container (not root) maps only your own uid, "
                                                         "to root inside"), hint=_NEEDS_ROOT_HINT)
    user = plan.user
    if user and (user[0] != 0 or user[1] != 0):
        raise SpecError(N_("user"), f"{user[0]}:{user[1]}", N_("a rootless container (not root) has only uid 0 "
                                                               "inside (your own uid outside)"),
                        hint=_NEEDS_ROOT_HINT)
    ns = list(plan.ns)
    if "user" not in ns:
        ns.insert(0, "user")
    return plan.but(ns=ns, uid_map=None, user=None, rootless=[os.geteuid(), os.getegid()])


def enter_userns(uid: int, gid: int, sys: _sys.Sys | None = None) -> None:
    """In a freshly forked, still dumpable process: a new user namespace in which this process is
    root, mapped onto ``uid``/``gid`` outside. Must run before ``PR_SET_DUMPABLE`` is cleared: the
    /proc files of a non-dumpable process belong to the host's root, and we could not write our maps."""
    sys = sys or _sys.SYS
    sys.unshare(_sys.CLONE_NEWUSER)
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1\n"), ("gid_map", f"0 {gid} 1\n")):
        try:
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
        except FileNotFoundError:
            if name != "setgroups":   # /proc/PID/setgroups exists since linux 3.19
                raise
    sys.setresgid(0, 0, 0)
    sys.setresuid(0, 0, 0)


def remove_tree(path: str) -> None:
    """``rm -r`` that also works without root on what an overlay leaves. overlayfs creates
    ``workdir/work`` with mode 000 (a private staging dir for copy-ups), and with ``volatile`` also
    ``work/incompat/volatile`` below it; root walks into them anyway (``CAP_DAC_OVERRIDE``), their
    owner must first give itself the right to."""
    tried: set[str] = set()

    def retry(func, p: str, _exc) -> None:
        if p in tried:
            return   # chmod did not help: leave it to boxkit gc as root
        tried.add(p)
        for d in {os.path.dirname(p), p}:
            try:
                if os.path.isdir(d) and not os.path.islink(d):
                    os.chmod(d, 0o700)
            except OSError:
                pass
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, onerror=retry)
            else:
                func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=retry)
