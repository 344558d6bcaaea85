"""Numbers for the overlay notebook: copy-up cost, what N containers cost, the seed's v1/v2 story.

* **Copy-up.** A lower layer is read-only; the first write to one of its files makes overlayfs copy the
  *whole* file into the upper dir before the write proceeds (data copy-up — unless the kernel was set
  up with ``metacopy=on``, which only helps chmod/chown). Appending one byte to a 100 MB lower file
  therefore costs a 100 MB copy once; later writes go to the upper copy. :func:`copy_up_latency`
  measures that first write against file size on a real overlay.
* **Containers are cheap on disk.** N containers of one image share its layers; each only has an upper
  dir holding what it changed. :func:`containers_cost` starts N, lets each write a little, and counts
  the bytes of the upper dirs against the image's.
* **The seed's example** (``docs/img/overlay1.png``/``overlay2.png``): an app with two dependencies
  built as 1.0, then 2.0 changing only the app. :func:`build_seed_app` builds both with the real
  builder; the images share every layer but the app's.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time

from . import _sys
from .build import build_file
from .images import resolve
from .images.overlay import mount_overlay
from .images.store import Store, dir_size
from .runtime import run


def copy_up_latency(sizes: list[int], workdir: str | None = None, repeat: int = 3) -> list[tuple[int, float]]:
    """Seconds of the first one-byte append to a lower file of each size (median of ``repeat``)."""

    base = tempfile.mkdtemp(prefix="bk-copyup-", dir=workdir or "/var/tmp")
    out = []
    try:
        lower = os.path.join(base, "lower")
        os.mkdir(lower)
        for size in sizes:
            with open(os.path.join(lower, f"f{size}"), "wb") as f:
                f.truncate(0)
                chunk = os.urandom(min(size, 1 << 20))
                left = size
                while left > 0:
                    f.write(chunk[:left])
                    left -= len(chunk)
        for size in sizes:
            times = []
            for _ in range(repeat):
                upper, work, merged = (os.path.join(base, d) for d in ("upper", "work", "merged"))
                for d in (upper, work, merged):
                    shutil.rmtree(d, ignore_errors=True)
                    os.mkdir(d)
                mount_overlay([lower], upper, work, merged)
                try:
                    t = time.perf_counter()
                    with open(os.path.join(merged, f"f{size}"), "ab") as f:
                        f.write(b"x")
                    times.append(time.perf_counter() - t)
                finally:
                    _sys.SYS.umount2(merged, _sys.MNT_DETACH)
            times.sort()
            out.append((size, times[len(times) // 2]))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return out


def _disk(path: str) -> int:

    return dir_size(path)


def containers_cost(ref: str, n: int = 10, write_bytes: int = 4096) -> dict:
    """Start ``n`` containers of ``ref``, each writing ``write_bytes`` to a new file; measure the upper
    dirs (what the containers cost) against the image's layers (paid once)."""


    image_bytes = sum(r["disk"] for r in Store().layers_of(resolve(ref).ref))
    cs = []
    try:
        for i in range(n):
            cs.append(run(ref, ["sh", "-c", f"head -c {write_bytes} /dev/zero > /tmp/out{i}; sleep 60"],
                                 detach=True))
        deadline = time.monotonic() + 10
        for i, c in enumerate(cs):
            while not os.path.exists(os.path.join(c.upper_dir, "tmp", f"out{i}")) and time.monotonic() < deadline:
                time.sleep(0.02)
        uppers = [_disk(c.upper_dir) for c in cs]
    finally:
        for c in cs:
            c.remove()
    return {"containers": n, "image_bytes": image_bytes, "upper_bytes": uppers,
            "total_bytes": image_bytes + sum(uppers), "without_sharing_bytes": n * image_bytes + sum(uppers)}


def _data(seed: int, size: int) -> bytes:
    rnd = random.Random(seed)  # deterministic bytes: the same layers, the same digests, every run
    return bytes(rnd.getrandbits(8) for _ in range(size))


SEED_MTIME = 1767225600   # 2026-01-01T00:00:00Z: the context's files carry it, so the layers are the same every run


def _pin_mtimes(root: str) -> None:
    """Give every file and directory under ``root`` the same mtime: a layer's tar records mtimes, so
    files rewritten with the same bytes then pack into the same tar, the same diff id, the same layer
    (content addressing dedupes it in the store, run after run)."""
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            os.utime(os.path.join(d, n), (SEED_MTIME, SEED_MTIME), follow_symlinks=False)
    os.utime(root, (SEED_MTIME, SEED_MTIME))


def build_seed_app(workdir: str, name: str = "seed-app", log=None, *, cache_scope: str = "",
                   results: list | None = None) -> tuple[str, str]:
    """Build ``NAME:1.0`` and ``NAME:2.0``: busybox + dependency A + dependency B + the app. Only the
    app differs between the versions. Returns the two refs; each build's BuildResult is appended to
    ``results``. A new ``cache_scope`` makes 1.0 a first build (every step built) whatever the store
    built before."""

    ctx = os.path.join(workdir, "seed-app")
    for dep, size, seed in (("dep-a", 96 * 1024, 1), ("dep-b", 160 * 1024, 2)):
        os.makedirs(os.path.join(ctx, dep), exist_ok=True)
        with open(os.path.join(ctx, dep, "lib.bin"), "wb") as f:
            f.write(_data(seed, size))
    with open(os.path.join(ctx, "Boxfile"), "w") as f:
        f.write("FROM busybox\nCOPY dep-a /deps/a\nCOPY dep-b /deps/b\nCOPY app.sh /app/\n"
                'CMD ["sh", "/app/app.sh"]\n')
    refs = []
    for version in ("1.0", "2.0"):
        with open(os.path.join(ctx, "app.sh"), "w") as f:
            f.write(f'echo "app {version} using $(ls /deps | tr "\\n" " ")"\n')
            if version == "2.0":
                f.write('echo "new feature: $(date -u +%Y)"\n')
        _pin_mtimes(ctx)
        ref = f"{name}:{version}"
        r = build_file(os.path.join(ctx, "Boxfile"), ref, ctx, log=log, cache_scope=cache_scope)
        if results is not None:
            results.append(r)
        refs.append(ref)
    return refs[0], refs[1]


def shared_layers(a: str, b: str) -> dict:
    """Which layers two images share and how many bytes the second adds."""

    la, lb = Store().layers_of(a), Store().layers_of(b)
    ids_a = {r["diff_id"] for r in la}
    shared = [r for r in lb if r["diff_id"] in ids_a]
    added = [r for r in lb if r["diff_id"] not in ids_a]
    return {"shared": len(shared), "shared_bytes": sum(r["size"] for r in shared),
            "added": len(added), "added_bytes": sum(r["size"] for r in added)}
