"""The supervisor: the single-threaded process that forks containers, owns them, and cleans up.

A Jupyter kernel runs several threads; ``fork()`` copies only the calling thread, so a lock held by
another thread at that instant stays locked forever in the child (CPython warns about fork with threads
since 3.12). boxkit therefore never forks the kernel. The kernel starts one small helper process — the
*zygote*, :mod:`boxkit.runtime.zygote` — which has imported everything a container start needs and has
exactly one thread; it forks per container, which makes a start cost a few milliseconds instead of a
Python start-up. The CLI is single-threaded already and runs this class in-process.

The supervisor is a *child sub-reaper*: every container's PID 1 is re-parented to it, so it alone
``waitpid``\\ s them and learns exit codes and signals. It also holds everything a container made on the
host — its directory with the overlay upper dir, its cgroup, its network attachment — and removes them
when the container ends, when it is asked to, and when its client goes away (a closed socket: a Jupyter
kernel that was killed). What survives a supervisor killed with SIGKILL is found by :mod:`.state`'s
garbage collector from the state file every container leaves on disk.

A start that fits takes the spare container the supervisor made while idle (:mod:`.spare`); what a
start leaves for later (the next spare, a spare's first process to kill, an empty staging directory,
a dead container's cgroup and mount namespace) waits until the zygote has nothing else to do.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field

from .. import cgroups, paths
from .. import net as netmod
from .._sys import PR_SET_CHILD_SUBREAPER, SYS
from ..errors import ContainerError, HostError
from ..spec import Limits
from . import join, rootless, start, state
from .idshift import shifted
from .plan import Plan
from .protocol import Msg
from .spare import Spares
from .start import Front, LongWay


@dataclass
class Running:
    cid: str
    pid: int
    plan: Plan
    started: float
    cgroup: object | None = None
    net: object | None = None
    exit: dict | None = None
    mntns: int = -1   # an fd that keeps the container's mount namespace alive: see hold_mounts
    execs: dict[int, str] = field(default_factory=dict)


def decode_status(status: int) -> tuple[int, int | None]:
    """waitpid status → (exit code in the shell's convention, signal or None)."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return 128 + sig, sig
    return os.WEXITSTATUS(status), None


class Supervisor:
    def __init__(self, spares: bool = False) -> None:
        SYS.prctl(PR_SET_CHILD_SUBREAPER, 1)
        self.containers: dict[str, Running] = {}
        self.by_pid: dict[int, tuple[str, str]] = {}   # pid -> (cid, "init" | exec id)
        self.zygote = (os.getpid(), state.starttime(os.getpid()))
        self.spares = Spares(self.zygote, spares)
        self.networks_used = False
        self.to_kill: list[int] = []      # spares' first processes, once PID 1 has exec'd
        self.to_release: list[str] = []
        self.to_delete: list[str] = []    # emptied spare staging dirs

    # --- work done when idle (see zygote.serve) -------------------------------------------------
    def release_later(self, cid: str) -> None:
        self.to_release.append(cid)

    def has_idle_work(self) -> bool:
        return (self.spares.missing() or bool(self.to_release) or bool(self.to_delete) or bool(self.to_kill)
                or bool(self.spares.retired))

    def idle_work(self) -> bool:
        """One piece of deferred work, the next spare first (the next start needs it); False when
        there was none."""
        # nobody waits for this work, so nobody could be told of its failure: a spare that cannot be
        # made means no more spares (starts take the long way), a cgroup that cannot be removed
        # is left to gc — the zygote itself must not end over it
        if self.spares.missing():
            try:
                self.spares.make()
            except Exception:
                self.spares.enabled = False
                self.spares.drop_all()
            return True
        if self.to_kill:
            state.kill(self.to_kill.pop(0))   # it frees the address space PID 1 left behind (~1.5 ms)
            return True
        if self.spares.retired:
            self.spares.drop(self.spares.retired.pop(0))
            return True
        if self.to_release:
            try:
                self.release(self.to_release.pop(0))
            except Exception:
                pass
            return True
        if self.to_delete:
            rootless.remove_tree(self.to_delete.pop(0))
            return True
        return False

    # --- start ---------------------------------------------------------------------------------------
    def prepare(self, plan: Plan) -> None:
        d = paths.ensure(paths.container_dir(plan.id), 0o711)
        if plan.restart:
            # a volatile overlay's work dir says "incompat/volatile" after use, and the kernel
            # refuses to mount it again (Documentation/filesystems/overlayfs.rst): a fresh one
            rootless.remove_tree(os.path.join(d, "work"))
        for sub in ("upper", "work", "merged"):
            try:
                os.mkdir(os.path.join(d, sub), 0o755)
            except FileExistsError:
                if not plan.restart:   # boxkit start: a stopped container's upper dir stays
                    raise
        if plan.uid_map:
            _inside, outside, count = plan.uid_map
            for sub in ("upper", "work"):
                os.chown(os.path.join(d, sub), outside, outside)
            plan.layers = [shifted(layer, outside, count) for layer in plan.layers]

    def start(self, plan: Plan, stdio: list[int]) -> Running:
        """Get PID 1, give it its id maps, state file, cgroup and network, let it build the root and
        exec (the sequence is :mod:`.start`'s, shared with the OCI front). Returns once the command
        runs (``execve`` succeeded) or raises the step's error."""
        cid = plan.id
        launch = self.spares.take(plan) or LongWay()
        if not launch.brings_directory(cid):
            self.prepare(plan)
        made: dict = {"pid1": 0, "cg": None, "net": None, "record": None}

        def placed(pid1: int) -> None:
            made["pid1"] = pid1
            self.by_pid[pid1] = (cid, "init")
            record = {"id": cid, "name": plan.name, "pid": pid1, "starttime": state.starttime(pid1),
                      "zygote": self.zygote, "created": time.time(), "image": plan.image,
                      "argv": plan.argv, "ns": plan.ns, "rootless": bool(plan.rootless)}
            made["record"] = record
            if not launch.dir_names_pid1:
                state.write(cid, record)
            if launch.group is None:
                made["cg"] = self._cgroup(plan, pid1)
            else:   # PID 1 was born in it (see cgroups.pregroup): its limits now, its name after "go"
                made["cg"] = launch.group
                launch.group.limit(cid, Limits(**plan.limits))
            if plan.network not in ("none", "host") and not plan.join_net:
                self.networks_used = True
                # lo: a spare brought it up ahead, stage 2 does after "go"
                made["net"] = netmod.attach(cid, pid1, plan.network, plan.name,
                                            plan.hostname or cid, plan.publish, lo_up=False)

        def update() -> dict:
            net = made["net"]
            return {"files": {"/etc/hosts": net.hosts, "/etc/resolv.conf": net.resolv_conf}} if net else {}

        def going() -> None:
            # while the container execs (~2 ms): what only the host sees
            if launch.dir_names_pid1:
                state.write(cid, made["record"])
            if launch.group is not None:
                made["cg"].rename(cid)

        front = Front(write_maps=lambda pid: self._write_id_maps(pid, plan.uid_map), placed=placed,
                      update=update, going=going, done=Msg.END)
        try:
            pid1 = start.run(launch, plan, stdio, front)
        except BaseException:
            pid1 = made["pid1"]
            if pid1:
                state.kill(pid1)
                self._reap_now(pid1)
            if made["net"] is not None:
                made["net"].release()
            if made["cg"] is not None:
                made["cg"].remove()
            self.by_pid.pop(pid1, None)
            if not plan.restart:
                self.remove_dir(cid)
            raise
        finally:
            holder, staging = launch.close()
            if holder:
                self.to_kill.append(holder)
            if staging:
                self.to_delete.append(staging)
        run = Running(cid, pid1, plan, time.time(), made["cg"], made["net"], mntns=hold_mounts(pid1))
        self.containers[cid] = run
        return run

    def _write_id_maps(self, pid: int, uid_map: list[int]) -> None:
        inside, outside, count = uid_map
        line = f"{inside} {outside} {count}\n"
        for f in ("uid_map", "gid_map"):
            try:
                with open(f"/proc/{pid}/{f}", "w") as fh:
                    fh.write(line)
            except OSError as e:
                raise HostError(f"cannot write {f} of", f"/proc/{pid}", errno=e.errno,
                                hint="user namespaces may be disabled; see boxkit probe") from e

    def _cgroup(self, plan: Plan, pid: int):
        if os.environ.get("BOXKIT_NO_CGROUPS") or plan.rootless:
            return None
        # no guard: a limit that cannot be set must fail the start, never vanish
        lim = Limits(**plan.limits)
        why = cgroups.host.groups_unavailable()
        if why:
            asked = [k for k, v in vars(lim).items() if v is not None and k != "all_devices"]
            if asked:
                raise HostError("cannot limit container", plan.id, detail=why,
                                hint=f"start it without the {', '.join(asked)} limit, or see boxkit probe")
            return None   # root of a user namespace on a read-only tree: no group, as rootless
        group = cgroups.create(plan.id, lim)
        try:
            group.add(pid)
        except BaseException:
            group.remove()
            raise
        return group

    def _reap_now(self, pid: int) -> None:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass

    # --- exec into a running container -----------------------------------------------------------
    def exec(self, cid: str, argv: list[str], env: dict, cwd: str, user, stdio: list[int]) -> int:
        run = self.containers.get(cid)
        if run is None or run.exit is not None:
            raise ContainerError("cannot exec in container", cid, hint="it is not running")
        procs = list(getattr(run.cgroup, "procs_files", []) or [])
        epid = join.start_in(_joinable(run), run.plan, argv, env, cwd, user, stdio, procs)
        self.by_pid[epid] = (cid, f"exec-{epid}")
        run.execs[epid] = "running"
        return epid

    # --- signals and reaping ----------------------------------------------------------------------
    def kill(self, cid: str, sig: int) -> None:
        run = self.containers.get(cid)
        if run and run.exit is None:
            state.kill(run.pid, sig)

    def reap(self, block: bool = False) -> list[tuple[str, str, int, dict]]:
        """Collect exited children. Returns (cid, "init" or exec id, pid, info) for ours; orphans
        re-parented to us (daemons an exec'd process left) are reaped and forgotten."""
        out = []
        while True:
            try:
                pid, status = os.waitpid(-1, 0 if block and not out else os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            item = self._exited(pid, status)
            if item is not None:
                out.append(item)
        return out

    def _exited(self, pid: int, status: int):
        who = self.by_pid.pop(pid, None)
        if who is None:
            return None
        cid, what = who
        code, sig = decode_status(status)
        info: dict = {"exit_code": code, "signal": sig, "ended": time.time()}
        run = self.containers.get(cid)
        if what == "init" and run is not None:
            if run.cgroup is not None:
                try:
                    info["oom_killed"] = bool(run.cgroup.oom_killed())
                    info["stats"] = _plain(run.cgroup.stats())
                except OSError:
                    pass
            run.exit = info
        return cid, what, pid, info

    # --- removal ------------------------------------------------------------------------------------
    def release(self, cid: str) -> None:
        """The container has exited: free its cgroup and network. Its directory (the upper dir) stays
        until :meth:`remove`, so it can be inspected or committed. Called after the exit has been
        reported, so teardown (a veth costs ~20 ms) is not on the caller's path. No thread: the
        supervisor must stay single-threaded to fork safely."""
        run = self.containers.get(cid)
        if run is not None:
            _release_run(run)

    def remove(self, cid: str) -> None:
        run = self.containers.pop(cid, None)
        if run is not None:
            if run.exit is None:
                state.kill(run.pid, signal.SIGKILL)
                self._reap_now(run.pid)
                self.by_pid.pop(run.pid, None)
            _release_run(run)
        self.remove_dir(cid)

    def remove_dir(self, cid: str) -> None:
        d = paths.container_dir(cid)
        if os.path.isdir(d):
            rootless.remove_tree(d)

    def shutdown(self) -> None:
        self.spares.drop_all()
        for cid in list(self.containers):
            self.remove(cid)
        while self.to_kill:
            state.kill(self.to_kill.pop())
        while self.to_delete:
            rootless.remove_tree(self.to_delete.pop())
        self.reap_network()
        if os.geteuid() == 0 and not os.environ.get("BOXKIT_NO_CGROUPS"):
            try:
                cgroups.remove_empty_bases()   # the last container of this host leaves no boxkit/ dir
            except OSError:
                pass

    def reap_network(self) -> None:
        """Remove bridges no container uses any more (deferred by release). Only after this supervisor
        attached a network: importing pyroute2 costs ~130-230 ms."""
        if self.networks_used and not any(r.net for r in self.containers.values()):
            netmod.reap()
            self.networks_used = False


def hold_mounts(pid: int) -> int:
    """Open the container's mount namespace, so that it outlives the container's last process.

    When the last process in a mount namespace exits, the kernel unmounts everything in it — the
    overlay root, /proc, /sys, /dev — in that process's exit path, before its parent is told
    (``SIGCHLD``), waiting for expedited RCU grace periods (seen in traces here; the effect on the
    exit-to-SIGCHLD time was 0.95 -> 0.41 ms in one traced run and within noise in another). An open
    nsfs file is a reference: the exit only drops one, and the unmounting happens when the supervisor
    closes this fd in :meth:`Supervisor.release`, after the exit was reported."""
    try:
        return os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return -1   # it already ended (its namespace is gone with it): nothing to hold


def _release_run(run: Running) -> None:
    fd, run.mntns = run.mntns, -1
    if fd >= 0:
        os.close(fd)
    cg, run.cgroup = run.cgroup, None
    net, run.net = run.net, None
    if cg is not None:
        cg.kill()
        cg.remove()
    if net is not None:
        # keep an idle bridge for the next container; the zygote reaps idle bridges when it is idle
        net.release(defer=True)


def _plain(obj) -> dict:
    if isinstance(obj, dict):
        return obj
    try:
        from dataclasses import asdict

        return asdict(obj)
    except TypeError:
        return dict(vars(obj))


def _joinable(run: Running) -> int:
    """The process whose namespaces and root an exec joins: PID 1, or with ``init=True`` the command
    it started. boxkit-init never execs, so it stays non-dumpable and its /proc/PID/ns files belong
    to the host's root: a rootless supervisor may not open them (the command, exec'd, may be).
    As root, PID 1's, as docker exec joins tini's: the command may have made namespaces of its own."""
    if not run.plan.init or not run.plan.rootless:
        return run.pid
    try:
        with open(f"/proc/{run.pid}/task/{run.pid}/children") as f:
            children = f.read().split()
    except OSError:
        return run.pid
    return int(children[0]) if children else run.pid
