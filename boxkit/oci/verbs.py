"""The OCI lifecycle on boxkit's stages: create, start, kill, delete, exec.

``create`` runs the engine's one start sequence (:mod:`boxkit.runtime.start`, the supervisor's too)
the long way, with the bundle's plan: stage 1 forks, this front writes the bundle's id maps when a user
namespace asks for them, puts PID 1 into the bundle's cgroup and runs the prestart hooks before GO, and
the sequence ends at CREATED instead of the exec (the messages are drawn in
:mod:`boxkit.runtime.protocol`) — PID 1 is then stopped at the start gate
(``exec.fifo``, see :func:`boxkit.runtime.process.wait_gate`), right before ``execve``. ``create``
exits; PID 1 is re-parented to the caller's sub-reaper (conmon) or to init. ``start`` opens the fifo
and writes one byte. Hooks get the spec's state JSON on stdin, as the spec says.
"""

from __future__ import annotations

import array
import datetime
import json
import os
import re
import signal
import socket
import subprocess
import time

from .. import _sys, files
from ..errors import BoxkitError, ContainerError, SpecError
from ..runtime import join, process
from ..runtime import start as sequence
from ..runtime import state as rstate
from ..runtime.plan import Plan
from ..runtime.protocol import Msg
from . import bundle as bundlemod
from . import cgroup
from .state import Store


def _hook_env(h: dict) -> dict:
    return dict(e.split("=", 1) for e in h["env"] if "=" in e)


def run_hooks(kind: str, hooks: list[dict], state_json: dict, *, fatal: bool = True) -> None:
    data = json.dumps(state_json).encode()
    for h in hooks:
        try:
            r = subprocess.run(h["args"], executable=h["path"], input=data, env=_hook_env(h),
                               timeout=h.get("timeout"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, check=False)
            err = None if r.returncode == 0 else f"exit status {r.returncode}: {r.stderr.decode(errors='replace')[:200]}"
        except subprocess.TimeoutExpired:
            err = f"timed out after {h.get('timeout')} s"
        except OSError as e:
            err = os.strerror(e.errno or 0).lower()
        if err:
            if fatal:
                raise ContainerError(f"{kind} hook failed:", h["path"], detail=err, hint="see the hook's output")
            log_warning(f"{kind} hook {h['path']} failed: {err}")


_log_warning = []


def log_warning(msg: str) -> None:
    _log_warning.append(msg)


def _write_maps(pid: int, maps: dict) -> None:
    for key, f in (("uidMappings", "uid_map"), ("gidMappings", "gid_map")):
        rows = maps.get(key) or []
        if not rows:
            continue
        text = "".join(f"{c} {h} {s}\n" for c, h, s in rows)
        try:
            with open(f"/proc/{pid}/{f}", "w") as fh:
                fh.write(text)
        except OSError as e:
            raise BoxkitError(f"cannot write {f} of", f"/proc/{pid}", errno=e.errno,
                              hint="check linux.uidMappings and linux.gidMappings") from e


def _connect_console(path: str) -> int:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise BoxkitError("cannot connect to the console socket", path, errno=e.errno) from e
    fd = s.detach()
    os.set_inheritable(fd, False)
    return fd


def _send_console(path: str, master: int) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        s.sendmsg([b"console"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [master]))])
    except OSError as e:
        raise BoxkitError("cannot send the terminal to the console socket", path, errno=e.errno) from e
    finally:
        s.close()


def write_pid_file(path: str, pid: int) -> None:
    files.write_atomic(path, str(pid))   # podman reads it as soon as it exists: never half written


