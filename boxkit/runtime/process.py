"""Container set-up steps a plan may spell out itself instead of taking boxkit's defaults.

``boxkit run`` decides the container's mounts, masked paths, capabilities and limits itself (docker's
defaults). An OCI bundle (:mod:`boxkit.oci.bundle`) lists them: its own mounts in order, its own
device nodes, masked and read-only paths, sysctls, the five capability sets, resource limits of the
process (``setrlimit``), the OOM score and supplementary groups. These run inside the same stages
(:mod:`.init`), each only when the plan carries its key, so a plan without them is unchanged.

Mount targets are resolved inside the new root with :func:`.inroot.secure_join` — before each mount,
because an earlier mount may have put a symlink on the way (runc CVE-2021-30465 raced exactly that).
"""

from __future__ import annotations

import array
import errno
import fcntl
import os
import resource
import select
import socket
import stat
import struct
import termios

from .. import _sys
from .._sys import MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, MS_REMOUNT, SYS
from ..errors import BoxkitError
from .cgroupfs import mount_cgroup
from .inroot import mask, secure_join
from .inroot import remount_ro as _remount_ro
from .plan import Plan
from .protocol import Msg, message, send
from .rootfs import DEV_LINKS

PR_CAP_AMBIENT_RAISE = 2
_DEFAULT_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
                    ("urandom", 1, 9), ("tty", 5, 0))


def _make_target(full: str, is_dir: bool) -> None:
    if is_dir:
        os.makedirs(full, exist_ok=True)
    elif not os.path.lexists(full):
        os.makedirs(os.path.dirname(full), exist_ok=True)
        os.close(os.open(full, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644))


def mount_entries(root: str, entries: list[dict], sys: _sys.Sys | None = None, cgroupns: bool = True) -> None:
    """The bundle's ``mounts`` in their order, below ``root`` (not yet pivoted into)."""
    sys = sys or SYS
    for m in entries:
        try:
            _mount_one(root, m, sys, cgroupns)
        except OSError as e:
            raise OSError(e.errno, e.strerror, m["destination"]) from e


def _mount_one(root: str, m: dict, sys: _sys.Sys, cgroupns: bool) -> None:
    target = secure_join(root, m["destination"])
    if m["type"] in ("cgroup", "cgroup2"):
        mount_cgroup(target, m, sys, cgroupns)
        return
    is_dir = not m["bind"] or os.path.isdir(m["source"])
    _make_target(target, is_dir)
    flags = m["flags"]
    if m["bind"]:
        sys.mount(m["source"], target, None, flags & (MS_BIND | MS_REC))
        if flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC):
            # bind mounts take their flags on a remount only
            if flags & MS_RDONLY:
                _remount_ro(target, sys, flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC))
            else:
                sys.mount(None, target, None, MS_BIND | MS_REMOUNT |
                          (flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC)))
    else:
        try:
            sys.mount(m["source"], target, m["type"], flags & ~MS_REMOUNT, m["data"] or None)
        except OSError as e:
            # sysfs in a user namespace that does not own its network namespace: the host's, read-only
            if m["type"] != "sysfs" or e.errno not in (errno.EPERM, errno.EACCES):
                raise
            sys.mount("/sys", target, None, MS_BIND | MS_REC)
            _remount_ro(target, sys)
    if m["propagation"]:
        sys.mount(None, target, None, m["propagation"])


def make_devices(root: str, devices: list[dict], userns: bool, sys: _sys.Sys | None = None) -> None:
    """docker's six safe nodes, the bundle's ``linux.devices`` and /dev's symlinks. In a user
    namespace ``mknod`` is refused, so the host's node is bind-mounted instead (as runc does)."""
    sys = sys or SYS
    dev = secure_join(root, "/dev")
    if not os.path.isdir(dev):
        return
    wanted = [{"path": f"/dev/{n}", "type": "c", "major": ma, "minor": mi, "mode": 0o666, "uid": 0, "gid": 0}
              for n, ma, mi in _DEFAULT_DEVICES]
    paths = {d["path"] for d in devices}
    for d in [w for w in wanted if w["path"] not in paths] + devices:
        full = secure_join(root, d["path"])
        os.makedirs(os.path.dirname(full), exist_ok=True)
        kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[d["type"]]
        if os.path.lexists(full):
            if stat.S_ISDIR(os.lstat(full).st_mode):
                raise OSError(errno.EEXIST, "a directory stands where a device node goes", d["path"])
            os.unlink(full)
        if userns and kind != stat.S_IFIFO:
            _make_target(full, False)
            sys.mount(os.path.join("/dev", os.path.relpath(d["path"], "/dev")) if d["path"].startswith("/dev/")
                      else d["path"], full, None, MS_BIND)
            continue
        sys.mknod(full, kind | (d["mode"] & 0o7777), os.makedev(d["major"], d["minor"]))
        os.chmod(full, d["mode"] & 0o7777)   # mknod applies the umask
        sys.chown(full, d["uid"], d["gid"], follow_symlinks=False)
    for name, target in DEV_LINKS.items():
        link = os.path.join(dev, name)
        if name == "core" or os.path.lexists(link):
            continue
        if name == "ptmx" and not os.path.isdir(os.path.join(dev, "pts")):
            continue
        os.symlink(target, link)


