"""Images for a user namespace: the same files, owned by the ids that root inside maps to.

In a user namespace with the map ``0 100000 65536``, root inside is uid 100000 outside. Image files
owned by uid 0 on disk are *unmapped* inside: they show as ``nobody`` (65534), and root inside may not
write to them, chown them, or let overlayfs copy them up. Podman and Docker's userns-remap solve this
either with an *idmapped mount* (linux 5.12+, overlay lower layers since 5.19) or by keeping a copy of
each layer whose owners are shifted by the map's offset. boxkit does the second, once per layer and
offset, cached next to the layer: simple, and it works on every kernel that has user namespaces.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat

from .. import files, paths


def _shift_tree(src: str, dst: str, offset: int, count: int) -> None:
    def own(path: str, st: os.stat_result) -> None:
        uid = st.st_uid + offset if st.st_uid < count else 65534 + offset
        gid = st.st_gid + offset if st.st_gid < count else 65534 + offset
        os.lchown(path, uid, gid)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(path, stat.S_IMODE(st.st_mode))  # chown clears setuid bits: put them back

    shutil.copytree(src, dst, symlinks=True, copy_function=shutil.copy2)
    for dirpath, dirnames, filenames in os.walk(dst):
        rel = os.path.relpath(dirpath, dst)
        own(dirpath, os.lstat(os.path.join(src, rel)))
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            own(full, os.lstat(os.path.join(src, rel, name)))


def shifted(layer: str, offset: int, count: int) -> str:
    """A copy of ``layer`` with every owner moved up by ``offset`` (built once, then reused)."""
    key = hashlib.sha256(f"{os.path.realpath(layer)}:{offset}:{count}".encode()).hexdigest()[:16]
    base = paths.ensure(os.path.join(paths.root(), "shifted"), 0o711)
    dst = os.path.join(base, key)
    if os.path.isdir(dst):
        return dst
    with files.locked(os.path.join(base, key + ".lock")):
        if not os.path.isdir(dst):
            tmp = dst + ".tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            _shift_tree(layer, tmp, offset, count)
            os.rename(tmp, dst)
    return dst
