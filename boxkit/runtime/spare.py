"""Spares: containers made before they are asked for.

Creating namespaces and forking twice costs milliseconds, and none of it depends on what the next
container runs. So the zygote keeps spares (:class:`Spares`), made while it is idle:

* a *plain* spare: stage 1 and 2 done for the default namespace set (:data:`SPARE_NS`), ``/``
  private, ``lo`` up, the capability bounding set dropped, /proc (with its masks), /sys and /dev
  mounted in a staging directory, and — cgroup v1 — PID 1 inside a cgroup of its own that a start
  claims by renaming it (the first write to ``cgroup.procs`` after a quiet spell waits ~10 ms for an
  RCU grace period). A start sends it the plan; it mounts the image and pivots (~2 ms);
* a spare *prebuilt* on a guess, the image the last container ran: the same, and its overlay
  mounted, /proc, /sys and /dev moved in, ``pivot_root`` done and the host's tree detached (a detach
  waits for an RCU grace period too), /etc/hostname and /etc/hosts copied up (``spare_child._prebuild``). A
  start renames its directory to the container's. A plan for another image, with volumes (the
  host's paths are gone from in there), or for layer directories changed on disk since
  (:func:`built_for`) takes the plain spare;
* each with a PID 1 that shares its first process's memory (:mod:`.spare_child`), so that its
  ``execve`` frees no address space. The first process is held by a ptrace stop and killed once PID
  1 has exec'd, when the zygote is idle.

A start takes a spare (:meth:`Spares.take`) or, for namespaces or id maps no spare has, the long way
(~30 ms more).
"""

from __future__ import annotations

import os
import select
import socket
import time
from dataclasses import dataclass

from .. import _sys, cgroups, paths
from .._sys import SYS
from ..cgroups import pregroup
from . import rootfs, rootless, spare_child, state
from .plan import Plan
from .protocol import Msg, encode, kind_of, message, recv, send

SPARE_NS = ("pid", "mount", "uts", "ipc", "net")


@dataclass
class Guess:
    """What a prebuilt spare bets the next start is: ``plan`` — a plan without a command, only the
    root its overlay is mounted on (layers and directories) — and what that bet must still hold."""
    plan: Plan
    stamps: list[list[int]]   # the layers' device, inode and ctime when it was built (see stamps)
    pins: list[int]           # fds holding the layer directories, so their inodes stay unique (pin)
    root: str                 # the directory renamed to the container's at start


@dataclass
class Spare:
    pid: int
    sock: socket.socket
    staging: str
    name: str = ""
    group: object | None = None   # a cgroup made and joined ahead of time (v1; see cgroups.pregroup)
    guess: Guess | None = None    # the image it is already built on (see Spares.make)
    ready: bool | None = None     # None: not heard yet; False: it failed (see Spares.message)
    holder: int = 0               # its first process, holding PID 1's memory (see spare_child)

    # --- a start's launch (see start.Launch): the spare a start took -------------------------
    @property
    def dir_names_pid1(self) -> bool:
        return self.guess is not None   # a prebuilt one's directory: see Spares.hello

    def brings_directory(self, cid: str) -> bool:
        """A prebuilt spare's overlay is mounted on its directories already: a rename keeps it so."""
        if self.guess is None:
            return False
        paths.ensure(paths.containers_dir(), 0o711)
        os.rename(self.guess.root, paths.container_dir(cid))
        return True

    def begin(self, plan: Plan, stdio: list[int]) -> dict:
        return message(Msg.PID, self.pid)   # heard when it was taken (Spares.take)

    def reap_setup(self) -> None:
        pass   # never called: begin always names PID 1

    def hand_over(self, plan: Plan, stdio: list[int]) -> None:
        """The plan first: the spare builds the root (a plain one, ~2 ms) or writes its files while
        the supervisor writes the state, sets the limits and attaches the network; "go" then lets it
        finish and exec."""
        socket.send_fds(self.sock, [encode(message(Msg.PLAN, plan.to_wire()))], stdio)

    def close(self) -> tuple[int, str]:
        """Its first process (to kill when idle, 0 for none) and its staging directory (empty, its
        mounts moved into the root; three rmdirs waited on the disk for up to 2 ms in traces, so
        they wait for idle time too)."""
        self.sock.close()
        if self.guess is not None:
            unpin(self.guess.pins)
        return self.holder, self.staging


