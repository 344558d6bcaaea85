"""The reference semantics of stacked layers, for tests only: what the merged view of an overlay of
the same layers must equal."""

from __future__ import annotations

import os
import shutil
import stat

from boxkit.images.layer import is_opaque


def flatten(layers: list[str], dest: str) -> None:
    """The reference semantics, for tests: copy overlay-prepared ``layers`` (bottom first) into one
    directory, deleting what whiteouts name and emptying opaque directories — what the merged view of
    an overlay of the same layers must equal."""
    for layer in layers:
        for dirpath, dirnames, filenames in os.walk(layer):
            rel = os.path.relpath(dirpath, layer)
            dst_dir = os.path.normpath(os.path.join(dest, rel))
            opaque = is_opaque(dirpath, follow_symlinks=False)
            if os.path.lexists(dst_dir) and not os.path.isdir(dst_dir) or os.path.islink(dst_dir):
                os.unlink(dst_dir)
            if opaque and os.path.isdir(dst_dir) and rel != ".":
                shutil.rmtree(dst_dir)
            os.makedirs(dst_dir, exist_ok=True)
            st = os.lstat(dirpath)  # the top-most layer's directory metadata wins, as in the overlay
            os.chown(dst_dir, st.st_uid, st.st_gid)
            os.chmod(dst_dir, stat.S_IMODE(st.st_mode))
            for name in list(dirnames) + filenames:
                src, dst = os.path.join(dirpath, name), os.path.join(dst_dir, name)
                st = os.lstat(src)
                if stat.S_ISDIR(st.st_mode) and not os.path.islink(src):
                    if os.path.lexists(dst) and (os.path.islink(dst) or not os.path.isdir(dst)):
                        os.unlink(dst)
                    continue
                if os.path.lexists(dst):
                    if os.path.isdir(dst) and not os.path.islink(dst):
                        shutil.rmtree(dst)
                    else:
                        os.unlink(dst)
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    continue  # whiteout: the name is gone
                if stat.S_ISLNK(st.st_mode):
                    os.symlink(os.readlink(src), dst)
                else:
                    shutil.copy2(src, dst, follow_symlinks=False)
                os.lchown(dst, st.st_uid, st.st_gid)
                if not stat.S_ISLNK(st.st_mode):
                    os.chmod(dst, stat.S_IMODE(st.st_mode))