def create(store: Store, cid: str, bundle: str, pid_file: str | None, console_socket: str | None,
           no_pivot: bool, preserve_fds: int) -> None:
    cfg = bundlemod.load(bundle)
    plan = bundlemod.to_plan(cid, bundle, cfg)
    if plan.terminal and not console_socket:
        raise SpecError("config.json field process.terminal", True, "a terminal needs --console-socket")
    d = store.make(cid)
    record = {"id": cid, "pid": 0, "bundle": plan.bundle, "rootfs": plan.merged,
              "annotations": plan.annotations, "status": "creating",
              "created_iso": datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z"),
              "hooks": {k: plan.hooks[k] for k in ("poststart", "poststop")},
              "no_process": bool(plan.no_process),
              "exec_caps": plan.cap_sets["permitted"] if plan.cap_sets is not None else None,
              "seccomp": plan.seccomp}
    if "mount" not in plan.ns and "mount" not in plan.join:
        # its mounts go into the host's table: delete takes those, and only those (a root that a
        # client mounted before calling us, as podman mounts its overlay, is not ours to take)
        with open("/proc/self/mountinfo") as f:
            record["host_mounts"] = {"root": plan.merged,
                                     "before": [i for i, _ in mounts_under(plan.merged, f.read())]}
    store.write(cid, record)
    made: dict = {"pid1": 0, "group": None}
    slave = master = -1
    try:
        fifo = store.fifo(cid)
        os.mkfifo(fifo, 0o600)
        gate = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        plan.gate_fd = gate
        plan.no_pivot = no_pivot
        plan.keep_fds = [*range(3, 3 + preserve_fds), gate]
        stdio = [0, 1, 2]
        if plan.terminal:
            con = _connect_console(console_socket)
            plan.console_fd = con
            plan.keep_fds.append(con)

        def placed(pid1: int) -> None:
            made["pid1"] = pid1
            record.update(pid=pid1, starttime=rstate.starttime(pid1))
            store.write(cid, record)
            if os.geteuid() == 0:
                made["group"] = cgroup.create(cid, plan.cgroups_path, plan.resources, pid1)
                record["cgroup"] = made["group"].dirs
                store.write(cid, record)
            elif plan.cgroups_path or plan.resources.any():
                raise SpecError("config.json field linux.resources", "...", "cgroups need root")

        def update() -> dict:
            st = store.spec_state(cid, record)
            run_hooks("prestart", plan.hooks["prestart"], st)
            run_hooks("createRuntime", plan.hooks["createRuntime"], st)
            # createContainer hooks run in PID 1, after its mounts and before the pivot (process.py)
            return {"hook_state": json.dumps(st)}

        # the one start sequence (runtime/start.py), ending at the gate: CREATED, sent by
        # process.created_then_wait, instead of the exec's end
        launch = sequence.LongWay(process.bind_root(plan.merged))
        try:
            pid1 = sequence.run(launch, plan, stdio, sequence.Front(
                write_maps=lambda pid: _write_maps(pid, plan.id_maps), placed=placed, update=update,
                done=Msg.CREATED, steps=("stage 1", "set up")))
        finally:
            # stage 1 forked with the gate and the console: this command's copies go
            os.close(gate)
            if plan.console_fd is not None:
                os.close(plan.console_fd)
            launch.close()
            if launch.stage1:
                try:
                    os.waitpid(launch.stage1, 0)   # this command is short-lived: no zombie left to conmon
                except ChildProcessError:
                    pass
        record["status"] = "created"
        store.write(cid, record)
        if pid_file:
            write_pid_file(pid_file, pid1)
    except BaseException:
        pid1, group = made["pid1"], made["group"]
        if pid1:
            rstate.kill(pid1)
        if group is not None:
            try:
                group.kill()
                group.remove()
            except OSError:
                pass
            cgroup.remove_default_parent(group.dirs)
        if record.get("host_mounts"):
            unmount_host_mounts(record["host_mounts"])
        _remove_dir(d)
        raise
    finally:
        for fd in (master, slave):
            if fd >= 0:
                os.close(fd)


_OCTAL = re.compile(r"\\([0-7]{3})")


def mounts_under(root: str, mountinfo: str) -> list[tuple[int, str]]:
    """(mount id, mount point) of the mounts at or below ``root`` in a mountinfo text, the last mounted
    first. The kernel writes space, tab, newline and backslash in a path as octal escapes."""
    found = []
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if len(fields) < 5 or not fields[0].isdigit():
            continue
        point = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), fields[4])
        if point == root or point.startswith(root.rstrip("/") + "/"):
            found.append((int(fields[0]), point))
    return found[::-1]


def unmount_host_mounts(record: dict) -> None:
    """A container that shared the runtime's mount namespace left its root and its mounts in the host's
    table (process.setup_bundle_rootfs): each one it made is detached, children before parents."""
    with open("/proc/self/mountinfo") as f:
        found = mounts_under(record["root"], f.read())
    before = set(record.get("before", []))
    for mid, point in found:
        if mid in before:
            continue
        try:
            _sys.SYS.umount2(point, _sys.MNT_DETACH)
        except OSError:
            pass   # gone with its parent already


