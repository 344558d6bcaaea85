"""The start sequence, once: stage 1 → id maps → PID 1 placed → go → the command runs (or waits).

Every way boxkit starts a container — ``boxkit.run`` and ``boxkit run`` through the supervisor (a spare
or the long way) and the OCI front's ``create`` — runs this one exchange with the process that will be
PID 1 (its messages are drawn in :mod:`.protocol`):

1. the *launch* gets PID 1 going: :class:`LongWay` forks stage 1 now (:func:`.init.stage1`, which makes
   the namespaces and forks PID 1); a spare (:class:`.spare.Spare`) has one waiting;
2. if stage 1 made a user namespace it says USERNS and waits while the caller writes its id maps
   (``/proc/PID/uid_map`` can only be written from outside), then hears MAPPED;
3. PID says who PID 1 is: the caller records it, puts it in its cgroup and its network (a process that
   is not yet in its group could fork children outside it, so this happens before anything runs);
4. GO lets PID 1 build its root and exec; it may carry what the plan gained (``/etc/hosts``, the OCI
   hooks' state);
5. the end: END, the close-on-exec socket closing when ``execve`` succeeded (``boxkit run``), or CREATED,
   PID 1 waiting at the start gate (the OCI ``create``: ``start`` opens the gate later, as runc's
   ``create``/``start`` share one internal start with a gate).

What differs between the fronts is *what the caller does* at steps 2, 3 and 4 — a :class:`Front` — never
the order, so a fix to the sequence is made once. runc keeps the same split: ``linuxContainer.start``
runs one ``parentProcess.start`` for ``run`` and ``create``, and the ``exec.fifo`` gate is the only
difference.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from . import init, rootfs
from .plan import Plan
from .protocol import Msg, expect, kind_of, message, recv, send, unexpected


class Launch(Protocol):
    """How a start gets its container's PID 1, and what it owes afterwards. :class:`LongWay` forks
    it now (stage 1, :func:`.init.stage1`); a spare made while the zygote was idle
    (:class:`.spare.Spare`, from :meth:`.spare.Spares.take`) has it waiting, its namespaces made. The
    start then talks to the set-up side over ``sock`` the same way for both."""

    sock: socket.socket | None
    group: object | None    # a cgroup PID 1 was born in (see cgroups.pregroup); None: the start makes one
    dir_names_pid1: bool    # the container's directory names PID 1 for gc already: the state file may wait

    def brings_directory(self, cid: str) -> bool:
        """Make the container's directory ours (a rename); False: the start prepares one."""

    def begin(self, plan: Plan, stdio: list[int]) -> dict:
        """PID 1's first word (:mod:`.protocol`): PID, or USERNS when its id maps are to be written
        first, or an ERROR report."""

    def reap_setup(self) -> None:
        """After a failure report: collect the set-up process that sent it."""

    def hand_over(self, plan: Plan, stdio: list[int]) -> None:
        """Give PID 1 the plan and stdio fds it does not have yet."""

    def close(self) -> tuple[int, str | None]:
        """After the start, failed or not: close ``sock``; what is left for idle time — a process
        to kill (0: none) and a directory to remove (None: none)."""


class LongWay:
    """PID 1 made at the start: fork stage 1, which creates the namespaces and forks PID 1 (~30 ms
    more than a spare). The fork copies the plan and stdio, so nothing is handed over later.
    ``mount_root`` mounts the container's root in stage 1 (default: the overlay of the plan's layers;
    an OCI bundle binds its own ``root.path``)."""

    group = None
    dir_names_pid1 = False

    def __init__(self, mount_root: Callable | None = None) -> None:
        self.sock: socket.socket | None = None
        self.stage1 = 0
        self.mount_root = mount_root

    def brings_directory(self, cid: str) -> bool:
        return False

    def begin(self, plan: Plan, stdio: list[int]) -> dict:
        mount_root = self.mount_root or rootfs.root_mounter(plan)
        self.sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.stage1 = os.fork()
        if self.stage1 == 0:
            self.sock.close()
            init.stage1(plan, child, stdio, mount_root)
        child.close()
        return recv(self.sock)

    def reap_setup(self) -> None:
        os.waitpid(self.stage1, 0)

    def hand_over(self, plan: Plan, stdio: list[int]) -> None:
        pass

    def close(self) -> tuple[int, str | None]:
        if self.sock is not None:
            self.sock.close()
        return 0, None


@dataclass
class Front:
    """What a front does at each step of the sequence (see the module docstring)."""

    write_maps: Callable[[int], None]        # step 2: stage 1's pid, its user namespace made
    placed: Callable[[int], None]            # step 3: PID 1's pid: record it, its cgroup, its network
    update: Callable[[], dict] = dict        # step 4: what GO carries
    going: Callable[[], None] = lambda: None   # after GO, while PID 1 builds its root: host-only work
    done: Msg = Msg.END                      # step 5: END (the command runs) or CREATED (at the gate)
    steps: tuple[str, str] = field(default=("stage 1", "start"))   # how an error names the two halves


def run(launch: Launch, plan: Plan, stdio: list[int], front: Front) -> int:
    """The sequence, once; returns PID 1's pid. On an error it raises the step's error; what the
    front made at step 3 is the front's to undo (it knows the pid from ``placed``)."""
    before, after = front.steps
    msg = launch.begin(plan, stdio)
    if kind_of(msg) is Msg.USERNS:   # stage 1 made a user namespace: its maps are ours to write
        front.write_maps(msg[Msg.USERNS])
        send(launch.sock, message(Msg.MAPPED))
        msg = recv(launch.sock)
    if kind_of(msg) is not Msg.PID:
        launch.reap_setup()
    # stage 1 exits by itself; the supervisor's reap loop collects it (waiting here would put its exit
    # on the start path)
    pid1 = expect(msg, Msg.PID, plan=plan, step=before)[Msg.PID]
    launch.hand_over(plan, stdio)
    front.placed(pid1)
    update = front.update()   # outside the try: a boxkit error is an OSError too (a failed hook)
    try:
        send(launch.sock, message(Msg.GO, update=update))
    except OSError:
        # it failed while building its root: its ERROR report, or its end
        raise unexpected(recv(launch.sock), plan=plan, step=after) from None
    front.going()
    expect(recv(launch.sock), front.done, plan=plan, step=after)
    return pid1
