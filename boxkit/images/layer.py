"""Layers as tar streams: applying one safely, and making one from a directory.

An OCI layer is a tar archive of what one step changed. Additions and changes are ordinary entries
(files, dirs, symlinks, hard links, devices, with modes, owners, mtimes and xattrs in PAX headers).
Deletions cannot be expressed in tar, so the format uses marker files:

* ``dir/.wh.name`` — *whiteout*: ``dir/name`` from a lower layer is gone;
* ``dir/.wh..wh..opq`` — *opaque*: nothing from lower layers shows inside ``dir`` (the directory was
  replaced as a whole); entries of the *same* layer stay.

boxkit keeps each layer unpacked in its own directory and stacks them with overlayfs, so markers are
turned into what overlayfs itself uses: a whiteout becomes a character device 0/0, an opaque directory
gets the xattr ``trusted.overlay.opaque=y``. :func:`write_tar` does the reverse for a container's upper
dir (``commit``) and for a built directory.

**A layer is hostile input.** An entry named ``../../etc/cron.d/x``, a symlink ``etc -> /`` followed by
an entry ``etc/passwd``, a hard link to ``/etc/shadow``, a pax header that sets
``trusted.overlay.redirect``, a 1 KB gzip that inflates to a terabyte — each has escaped or crashed
real unpackers (CVE-2019-14271, CVE-2018-15664, CVE-2021-30465 class bugs). The rules here:

* names are split into components; ``..`` or NUL anywhere, or a bare ``.wh.``, rejects the layer;
* every directory on the way is opened with ``O_NOFOLLOW`` relative to the previous one (``openat``
  style, through ``dir_fd=``): a symlink among the parents fails with ``ELOOP`` instead of being
  followed, and nothing is ever created *through* a link — links are only created as leaves;
* hard-link targets are looked up the same way, must already exist in this layer, and may not be
  directories;
* xattrs in the ``trusted.`` namespace (overlayfs's own) are refused, and so are ``user.overlay.*`` (what
  overlayfs reads instead when mounted with ``userxattr`` in a user namespace); other ``user.`` xattrs and
  ``security.capability`` (file capabilities, e.g. ``ping``) are kept;
* without root (rootless, :mod:`boxkit.runtime.rootless`) owners cannot be set: every file belongs to the
  learner, who is root inside their containers; an opaque dir is marked ``user.overlay.opaque``, which
  is what their ``userxattr`` overlays read;
* the uncompressed stream is counted against a budget, so a compression bomb stops early.

Python's ``tarfile.extractall(filter="data")`` would be safe too, but it drops what images legitimately
carry — absolute symlink targets, owners, setuid bits, devices — so layers are applied entry by entry.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import tarfile
import zlib
from collections.abc import Callable

from .. import _sys
from ..errors import BoxkitError

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
USER_OPAQUE_XATTR = "user.overlay.opaque"     # the same mark for an overlay mounted with userxattr
DEFAULT_BUDGET = 16 << 30  # bytes of uncompressed tar per layer
_KEEP_XATTRS = ("user.", "security.capability")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_ROOT = os.geteuid() == 0


def _chown(sys: _sys.Sys, path: str | int, uid: int, gid: int, **kw) -> None:
    """chown as root; without root a file can only be the learner's own (and that is what it is)."""
    if _ROOT:
        sys.chown(path, uid, gid, **kw)   # a path, or an open fd (fchown)


def is_opaque(path, **kw) -> bool:
    for name in (OPAQUE_XATTR, USER_OPAQUE_XATTR):
        try:
            if os.getxattr(path, name, **kw) == b"y":
                return True
        except OSError:
            continue
    return False


class LayerError(BoxkitError):
    """A layer that cannot be applied: malformed or hostile."""

    def __init__(self, what: str, name: str, why: str):
        super().__init__(f"cannot apply layer {what}: entry", repr(name), detail=why,
                         hint="the layer is corrupt or hostile; nothing outside its directory was touched")


# --- reading: decompress with a budget and hash as we go -------------------------------------------

