"""Side by side with the real thing: the cgroup files another runtime wrote for the same limits.

A limit is nothing but a number in a file. ``docker run --memory 200m`` and ``boxkit.run(memory="200M")``
both end as ``209715200`` in ``memory.limit_in_bytes`` (v1) or ``memory.max`` (v2) of the container's
group; :func:`limits_of` reads those files for any process by following ``/proc/PID/cgroup``, and
:func:`podman_limits` starts a podman container with the same flags to read its files.

podman notes for this course's CI host: its default RLIMIT_NOFILE/NPROC exceed what the sandbox allows
(``--ulimit`` pins them), and crun refuses the hybrid cgroup layout (:class:`~boxkit.podman.Podman` picks
runc).
"""

from __future__ import annotations

import os
import shutil

from .cgroups import controllers, detect
from .i18n import _
from .podman import Podman


def _group_dirs(pid: int) -> dict[str, str]:
    """controller -> directory of the process's group, v1 or v2."""
    host = detect()
    out: dict[str, str] = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _id, ctrls, path = line.rstrip("\n").split(":", 2)
            if ctrls == "" and host.version == 2:
                d = (host.v2_root or "/sys/fs/cgroup") + path
                out.update({c: d for c in ("memory", "cpu", "pids")})
            for c in ctrls.split(","):
                if c in host.v1 and host.version == 1:
                    out[c] = host.v1[c] + path
    return out


def limits_of(pid: int, swap: bool = False) -> dict[str, tuple[str, str]]:
    """{"memory limit": (file, value), "cpu quota": ..., "pids limit": ...} for a running process.
    ``swap`` adds the swap limit where the kernel accounts swap: "memory+swap" (v1's
    ``memory.memsw.limit_in_bytes``) or "swap" (v2's ``memory.swap.max``, swap alone)."""
    dirs = _group_dirs(pid)
    v2 = detect().version == 2
    files = ({"memory limit": ("memory", "memory.max"), "cpu quota": ("cpu", "cpu.max"),
              "pids limit": ("pids", "pids.max")} if v2 else
             {"memory limit": ("memory", "memory.limit_in_bytes"), "cpu quota": ("cpu", "cpu.cfs_quota_us"),
              "cpu period": ("cpu", "cpu.cfs_period_us"), "pids limit": ("pids", "pids.max")})
    if swap:
        files.update({"swap": ("memory", "memory.swap.max")} if v2 else
                     {"memory+swap": ("memory", "memory.memsw.limit_in_bytes")})
    out = {}
    for what, (ctrl, name) in files.items():
        if ctrl in dirs:
            path = os.path.join(dirs[ctrl], name)
            if what in ("swap", "memory+swap") and not os.path.exists(path):
                continue   # this kernel does not account swap (v1 without swapaccount)
            try:
                out[what] = (path, controllers.read(path).strip())
            except OSError as e:
                # i18n: the value column of a limits table when the file could not be read; {reason} is
                # the C library's error text (Permission denied)
                out[what] = (path, _("unreadable: {reason}").format(reason=e.strerror))
    return out


def podman_limits(rootfs: str, memory: str, cpus: float, pids: int,
                  runtime: str | None = None, swap: bool = False) -> dict[str, tuple[str, str]] | str:
    """Start ``podman run --memory --cpus --pids-limit`` on ``rootfs``, read its group's files, remove
    it and podman's store (:class:`boxkit.podman.Podman`: nothing stays mounted or in the cgroup trees).
    Returns the table, or a sentence saying why podman could not be compared here."""
    if not shutil.which("podman"):
        return _("podman is not installed (apt-get install podman)")
    with Podman() as podman:
        if runtime:   # another OCI runtime in runc's seat, given podman's default seccomp profile as runc is
            podman.runtime = runtime
        r = podman.run("run", "-d", "--rm", "--network", "none",
                       "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
                       "--memory", memory, "--cpus", str(cpus), "--pids-limit", str(pids), "--rootfs", rootfs,
                       "sleep", "30")
        if r.returncode != 0:
            # i18n: {error} is the last line podman printed (its own words, in English)
            return _("podman could not start a container here: {error}").format(
                error=r.stderr.strip().splitlines()[-1][:200])
        cid = r.stdout.strip()
        try:
            pid = int(podman.run("inspect", "-f", "{{.State.Pid}}", cid, timeout=60).stdout.strip())
            return limits_of(pid, swap)
        finally:
            podman.run("rm", "-f", "-t", "0", cid)
