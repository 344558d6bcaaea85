"""Two base images made offline from what the host already has: ``busybox`` and ``host``.

An image is only a directory tree plus a little configuration (environment, command, working
directory). Nothing requires a registry: a tree holding one statically linked program is a complete
image. boxkit builds two such trees on first use, with no network:

``busybox``
    The host's ``/bin/busybox`` (Debian's ``busybox-static``: one static binary, no libraries) and one
    symlink per *applet* (``ls``, ``sh``, ``ps``...): busybox looks at ``argv[0]`` to decide which
    program to be. Plus the bones every image has: ``/etc/passwd`` and ``group`` (so ``id`` and
    ``ls -l`` can name uid 0), empty ``/proc``, ``/sys`` and ``/dev`` mount points, ``/tmp`` with the
    sticky bit (mode 1777: everyone may create, only the owner may delete).
``host``
    The host's own ``sh``, ``bash``, coreutils, ``ps`` and the Python that runs boxkit (its real path
    and its standard library), plus every shared library they need, found by reading their ELF
    headers (:mod:`boxkit.images.elf`). Files keep their host paths, so the dynamic loader and
    Python's ``sys.prefix`` search find them where they were built to look.

Files are *hard-linked* from the host when the image store is on the same file system (no copy, no
extra disk; the overlay never writes to a lower layer, so the host file cannot be changed through
the container) and copied otherwise.

Two notebooks may ask for ``busybox`` at the same moment. The build holds an ``flock`` on a lock file,
assembles the tree in a temporary directory of the store, and ``rename(2)``s it into place as a layer
(:mod:`boxkit.images.store`) — a rename within one file system is atomic — and only then tags it, so a
reader sees either no image or the whole image.
"""

from __future__ import annotations

import errno
import fnmatch
import glob
import os
import shutil
import subprocess
import sys
import time

from .. import files, paths
from ..errors import BoxkitError, NotFoundError
from . import ImageConfig
from .elf import closure, read_elf
from .store import Store

BASE_IMAGES = ("busybox", "host")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX = "/bin/busybox"

# what the `host` image carries (those the host has); each brings its libraries along
HOST_PROGRAMS = (
    "sh", "dash", "bash", "ls", "cat", "echo", "env", "id", "hostname", "sleep", "true", "false", "ps",
    "mkdir", "rmdir", "rm", "cp", "mv", "ln", "touch", "chmod", "chown", "head", "tail", "wc", "sort",
    "uniq", "tr", "cut", "grep", "sed", "kill", "df", "du", "stat", "uname", "date", "readlink",
    "realpath", "tee", "dd", "seq", "printf", "basename", "dirname", "pwd", "whoami", "nproc", "test",
    "[", "mount", "umount", "findmnt", "free", "uptime", "yes", "md5sum", "sha256sum", "xargs", "find",
    "timeout", "nice", "nohup", "unshare", "nsenter", "setpriv", "ip",
)
# parts of the standard library a container does not need (tests, GUI, build files, site packages)
STDLIB_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "site-packages", "dist-packages",
               "lib2to3", "pydoc_data"}
