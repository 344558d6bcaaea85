"""What a container shares with the host, measured (notebook 09, the seed's last claim).

The seed ends: *a container reuses what the operating system already has, so it carries only the
pieces it needs*. For boxkit's ``host`` image (:mod:`boxkit.images.base`) that is three measurements:

* **Only the pieces it needs.** A dynamically linked program names its libraries in its ELF headers
  (the ``PT_INTERP`` loader and the ``DT_NEEDED`` entries); each library names more. The image carries
  the programs of ``HOST_PROGRAMS`` and exactly that closure (:func:`boxkit.images.elf.closure`).
  :func:`closure_tree` keeps the edges of that walk, so a figure can draw who needs whom.
* **No byte twice on disk.** The image's files are hard links of the host's: the same inode, named
  twice. :func:`census` compares every regular file of an image layer with the host file at the same
  path — the same ``(st_dev, st_ino)`` is the same inode — and adds up the blocks only the image holds
  (its own files, directories and symlinks).
* **No page twice in memory.** A file's pages live once in the page cache, and every process that
  maps the file maps those pages. ``/proc/PID/pagemap`` holds one 64-bit entry per virtual page: bit
  63 says the page is present, bits 0-54 give its physical page frame number (PFN). Two processes that
  map the same page-cache pages see the same PFNs. Since Linux 4.2 the PFN reads as 0 without
  ``CAP_SYS_ADMIN`` (see proc(5)), so :func:`frames` needs root.
"""

from __future__ import annotations

import os
import shutil
import stat
import struct
import sys
from dataclasses import dataclass, field

from .i18n import _
from .images.elf import closure, read_elf

PAGE = os.sysconf("SC_PAGE_SIZE")
_PRESENT = 1 << 63
_PFN_MASK = (1 << 55) - 1


# --- only the pieces it needs: the closure of one program, as a tree -------------------------------


