"""Names on a network: the ``/etc/hosts`` and ``/etc/resolv.conf`` a container sees.

Inside a container, ``ping web`` asks the C library to resolve ``web``. glibc, musl and busybox all
read ``/etc/hosts`` first, *on every lookup* (no cache), and only then the DNS servers listed in
``/etc/resolv.conf``. docker answers names with a DNS server built into its daemon; boxkit has no
daemon, so it writes names where the resolver looks first::

    127.0.0.1   localhost
    ::1         localhost ip6-localhost ip6-loopback
    10.213.0.2  web 3fa2c1d09e2b        <- this container (its --name, hostname, short id)
    10.213.0.3  db 9be01c7d4a11         <- a peer on the same network

Peers that start later must appear in the files of containers already running. Because the resolver
re-reads the file on each lookup, rewriting it in place is enough: when a container joins or leaves a
network, boxkit rewrites the ``/etc/hosts`` of every other container on it, reaching the file through
``/proc/PID/root`` (the container's root as the host sees it) — only for processes with a mount
namespace and a root of their own, and only a file that starts with boxkit's header line.

That path is hostile ground: the container's root owns ``/etc`` and could make ``/etc/hosts`` a
symbolic link to ``/etc/shadow``; followed from the host, an absolute link resolves against the
*host's* root, and root on the host would overwrite its own shadow file. So every component is opened
with ``O_NOFOLLOW`` relative to the previous directory's descriptor, the target must be a regular file
(``O_NONBLOCK`` keeps a FIFO from blocking the open), and anything else is skipped.

``resolv.conf``: with outbound NAT off (the default) nothing outside the host is reachable, so no
server is listed and lookups of unknown names fail at once. With NAT on, the host's servers are copied,
except loopback ones (127.0.0.53 of systemd-resolved means the *container's* loopback inside).
"""

from __future__ import annotations

import contextlib
import os
import stat

from .ipam import Network

HEADER = "# written by boxkit: this container's network names\n"
BASE = ("127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n")


def render_hosts(net: Network | None, cid: str, hostname: str, name: str | None) -> str:
    """The /etc/hosts of container ``cid``: itself first, then every other lease of ``net``."""
    lines = [HEADER, BASE]
    if net is None:
        lines.append(f"127.0.1.1\t{hostname}\n")
        return "".join(lines)
    me = net.leases.get(cid)
    if me is not None:
        lines.append(f"{me.address}\t{' '.join(me.names(cid))}\n")
    for other, lease in sorted(net.leases.items(), key=lambda kv: kv[1].address):
        if other != cid:
            lines.append(f"{lease.address}\t{' '.join(lease.names(other))}\n")
    return "".join(lines)


def render_resolv(nat: bool, host_resolv: str = "/etc/resolv.conf") -> str:
    out = ["# written by boxkit\n"]
    if not nat:
        out.append("# outbound nat is off: no name server is reachable from this network\n")
        return "".join(out)
    try:
        with open(host_resolv) as f:
            text = f.read()
    except OSError:
        text = ""
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith(("#", ";")):
            continue
        if parts[0] == "nameserver" and len(parts) > 1 and (parts[1].startswith("127.") or parts[1] == "::1"):
            continue
        if parts[0] in ("nameserver", "search", "domain", "options"):
            out.append(line.strip() + "\n")
    return "".join(out)


def write_in_root(root: str, relpath: str, data: str, only_if_prefix: str | None = None) -> bool:
    """Overwrite ``root/relpath`` without following any symlink; False when it is not a plain file.

    ``root`` is trusted (``/proc/PID/root``); every component below it is not. With ``only_if_prefix``,
    the file is rewritten only if it starts with that text (boxkit never overwrites a file it did not
    write).
    """
    parts = [p for p in relpath.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        return False
    flags_dir = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        for p in parts[:-1]:
            nfd = os.open(p, flags_dir, dir_fd=fd)
            os.close(fd)
            fd = nfd
        f = os.open(parts[-1], os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
    except OSError:
        os.close(fd)
        return False
    os.close(fd)
    try:
        if not stat.S_ISREG(os.fstat(f).st_mode):
            return False
        if only_if_prefix is not None:
            head = os.pread(f, len(only_if_prefix.encode()), 0)
            if head != only_if_prefix.encode():
                return False
        # in place, not rename: the file may be a bind mount that a rename would not replace
        os.ftruncate(f, 0)
        os.pwrite(f, data.encode(), 0)
        return True
    except OSError:
        return False
    finally:
        os.close(f)


def _own_files(pid: int) -> bool:
    """True when ``pid`` has a mount namespace and a root of its own, i.e. is a container.

    A process that only unshared its network namespace (``unshare --net``, ``ip netns exec``) sees the
    host's files: its ``/etc/hosts`` *is* the host's, which boxkit must never touch.
    """
    try:
        if os.stat(f"/proc/{pid}/ns/mnt").st_ino == os.stat("/proc/self/ns/mnt").st_ino:
            return False
        r, h = os.stat(f"/proc/{pid}/root"), os.stat("/")
        return (r.st_dev, r.st_ino) != (h.st_dev, h.st_ino)
    except OSError:
        return False


def refresh_peers(net: Network, skip: str | None = None) -> int:
    """Rewrite /etc/hosts of every live container on ``net`` (but ``skip``); return how many."""
    done = 0
    for cid, lease in net.leases.items():
        if cid == skip:
            continue
        if not _own_files(lease.pid):
            continue
        with contextlib.suppress(OSError):
            if write_in_root(f"/proc/{lease.pid}/root", "etc/hosts",
                             render_hosts(net, cid, lease.hostname, lease.name), only_if_prefix=HEADER):
                done += 1
    return done
