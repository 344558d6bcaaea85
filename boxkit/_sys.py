"""The one seam between boxkit and the kernel: libc calls through ctypes, with errno kept.

A container is nothing but a process that the kernel treats specially. Every special treatment is a
system call, and all of boxkit's are here:

* ``unshare(flags)`` moves the caller into new namespaces (mount, UTS, IPC, network, user, cgroup);
  ``CLONE_NEWPID`` and ``CLONE_NEWTIME`` apply to the caller's *next child*, which is why a container's
  PID 1 is always a fork after the unshare. ``setns(fd)`` joins an existing namespace (``docker exec``).
* ``mount``/``umount2`` build the container's file system view; ``pivot_root`` swaps the root mount of
  the mount namespace so the host's tree can be detached entirely (``chroot`` only changes one process's
  idea of ``/`` and is escapable by a process holding ``CAP_SYS_CHROOT``).
* ``sethostname`` sets the UTS name; ``capset``/``prctl`` shrink what root inside may do.
* ``setresuid``/``setresgid``/``setgroups`` switch the identity, ``chroot``/``fchdir`` the root of an
  exec, ``mknod``/``chown``/``setxattr`` make device nodes and whiteouts, owners and overlay marks. Python
  wraps these itself (``os.*``); they pass through here anyway, so the seam is where a container's
  set-up *order* is decided, and can be watched.

Nothing else in the package calls libc, and the container side calls none of the above but through
:class:`Sys`. Tests pass a recording fake instead of :data:`SYS` (``tests/fakesys.py``, which can also
make any call fail), so the order of the steps and what a failed one stops is checked without root.

Every wrapper raises ``OSError`` with the errno the kernel returned and the path it was about, so the
layers above can turn it into a sentence (see :mod:`boxkit.errors`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import struct

# --- constants (linux/sched.h, linux/mount.h, linux/prctl.h, linux/capability.h) ------------------
CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

NAMESPACE_FLAGS = {
    "mount": CLONE_NEWNS, "uts": CLONE_NEWUTS, "ipc": CLONE_NEWIPC, "net": CLONE_NEWNET,
    "pid": CLONE_NEWPID, "user": CLONE_NEWUSER, "cgroup": CLONE_NEWCGROUP, "time": CLONE_NEWTIME,
}
# the file name under /proc/PID/ns/ for each namespace
NAMESPACE_FILES = {"mount": "mnt", "uts": "uts", "ipc": "ipc", "net": "net", "pid": "pid",
                   "user": "user", "cgroup": "cgroup", "time": "time"}

CLONE_VM = 0x00000100
CLONE_VFORK = 0x00004000
CLONE_PARENT = 0x00008000

PTRACE_SEIZE = 0x4206
PTRACE_O_TRACEVFORKDONE = 1 << 5
PTRACE_O_EXITKILL = 1 << 20

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_STRICTATIME = 1 << 24

MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

_LINUX_CAPABILITY_VERSION_3 = 0x20080522
CAP_LAST_CAP = 40  # CAP_CHECKPOINT_RESTORE, linux 5.9; probed at run time with PR_CAPBSET_READ

CAPABILITIES = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
    "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
    "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}

# x86_64 / aarch64 / generic syscall numbers for the calls glibc may not wrap (pivot_root always;
# close_range before glibc 2.34; pidfd_open before 2.36)
_SYSCALLS = {
    "x86_64": {"pivot_root": 155, "close_range": 436, "pidfd_open": 434, "capget": 125, "capset": 126,
               "clone": 56, "ptrace": 101},
    "aarch64": {"pivot_root": 41, "close_range": 436, "pidfd_open": 434, "capget": 90, "capset": 91,
                "clone": 220, "ptrace": 117},
}

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _nr(name: str) -> int:
    arch = os.uname().machine
    try:
        return _SYSCALLS[arch][name]
    except KeyError:
        raise OSError(38, f"no syscall number for {name} on {arch}") from None


def _check(ret: int, what: str, path: str | None = None) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}", path)
    return ret


def _b(s: str | bytes | None) -> bytes | None:
    if s is None:
        return None
    return s if isinstance(s, bytes) else os.fsencode(s)


class Sys:
    """The real kernel. Tests substitute an object with the same methods that records the calls."""

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int = 0,
              data: str | None = None) -> None:
        _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), "mount", target)

    def umount2(self, target: str, flags: int = 0) -> None:
        _check(_libc.umount2(_b(target), flags), "umount", target)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        _check(_libc.syscall(_nr("pivot_root"), _b(new_root), _b(put_old)), "pivot_root", new_root)

    def unshare(self, flags: int) -> None:
        _check(_libc.unshare(flags), "unshare")

    def setns(self, fd: int, nstype: int = 0) -> None:
        _check(_libc.setns(fd, nstype), "setns")

    def sethostname(self, name: str) -> None:
        raw = name.encode()
        _check(_libc.sethostname(raw, len(raw)), "sethostname", name)

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        return _check(_libc.prctl(option, arg2, arg3, arg4, arg5), f"prctl({option})")

    def close_range(self, first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
        try:
            _check(_libc.syscall(_nr("close_range"), first, ctypes.c_uint(last), flags), "close_range")
        except OSError:
            # linux < 5.9: fall back to closing what /proc/self/fd lists
            for name in os.listdir("/proc/self/fd"):
                fd = int(name)
                if fd >= first:
                    try:
                        os.close(fd)
                    except OSError:
                        pass

    def vfork_sibling(self) -> int:
        """``clone(CLONE_VM | CLONE_VFORK | CLONE_PARENT)``: a child that runs *in the caller's memory*,
        on the caller's stack, while the caller sleeps in the kernel until the child calls ``execve``
        or exits; the child's parent is the caller's parent. Returns 0 in the child, its PID in the
        caller. The caller must never run again once woken — its stack was the child's — which is
        :mod:`boxkit.runtime.spare_child`'s business (a ptrace stop holds it). The
        argument order of ``clone`` differs between architectures; every argument but the flags
        is 0 here, so it does not matter."""
        flags = CLONE_VM | CLONE_VFORK | CLONE_PARENT | signal.SIGCHLD   # the exit signal, as fork's
        return _check(_libc.syscall(ctypes.c_long(_nr("clone")), ctypes.c_ulong(flags), ctypes.c_ulong(0),
                                    ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)), "clone")

    def ptrace_seize(self, pid: int, options: int) -> None:
        _check(_libc.syscall(ctypes.c_long(_nr("ptrace")), ctypes.c_long(PTRACE_SEIZE), ctypes.c_long(pid),
                             ctypes.c_ulong(0), ctypes.c_ulong(options)), "ptrace", f"/proc/{pid}")

    def pidfd_open(self, pid: int) -> int:
        return _check(_libc.syscall(_nr("pidfd_open"), pid, 0), "pidfd_open", f"/proc/{pid}")

    def set_comm(self, name: str) -> None:
        """The name ``ps`` shows for a process without a command line (/proc/PID/comm, 15 bytes)."""
        buf = ctypes.create_string_buffer(name.encode()[:15])
        _check(_libc.prctl(PR_SET_NAME, ctypes.cast(buf, ctypes.c_void_p).value or 0, 0, 0, 0), "prctl(PR_SET_NAME)")

    def set_controlling_tty(self, fd: int) -> None:
        """Make the terminal on ``fd`` the controlling terminal of this (new, leaderless) session
        (TIOCSCTTY): its line discipline then sends ^C as SIGINT to the session's foreground group."""
        import fcntl
        import termios

        fcntl.ioctl(fd, termios.TIOCSCTTY, 0)

    def link_up(self, name: str) -> None:
        """Set IFF_UP on an interface of the current network namespace (SIOCGIFFLAGS/SIOCSIFFLAGS).
        Used for ``lo`` in a fresh namespace, where importing a netlink library would cost more than
        the whole container start."""
        import fcntl
        import socket

        siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            req = struct.pack("16sh", name.encode(), 0)
            flags = struct.unpack("16sh", fcntl.ioctl(s.fileno(), siocgifflags, req))[1]
            fcntl.ioctl(s.fileno(), siocsifflags, struct.pack("16sh", name.encode(), flags | iff_up))

    # --- identity, root and nodes: thin wrappers over os.*, here so that a test can record them -----
    def setresuid(self, ruid: int, euid: int, suid: int) -> None:
        """Set the real, effective and saved uid at once, so no old id is left to switch back to. In
        a user namespace the ids are the namespace's own and must be in its ``uid_map`` (EINVAL
        otherwise). Leaving uid 0 clears the permitted and effective capability sets unless
        ``PR_SET_KEEPCAPS`` is set (capabilities(7), "Effect of user ID changes")."""
        os.setresuid(ruid, euid, suid)

    def setresgid(self, rgid: int, egid: int, sgid: int) -> None:
        """The group ids, as :meth:`setresuid`; done *before* the uid, while ``CAP_SETGID`` is still
        held (a non-root uid loses it)."""
        os.setresgid(rgid, egid, sgid)

    def setgroups(self, groups: list[int]) -> None:
        """Replace the supplementary groups. Denied (EPERM) in a user namespace whose
        ``/proc/PID/setgroups`` says ``deny``, as an unprivileged creator's must before it may write
        its own ``gid_map`` (linux 3.19, CVE-2014-8989: dropping a group could *grant* access
        through a ``---rwx`` "negative" permission)."""
        os.setgroups(groups)

    def chroot(self, path: str) -> None:
        """Change this process's idea of ``/`` (nothing else: the mount table and the cwd stay). A
        process with ``CAP_SYS_CHROOT`` and a cwd outside the new root can walk back out with
        ``..``; callers ``chdir`` into the new root first, and prefer ``pivot_root``."""
        os.chroot(path)

    def fchdir(self, fd: int) -> None:
        """``chdir`` to an open directory fd: a directory opened before a ``setns`` (in another mount
        namespace's tree, ``/proc/PID/root``) can still be entered after it."""
        os.fchdir(fd)

    def mknod(self, path: str, mode: int, device: int = 0, *, dir_fd: int | None = None) -> None:
        """Create a device node, fifo or overlayfs whiteout (a character device 0/0). Needs
        ``CAP_MKNOD`` in the *initial* user namespace for devices (a user namespace's root is
        refused, EPERM); the umask applies to ``mode``."""
        os.mknod(path, mode, device, dir_fd=dir_fd)

    def chown(self, path: str | int, uid: int, gid: int, *, dir_fd: int | None = None,
              follow_symlinks: bool = True) -> None:
        """``chown``, ``fchown`` (``path`` an open fd), ``lchown`` (``follow_symlinks=False``) and
        ``fchownat`` (``dir_fd``), as :func:`os.chown` takes them. The kernel clears the setuid bit
        (and setgid with group-execute) of a regular file whose owner changes: modes go after."""
        os.chown(path, uid, gid, dir_fd=dir_fd, follow_symlinks=follow_symlinks)

    def setxattr(self, path: str | int, name: str, value: bytes, flags: int = 0) -> None:
        """Set an extended attribute. ``trusted.*`` needs ``CAP_SYS_ADMIN`` in the initial user
        namespace (overlayfs keeps its whiteouts and opaque marks there); ``user.*`` only needs
        write permission, and is what an overlay mounted with ``userxattr`` reads instead."""
        os.setxattr(path, name, value, flags)

    def statfs_type(self, path: str) -> int | None:
        """``statfs(path).f_type``: which file system a path is on (cgroup2, tmpfs, overlayfs ...)."""
        class StatFS(ctypes.Structure):
            _fields_ = [("f_type", ctypes.c_long), ("rest", ctypes.c_byte * 112)]

        buf = StatFS()
        if _libc.statfs(os.fsencode(path), ctypes.byref(buf)) != 0:
            return None
        return buf.f_type & 0xFFFFFFFF

    # --- capabilities ------------------------------------------------------------------------------
    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        """Set the three capability sets of the calling thread (64-bit masks, version 3 ABI)."""
        header = struct.pack("Ii", _LINUX_CAPABILITY_VERSION_3, 0)
        data = struct.pack("IIIIII", effective & 0xFFFFFFFF, permitted & 0xFFFFFFFF,
                           inheritable & 0xFFFFFFFF, effective >> 32, permitted >> 32, inheritable >> 32)
        hbuf = ctypes.create_string_buffer(header, len(header))
        dbuf = ctypes.create_string_buffer(data, len(data))
        _check(_libc.syscall(_nr("capset"), hbuf, dbuf), "capset")

    def capget(self, pid: int = 0) -> tuple[int, int, int]:
        hbuf = ctypes.create_string_buffer(struct.pack("Ii", _LINUX_CAPABILITY_VERSION_3, pid), 8)
        dbuf = ctypes.create_string_buffer(24)
        _check(_libc.syscall(_nr("capget"), hbuf, dbuf), "capget")
        e0, p0, i0, e1, p1, i1 = struct.unpack("IIIIII", dbuf.raw)
        return e0 | e1 << 32, p0 | p1 << 32, i0 | i1 << 32

    def last_cap(self) -> int:
        try:
            with open("/proc/sys/kernel/cap_last_cap") as f:
                return int(f.read())
        except OSError:
            return CAP_LAST_CAP

    def drop_bounding(self, keep: int) -> None:
        for cap in range(self.last_cap() + 1):
            if not keep & (1 << cap):
                try:
                    self.prctl(PR_CAPBSET_DROP, cap)
                except OSError as e:
                    if e.errno != 22:  # EINVAL: a capability this kernel does not know
                        raise

    def clear_ambient(self) -> None:
        try:
            self.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
        except OSError as e:
            if e.errno != 22:  # linux < 4.3 has no ambient set
                raise

    def load_seccomp(self, program: bytes) -> None:
        """Load a classic-BPF seccomp program; see the module function :func:`load_seccomp`."""
        load_seccomp(program)