@dataclass
class ClosureTree:
    """``root`` (a real path) and, for every file of its closure, the files it names (real paths, in
    the order the ELF headers name them: the loader first). ``names`` holds the name each file is asked
    for by (``libc.so.6``), ``sizes`` its size in bytes."""

    root: str
    children: dict[str, list[str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    loaded: list[str] = field(default_factory=list)   # opened at run time (dlopen), not named

    def files(self) -> list[str]:
        """Every file of the tree, the root first, each once (breadth first)."""
        out, todo = [], [self.root]
        while todo:
            f = todo.pop(0)
            if f not in out:
                out.append(f)
                todo += self.children.get(f, [])
        return out

    def depth(self) -> dict[str, int]:
        """How many links from the root each file is, by the shortest way."""
        d = {self.root: 0}
        todo = [self.root]
        while todo:
            f = todo.pop(0)
            for c in self.children.get(f, []):
                if c not in d:
                    d[c] = d[f] + 1
                    todo.append(c)
        return d


def closure_tree(program: str, loads: tuple[str, ...] | list[str] = ()) -> ClosureTree:
    """The files the loader opens to start ``program`` (a path, or a name on PATH), with who names
    whom; ``loads`` adds files the program opens later with ``dlopen`` (a python extension module),
    drawn under the program. The walk is :func:`boxkit.images.elf.closure`'s; each ``DT_NEEDED`` name
    is matched to the file that walk found for it."""
    path = os.path.realpath(shutil.which(program) or program)
    loaded = [os.path.realpath(x) for x in loads]
    found = closure([path] + loaded)
    by_name: dict[str, str] = {}
    for f in found:
        by_name.setdefault(os.path.basename(f), os.path.realpath(f))
    tree = ClosureTree(root=path, loaded=loaded)
    tree.names[path] = os.path.basename(path)
    for x in loaded:
        tree.names[x] = os.path.basename(x)
    todo = [path]
    while todo:
        f = todo.pop(0)
        if f in tree.children:
            continue
        info = read_elf(f)
        kids: list[str] = []
        if info is not None:
            wanted = ([info.interp] if info.interp else []) + info.needed
            for name in wanted:
                real = os.path.realpath(name) if "/" in name else by_name.get(name)
                if real is None or real in kids or real == f:
                    continue
                kids.append(real)
                tree.names.setdefault(real, os.path.basename(name))
        if f == path:
            kids += [x for x in loaded if x not in kids]
        tree.children[f] = kids
        tree.sizes[f] = os.stat(f).st_size
        todo += kids
    return tree


# --- no byte twice on disk: an image layer against the host's files ---------------------------------


@dataclass
class Census:
    """An image layer's regular files against the host's. ``shared``: files that are the host's own
    inodes (hard links), ``shared_bytes`` their size; ``own``: regular files only the image has;
    ``own_bytes``: the disk blocks of every inode only the image holds (files, directories, symlinks);
    ``host_files`` and ``host_bytes``: the regular files under ``host_roots`` on the host."""

    shared: int
    shared_bytes: int
    own: int
    own_bytes: int
    host_files: int
    host_bytes: int
    host_roots: tuple[str, ...]


def host_roots() -> tuple[str, ...]:
    """Where the ``host`` image's files come from: ``/usr`` and the prefix of this python (when that
    is not under ``/usr``, as with pyenv)."""
    roots = [os.path.realpath("/usr")]
    prefix = os.path.realpath(sys.base_prefix)
    if not any(prefix == r or prefix.startswith(r + "/") for r in roots):
        roots.append(prefix)
    return tuple(roots)


def census(layer: str, roots: tuple[str, ...] | None = None, host: str = "/") -> Census:
    """Compare every entry of the layer directory ``layer`` with the path it stands for under
    ``host``, and count the regular files under ``roots`` (default :func:`host_roots`)."""
    roots = roots or host_roots()
    shared = shared_bytes = own = own_bytes = 0
    seen: set[tuple[int, int]] = set()
    for dirpath, dirs, names in os.walk(layer):
        for name in dirs + names:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            try:
                h = os.lstat(os.path.join(host, os.path.relpath(full, layer)))
                same = (h.st_dev, h.st_ino) == (st.st_dev, st.st_ino)
            except OSError:
                same = False
            if stat.S_ISREG(st.st_mode):
                if same:
                    shared += 1
                    shared_bytes += st.st_size
                else:
                    own += 1
            if not same and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                own_bytes += st.st_blocks * 512
    files = size = 0
    for root in roots:
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    files += 1
                    size += st.st_size
    return Census(shared, shared_bytes, own, own_bytes, files, size, tuple(roots))


# --- no page twice in memory: the physical frames behind a mapping ----------------------------------


@dataclass(frozen=True)
class Mapping:
    """One file mapping of a process, as ``/proc/PID/maps`` lists it."""

    start: int
    end: int
    offset: int
    inode: int
    path: str


def text_mapping(pid: int, want: str = "libpython") -> Mapping:
    """The executable (``r-xp``) mapping of the first file whose name starts with ``want`` in
    ``pid``'s address space; of its program file when none does (a python without a libpython)."""
    exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    maps = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and parts[1] == "r-xp":
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                maps.append(Mapping(lo, hi, int(parts[2], 16), int(parts[4]), parts[5].strip()))
    for name in (want, exe):
        for m in maps:
            if os.path.basename(m.path).startswith(name):
                return m
    # i18n: {want} and {program} are file names (libpython, python3)
    raise LookupError(_("no executable mapping of {want} or {program} in /proc/{pid}/maps").format(
        want=want, program=exe, pid=pid))


def frames(pid: int, m: Mapping) -> dict[int, int]:
    """Page of the file (its offset ÷ the page size) → the physical frame behind it, for each page of
    mapping ``m`` that is present in ``pid``'s page tables. Needs CAP_SYS_ADMIN (else every PFN is 0)."""
    n = (m.end - m.start) // PAGE
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        f.seek(m.start // PAGE * 8)
        raw = f.read(n * 8)
    out = {}
    for i, entry in enumerate(struct.unpack(f"{len(raw) // 8}Q", raw)):
        if entry & _PRESENT:
            out[m.offset // PAGE + i] = entry & _PFN_MASK
    return out


def same_frames(a: dict[int, int], b: dict[int, int]) -> tuple[int, int]:
    """``(pages present in both, of those the ones at the same physical frame)``."""
    both = set(a) & set(b)
    return len(both), sum(1 for p in both if a[p] == b[p])