class _Stream(io.RawIOBase):
    """A readable stream over a (possibly gzip-compressed) blob that hashes the compressed bytes and
    the uncompressed bytes and refuses to inflate past ``budget``."""

    def __init__(self, raw, budget: int):
        self.raw = raw
        self.budget = budget
        self.blob_hash = hashlib.sha256()
        self.tar_hash = hashlib.sha256()
        self.blob_size = 0
        self.tar_size = 0
        head = raw.read(2)
        self._pending = head
        self.gzip = head == b"\x1f\x8b"
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS) if self.gzip else None
        self._buf = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def _raw_read(self, n: int) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            data += self.raw.read(max(0, n - len(data)))
        else:
            data = self.raw.read(n)
        self.blob_hash.update(data)
        self.blob_size += len(data)
        return data

    def _fill(self, n: int) -> None:
        while len(self._buf) < n and not self._eof:
            if self._z is None:
                data = self._raw_read(1 << 20)
                if not data:
                    self._eof = True
                self._emit(data)
                continue
            if self._z.unconsumed_tail:
                data = self._z.unconsumed_tail
            else:
                data = self._raw_read(1 << 18)
                if not data:
                    self._emit(self._z.flush())
                    self._eof = True
                    continue
            # max_length bounds each step's output: a bomb is caught after 4 MiB, not after inflating
            out = self._z.decompress(data, 4 << 20)
            self._emit(out)
            if self._z.eof:
                rest = self._z.unused_data
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS) if rest.startswith(b"\x1f\x8b") else None
                if self._z is None:
                    self._eof = True
                else:  # concatenated gzip members are one stream (RFC 1952)
                    self._pending = rest

    def _emit(self, data: bytes) -> None:
        self.tar_size += len(data)
        if self.tar_size > self.budget:
            raise LayerError("stream", "", f"more than {self.budget} bytes uncompressed (a compression bomb?)")
        self.tar_hash.update(data)
        self._buf += data

    def readinto(self, b) -> int:
        n = len(b)
        self._fill(n)
        chunk, self._buf = self._buf[:n], self._buf[n:]
        b[:len(chunk)] = chunk
        return len(chunk)

    def drain(self) -> None:
        """Read to the end so both digests cover the whole blob (tar's trailing zero blocks too)."""
        while True:
            self._buf = b""
            self._fill(1 << 20)
            if not self._buf and self._eof:
                if self._z is None:
                    while self._raw_read(1 << 20):
                        pass
                return


# --- applying --------------------------------------------------------------------------------------

def _components(name: str) -> list[str]:
    if "\0" in name:
        raise LayerError("name", name, "contains a NUL byte")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LayerError("name", name, "contains '..' (path traversal)")
    return parts