STDLIB_SKIP_GLOB = ("config-*",)

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"
HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def ensure(name: str) -> None:
    """Build base image ``name`` into the store (tag ``NAME:latest``) unless it is there already."""
    if name not in BASE_IMAGES:
        raise NotFoundError("image", name, hint="boxkit images lists the images there are")
    store = Store()
    ref = f"{name}:latest"
    if ref in store.tags():
        return
    if name == "busybox" and not os.path.exists(BUSYBOX):
        raise NotFoundError("program", BUSYBOX,
                            hint="install busybox-static (apt-get install -y busybox-static) or use the "
                                 "'host' image")
    lock = os.path.join(paths.ensure(paths.locks_dir()), f"image-base-{name}.lock")
    with files.locked(lock):
        if ref in store.tags():  # someone else built it while we waited
            return
        tmp = store.tmpdir(f"base-{name}-")
        try:
            tree = os.path.join(tmp, "rootfs")
            config = _build_busybox(tree) if name == "busybox" else _build_host(tree)
            # the host image's tar (~100 MB) is only hashed now and written when saved or pushed
            layer = store.add_layer_dir(tree, keep_blob=(name == "busybox"))
            what = BUSYBOX if name == "busybox" else "the host's programs, python and their libraries"
            history = [{"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "created_by": f"boxkit base image: {what}"}]
            store.write_image([layer], ImageConfig.from_dict(config), history, ref=ref)
        except OSError as e:
            if isinstance(e, BoxkitError):
                raise
            raise BoxkitError(f"cannot build base image {name} in", tmp, errno=e.errno,
                              detail=str(e.strerror or e).lower()) from e
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _skeleton(root: str) -> None:
    """The directories and /etc files every image has, with the modes docker images use."""
    os.mkdir(root, 0o755)
    for d, mode in (("etc", 0o755), ("proc", 0o555), ("sys", 0o555), ("dev", 0o755), ("tmp", 0o1777),
                    ("root", 0o700), ("home", 0o755), ("var", 0o755), ("var/tmp", 0o1777),
                    ("run", 0o755), ("usr", 0o755)):
        p = os.path.join(root, d)
        os.makedirs(p, exist_ok=True)
        os.chmod(p, mode)  # makedirs' mode is filtered by the umask; the sticky bit needs chmod
    for name, text in (("passwd", PASSWD), ("group", GROUP), ("hosts", HOSTS), ("resolv.conf", ""),
                       ("nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n")):
        with open(os.path.join(root, "etc", name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(root, "etc", name), 0o644)


def _config(cmd: list[str]) -> dict:
    return {"env": [f"PATH={DEFAULT_PATH}"], "cmd": cmd, "entrypoint": None, "workdir": "", "user": ""}


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError as e:
        # EXDEV: another file system; EPERM: fs.protected_hardlinks for a file we do not own
        if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.copy2(src, dst)


def _build_busybox(root: str) -> dict:
    _skeleton(root)
    for d in ("bin", "sbin", "usr/bin", "usr/sbin"):
        os.makedirs(os.path.join(root, d), 0o755, exist_ok=True)
    _link_or_copy(BUSYBOX, os.path.join(root, "bin/busybox"))
    tree = _Tree(root)
    if not _is_static(BUSYBOX):  # a dynamic busybox (package `busybox`) needs its libraries too
        for lib in closure([BUSYBOX]):
            tree.add(lib)
    out = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True, check=True).stdout
    for rel in out.split():
        rel = os.path.normpath(rel).lstrip("/")
        if rel.startswith("..") or rel == "bin/busybox":
            continue
        dst = os.path.join(root, rel)
        os.makedirs(os.path.dirname(dst), 0o755, exist_ok=True)
        if not os.path.lexists(dst):
            os.symlink("/bin/busybox", dst)
    return _config(["sh"])


def _is_static(path: str) -> bool:
    info = read_elf(path)
    return info is not None and info.interp is None


class _Tree:
    """Copies host paths into an image root at the same paths, keeping symlinks as symlinks.

    Directories are always created at their host *real* path (no symlink in it), and symlinks are only
    ever created as leaves, so nothing is ever written *through* a symlink of the image — an absolute
    link inside the image would otherwise point back at the host."""

    def __init__(self, root: str):
        self.root = root
        self.done: set[str] = set()

    def _dir(self, real: str) -> str:
        dst = self.root + real
        if not os.path.isdir(dst):
            os.makedirs(dst, 0o755, exist_ok=True)
        return dst

    def add(self, path: str, depth: int = 0) -> None:
        path = os.path.normpath(path)
        if path in self.done or path == "/" or depth > 40:
            return
        self.done.add(path)
        parent = os.path.dirname(path)
        # symlinked directories on the way (/lib -> usr/lib on a merged-/usr system) become links too
        prefix = ""
        for part in parent.strip("/").split("/"):
            if not part:
                break
            prefix += "/" + part
            if os.path.islink(prefix):
                self.add(prefix, depth + 1)
        real_parent = os.path.realpath(parent)
        dst = os.path.join(self._dir(real_parent), os.path.basename(path))
        src = os.path.join(real_parent, os.path.basename(path))
        if os.path.islink(src):
            target = os.readlink(src)
            if not os.path.lexists(dst):
                os.symlink(target, dst)
            self.add(os.path.join(real_parent, target) if not target.startswith("/") else target, depth + 1)
        elif os.path.isdir(src):
            self._dir(src)
        elif os.path.isfile(src) and not os.path.lexists(dst):
            _link_or_copy(src, dst)


def _python_files() -> tuple[str, list[str], list[str]]:
    """The real interpreter, its standard library files and its extension modules."""
    import sysconfig

    exe = os.path.realpath(sys.executable)
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    files: list[str] = []
    ext: list[str] = []
    for dirpath, dirnames, filenames in os.walk(stdlib):
        if dirpath == stdlib:
            dirnames[:] = [d for d in dirnames if d not in STDLIB_SKIP
                           and not any(fnmatch.fnmatch(d, g) for g in STDLIB_SKIP_GLOB)]
        for name in filenames:
            full = os.path.join(dirpath, name)
            if name.startswith("_tkinter"):
                continue
            (ext if name.endswith(".so") else files).append(full)
    return exe, files, ext


def _build_host(root: str) -> dict:
    _skeleton(root)
    tree = _Tree(root)
    search = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
    progs = [p for p in (shutil.which(n, path=search) for n in HOST_PROGRAMS) if p]
    if not progs:
        raise NotFoundError("program", "sh", hint="the host has none of the programs the host image needs")
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):  # merged /usr: keep /bin/sh working for #! lines
            tree.add(top)
    exe, py_files, py_ext = _python_files()
    needed = closure(progs + [exe])
    for ext in py_ext:  # an extension whose library is missing (e.g. tk) is left out, not fatal
        try:
            needed += closure([ext])
        except FileNotFoundError:
            continue
        tree.add(ext)
    for p in progs + [exe] + needed + py_files:
        tree.add(p)
    # the loader's cache and config: libraries outside the default directories are found through it
    for p in ["/etc/ld.so.cache", "/etc/ld.so.conf"] + glob.glob("/etc/ld.so.conf.d/*.conf"):
        if os.path.isfile(p):
            os.makedirs(os.path.dirname(root + p), 0o755, exist_ok=True)
            shutil.copy2(p, root + p)
    # `python3` on PATH is the interpreter that runs boxkit, wherever it lives on the host
    os.makedirs(os.path.join(root, "usr/local/bin"), 0o755, exist_ok=True)
    for name in ("python3", "python"):
        dst = os.path.join(root, "usr/local/bin", name)
        if not os.path.lexists(dst):
            os.symlink(exe, dst)
    # every directory readable: a non-root user inside must reach the interpreter (pyenv puts it
    # under /root, which is then opened up in this image)
    keep = {"/tmp", "/var/tmp", "/proc", "/sys"} | (set() if exe.startswith("/root/") else {"/root"})
    for dirpath, _dirs, _files in os.walk(root):
        rel = dirpath[len(root):] or "/"
        if rel not in keep:
            os.chmod(dirpath, 0o755)
    return _config(["sh"])