def _remove_dir(d: str) -> None:
    try:
        names = [n for n in os.listdir(d) if n in ("exec.fifo", "state.json") or files.is_temporary(n)]
    except FileNotFoundError:
        names = []
    for name in names:
        try:
            os.unlink(os.path.join(d, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(d)
    except OSError:
        pass


def start(store: Store, cid: str) -> None:
    st = store.read(cid)
    status = store.status(cid, st)
    if status != "created":
        raise BoxkitError(f'cannot start container "{cid}"', detail=f"it is {status}, not created", errno=22)
    if st.get("no_process"):
        # nothing to start: the container that waits at the gate is ended, so it reads stopped
        rstate.kill(st["pid"], signal.SIGKILL)
        raise BoxkitError(f'cannot start container "{cid}"', detail="its config.json has no process",
                          errno=22, hint="delete it and create it again with a process")
    fifo = store.fifo(cid)
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:   # ENXIO: nobody reads, the first process is gone
        raise BoxkitError(f'cannot start container "{cid}"', errno=e.errno, hint="it is no longer waiting") from e
    try:
        os.write(fd, b"0")
        os.unlink(fifo)
        _wait_no_reader(fd, st)
    finally:
        os.close(fd)
    run_hooks("poststart", st.get("hooks", {}).get("poststart", []), store.spec_state(cid, st), fatal=False)


def _wait_no_reader(fd: int, st: dict) -> None:
    """Until PID 1 has exec'd the command: its read end of the fifo is close-on-exec, and a fifo's
    writer sees POLLERR once no reader is left. poststart hooks run after this, as the spec says."""
    import select

    p = select.poll()
    p.register(fd, select.POLLERR)
    while True:
        if any(ev & (select.POLLERR | select.POLLHUP) for _fd, ev in p.poll(100)):
            return
        if not rstate.alive(st["pid"], st.get("starttime")):
            return


def kill(store: Store, cid: str, sig: int, all_: bool = False) -> None:
    st = store.read(cid)
    status = store.status(cid, st)
    if status not in ("created", "running"):
        raise BoxkitError(f'cannot kill container "{cid}"', detail=f"it is {status}", errno=3)
    if all_ and st.get("cgroup"):
        for p in cgroup.open_dirs(cid, st["cgroup"]).pids():
            rstate.kill(p, sig)
        return
    os.kill(st["pid"], sig)


def delete(store: Store, cid: str, force: bool) -> None:
    st = store.read(cid)
    status = store.status(cid, st)
    # the spec: delete of a container that is not stopped is an error (runc 1.1 deletes a created one);
    # podman always passes --force
    if status in ("created", "running", "creating") and not force:
        raise BoxkitError(f'cannot delete container "{cid}"', detail=f"it is {status}",
                          hint="stop it first or use --force", errno=16)
    if status in ("created", "running", "creating") and st.get("pid"):
        rstate.kill(st["pid"], signal.SIGKILL)
        for _ in range(200):
            if not rstate.alive(st["pid"], st.get("starttime")):
                break
            time.sleep(0.005)
    if st.get("cgroup"):
        g = cgroup.open_dirs(cid, st["cgroup"])
        try:
            g.kill()
            g.remove()
        except OSError:
            pass
        cgroup.remove_default_parent(st["cgroup"])
    if st.get("host_mounts"):
        unmount_host_mounts(st["host_mounts"])
    _remove_dir(store.dir(cid))
    run_hooks("poststop", st.get("hooks", {}).get("poststop", []),
              {**store.spec_state(cid, {**st, "pid": 0}), "status": "stopped"}, fatal=False)


def exec_(store: Store, cid: str, proc: dict, detach: bool, pid_file: str | None,
          console_socket: str | None) -> int:
    """runc exec: a process joins the running container's namespaces and cgroup (boxkit exec's
    join, :func:`boxkit.runtime.join.start_in`)."""
    st = store.read(cid)
    if store.status(cid, st) != "running":
        raise BoxkitError(f'cannot exec in container "{cid}"', detail="it is not running", errno=22)
    pid1 = st["pid"]
    plan = Plan(id=cid, ns=join.namespaces_of(pid1), argv=proc["argv"])
    # an exec'd process gets the capabilities its process.json asks, else the container's own, never more
    # than docker's default set boxkit exec gives
    exec_caps = proc["caps"]["permitted"] if proc.get("caps") is not None else st.get("exec_caps")
    if exec_caps is not None:
        plan.exec_caps = exec_caps
    if st.get("seccomp"):
        plan.seccomp = st["seccomp"]   # an exec'd process is under the container's filter too
    procs = [os.path.join(d, "cgroup.procs") for d in sorted(set((st.get("cgroup") or {}).values()))]
    master = slave = -1
    stdio = [0, 1, 2]
    if proc.get("terminal"):
        if not console_socket:
            raise SpecError("process.terminal", True, "a terminal needs --console-socket")
        master, slave = process.container_pty(pid1, proc.get("console_size"))
        stdio = [slave] * 3
    if not detach:   # the process is our grandchild: re-parented to us when the joiner exits
        _sys.SYS.prctl(_sys.PR_SET_CHILD_SUBREAPER, 1)

    def started(epid: int) -> None:
        if master >= 0:
            _send_console(console_socket, master)
        if pid_file:
            write_pid_file(pid_file, epid)

    try:
        epid = join.start_in(pid1, plan, proc["argv"], proc["env"], proc["cwd"],
                             proc["user"] if proc.get("user") else None, stdio, procs, on_pid=started)
    finally:
        for fd in (master, slave):
            if fd >= 0:
                os.close(fd)
    if detach:
        return 0
    # not detached: wait for it. It is our grandchild; become a sub-reaper so it is re-parented to us
    return _wait_foreign(epid)


def _wait_foreign(pid: int) -> int:
    try:
        _p, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        return 128 - code if code < 0 else code
    except ChildProcessError:
        while rstate.starttime(pid) is not None:
            time.sleep(0.01)
        return 0
