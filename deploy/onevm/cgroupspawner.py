"""A JupyterHub spawner for one VM where learners are Unix users: JupyterHub's LocalProcessSpawner, with
what SystemdSpawner adds on a systemd host, for a host without systemd as PID 1 (a container, a
Firecracker VM, WSL).

For each learner's server, as root, after the fork and before the switch to the learner's uid:

1. the process joins the learner's own cgroup (:mod:`learner_cgroup`), with ``mem_limit`` as its memory
   limit (SystemdSpawner's ``MemoryMax=``) and ``tasks_max`` as its pids limit (``TasksMax=``). Every
   process the learner starts is born in it: the kernel, boxkit's helpers and rootless containers, a
   fork bomb. A memory hog is OOM-killed inside the group; the other learners do not feel it.
2. with ``isolate_tmp`` (SystemdSpawner's ``PrivateTmp=``), the process gets its own mount namespace in
   which ``/tmp`` and ``/var/tmp`` are fresh tmpfs mounts of ``tmp_size`` each: a learner cannot fill
   the host's shared ``/tmp``, nor read or plant files there for others. The pages count against the
   learner's memory limit, as any tmpfs page counts against the group that writes it. Mounts propagate
   from the host into it (slave), never back.
3. the home directory loses every group and other permission bit (``chmod go-rwx``, as The Littlest
   JupyterHub does at user creation): Debian's ``useradd`` makes homes 0755, and boxkit keeps a rootless
   learner's images and containers in ``~/.local/share/boxkit``.

Then LocalProcessSpawner's own pre-exec function sets the learner's uid, gid and groups. When the server
stops, every process left in the group is killed (detached containers, ``nohup``), as stopping a systemd
unit does, and the group is removed.

What this does not do: it bounds no disk. A learner's home is on whatever file system holds it; give
each learner a quota (``setquota``) or a home on a size-limited file system of its own. Nor does it hide
other learners' processes from ``ps``: hiding /proc (``hidepid=``) breaks the new /proc a rootless
container mounts (the kernel refuses a /proc mount "too revealing" next to a masked one).
"""

from __future__ import annotations

import ctypes
import os
import pwd

from jupyterhub.spawner import LocalProcessSpawner
from jupyterhub.traitlets import ByteSpecification
from learner_cgroup import PARENT, ROOT, LearnerGroup
from traitlets import Bool, Integer, Unicode, default

CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_REC, MS_SLAVE = 0x2, 0x4, 0x4000, 0x80000


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def private_tmp(size_bytes: int, dirs: tuple[str, ...] = ("/tmp", "/var/tmp")) -> None:
    """This process in a new mount namespace whose ``dirs`` are private tmpfs mounts (PrivateTmp=)."""
    libc = _libc()
    if libc.unshare(CLONE_NEWNS) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"unshare(CLONE_NEWNS) for a private /tmp failed: {os.strerror(e)}")
    # slave: the host's later mounts still reach the learner; the learner's never reach the host
    if libc.mount(None, b"/", None, MS_REC | MS_SLAVE, None) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"making / a slave mount for a private /tmp failed: {os.strerror(e)}")
    for d in dirs:
        if not os.path.isdir(d):
            continue
        opts = f"size={size_bytes},mode=1777".encode()
        if libc.mount(b"tmpfs", d.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"mounting a private tmpfs on {d} failed: {os.strerror(e)}")


class CgroupSpawner(LocalProcessSpawner):
    """LocalProcessSpawner + a cgroup per learner (memory and pids limits) + a private /tmp + a private
    home. ``mem_limit`` is JupyterHub's own Spawner setting."""

    tasks_max = Integer(512, config=True, help="The most tasks (processes and threads) a learner's "
                                                 "server and everything it starts may hold at once.")
    isolate_tmp = Bool(True, config=True, help="Give each learner's server a private /tmp and /var/tmp.")
    tmp_size = ByteSpecification(256 * 1024**2, config=True,
                                 help="The size of each private tmpfs (/tmp, /var/tmp).")
    private_home = Bool(True, config=True, help="Take group and other permissions off the home at start.")
    cgroup_parent = Unicode(PARENT, config=True, help="The group that holds every learner's group.")
    cgroup_root = Unicode(ROOT, config=True, help="Where the cgroup file systems are mounted.")

    @default("mem_limit")
    def _mem_limit_default(self):
        return 2 * 1024**3

    def group(self) -> LearnerGroup:
        return LearnerGroup(self.user.name, parent=self.cgroup_parent, root=self.cgroup_root)

    async def start(self):
        group = self.group()
        if group.exists():            # a server that died with the hub down left it: start clean
            group.kill_all()
        group.create(int(self.mem_limit), int(self.tasks_max))
        if self.private_home:
            home = pwd.getpwnam(self.user.name).pw_dir
            mode = os.stat(home).st_mode
            if mode & 0o077:
                self.log.info("Making %s's home %s private (mode %o -> %o)", self.user.name, home,
                              mode & 0o7777, mode & 0o7700)
                os.chmod(home, mode & 0o7700)
        try:
            return await super().start()
        except BaseException:
            group.kill_all()
            group.remove()
            raise

    def make_preexec_fn(self, name):
        become_learner = super().make_preexec_fn(name)
        group = self.group()
        isolate, size = self.isolate_tmp, int(self.tmp_size)

        def preexec():
            group.join()              # first, as root: everything the learner starts is born inside
            if isolate:
                private_tmp(size)
            become_learner()
        return preexec

    async def stop(self, now=False):
        await super().stop(now=now)
        group = self.group()
        if group.exists():
            group.kill_all()          # what the learner left running: detached containers, nohup
            group.remove()
