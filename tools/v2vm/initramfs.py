"""The guest's initramfs: just enough to mount the host's root over virtio-9p and hand over to ``init=``.

An *initramfs* is a cpio archive the kernel unpacks into a RAM file system and runs ``/init`` from,
before any disk (or here: 9p share) is mounted. Debian builds its kernel with virtio and 9p as modules,
so this early userspace must ``insmod`` them — in dependency order, which ``modules.dep`` gives — then
mount the 9p share tagged ``/dev/root`` read-only on ``/newroot`` and ``switch_root`` into it, running
the program named by ``init=`` on the kernel command line.

Two builders:

* **our own** (default): busybox-static + the module closure of ``virtio_pci 9pnet_virtio 9p`` + a
  twenty-line ``/init``, written as a ``newc`` cpio by :func:`write_cpio`. It mounts the root with
  ``cache=loose``: without a cache every ``stat``/``open`` is a round trip to qemu's 9p server, and
  Python's start-up (thousands of lookups) took 59 s instead of 22 s under TCG. Loose caching is safe
  here because the guest's view is read-only and lives for one run.
* **virtme-ng** (PyPI ``virtme-ng``, ``--initramfs virtme``): ``virtme-run --dry-run
  --save-initramfs`` writes the same kind of archive; it mounts the root uncached (slow, see above).
"""

from __future__ import annotations

import lzma
import os
import shutil
import stat
import subprocess
import sys

ROOT_MODULES = ("virtio_pci", "9pnet_virtio", "9p")

INIT = r"""#!/bin/sh
# early userspace of the v2vm guest: load virtio + 9p, mount the host root read-only, switch to init=
export PATH=/bin
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev 2>/dev/null
init=
for arg in $(cat /proc/cmdline); do
  case "$arg" in init=*) init="${arg#init=}" ;; esac
done
for m in $(cat /modules/order); do insmod "/modules/$m" || echo "initramfs: insmod $m failed"; done
mkdir -p /newroot
if ! mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,access=any,cache=loose /dev/root /newroot; then
  echo "initramfs: cannot mount the 9p root (tag /dev/root)"; sleep 2; echo o > /proc/sysrq-trigger
fi
umount /proc
exec switch_root /newroot "${init:-/sbin/init}"
"""


def build_initramfs(kernel: str, version: str, dest: str, prefer: str = "own") -> str:
    """Write the initramfs to dest; returns which builder made it ("virtme-ng" or "boxkit")."""
    if prefer == "virtme":
        vr = _virtme_run()
        if vr:
            try:
                _virtme(vr, kernel, dest)
                return "virtme-ng"
            except (OSError, subprocess.SubprocessError, RuntimeError) as e:
                print(f"v2vm: virtme-ng could not build the initramfs ({e}); using boxkit's own", file=sys.stderr)
    build_own(version, dest)
    return "boxkit"


def _virtme_run() -> str | None:
    here = os.path.join(os.path.dirname(sys.executable), "virtme-run")
    venv = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))), ".venv", "bin", "virtme-run")
    for c in (here, venv, shutil.which("virtme-run")):
        if c and os.access(c, os.X_OK):
            return c
    return None


def _virtme(virtme_run: str, kernel: str, dest: str) -> None:
    env = dict(os.environ, PATH=os.path.dirname(virtme_run) + os.pathsep + os.environ.get("PATH", ""))
    r = subprocess.run([virtme_run, "--kimg", kernel, "--mods", "auto", "--disable-kvm", "--force-9p",
                        "--dry-run", "--save-initramfs", dest, "--script-sh", "true"],
                       env=env, capture_output=True, text=True, timeout=300, cwd="/")
    if r.returncode != 0 or not os.path.exists(dest) or os.path.getsize(dest) == 0:
        last = (r.stderr or r.stdout).strip().splitlines()
        raise RuntimeError(last[-1] if last else f"virtme-run exited {r.returncode}")


def module_closure(version: str, names: tuple[str, ...] = ROOT_MODULES) -> list[str]:
    """Module files (relative to /lib/modules/<version>) for names, dependencies first."""
    moddir = f"/lib/modules/{version}"
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    with open(os.path.join(moddir, "modules.dep")) as f:
        for line in f:
            path, _, rest = line.partition(":")
            deps[path] = rest.split()
            base = os.path.basename(path).split(".ko")[0]
            by_name[base] = path
            by_name[base.replace("-", "_")] = path
    builtin = set()
    try:
        with open(os.path.join(moddir, "modules.builtin")) as f:
            builtin = {os.path.basename(x.strip()).split(".ko")[0] for x in f}
    except OSError:
        pass
    order: list[str] = []

    def visit(path: str) -> None:
        if path in order:
            return
        for d in deps.get(path, []):
            visit(d)
        order.append(path)

    for n in names:
        if n in builtin or n.replace("-", "_") in builtin:
            continue
        if n not in by_name:
            raise RuntimeError(f"module {n} not found in {moddir}/modules.dep")
        visit(by_name[n])
    return order


def _module_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".xz"):
        return lzma.decompress(data)
    if path.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
    return data


def build_own(version: str, dest: str) -> None:
    busybox = next((p for p in ("/usr/bin/busybox", "/bin/busybox") if os.path.exists(p)), None)
    if not busybox:
        raise RuntimeError("needs busybox-static for the initramfs: apt-get install busybox-static")
    mods = module_closure(version)
    entries: list[tuple[str, int, bytes]] = []   # (name, mode, data) ; dirs have data b""
    for d in ("bin", "dev", "proc", "sys", "newroot", "modules"):
        entries.append((d, stat.S_IFDIR | 0o755, b""))
    with open(busybox, "rb") as f:
        entries.append(("bin/busybox", stat.S_IFREG | 0o755, f.read()))
    for applet in ("sh", "mount", "umount", "insmod", "mkdir", "cat", "echo", "sleep", "switch_root"):
        entries.append((f"bin/{applet}", stat.S_IFLNK | 0o777, b"busybox"))
    names = []
    for rel in mods:
        name = os.path.basename(rel).split(".ko")[0] + ".ko"
        names.append(name)
        entries.append((f"modules/{name}", stat.S_IFREG | 0o644, _module_bytes(f"/lib/modules/{version}/{rel}")))
    entries.append(("modules/order", stat.S_IFREG | 0o644, ("\n".join(names) + "\n").encode()))
    entries.append(("init", stat.S_IFREG | 0o755, INIT.encode()))
    with open(dest, "wb") as out:
        write_cpio(out, entries)


def write_cpio(out, entries: list[tuple[str, int, bytes]]) -> None:
    """The kernel's initramfs format: cpio "newc" (ASCII hex headers, 4-byte alignment, TRAILER!!!)."""
    def pad(n: int) -> bytes:
        return b"\0" * ((4 - n % 4) % 4)

    ino = 1
    for name, mode, data in entries + [("TRAILER!!!", 0, b"")]:
        nb = name.encode() + b"\0"
        nlink = 2 if stat.S_ISDIR(mode) else 1
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(nb), 0))
        out.write(hdr.encode() + nb + pad(110 + len(nb)) + data + pad(len(data)))
        ino += 1