class Spares:
    """The zygote's spares — at most one *plain* (for any image, volumes too) and one *prebuilt* on the
    guessed image — and the guess."""

    def __init__(self, zygote: tuple[int, int | None], enabled: bool) -> None:
        self.zygote = zygote
        self.enabled = enabled and not os.environ.get("BOXKIT_NO_SPARE")
        # the next spare is built on the image the last container ran (see make)
        self.prebuild = self.enabled and not os.environ.get("BOXKIT_NO_PREBUILD")
        # PID 1 shares its first process's memory, so its execve frees none (see spare_child)
        self.vfork = self.enabled and not os.environ.get("BOXKIT_NO_VFORK")
        self.pool: list[Spare] = []      # ready or being made
        self.retired: list[Spare] = []   # to drop when idle (see retire)
        self.made = 0
        self.guess: list[str] | None = None
        # not root: every container (spares too) gets a user namespace mapped onto our ids (rootless.py)
        self.own_ids = None if os.geteuid() == 0 else [os.geteuid(), os.getegid()]
        self.ns = SPARE_NS + (("user",) if self.own_ids else ())

    def missing(self) -> bool:
        """Whether a spare is still to be made (see :meth:`make`)."""
        return self.enabled and (self._kind(prebuilt=False) is None
                                 or bool(self.prebuild and self.guess and self._kind(prebuilt=True) is None))

    def _kind(self, prebuilt: bool) -> Spare | None:
        return next((sp for sp in self.pool if (sp.guess is not None) == prebuilt), None)

    def make(self) -> None:
        """Make one missing spare, while the zygote is idle (off every caller's path): the prebuilt
        one first when there is a guess (the likely next start), else the plain one.

        A spare is *prebuilt* on the guess: the layers of the last container a spare could have
        served. A notebook re-runs its cells on the same image, so the spare mounts that image's
        overlay, moves /proc, /sys and /dev in and pivots into it while nobody waits; the start then
        renames its directory to the container's and only writes what the plan says. A plan for
        another image, or with volumes, takes the plain spare, which builds the root at the start
        (~2 ms more) — the long way, without any spare, costs ~30 ms more."""
        if not self.missing():
            return
        want_prebuilt = bool(self.prebuild and self.guess and self._kind(prebuilt=True) is None)
        self.made += 1
        staging = os.path.join(paths.root(), "spare", f"{self.zygote[0]}-{self.zygote[1]}-{self.made}")
        os.makedirs(staging, mode=0o700)
        guess = None
        if want_prebuilt:
            try:
                guess = self._guess_plan(staging, self.guess or [])
            except OSError:
                self.guess = None   # a layer is gone: no guess, and a plain spare if one is missing
                if self._kind(prebuilt=False) is not None:
                    rootless.remove_tree(staging)
                    return
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        flags = 0
        for n in SPARE_NS:
            flags |= _sys.NAMESPACE_FLAGS[n]
        name = f"spare-{self.zygote[0]}-{self.made}"
        pid = os.fork()
        if pid == 0:
            parent.close()
            no_group = os.environ.get("BOXKIT_NO_CGROUPS") or self.own_ids or cgroups.host.groups_unavailable()
            spare_child.stage1(flags, child, staging, list(self.ns) + ["cgroup"], rootfs.root_mounter,
                               None if no_group else name, self.own_ids,
                               guess.plan if guess is not None else None)
        child.close()
        try:
            parent, seized = self._handshake(pid, parent)
        except BaseException:
            state.kill(pid)
            parent.close()
            if guess is not None:
                unpin(guess.pins)
            rootless.remove_tree(staging)
            raise
        # no waiting here: the spare makes its cgroup and namespaces on the other core while we serve
        # requests (a container's exit report must not queue behind a dozen mkdirs); its pid, group
        # and "ready" wait in the socket until a start takes it
        self.pool.append(Spare(0, parent, staging, name, guess=guess, holder=pid if seized else 0))

    def _handshake(self, pid: int, parent: socket.socket) -> tuple[socket.socket, bool]:
        """Attach to the first process with ptrace (see spare_child) and tell it whether we did.
        Returns the socket to talk to PID 1 through, and whether PID 1 will share the memory."""
        seized = False
        if self.vfork:
            try:
                SYS.ptrace_seize(pid, _sys.PTRACE_O_TRACEVFORKDONE | _sys.PTRACE_O_EXITKILL)
                seized = True
            except OSError:
                self.vfork = False   # ptrace refused here (seccomp, Yama): PID 1 is forked as before
        send(parent, message(Msg.SEIZED, seized))
        if not seized:
            return parent, False
        # the first process keeps its copy of this socket (it never runs again to close it), so PID 1
        # gets a socket of its own, sent after the clone: its execve then still closes the last
        # copy, and that end of file still tells us the command runs
        own, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            socket.send_fds(parent, [encode(message(Msg.SOCKET))], [theirs.fileno()])
        except BaseException:
            own.close()
            raise
        finally:
            theirs.close()
        parent.close()
        return own, True

    def _guess_plan(self, staging: str, layers: list[str]) -> Guess:
        """The directories of the container-to-be (renamed to the container's at start) and what
        identifies its layers on disk: a layer directory replaced since (same path, new inode) must
        not be served from the old one the spare holds mounted."""
        pins = pin(layers)
        try:
            marks = stamps(layers)
            root = os.path.join(staging, "root")
            os.mkdir(root, 0o711)
            for sub in ("upper", "work", "merged"):
                os.mkdir(os.path.join(root, sub), 0o755)
        except OSError:
            unpin(pins)
            raise
        plan = Plan(layers=list(layers), upper=os.path.join(root, "upper"), work=os.path.join(root, "work"),
                    merged=os.path.join(root, "merged"), rootless=self.own_ids, ns=list(self.ns))
        return Guess(plan, marks, pins, root)

    def hello(self, sp: Spare) -> None:
        """Read the spare's first message, PID: its PID 1 and the cgroup it was born in. Anything else
        (its ERROR, its end) is a spare that failed: nobody waits for it, so nobody is told."""
        if sp.pid:
            return
        msg = self._recv(sp)
        if kind_of(msg) is not Msg.PID:
            sp.ready = False
            return
        sp.pid = msg[Msg.PID]
        if msg.get("group"):
            sp.group = pregroup.PreGroup(sp.name, cgroups.detect(), msg["group"])
        if sp.guess is not None:
            # its directory becomes a container's by a rename: with its PID 1 on record in there, a
            # supervisor killed right after the rename still leaves gc what to kill and remove
            state.write_in(sp.guess.root, {"pid": sp.pid, "starttime": state.starttime(sp.pid),
                                              "zygote": self.zygote, "created": time.time()})

    def _recv(self, sp: Spare) -> dict:
        """The spare's next message, waited for. Its PID 1 may have died before saying it: its socket
        then ends (no other process holds it), or, for a PID 1 that had not yet got that socket, its
        first process reports the end of the vfork (a ptrace stop): either way, END ({})."""
        while True:
            ready, _, _ = select.select([sp.sock], [], [], 0.1)
            if ready:
                return recv(sp.sock)
            if sp.holder and state.proc_state(sp.holder) in (None, "t", "Z"):
                return {}   # its vfork ended (ptrace stop) or it is gone: so is PID 1

    def _ready_now(self, sp: Spare) -> bool:
        """Read what ``sp`` has said so far, without waiting; whether it is ready."""
        while sp.ready is None and select.select([sp.sock], [], [], 0)[0]:
            self.message(sp.sock)
        return bool(sp.ready)

    def waiting(self) -> list[socket.socket]:
        """The sockets of spares whose messages (PID 1, then "ready") are still to come: the zygote
        reads them as they arrive (:meth:`message`), so a start finds them read."""
        return [sp.sock for sp in self.pool if sp.ready is None]

    def message(self, sock: socket.socket) -> None:
        sp = next((sp for sp in self.pool if sp.sock is sock), None)
        if sp is None or sp.ready is not None:
            return
        if not sp.pid:
            self.hello(sp)
        else:
            sp.ready = kind_of(recv(sp.sock)) is Msg.READY

    def retire(self, sp: Spare) -> None:
        """Set a spare aside, to be dropped when the zygote is idle: dropping kills two processes and
        removes a cgroup and a directory, 30-40 ms measured on a start that had to wait for it."""
        if sp in self.pool:
            self.pool.remove(sp)
        self.retired.append(sp)

    def drop_all(self) -> None:
        while self.pool:
            self.drop(self.pool.pop())
        while self.retired:
            self.drop(self.retired.pop())

    def drop(self, sp: Spare) -> None:
        """Kill a spare and remove what it made."""
        if sp in self.pool:
            self.pool.remove(sp)
        self.hello(sp)
        if sp.pid:
            state.kill(sp.pid)
        if sp.holder:
            state.kill(sp.holder)
        sp.sock.close()
        if sp.guess is not None:
            unpin(sp.guess.pins)
        rootless.remove_tree(sp.staging)   # a prebuilt one holds an overlay's work dir
        if sp.group is None and sp.name and not os.environ.get("BOXKIT_NO_CGROUPS") and not self.own_ids:
            try:   # it may have made its group and died before saying so
                sp.group = cgroups.open_group(sp.name)
            except OSError:
                pass
        if sp.group is not None:
            try:
                sp.group.kill()
                sp.group.remove()
            except OSError:
                pass   # gc collects it once its processes are gone

    def take(self, plan: Plan) -> Spare | None:
        """A spare for ``plan`` — the prebuilt one if it is built for it, else the plain one — once it
        is ready (its PID 1 known, its root built); None: the caller starts the long way. The plan
        becomes the next guess when a spare could serve it; a prebuilt spare on an older guess is
        retired."""
        found = None
        if spare_kind(plan, self.ns, self.own_ids):
            built = self._kind(prebuilt=True)
            order = ([built] if built is not None and built.guess is not None and built_for(built.guess, plan) else []) \
                + [sp for sp in self.pool if sp.guess is None]
            # one that is ready now before one still being built (back to back, the prebuilt one may
            # still be mounting and joining its cgroup while the plain one waits)
            order.sort(key=lambda sp: not self._ready_now(sp))
            for sp in order:
                self.pool.remove(sp)
                self.hello(sp)
                if sp.ready is None and sp.pid:
                    sp.ready = kind_of(self._recv(sp)) is Msg.READY
                if sp.ready:
                    found = sp
                    break
                # it failed or died: stop making spares of its kind on this host
                if sp.guess is not None:
                    self.prebuild = False
                else:
                    self.enabled = False
                self.retired.append(sp)
            self.guess = list(plan.layers)
            built = self._kind(prebuilt=True)
            if built is not None and (built.guess.plan.layers if built.guess else None) != self.guess:
                self.retire(built)   # built on another image: the next one is built on this plan's
        return found


