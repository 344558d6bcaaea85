"""Reading an overlay *upper* directory: what a container changed, as overlayfs records it.

A container's writes all land in its upper dir; the image's layers below never change. overlayfs keeps
three kinds of marks there, and this module reads them back:

* a **whiteout** — a character device with device number 0/0 — hides a lower file that was deleted;
* an **opaque** directory — xattr ``trusted.overlay.opaque=y``, or ``user.overlay.opaque=y`` when the
  overlay was mounted with ``userxattr`` (a rootless overlay in a user namespace, Linux 5.11+) — hides
  everything below it: the lower directory was removed and made again;
* any other file is either a **copy-up** (a lower file changed: copied up whole, then written) or
  **new** — which of the two depends on whether the image's layers hold that path
  (:func:`in_layers`, which honours the whiteouts and opaque dirs of the higher layers).

:func:`classify` compares two scans (:func:`scan_upper`) of one upper dir and names each path a command
added or rewrote. The course's overlay exercise is built on it (:mod:`boxkit.exercises`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass

from .layer import OPAQUE_XATTR, USER_OPAQUE_XATTR, is_opaque


@dataclass(frozen=True)
class UpperEntry:
    """One path in an upper dir, as ``lstat`` and the opaque xattr show it."""

    kind: str          # "char0" (a whiteout), "dir", "file" (anything else: files, links, devices)
    opaque: bool = False
    stamp: tuple = ()  # what changes when the entry is rewritten (mode, size, mtime, inode)


def scan_upper(upper: str) -> dict[str, UpperEntry]:
    """Every path below ``upper`` (relative, no leading slash)."""
    found: dict[str, UpperEntry] = {}
    for d, dirs, files in os.walk(upper):
        for name in dirs + files:
            path = os.path.join(d, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, upper)
            stamp = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                found[rel] = UpperEntry("char0", stamp=stamp)
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = UpperEntry("dir", is_opaque(path, follow_symlinks=False), stamp)
            else:
                found[rel] = UpperEntry("file", stamp=stamp)
    return found


# overlayfs marks an opaque dir with trusted.overlay.opaque; mounted with userxattr (a rootless overlay,
# in a user namespace, 5.11+) it writes and reads user.overlay.opaque instead
OPAQUE_XATTRS = (OPAQUE_XATTR, USER_OPAQUE_XATTR)


def in_layers(layers: list[str]) -> Callable[[str], bool]:
    """``exists(rel)``: is ``rel`` visible in the image (``layers`` bottom first)? A whiteout or an
    opaque directory in a higher layer hides what lies below it, as overlayfs does."""
    def exists(rel: str) -> bool:
        parts = rel.split("/")
        for layer in reversed(layers):
            for i in range(1, len(parts) + 1):
                p = os.path.join(layer, *parts[:i])
                try:
                    st = os.lstat(p)
                except OSError:
                    break
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    return False
                if i == len(parts):
                    return True
                if stat.S_ISDIR(st.st_mode) and is_opaque(p, follow_symlinks=False):
                    return False
        return False
    return exists


def classify(before: dict[str, UpperEntry], after: dict[str, UpperEntry],
             in_image: Callable[[str], bool]) -> dict[str, str]:
    """What a command left in the upper dir: each path it added or rewrote, as one of UPPER_KINDS.
    A plain directory that the image has too is only the parent of a copy-up and is left out."""
    out: dict[str, str] = {}
    for rel, e in after.items():
        if before.get(rel) == e:
            continue
        if e.kind == "char0":
            out[rel] = "whiteout"
        elif e.kind == "dir":
            if e.opaque:
                out[rel] = "opaque"
            elif not in_image(rel):
                out[rel] = "new"
        else:
            out[rel] = "copy-up" if in_image(rel) else "new"
    return out


def overlay_kinds(root: str) -> dict[str, str]:
    """Every path below ``root`` (any layer of an overlay, or its merged view) with what it is to
    overlayfs: ``"file"``, ``"dir"``, ``"whiteout"`` (a char device 0/0) or ``"opaque"`` (a dir
    marked opaque). The by-hand overlay figure (:func:`boxkit.viz.overlay.overlay_figure`) draws these."""
    names = {"char0": "whiteout", "file": "file"}
    return {p: ("opaque" if e.opaque else "dir") if e.kind == "dir" else names[e.kind]
            for p, e in scan_upper(root).items()}


def scan_overlay(lower: str, upper: str, work: str, merged: str) -> dict[str, dict[str, str]]:
    """:func:`overlay_kinds` of the four directories of one mounted overlay (read while mounted: the
    merged view exists only then)."""
    return {"lower": overlay_kinds(lower), "upper": overlay_kinds(upper), "work": overlay_kinds(work),
            "merged": overlay_kinds(merged)}