class _Applier:
    def __init__(self, root: str, sys: _sys.Sys | None = None):
        self.sys = sys or _sys.SYS
        self.root = root
        self.root_fd = os.open(root, _DIR_FLAGS)
        self.fds: dict[tuple[str, ...], int] = {(): self.root_fd}
        self.whiteouts: set[tuple[str, ...]] = set()
        self.seen: set[tuple[str, ...]] = set()
        self.dir_times: list[tuple[tuple[str, ...], int]] = []

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    def _forget(self, prefix: tuple[str, ...]) -> None:
        for key in [k for k in self.fds if k[:len(prefix)] == prefix and k != ()]:
            os.close(self.fds.pop(key))

    def dir_fd(self, parts: tuple[str, ...], name: str) -> int:
        """An fd of directory ``parts`` inside the root, creating missing dirs, never following links."""
        fd = self.fds.get(parts)
        if fd is not None:
            return fd
        parent = self.dir_fd(parts[:-1], name)
        try:
            fd = os.open(parts[-1], _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            os.mkdir(parts[-1], 0o755, dir_fd=parent)
            fd = os.open(parts[-1], _DIR_FLAGS, dir_fd=parent)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise LayerError("name", name, f"'{'/'.join(parts)}' is a symlink or not a directory "
                                               "(an entry may not be written through a link)") from None
            raise
        self.fds[parts] = fd
        return fd

    def _clear(self, pfd: int, parts: tuple[str, ...], want_dir: bool) -> None:
        """Make room for a new entry: a later entry of a tar replaces an earlier one."""
        try:
            st = os.stat(parts[-1], dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            if want_dir:
                return
            self._forget(parts)
            _rmtree_at(pfd, parts[-1])
        else:
            os.unlink(parts[-1], dir_fd=pfd)

    def apply(self, tf: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = tuple(_components(member.name))
        base = parts[-1] if parts else ""
        if base.startswith(WHITEOUT):
            return self._whiteout(member, parts)
        if not parts:  # "./": the layer root's own metadata
            if member.isdir():
                self._meta(self.root_fd, member, is_dir=True, path=())
            return
        if parts in self.whiteouts:  # an entry after its own whiteout in one layer: the entry wins
            self.whiteouts.discard(parts)
        pfd = self.dir_fd(parts[:-1], member.name)
        name = parts[-1]
        self.seen.add(parts)
        if member.isdir():
            self._clear(pfd, parts, want_dir=True)
            try:
                os.mkdir(name, 0o700, dir_fd=pfd)
            except FileExistsError:
                pass
            fd = self.dir_fd(parts, member.name)
            self._meta(fd, member, is_dir=True, path=parts)
        elif member.isreg():
            self._clear(pfd, parts, want_dir=False)
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=pfd)
            try:
                src = tf.extractfile(member)
                if src is not None:
                    while chunk := src.read(1 << 20):
                        os.write(fd, chunk)
                self._meta(fd, member, is_dir=False, path=parts)
            finally:
                os.close(fd)
        elif member.issym():
            self._clear(pfd, parts, want_dir=False)
            os.symlink(member.linkname, name, dir_fd=pfd)  # the target is data: never followed here
            _chown(self.sys, name, member.uid, member.gid, dir_fd=pfd, follow_symlinks=False)
            os.utime(name, ns=(_ns(member.mtime),) * 2, dir_fd=pfd, follow_symlinks=False)
        elif member.islnk():
            target = tuple(_components(member.linkname))
            if not target:
                raise LayerError("hard link", member.name, "links to the layer root")
            tfd = self.dir_fd(target[:-1], member.linkname)
            try:
                tst = os.stat(target[-1], dir_fd=tfd, follow_symlinks=False)
            except FileNotFoundError:
                raise LayerError("hard link", member.name,
                                 f"target '{member.linkname}' is not in this layer") from None
            if stat.S_ISDIR(tst.st_mode):
                raise LayerError("hard link", member.name, "links to a directory")
            if target == parts:
                return
            self._clear(pfd, parts, want_dir=False)
            os.link(target[-1], name, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        elif member.ischr() or member.isblk() or member.isfifo():
            self._clear(pfd, parts, want_dir=False)
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK if member.isblk() else stat.S_IFIFO
            if kind == stat.S_IFCHR and member.devmajor == 0 and member.devminor == 0:
                raise LayerError("device", member.name, "a 0/0 character device is overlayfs's whiteout; "
                                                        "layers express deletions as .wh. files")
            self.sys.mknod(name, kind | (member.mode & 0o7777), os.makedev(member.devmajor, member.devminor),
                           dir_fd=pfd)
            _chown(self.sys, name, member.uid, member.gid, dir_fd=pfd, follow_symlinks=False)
            os.chmod(name, member.mode & 0o7777, dir_fd=pfd)
            os.utime(name, ns=(_ns(member.mtime),) * 2, dir_fd=pfd, follow_symlinks=False)
        else:
            raise LayerError("entry", member.name, f"unsupported tar type {member.type!r}")

    def _whiteout(self, member: tarfile.TarInfo, parts: tuple[str, ...]) -> None:
        base = parts[-1]
        pfd = self.dir_fd(parts[:-1], member.name)
        if base == OPAQUE:
            self.sys.setxattr(pfd, OPAQUE_XATTR if _ROOT else USER_OPAQUE_XATTR, b"y")
            return
        if base.startswith(WHITEOUT + WHITEOUT):
            return  # other .wh..wh. names are aufs bookkeeping (hard-link dirs): meaningless here
        hidden = base[len(WHITEOUT):]
        if not hidden or hidden in (".", ".."):
            raise LayerError("whiteout", member.name, "a whiteout must name what it deletes")
        target = parts[:-1] + (hidden,)
        if target in self.seen:
            return  # a whiteout only deletes what lower layers had, never an entry of its own layer
        try:
            os.stat(hidden, dir_fd=pfd, follow_symlinks=False)
            return  # an entry of this layer already took the name
        except FileNotFoundError:
            pass
        self.sys.mknod(hidden, stat.S_IFCHR | 0o600, 0, dir_fd=pfd)
        self.whiteouts.add(target)

    def _meta(self, fd: int, member: tarfile.TarInfo, *, is_dir: bool, path: tuple[str, ...]) -> None:
        _chown(self.sys, fd, member.uid, member.gid)
        os.fchmod(fd, member.mode & 0o7777)  # after chown, which clears setuid/setgid
        for key, value in member.pax_headers.items():
            if key.startswith("SCHILY.xattr."):
                xname = key[len("SCHILY.xattr."):]
                if xname.startswith(("trusted.", "user.overlay.")):
                    raise LayerError("xattr", member.name, f"sets {xname}, which belongs to the kernel "
                                                           "(overlayfs)")
                if xname.startswith(_KEEP_XATTRS):
                    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
                    self.sys.setxattr(fd, xname, raw)
        if is_dir:
            self.dir_times.append((path, _ns(member.mtime)))
        else:
            os.utime(fd, ns=(_ns(member.mtime),) * 2)

    def finish(self) -> None:
        # directory mtimes last: creating entries inside a directory changes its mtime
        for path, ns in reversed(self.dir_times):
            try:
                fd = self.fds.get(path) or self.dir_fd(path, "/".join(path))
                os.utime(fd, ns=(ns, ns))
            except (OSError, LayerError):
                continue


def _ns(mtime: float) -> int:
    return int(mtime * 1_000_000_000)


def _rmtree_at(pfd: int, name: str) -> None:
    fd = os.open(name, _DIR_FLAGS, dir_fd=pfd)
    try:
        for entry in os.scandir(fd):
            if entry.is_dir(follow_symlinks=False):
                _rmtree_at(fd, entry.name)
            else:
                os.unlink(entry.name, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=pfd)


class Applied:
    """What :func:`apply_tar` read: the digests of the blob and of the uncompressed tar (the DiffID)."""

    def __init__(self, blob_digest: str, blob_size: int, diff_id: str, tar_size: int, gzip: bool):
        self.blob_digest, self.blob_size = blob_digest, blob_size
        self.diff_id, self.tar_size, self.gzip = diff_id, tar_size, gzip


def apply_tar(fileobj, root: str, *, budget: int = DEFAULT_BUDGET,
              progress: Callable[[int], None] | None = None, sys: _sys.Sys | None = None) -> Applied:
    """Apply the layer read from ``fileobj`` (tar or tar+gzip) into the existing directory ``root``,
    preparing whiteouts and opaque dirs for overlayfs. Raises :class:`LayerError` for hostile input.
    Owners, device nodes, whiteouts and xattrs go through ``sys`` (the kernel seam); everything else
    is plain file I/O relative to directory fds."""
    stream = _Stream(fileobj, budget)
    ap = _Applier(root, sys)
    try:
        with tarfile.open(fileobj=io.BufferedReader(stream, 1 << 20), mode="r|", errorlevel=2) as tf:
            for member in tf:
                try:
                    ap.apply(tf, member)
                except OSError as e:
                    if isinstance(e, BoxkitError):
                        raise
                    raise LayerError("entry", member.name, os.strerror(e.errno or 0).lower()) from e
                if progress is not None:
                    progress(stream.blob_size)
        ap.finish()
    except tarfile.TarError as e:
        if isinstance(e.__context__, zlib.error):
            raise LayerError("stream", "", f"corrupt compression ({e.__context__})") from e
        raise LayerError("stream", "", f"not a valid tar archive ({e})") from e
    except (zlib.error, EOFError) as e:
        raise LayerError("stream", "", f"corrupt compression ({e})") from e
    finally:
        ap.close()
    try:
        stream.drain()
    except zlib.error as e:
        raise LayerError("stream", "", f"corrupt compression ({e})") from e
    return Applied("sha256:" + stream.blob_hash.hexdigest(), stream.blob_size,
                   "sha256:" + stream.tar_hash.hexdigest(), stream.tar_size, stream.gzip)


# --- writing ---------------------------------------------------------------------------------------

class _HashWriter(io.RawIOBase):
    def __init__(self, out=None):
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.hash.update(b)
        self.size += len(b)
        if self.out is not None:
            self.out.write(b)
        return len(b)


def _check_upper_xattrs(fd: int, arc: str) -> None:
    try:
        names = os.listxattr(fd)
    except OSError:
        return
    for n in names:
        if n in ("trusted.overlay.redirect", "trusted.overlay.metacopy", "user.overlay.redirect",
                 "user.overlay.metacopy"):
            raise BoxkitError("cannot turn directory into a layer at", arc,
                              detail=f"it carries {n} (overlay redirect_dir/metacopy)",
                              hint="mount overlays with redirect_dir=off,metacopy=off (the default)")


def _xattrs(fd: int) -> dict[str, str]:
    out = {}
    try:
        for xname in sorted(os.listxattr(fd)):
            if xname.startswith(_KEEP_XATTRS) and not xname.startswith("user.overlay."):
                out["SCHILY.xattr." + xname] = os.getxattr(fd, xname).decode("utf-8", "surrogateescape")
    except OSError:
        pass
    return out


def write_tar(root: str, out=None, *, skip: frozenset[str] = frozenset()) -> tuple[str, int]:
    """Write directory ``root`` as a layer tar to ``out`` (or only hash it when ``out`` is None) and
    return ``(diff_id, size)``. overlay whiteouts (char 0/0) become ``.wh.`` entries and opaque dirs
    a ``.wh..wh..opq`` entry. The order is sorted, so the same tree gives the same digest. Paths in
    ``skip`` (relative, like ``etc/hostname``) are left out.

    ``root`` may be the upper dir of a *running* container, whose processes can swap a file for a
    symlink to ``/etc/shadow`` between our ``lstat`` and our ``open`` (the ``docker cp`` race,
    CVE-2018-15664). So the tree is walked by directory fds with ``O_NOFOLLOW``, and every file is
    opened the same way and checked to be the inode that was ``lstat``'d."""
    sink = _HashWriter(out)
    buf = io.BufferedWriter(sink, 1 << 20)
    tf = tarfile.open(fileobj=buf, mode="w|", format=tarfile.PAX_FORMAT)
    inodes: dict[tuple[int, int], str] = {}

    def opened(pfd: int, name: str, st: os.stat_result, flags: int, arc: str) -> int:
        fd = os.open(name, flags | os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=pfd)
        fst = os.fstat(fd)
        if (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino):
            os.close(fd)
            raise BoxkitError("cannot turn directory into a layer:", arc, detail="it changed while being read",
                              hint="stop the container, then commit")
        return fd

    def add(pfd: int, name: str, arc: str) -> None:
        if arc in skip:
            return
        st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            ti = tarfile.TarInfo(os.path.join(os.path.dirname(arc), WHITEOUT + name))
            ti.mtime = int(st.st_mtime)
            tf.addfile(ti)
            return
        ti = tarfile.TarInfo(arc + ("/" if stat.S_ISDIR(st.st_mode) else ""))
        ti.mode, ti.uid, ti.gid, ti.mtime = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime)
        ti.uname = ti.gname = ""
        key = (st.st_dev, st.st_ino)
        fobj = None
        dfd = None
        if stat.S_ISREG(st.st_mode):
            if st.st_nlink > 1 and key in inodes:
                ti.type, ti.linkname = tarfile.LNKTYPE, inodes[key]
            else:
                inodes[key] = arc
                ti.size = st.st_size
                fd = opened(pfd, name, st, 0, arc)
                _check_upper_xattrs(fd, arc)
                ti.pax_headers.update(_xattrs(fd))
                fobj = os.fdopen(fd, "rb")
        elif stat.S_ISDIR(st.st_mode):
            ti.type = tarfile.DIRTYPE
            dfd = opened(pfd, name, st, os.O_DIRECTORY, arc)
            _check_upper_xattrs(dfd, arc)
            ti.pax_headers.update(_xattrs(dfd))
        elif stat.S_ISLNK(st.st_mode):
            ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(name, dir_fd=pfd)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            ti.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(st.st_mode):
            ti.type = tarfile.FIFOTYPE
        else:
            return  # sockets have no tar form
        try:
            tf.addfile(ti, fobj)
        finally:
            if fobj is not None:
                fobj.close()
        if dfd is not None:
            try:
                if is_opaque(dfd):
                    wh = tarfile.TarInfo(arc + "/" + OPAQUE)
                    wh.mtime = ti.mtime
                    tf.addfile(wh)
                for entry in sorted(os.listdir(dfd)):
                    add(dfd, entry, arc + "/" + entry)
            finally:
                os.close(dfd)

    rfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for entry in sorted(os.listdir(rfd)):
            add(rfd, entry, entry)
    finally:
        os.close(rfd)
    tf.close()
    buf.flush()
    return "sha256:" + sink.hash.hexdigest(), sink.size