def spare_kind(plan: Plan, spare_ns, own_ids) -> bool:
    """Whether a spare's namespaces and ids are this plan's."""
    return (set(plan.ns) - {"cgroup"} == set(spare_ns) and plan.rootless == own_ids
            and not plan.join_net and not plan.uid_map and not plan.time_offset
            # a spare's bounding set is dropped to the default and its /proc, /sys and /dev are made
            and plan.caps is None and not plan.privileged
            # its cgroup files are mounted in the cgroup namespace, which a spare creates last
            and not plan.cgroupfs
            # an OCI bundle's own mounts (it sets its own capability sets too): a spare builds boxkit's root
            and plan.mount_entries is None)


def built_for(guess: Guess, plan: Plan) -> bool:
    """Whether a prebuilt spare's root is this plan's: the same layers, the same directories on disk,
    and no volumes and no host terminal to bind at /dev/console (the spare can no longer reach the
    host's paths)."""
    if plan.mounts or plan.tty or plan.layers != guess.plan.layers:
        return False
    try:
        return stamps(plan.layers) == guess.stamps
    except OSError:
        return False


def stamps(layers: list[str]) -> list[list[int]]:
    """What identifies each layer directory: device and inode — unique while the spare holds the
    directory pinned (see :func:`pin`), so a directory removed and made again at the same path
    differs — and the change time, so that even an entry added at its top makes the spare a miss
    (overlayfs leaves changes to a mounted lower layer undefined)."""
    return [[st.st_dev, st.st_ino, st.st_ctime_ns] for st in map(os.stat, layers)]


def unpin(fds: list[int]) -> None:
    while fds:
        os.close(fds.pop())


def pin(layers: list[str]) -> list[int]:
    """O_PATH fds that keep the layer directories' inodes allocated from the moment they are stamped
    (before the spare's overlay holds them): an inode number is only reused once freed."""
    fds: list[int] = []
    try:
        for layer in layers:
            fds.append(os.open(layer, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
    except OSError:
        unpin(fds)
        raise
    return fds