SYS: Sys = Sys()


def cap_mask(names: list[str] | tuple[str, ...]) -> int:
    mask = 0
    for n in names:
        mask |= 1 << CAPABILITIES[n]
    return mask


def cap_names(mask: int) -> list[str]:
    return [n for n, bit in CAPABILITIES.items() if mask & (1 << bit)]


# --- seccomp: libseccomp compiles, the kernel loads ----------------------------------------------
#
# A seccomp filter is a classic-BPF program the kernel runs on every system call of the process
# (and of every child and every program it execs: filters are inherited and can never be removed).
# libseccomp turns rules ("allow socket when arg0 != AF_VSOCK") into that program, for each
# architecture's syscall numbers; boxkit only calls it. ``seccomp_export_bpf`` writes the program
# out, so it is compiled once in the supervisor and the container's last step before ``execve`` is
# a single ``prctl(PR_SET_SECCOMP)``, with no libseccomp in the child.

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_KILL_THREAD = 0x00000000
SCMP_ACT_TRAP = 0x00030000
SCMP_ACT_ERRNO = 0x00050000      # | errno
SCMP_ACT_TRACE = 0x7FF00000      # | message
SCMP_ACT_LOG = 0x7FFC0000
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_FLTATR_CTL_NNP = 3          # libseccomp's own no_new_privs on load: off, boxkit sets it itself
SCMP_CMP = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
            "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}


class ScmpArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


_libseccomp: ctypes.CDLL | None = None


def libseccomp() -> ctypes.CDLL:
    """libseccomp.so.2, loaded on first use (never on the start path: programs are cached)."""
    global _libseccomp
    if _libseccomp is None:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_arch_native.restype = ctypes.c_uint32
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_arch_exist.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                               ctypes.c_uint, ctypes.POINTER(ScmpArgCmp)]
        lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        _libseccomp = lib
    return _libseccomp


def _scmp_check(ret: int, what: str) -> int:
    if ret < 0:   # libseccomp returns -errno
        raise OSError(-ret, f"{what}: {os.strerror(-ret)}")
    return ret


class SeccompFilter:
    """One libseccomp filter context: ``add`` rules, then ``export`` the BPF program as bytes."""

    def __init__(self, default_action: int, arches: list[str]) -> None:
        self.lib = libseccomp()
        self.ctx = self.lib.seccomp_init(default_action)
        if not self.ctx:
            raise OSError(22, "seccomp_init: invalid default action")
        _scmp_check(self.lib.seccomp_attr_set(self.ctx, SCMP_FLTATR_CTL_NNP, 0), "seccomp_attr_set")
        for name in arches:
            # profiles spell architectures as the OCI and docker do (SCMP_ARCH_X86); libseccomp's own
            # names are lower case without the prefix (x86). Passed as written, every name resolved
            # to 0 and was skipped: only the native arch was in the filter, and a 32-bit (x86, x32)
            # call in a container met the "wrong arch" kill instead of the profile's rules.
            lib_name = name.removeprefix("SCMP_ARCH_").lower()
            token = self.lib.seccomp_arch_resolve_name(lib_name.encode())
            if not token:
                self.close()
                raise OSError(22, f"seccomp filter: {name} is not an architecture this libseccomp knows")
            ret = self.lib.seccomp_arch_add(self.ctx, token)
            if ret != -17:   # EEXIST: the native one, there from seccomp_init
                _scmp_check(ret, f"seccomp_arch_add({name})")

    def arches(self) -> list[str]:
        """The architectures in the filter, by libseccomp's names (``seccomp_arch_exist``)."""
        names = ("x86_64", "x86", "x32", "aarch64", "arm", "ppc64le", "s390x", "riscv64")
        return [n for n in names if (t := self.lib.seccomp_arch_resolve_name(n.encode()))
                and self.lib.seccomp_arch_exist(self.ctx, t) == 0]

    def syscall_nr(self, name: str) -> int | None:
        """The number libseccomp knows for a name (on any arch), None for a name it does not know."""
        nr = self.lib.seccomp_syscall_resolve_name(name.encode())
        return None if nr == -1 else nr   # __NR_SCMP_ERROR

    def add(self, action: int, nr: int, args: list[tuple[int, int, int, int]]) -> None:
        arr = (ScmpArgCmp * max(len(args), 1))(*[ScmpArgCmp(*a) for a in args])
        _scmp_check(self.lib.seccomp_rule_add_array(self.ctx, action, nr, len(args), arr),
                    f"seccomp_rule_add(syscall {nr})")

    def export(self) -> bytes:
        r, w = os.pipe()
        try:
            # the program is a few KB, far below a pipe's 64 KB buffer
            _scmp_check(self.lib.seccomp_export_bpf(self.ctx, w), "seccomp_export_bpf")
            os.close(w)
            w = -1
            chunks = []
            while chunk := os.read(r, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)

    def close(self) -> None:
        if self.ctx:
            self.lib.seccomp_release(self.ctx)
            self.ctx = None


def seccomp_available() -> bool:
    """Whether this kernel has seccomp filters (``Seccomp:`` in /proc/self/status) and libseccomp loads."""
    try:
        with open("/proc/self/status") as f:
            if "Seccomp:" not in f.read():
                return False
        libseccomp()
        return True
    except OSError:
        return False


def load_seccomp(program: bytes) -> None:
    """``prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &sock_fprog)``: from here on the kernel runs
    ``program`` on every system call of this process and its descendants. Needs no_new_privs or
    CAP_SYS_ADMIN (so that a setuid program cannot be run under a filter that fools it)."""
    buf = ctypes.create_string_buffer(program, len(program))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p).value)
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER,
                       ctypes.cast(ctypes.pointer(prog), ctypes.c_void_p).value or 0, 0, 0),
           "prctl(PR_SET_SECCOMP)")
