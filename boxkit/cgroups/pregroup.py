"""The pre-group: a cgroup made and joined *before* its container is asked for (v1 only).

Why it exists. Moving a process into a cgroup — a write of its PID to ``cgroup.procs`` — takes the
kernel's ``cgroup_threadgroup_rwsem`` for writing (``cgroup_procs_write`` →
``cgroup_attach_lock``). That is a per-CPU rw-semaphore: its readers (every ``fork``, every thread
exit) take no shared lock, so a writer must first wait until every CPU is known to have left its
read side — an RCU grace period (``percpu_down_write`` → ``rcu_sync_enter``). Writes close together
are cheap (the semaphore goes back to its fast mode only one grace period after the last writer),
but the first write after a quiet spell pays the whole grace period: about 11 ms measured here, a third of a container start,
whatever the limits. A notebook starts one container per cell, seconds apart: every start was the
first write after a quiet spell.

A process *forked* inside a group inherits it for free (no move, no lock for writing). So the
runtime's spare (:mod:`boxkit.runtime.spare`) makes a group while the supervisor is idle,
:func:`prepare`, and moves its first process — or its PID 1 — in then; the PID 1 that a start takes
is already inside. The start only has to make the group the container's:

* :meth:`PreGroup.limit` writes the container's limits (~0.5 ms) before the container may run its
  command. The group already spans every hierarchy, cpuset included (filled from its parent's, as an
  empty v1 cpuset refuses tasks), as every container's group must. v1 also refuses a memory limit
  below what the group already holds (``EBUSY``), the spare's own pages charged since it joined:
  :meth:`PreGroup._uncharged_memory_group` then moves the processes into a fresh memory group.
* :meth:`PreGroup.rename` gives it the container's id, while the command is being exec'd (the name
  is cosmetic: nothing in the kernel looks at it; ``boxkit stats`` and gc do). ``cgroup1_rename``
  renames a v1 directory in place, within the same parent, and its processes stay in it.

v2 cannot rename a cgroup directory, so there :func:`prepare` returns None and the runtime creates
the group at start as usual; ``clone3(CLONE_INTO_CGROUP)`` (5.7+) would be v2's way to be born
inside a group.
"""

from __future__ import annotations

import errno
import os

from ..spec import Limits
from . import Group, _fail, _make_v1, devices, memory, resources, v1_spanned
from .controllers import CONTROLLERS, write
from .host import BASE, detect

# what every group gets before its container is known: no limits, and the device rules that every
# boxkit run container has (a spare is never --privileged)
_BARE = resources.from_limits(Limits())


class PreGroup(Group):
    """A group from :func:`prepare`, under a spare's name until a start claims it."""

    def claim(self, cid: str, limits) -> None:
        """Make the group the container ``cid``'s: :meth:`limit`, then :meth:`rename`."""
        self.limit(cid, limits)
        self.rename(cid)

    def limit(self, cid: str, limits) -> None:
        """Write the limits of container ``cid`` (a cpuset too: the group spans every hierarchy from
        :func:`prepare` on, its cpuset filled from its parent's). The supervisor does this before the
        container may run its command; the cosmetic :meth:`rename` can wait until the command is being
        exec'd."""
        res = resources.of(limits)
        try:
            dirs = {c: d for c, d in self.dirs.items() if c != "devices"}   # device rules: made in prepare()
            try:
                memory.v1_apply(dirs, res)
            except OSError as e:
                if e.errno != errno.EBUSY or "memory" not in self.dirs:
                    raise
                self._uncharged_memory_group()
                memory.v1_apply(self.dirs, res)
            for c in CONTROLLERS:
                if c not in (memory, devices):
                    c.v1_apply(dirs, res)
        except OSError as e:
            raise _fail("cannot set limits on cgroup", getattr(e, "filename", None) or self.paths[0], e) from e

    def rename(self, cid: str) -> None:
        """Rename the group to ``cid`` in every hierarchy (v1 only: ``cgroup1_rename``, within the
        same parent; a process keeps its group across the rename)."""
        renamed = dict(self.dirs)   # kept exact at every step, so remove() finds what a failure left
        for ctrl, d in self.dirs.items():
            new = os.path.join(os.path.dirname(d), cid)
            if d != new and os.path.isdir(d):
                try:
                    os.rename(d, new)
                except OSError as e:
                    self.dirs = renamed
                    raise _fail("cannot rename cgroup", d, e) from e
            renamed[ctrl] = new
        self.cid, self.dirs = cid, renamed

    def _uncharged_memory_group(self) -> None:
        """v1 refuses a memory limit below what the group already holds and cannot reclaim (EBUSY) — a
        spare's own pages, charged since it joined. A *move* leaves charges behind
        (``memory.move_charge_at_immigrate`` is 0), so the processes move to a fresh memory group and
        the charged one goes (an empty memory cgroup may be removed with pages still charged)."""
        d = self.dirs["memory"]
        charged = d + "-charged"
        os.rename(d, charged)
        os.mkdir(d)
        with open(os.path.join(charged, "cgroup.procs")) as f:
            for pid in f.read().split():
                try:
                    write(os.path.join(d, "cgroup.procs"), pid)
                except ProcessLookupError:
                    pass
        try:
            os.rmdir(charged)
        except OSError:
            pass   # a process still in it: gc removes it once empty (an id nobody holds alive)


def prepare(name: str) -> PreGroup | None:
    """A group made *ahead* of a container, under ``name``, with the device rules every container
    gets and no limits yet; None on v2 or without cgroups (see the module's docstring)."""
    host = detect()
    if host.version != 1 or host.mode == "none" or host.parent_rule.startswith("invalid"):
        return None   # an invalid BOXKIT_CGROUP_PARENT is reported by the start itself (cgroups.create)

    group = PreGroup(name, host, {})
    try:
        _make_v1(group, v1_spanned(host, _BARE))   # every hierarchy, as any container's group
        devices.v1_apply(group.dirs, _BARE)         # the device rules: the same for every container
    except OSError as e:
        group.remove()
        raise _fail("cannot create cgroup", getattr(e, "filename", None) or BASE, e) from e
    return group
