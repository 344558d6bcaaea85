"""Trials: each kernel feature the course needs, really tried in a throw-away process.

Asking the kernel is the only reliable test: a seccomp filter, an LSM, a sysctl or a missing
capability all show up as ``EPERM`` from the call itself, whatever the kernel version says. So each
trial forks, does the real thing, reports one JSON line through a pipe and exits, taking its
namespaces and mounts with it:

* ``unshare(CLONE_NEW*)`` for each namespace type; for PID, a child forked afterwards must be PID 1
  (the unsharing process itself stays outside — its *children* enter the new namespace).
* Without root, the same inside a user namespace: ``unshare(CLONE_NEWUSER)``, then one line in
  ``uid_map``/``gid_map`` mapping root inside onto our own uid (an unprivileged process may map only
  itself, and must write ``deny`` to ``setgroups`` first — CVE-2014-8989, Linux 3.19).
* overlayfs on a private tmpfs: a file written through the merged view lands in ``upperdir``; a lower
  file deleted through it becomes a *whiteout*, a character device 0/0 in ``upperdir``.
* ``pivot_root`` into a fresh tmpfs, then the old root detached with ``umount2(MNT_DETACH)``.
* As root, the same user-namespace and overlay trials again as uid 65534, to tell what a learner
  without root could do on this host.

Forking is only safe in a process with one thread, so these run in ``python -m boxkit.probe_trials``
started by :func:`boxkit.probe.probe`, never in a Jupyter kernel (which runs several threads).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys

from .i18n import N_

NOBODY = 65534
NAMESPACES = ("mount", "uts", "ipc", "pid", "net", "user", "cgroup", "time")


def _enter_userns() -> None:
    """Become root of a new user namespace mapped onto our own uid/gid (one line each, which an
    unprivileged process may write; gid_map needs setgroups denied first, CVE-2014-8989)."""
    # lazy: the trials run in the child (python -m boxkit.probe_trials); boxkit.probe imports this
    # module in the parent for _spawn_trials, and the parent must not load ctypes (boxkit._sys)
    from ._sys import CLONE_NEWUSER, SYS

    uid, gid = os.geteuid(), os.getegid()
    SYS.unshare(CLONE_NEWUSER)
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        try:
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
        except FileNotFoundError:  # setgroups: linux < 3.19
            if name != "setgroups":
                raise


def _become_nobody() -> None:
    """Drop from root to uid/gid 65534 to see what an ordinary learner could do here. A uid change
    clears the dumpable flag, which would leave /proc/self/uid_map owned by root: set it again."""
    # lazy: _sys (ctypes) in the trials' child only, as in _enter_userns
    from ._sys import PR_SET_DUMPABLE, SYS

    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    SYS.prctl(PR_SET_DUMPABLE, 1)


def _private_tmpfs() -> str:
    """A new mount namespace with ``/`` private (so nothing propagates to the host) and a tmpfs on
    /tmp to work in; it vanishes with the process."""
    # lazy: _sys (ctypes) in the trials' child only, as in _enter_userns
    from ._sys import CLONE_NEWNS, MS_PRIVATE, MS_REC, SYS

    SYS.unshare(CLONE_NEWNS)
    SYS.mount(None, "/", None, MS_REC | MS_PRIVATE)
    where = "/tmp" if os.path.isdir("/tmp") else "/mnt"
    SYS.mount("boxkit-probe", where, "tmpfs", 0, "mode=0755,size=4m")
    return where


def _t_ns(name: str, in_userns: bool = False) -> str:
    # lazy: _sys (ctypes) in the trials' child only, as in _enter_userns
    from ._sys import CLONE_NEWNS, MS_PRIVATE, MS_REC, NAMESPACE_FLAGS, SYS

    if in_userns:
        _enter_userns()
        if name == "user":
            return N_("unshare(CLONE_NEWUSER) with a one-line uid_map works")
    flag = NAMESPACE_FLAGS[name]
    SYS.unshare(flag)
    if flag == CLONE_NEWNS:
        SYS.mount(None, "/", None, MS_REC | MS_PRIVATE)
        return N_("unshare(CLONE_NEWNS) and making / private work")
    if name == "uts":
        SYS.sethostname("boxkit-probe")
        return N_("unshare(CLONE_NEWUTS) and sethostname work")
    if name == "pid":
        pid = os.fork()
        if pid == 0:
            os._exit(0 if os.getpid() == 1 else 1)
        _, st = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(st) != 0:
            raise OSError(0, N_("a child forked after unshare(CLONE_NEWPID) was not PID 1"))
        return N_("a child forked after unshare(CLONE_NEWPID) is PID 1")
    if name == "net":
        SYS.link_up("lo")
        return N_("unshare(CLONE_NEWNET) works and lo comes up")
    # the other namespaces (ipc, user, cgroup, time): one message each, so the flag stays in the words
    return {"ipc": N_("unshare(CLONE_NEWIPC) works"), "user": N_("unshare(CLONE_NEWUSER) works"),
            "cgroup": N_("unshare(CLONE_NEWCGROUP) works"), "time": N_("unshare(CLONE_NEWTIME) works")}.get(
        name, f"unshare(CLONE_NEW{name.upper()}) works")


def _t_overlay(in_userns: bool = False, as_nobody: bool = False) -> str:
    import stat

    # lazy: _sys (ctypes) in the trials' child only, as in _enter_userns
    from ._sys import SYS

    if as_nobody:
        _become_nobody()
    if in_userns:
        _enter_userns()
    t = _private_tmpfs()
    for d in ("lower", "upper", "work", "merged"):
        os.mkdir(f"{t}/{d}")
    with open(f"{t}/lower/old", "w") as f:
        f.write("from the image\n")
    SYS.mount("overlay", f"{t}/merged", "overlay", 0,
              f"lowerdir={t}/lower,upperdir={t}/upper,workdir={t}/work")
    with open(f"{t}/merged/new", "w") as f:
        f.write("written by the container\n")
    os.unlink(f"{t}/merged/old")
    if not os.path.exists(f"{t}/upper/new"):
        raise OSError(0, N_("a file written through the overlay did not land in upperdir"))
    st = os.lstat(f"{t}/upper/old")
    if not (stat.S_ISCHR(st.st_mode) and st.st_rdev == 0):
        raise OSError(0, N_("deleting a lower file left no whiteout in upperdir"))
    if not os.path.exists(f"{t}/lower/old"):
        raise OSError(0, N_("deleting through the overlay changed the lower layer"))
    return N_("mounted an overlay on a private tmpfs: a new file went to upperdir and a deleted lower file "
              "became a whiteout (char device 0/0)")


def _t_pivot_root(in_userns: bool = False) -> str:
    # lazy: _sys (ctypes) in the trials' child only, as in _enter_userns
    from ._sys import MNT_DETACH, SYS

    if in_userns:
        _enter_userns()
    t = _private_tmpfs()
    new = f"{t}/new"
    os.mkdir(new)
    SYS.mount("boxkit-probe", new, "tmpfs", 0, "size=1m")  # pivot_root wants a mount point
    os.mkdir(f"{new}/old")
    os.chdir(new)
    SYS.pivot_root(".", "old")
    os.chdir("/")
    SYS.umount2("/old", MNT_DETACH)
    if os.listdir("/") != ["old"] or os.listdir("/old"):
        raise OSError(0, N_("after pivot_root the old root was still visible"))
    return N_("pivot_root into a fresh tmpfs and detaching the old root work")


def _t_veth() -> str | None:
    # lazy: _sys (ctypes) in the trials' child only, as in _enter_userns
    from ._sys import CLONE_NEWNET, SYS

    ip = shutil.which("ip") or ("/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else None)
    if not ip:
        return None
    SYS.unshare(CLONE_NEWNET)  # made inside a private netns: it disappears with this process
    r = subprocess.run([ip, "link", "add", "bkprobe0", "type", "veth", "peer", "name", "bkprobe1"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise OSError(1, (r.stderr.strip() or "ip link add failed").lower())
    return N_("created a veth pair in a private network namespace")


def _t_userns_nobody() -> str:
    _become_nobody()
    _enter_userns()
    return N_("uid 65534 (nobody) created a user namespace and became root inside")


def bpf_size(encoded: str) -> tuple[int, int]:
    """(instructions, bytes) of a BPF program in base64, as :func:`boxkit.security.seccomp.program`
    returns it: decoded exactly (the ``=`` padding is no byte of the program), 8 bytes an instruction
    (``struct sock_filter``: a 16-bit code, two 8-bit jumps, a 32-bit constant)."""
    size = len(base64.b64decode(encoded))
    return size // 8, size


def _t_seccomp() -> str:
    """Compile boxkit's default profile with libseccomp, load it with no_new_privs, and see the
    kernel refuse ``unshare(CLONE_NEWUSER)`` with EPERM while ``getpid`` still works."""
    # lazy: _sys (ctypes), the seccomp compiler (libseccomp) and the capability table: the child only
    from . import _sys
    from .security import seccomp
    from .security.capabilities import DEFAULT_MASK

    prog = seccomp.program(seccomp.default_profile(), DEFAULT_MASK)
    instructions, size = bpf_size(prog)
    _sys.SYS.prctl(_sys.PR_SET_NO_NEW_PRIVS, 1)
    seccomp.load(prog)
    os.getpid()
    try:
        _sys.SYS.unshare(_sys.CLONE_NEWUSER)
    except OSError as e:
        if e.errno == 1:
            # a message id with its fields: the parent says it in the learner's language (_trial)
            return (N_("libseccomp compiled the default profile into {instructions} BPF instructions "
                       "({size} bytes); loaded, it refused unshare(CLONE_NEWUSER) with EPERM"),
                    {"instructions": instructions, "size": size})
        raise
    raise OSError(0, N_("the filter loaded but unshare(CLONE_NEWUSER) still worked"))


def _trial(fn, *args, **kw) -> dict:
    """Run ``fn`` in a forked process; its namespaces and mounts die with it. ``fn`` returns its detail
    as English words (a message id), or as a message id and its fields, which travel as ``said`` so the
    report says them in the learner's language."""
    import signal

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            signal.alarm(10)
            res = {"ok": True, "errno": None, "detail": fn(*args, **kw)}
            if res["detail"] is None:
                res["ok"] = None
            elif isinstance(res["detail"], tuple):
                template, params = res["detail"]
                res.update(detail=template.format(**params), said=[template, params])
        except OSError as e:
            why = (e.strerror or str(e)).lower()
            res = {"ok": False, "errno": e.errno or None, "detail": why}
        except BaseException as e:  # noqa: B036 — report anything, never raise out of a fork
            res = {"ok": False, "errno": None, "detail": f"{type(e).__name__}: {e}"}
        os.write(w, json.dumps(res).encode())
        os._exit(0)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    _, st = os.waitpid(pid, 0)
    if chunks:
        return json.loads(b"".join(chunks))
    return {"ok": False, "errno": None, "detail": f"the trial process died (wait status {st})",
            "said": [N_("the trial process died (wait status {status})"), {"status": st}]}