def after_pivot(plan: Plan, sys: _sys.Sys | None = None) -> None:
    """Inside the new root: sysctls first (/proc/sys is made read-only next), then read-only and masked
    paths — runc's order."""
    sys = sys or SYS
    for key, value in plan.sysctl.items():
        path = secure_join("/proc/sys", key.replace(".", "/"))
        with open(path, "w") as f:
            f.write(value)
    for p in plan.readonly_paths:
        full = secure_join("/", p)
        if not os.path.lexists(full):
            continue
        sys.mount(full, full, None, MS_BIND | MS_REC)
        _remount_ro(full, sys, MS_REC)
    for p in plan.masked:
        mask("/", p, sys)


def set_rlimits(rlimits: list) -> None:

    for kind, soft, hard in rlimits:
        resource.setrlimit(kind, (soft, hard))


def set_oom_score_adj(value: int) -> None:
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write(str(value))


def switch_user_keep_caps(plan: Plan, sys: _sys.Sys | None = None) -> None:
    """The bundle's user and capability sets. Capabilities survive the uid change only with
    ``PR_SET_KEEPCAPS``; the effective set is set again after it, then the ambient ones are raised
    (each must be in permitted and inheritable, else EPERM)."""
    sys = sys or SYS
    caps = plan.cap_sets
    uid, gid = plan.ids
    sys.drop_bounding(caps["bounding"])
    sys.prctl(_sys.PR_SET_KEEPCAPS, 1)
    sys.setgroups(list(plan.additional_gids or []))
    sys.setresgid(gid, gid, gid)
    sys.setresuid(uid, uid, uid)
    sys.prctl(_sys.PR_SET_KEEPCAPS, 0)
    sys.clear_ambient()
    sys.capset(effective=caps["effective"], permitted=caps["permitted"], inheritable=caps["inheritable"])
    for name in _sys.cap_names(caps["ambient"]):
        try:
            sys.prctl(_sys.PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, _sys.CAPABILITIES[name])
        except OSError as e:
            # EPERM: not in the inheritable set (runc's own default config asks this); skipped as runc does
            if e.errno not in (errno.EPERM, errno.EINVAL):
                raise


def wait_gate(fd: int) -> None:
    """The start gate (``create`` → ``start``): block until ``boxkit-runtime start`` opens the fifo for
    writing and writes a byte. The fd was opened ``O_RDONLY|O_NONBLOCK`` before the pivot; ``poll``
    waits for the writer (a fifo reports POLLHUP only after a writer has come and gone)."""
    # why not a blocking open(O_WRONLY) as runc: after the pivot the fifo's host path is gone

    os.set_blocking(fd, True)
    p = select.poll()
    p.register(fd, select.POLLIN | select.POLLHUP)
    while True:
        try:
            if p.poll():
                break
        except InterruptedError:
            continue
    data = os.read(fd, 1)
    # the fd stays open, close-on-exec: `start` waits until the fifo has no reader left, which is
    # the moment of the execve (the startContainer hooks' own execs close their copies)
    if data != b"0":
        os._exit(0)   # start never came: delete removed the container


def setup_bundle_rootfs(plan: Plan, mount_root, sys: _sys.Sys | None = None) -> None:
    """:func:`.rootfs.setup_rootfs` for a plan that lists its own mounts: ``/`` private (or the
    bundle's ``rootfsPropagation``), the root, the listed mounts, the device nodes, then
    ``pivot_root`` — or, with ``no_pivot``, ``MS_MOVE`` onto ``/`` and ``chroot`` (for a root on a
    ramfs, where pivot_root is refused; it leaves the old root reachable to CAP_SYS_CHROOT)."""
    sys = sys or SYS
    root = plan.merged
    host_ns = "mount" not in plan.ns and "mount" not in plan.join
    if host_ns:
        # the bundle inherits the runtime's mount namespace (the spec allows it; runtime-tools'
        # linux_ns_itype asks it): the host's / must keep its propagation, so only the container's own
        # root mount is made private, and nothing mounted below it reaches the host's peers. The
        # mounts stay in the host's table until `delete` (verbs.unmount_host_mounts), runc leaves them.
        mount_root(root)
        sys.mount(None, root, None, MS_REC | _sys.MS_PRIVATE)
    else:
        sys.mount(None, "/", None, MS_REC | _sys.MS_PRIVATE)
        mount_root(root)
    mount_entries(root, plan.mount_entries or [], sys, cgroupns="cgroup" in plan.ns)
    make_devices(root, plan.devices, "user" in plan.ns, sys)
    if plan.hook_state:
        run_hooks_here(plan.hooks.get("createContainer", []), plan.hook_state.encode())
    os.chdir(root)
    if host_ns:
        sys.chroot(".")   # pivot_root or MS_MOVE onto / would swap the host's own root
    elif plan.no_pivot:
        sys.mount(root, "/", None, _sys.MS_MOVE)
        sys.chroot(".")
    else:
        sys.pivot_root(".", ".")
        sys.umount2(".", _sys.MNT_DETACH)
    os.chdir("/")
    if plan.rootfs_propagation:
        sys.mount(None, "/", None, plan.rootfs_propagation)
    after_pivot(plan, sys)
    if plan.readonly:
        _remount_ro("/", sys)
    if plan.umask is not None:
        os.umask(plan.umask)


