"""The learner's container for the podman route of the hub tests, and the host set-up podman needs.

**The image.** A teacher builds deploy/Containerfile (``WITH_JUPYTERHUB=true``): Debian, Python, the
course and jupyterhub-singleuser, minutes of apt and pip (tests/hosting/test_container_image.py builds
it). The tests need the same programs in a learner's container, not the same build, so they take a
lighter route that costs a second: an image of a few empty directories and four files and a link in
``/etc`` (:func:`skeleton_tar`), into which every learner's container bind-mounts, read-only and ``nosuid``:

* the host's ``/usr``: the dynamic loader and libraries, Python, busybox-static (boxkit's offline
  image), ``ip``, ``mount``, tini;
* the class's one install (tests/hub/hubctl.py ``shared_install``): boxkit's source as a learner may
  read it and the venv's site-packages, which holds JupyterHub;
* the interpreter's own prefix when it is not under ``/usr``.

Inside a user namespace the host's files belong to no mapped uid, so they show as ``nobody`` and root
in there may only read and run them; a set-uid program of the host's ``/usr`` gains nothing (the
kernel ignores set-uid to an unmapped owner, and the mounts are ``nosuid`` besides).

**The ids.** ``--userns=auto`` takes each container's range from the ``containers:`` lines of
``/etc/subuid`` and ``/etc/subgid``; :func:`subordinate_ids` adds one for the test and puts both files
back byte for byte (and their mode, owner and times) whether the test passes or fails; only a pytest
killed outright (SIGKILL) leaves the added line (``grep ^containers: /etc/subuid`` shows it).
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import time

SUBID_FILES = ("/etc/subuid", "/etc/subgid")
# high enough to meet no user's uid and no range useradd gives (Debian's SUB_UID_MAX is 600100000)
SUBID_START = 1_879_048_192
HOME = "/home/learner"
BOXKIT_ROOT = "/var/lib/boxkit"

_DIRS = ("usr", "etc", "proc", "sys", "dev", "tmp", "run", "root", "mnt", "opt", "var", "var/lib",
         "var/lib/boxkit", "var/tmp", "home", "home/learner")
_PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
           "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
_GROUP = "root:x:0:\nnogroup:x:65534:\n"
_NSSWITCH = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"


def skeleton_tar() -> bytes:
    """The image's one layer: the directories a root file system needs and the files of /etc that the
    host's /usr reads (the loader's cache, name service), with links bin, sbin, lib, lib64 into usr/."""
    buf = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buf, mode="w") as t:
        def add(name: str, kind: bytes, mode: int, data: bytes = b"", link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime, info.linkname = kind, mode, now, link
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            t.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

        for d in _DIRS:
            add(d, tarfile.DIRTYPE, 0o1777 if d in ("tmp", "var/tmp") else 0o755)
        for link in ("bin", "sbin", "lib", "lib64"):
            if os.path.exists(f"/usr/{link}"):
                add(link, tarfile.SYMTYPE, 0o777, link=f"usr/{link}")
        add("etc/passwd", tarfile.REGTYPE, 0o644, _PASSWD.encode())
        add("etc/group", tarfile.REGTYPE, 0o644, _GROUP.encode())
        add("etc/nsswitch.conf", tarfile.REGTYPE, 0o644, _NSSWITCH.encode())
        add("etc/mtab", tarfile.SYMTYPE, 0o777, link="/proc/self/mounts")
        if os.path.exists("/etc/ld.so.cache"):
            with open("/etc/ld.so.cache", "rb") as f:
                add("etc/ld.so.cache", tarfile.REGTYPE, 0o644, f.read())
    return buf.getvalue()


def import_image(podman, tag: str, workdir: str) -> str:
    """:func:`skeleton_tar` imported into ``podman`` (a boxkit.podman.Podman store) as ``tag``."""
    path = os.path.join(workdir, "learner-skeleton.tar")
    with open(path, "wb") as f:
        f.write(skeleton_tar())
    r = podman.run("import", "-q", path, tag, timeout=120)
    assert r.returncode == 0, f"podman import of the learner's skeleton failed: {r.stderr}"
    return tag


def open_vfs_store(store_dir: str) -> None:
    """Make a vfs store's directories searchable by every learner's root (0711: enter, not list).

    podman 4.3's vfs driver chowns ``vfs/dir`` to the root of each container it makes and leaves it
    0700, so a container whose runtime mounts its root just after another learner's container was made
    meets EACCES (measured: one of five learners spawned at once, about one run in three). Search
    permission on the path is all a learner's root needs; each container's own directory keeps its
    owner and mode."""
    for rel in ("", "root", "root/vfs", "root/vfs/dir"):
        d = os.path.join(store_dir, rel)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o711)


def volumes(python: str, pythonpath: list[str]) -> list[str]:
    """The bind mounts that give a learner's container the host's programs and the class's install."""
    vols = ["/usr:/usr:ro,nosuid,nodev"]
    real = os.path.realpath(python)
    if not real.startswith("/usr/"):
        prefix = os.path.dirname(os.path.dirname(real))   # .../bin/python3.11 -> its prefix
        vols.append(f"{prefix}:{prefix}:ro,nosuid,nodev")
    vols += [f"{p}:{p}:ro,nosuid,nodev" for p in pythonpath]
    return vols


@contextlib.contextmanager
def subordinate_ids(count: int, files: tuple[str, str] = SUBID_FILES):
    """``containers:`` ranges of ``count`` ids in /etc/subuid and /etc/subgid for the time of the block
    (an existing ``containers:`` line is used as it is), then both files exactly as they were: content,
    mode, owner and times, or absent if they were absent. Yields the range that podman will use."""
    saved = {}
    for path in files:
        if os.path.lexists(path):
            st = os.lstat(path)
            with open(path, "rb") as f:
                saved[path] = (f.read(), st)
        else:
            saved[path] = None
    try:
        ranges = []
        for path in files:
            old = saved[path][0] if saved[path] else b""
            mine = [ln for ln in old.decode().splitlines() if ln.startswith("containers:")]
            if mine:
                _, start, n = mine[0].split(":")
                ranges.append((int(start), int(n)))
                continue
            add = ("" if not old or old.endswith(b"\n") else "\n") + f"containers:{SUBID_START}:{count}\n"
            with open(path, "ab") as f:
                f.write(add.encode())
            ranges.append((SUBID_START, count))
        yield ranges[0]
    finally:
        for path, was in saved.items():
            if was is None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                continue
            data, st = was
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, st.st_mode & 0o7777)
            os.chown(path, st.st_uid, st.st_gid)
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def subid_state(files: tuple[str, str] = SUBID_FILES) -> dict[str, tuple[bytes, int, int, int, int] | None]:
    """What the tests compare before and after: each file's bytes, mode, owner, group and mtime."""
    out = {}
    for path in files:
        if not os.path.lexists(path):
            out[path] = None
            continue
        st = os.lstat(path)
        with open(path, "rb") as f:
            out[path] = (f.read(), st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns)
    return out