def run_trials() -> dict[str, dict]:
    """Every trial, keyed. Must run in a single-threaded process (it forks)."""
    root = os.geteuid() == 0
    out: dict[str, dict] = {}
    for ns in NAMESPACES:
        out[f"ns.{ns}"] = _trial(_t_ns, ns)
        if not root and not out[f"ns.{ns}"]["ok"]:
            out[f"userns.{ns}"] = _trial(_t_ns, ns, in_userns=True)
    out["overlay"] = _trial(_t_overlay, in_userns=not root)
    out["pivot_root"] = _trial(_t_pivot_root, in_userns=not root)
    out["seccomp"] = _trial(_t_seccomp)
    if root:
        out["userns.unprivileged"] = _trial(_t_userns_nobody)
        out["overlay.userns"] = _trial(_t_overlay, in_userns=True, as_nobody=True)
        out["veth"] = _trial(_t_veth)
    else:
        out["userns.unprivileged"] = out.get("userns.user") or out["ns.user"]
        out["overlay.userns"] = out["overlay"]
        out["veth"] = {"ok": False, "errno": 1, "detail": N_("a veth pair to the host needs root")}
    return out


def _child_main() -> int:
    sys.stdout.write(json.dumps(run_trials()))
    sys.stdout.flush()
    return 0


def _spawn_trials(timeout: float = 60.0) -> dict[str, dict]:
    """Run the trials in ``python -S -m boxkit.probe_trials``: a fresh process with one thread,
    whatever the caller is (a Jupyter kernel runs several threads; forking it is unsafe)."""
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=pkg_parent + os.pathsep + os.environ.get("PYTHONPATH", ""),
               BOXKIT_NO_GC="1")
    try:
        r = subprocess.run([sys.executable, "-S", "-m", "boxkit.probe_trials"], env=env,
                           capture_output=True, text=True, timeout=timeout, cwd="/")
        return json.loads(r.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired) as e:
        detail = f"the probe process failed: {str(e).lower()}"
        return {"error": {"ok": False, "errno": None, "detail": detail,
                          "said": [N_("the probe process failed: {error}"), {"error": str(e).lower()}]}}


if __name__ == "__main__":
    raise SystemExit(_child_main())
