"""Which shared libraries a program needs: reading ELF headers the way the dynamic loader does.

A dynamically linked program does not contain the C library; it names it. The ELF file carries:

* a ``PT_INTERP`` program header: the path of the *dynamic loader* the kernel starts first
  (``/lib64/ld-linux-x86-64.so.2`` on x86-64). ``execve`` fails with ``ENOENT`` when that file is
  missing — the classic "no such file or directory" for a binary that plainly exists in an image;
* a ``PT_DYNAMIC`` segment: a table of ``(tag, value)`` pairs. ``DT_NEEDED`` entries name libraries
  (``libc.so.6``), ``DT_RUNPATH``/``DT_RPATH`` add search directories, and all those names are
  offsets into the string table ``DT_STRTAB`` (a *virtual address*, turned into a file offset through
  the ``PT_LOAD`` segments).

The loader then searches ``RUNPATH``, the directories of ``/etc/ld.so.conf`` and the defaults, and does
the same for every library it loads. :func:`closure` repeats that walk without running anything
(``ldd`` executes the program's loader, which is unwise on an untrusted binary), so the ``host`` base
image can carry exactly the libraries its programs need.
"""

from __future__ import annotations

import glob
import os
import struct

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB, DT_RPATH, DT_RUNPATH = 0, 1, 5, 15, 29


class ElfInfo:
    """What the loader needs to know about one file (``None`` fields for a static binary)."""

    def __init__(self, interp: str | None, needed: list[str], runpath: list[str]):
        self.interp = interp
        self.needed = needed
        self.runpath = runpath


def read_elf(path: str) -> ElfInfo | None:
    """Parse ``path``'s interpreter, ``DT_NEEDED`` and run paths; ``None`` if it is not ELF."""
    with open(path, "rb") as f:
        ident = f.read(16)
        if len(ident) < 16 or ident[:4] != b"\x7fELF":
            return None
        is64 = ident[4] == 2
        end = "<" if ident[5] == 1 else ">"
        if is64:
            hdr = f.read(48)
            (_t, _m, _v, _e, phoff, _sh, _fl, _eh, phentsize, phnum) = struct.unpack(end + "HHIQQQIHHH", hdr[:42])
        else:
            hdr = f.read(36)
            (_t, _m, _v, _e, phoff, _sh, _fl, _eh, phentsize, phnum) = struct.unpack(end + "HHIIIIIHHH", hdr[:30])
        segs = []
        for i in range(min(phnum, 256)):
            f.seek(phoff + i * phentsize)
            raw = f.read(phentsize)
            if is64:
                p_type, _flags, off, vaddr, _pa, filesz = struct.unpack(end + "IIQQQQ", raw[:40])
            else:
                p_type, off, vaddr, _pa, filesz = struct.unpack(end + "IIIII", raw[:20])
            segs.append((p_type, off, vaddr, filesz))
        interp = None
        dyn = None
        for p_type, off, _vaddr, filesz in segs:
            if p_type == PT_INTERP:
                f.seek(off)
                interp = f.read(min(filesz, 4096)).split(b"\0", 1)[0].decode()
            elif p_type == PT_DYNAMIC:
                dyn = (off, filesz)
        if dyn is None:
            return ElfInfo(interp, [], [])
        f.seek(dyn[0])
        data = f.read(min(dyn[1], 1 << 20))
        fmt, size = (end + "qQ", 16) if is64 else (end + "iI", 8)
        entries = []
        for i in range(0, len(data) - size + 1, size):
            tag, val = struct.unpack(fmt, data[i:i + size])
            if tag == DT_NULL:
                break
            entries.append((tag, val))
        strtab = next((v for t, v in entries if t == DT_STRTAB), None)
        if strtab is None:
            return ElfInfo(interp, [], [])
        # DT_STRTAB is a virtual address: find the PT_LOAD that maps it to get the file offset
        base = None
        for p_type, off, vaddr, filesz in segs:
            if p_type == PT_LOAD and vaddr <= strtab < vaddr + filesz:
                base = off + (strtab - vaddr)
                break
        if base is None:
            return ElfInfo(interp, [], [])

        def string(offset: int) -> str:
            f.seek(base + offset)
            return f.read(4096).split(b"\0", 1)[0].decode(errors="replace")

        needed = [string(v) for t, v in entries if t == DT_NEEDED]
        runpath: list[str] = []
        for t, v in entries:
            if t in (DT_RUNPATH, DT_RPATH):
                runpath += [p for p in string(v).split(":") if p]
        return ElfInfo(interp, needed, runpath)


def _ld_so_conf(path: str = "/etc/ld.so.conf", depth: int = 0) -> list[str]:
    dirs: list[str] = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return dirs
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("include ") and depth < 4:
            for inc in sorted(glob.glob(os.path.join(os.path.dirname(path), line[8:].strip()))):
                dirs += _ld_so_conf(inc, depth + 1)
        else:
            dirs.append(line)
    return dirs


def search_dirs() -> list[str]:
    """The loader's library directories on this host: ld.so.conf first, then the built-in defaults."""
    multiarch = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}.get(os.uname().machine, "")
    defaults = [f"/lib/{multiarch}", f"/usr/lib/{multiarch}", "/lib64", "/usr/lib64", "/lib", "/usr/lib"]
    out: list[str] = []
    for d in _ld_so_conf() + defaults:
        if d not in out and os.path.isdir(d):
            out.append(d)
    return out


def closure(paths: list[str]) -> list[str]:
    """Every file the loader would open to start each of ``paths``: interpreters and libraries,
    recursively, as host paths (possibly symlinks; the caller copies links and their targets).
    A library that cannot be found raises ``FileNotFoundError`` naming it and who needs it."""
    dirs = search_dirs()
    seen: set[str] = set()
    out: list[str] = []
    todo = list(paths)
    while todo:
        path = todo.pop()
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        info = read_elf(real)
        if info is None:
            continue
        if info.interp and info.interp not in out:
            out.append(info.interp)
            todo.append(info.interp)
        origin = os.path.dirname(real)
        for name in info.needed:
            if "/" in name:
                cands = [name]
            else:
                rp = [d.replace("$ORIGIN", origin).replace("${ORIGIN}", origin) for d in info.runpath]
                cands = [os.path.join(d, name) for d in rp + dirs]
            found = next((c for c in cands if os.path.exists(c)), None)
            if found is None:
                raise FileNotFoundError(2, f"library {name} needed by {path} not found", name)
            if found not in out:
                out.append(found)
            todo.append(found)
    return out