def bind_root(root: str):
    """The bundle's root directory as the container's root mount: a bind of itself (pivot_root needs
    a mount point), ``nodev`` left to the bundle's own mounts as in runc."""
    def mount_root(target: str) -> None:
        SYS.mount(root, target, None, MS_BIND | MS_REC)
    return mount_root


def open_console(plan: Plan) -> list[int]:
    """``process.terminal``: a pty made *inside* the container (its own devpts instance, so the slave
    is /dev/pts/0 in there and ``tty`` names it), whose master goes to the caller's console socket
    with SCM_RIGHTS, as runc does. The socket was connected by ``create`` before the pivot."""

    master, slave = os.openpty()
    size = plan.console_size
    if size:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size["height"], size["width"], 0, 0))
    con = socket.socket(fileno=plan.console_fd)
    try:
        con.sendmsg([b"console"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [master]))])
    finally:
        con.close()
        os.close(master)
    return [slave, slave, slave]


TIOCSPTLCK, TIOCGPTPEER = 0x40045431, 0x5441


def container_pty(pid1: int, console_size: dict | None) -> tuple[int, int]:
    """A pty of the container's own devpts instance (so the process in there sees /dev/pts/N), opened
    from the host through ``/proc/PID/root`` on the devpts node itself, never through the container's
    /dev/ptmx symlink (its target would resolve on the host); the slave by ``TIOCGPTPEER`` (4.13), not
    by a path the container could swap."""
    master = os.open(f"/proc/{pid1}/root/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if _sys.SYS.statfs_type(f"/proc/self/fd/{master}") != 0x1CD1:   # DEVPTS_SUPER_MAGIC
            raise BoxkitError("cannot open the container's terminal", f"/proc/{pid1}/root/dev/pts/ptmx",
                              detail="it is not a devpts file system")
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
        if console_size:
            fcntl.ioctl(slave, termios.TIOCSWINSZ,
                        struct.pack("HHHH", console_size["height"], console_size["width"], 0, 0))
    except BaseException:
        os.close(master)
        raise
    return master, slave


def run_hooks_here(hooks: list[dict], state: bytes) -> None:
    """``createContainer`` hooks: in the container's mount namespace after its mounts, before the
    pivot (host paths still resolve, as the spec wants). The state JSON goes to stdin."""
    for hook in hooks:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(w)
                os.dup2(r, 0)
                env = dict(e.split("=", 1) for e in hook["env"] if "=" in e)
                os.execve(hook["path"], hook["args"], env)
            except OSError:
                pass
            os._exit(127)
        os.close(r)
        try:
            os.write(w, state)
        except OSError:
            pass
        os.close(w)
        _p, status = os.waitpid(pid, 0)
        if status != 0:
            raise OSError(errno.ECANCELED, f"createContainer hook failed ({os.waitstatus_to_exitcode(status)})",
                          hook["path"])


def created_then_wait(plan: Plan, sock) -> None:
    """Tell ``create`` the container is set up, let go of the socket (``create`` returns now), wait
    at the start gate, then run the ``startContainer`` hooks here, in the container."""

    send(sock, message(Msg.CREATED))
    sock.close()
    wait_gate(plan.gate_fd)
    for hook in plan.hooks.get("startContainer", []):
        pid = os.fork()
        if pid == 0:
            try:
                env = dict(e.split("=", 1) for e in hook["env"] if "=" in e)
                os.execve(hook["path"], hook["args"], env)
            except OSError:
                os._exit(127)
        _p, status = os.waitpid(pid, 0)
        if status != 0:
            os.write(2, f"boxkit-runtime: startContainer hook {hook['path']} failed\n".encode())
            os._exit(1)
