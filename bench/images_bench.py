#!/usr/bin/env python3
"""Images and overlayfs, measured in one run against peers on the same input.

    sudo .venv/bin/python bench/images_bench.py [-n 5] [--skip apply,overlay,build,start]

1. **Layer apply**: the ``host`` base image's layer (~115 MB, ~3000 files, as an uncompressed tar and
   gzip'd) unpacked by boxkit's checked applier, by GNU ``tar -x`` (no checks, the floor), and by
   ``umoci unpack`` (an OCI layout holding only that layer). Medians of N; MB/s and ratios.
2. **Overlay mount** with 1, 10, 100 and 200 lower layers (200 needs the short-name route): mount +
   umount, median of 20.
3. **Cached rebuild** of a five-step build file (FROM, COPY, RUN, ENV, CMD): median of 10.
4. **Container start** from a 1-layer and a 20-layer image (``true``, median of 20): layer count
   should not matter, overlay resolves lookups per directory, not per layer at start.

Absolute times on a shared machine are noise; read the ratios. Everything runs under a temporary
BOXKIT_ROOT that is removed at the end.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def median_time(fn, n: int, setup=None) -> float:
    times = []
    for _ in range(n):
        if setup:
            setup()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_apply(work: str, n: int) -> None:
    from boxkit.images import resolve
    from boxkit.images.layer import apply_tar, write_tar
    from boxkit.images.transfer import save_oci

    img = resolve("host")
    tar_path = os.path.join(work, "layer.tar")
    with open(tar_path, "wb") as f:
        _diff, size = write_tar(img.layers[0], f)
    gz_path = tar_path + ".gz"
    with open(tar_path, "rb") as src, gzip.open(gz_path, "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    files = sum(len(fs) + len(ds) for _, ds, fs in os.walk(img.layers[0]))
    print(f"\n1. layer apply: {size / 1e6:.1f} MB tar, {os.path.getsize(gz_path) / 1e6:.1f} MB gzip, {files} entries")
    out = os.path.join(work, "out")

    def fresh():
        shutil.rmtree(out, ignore_errors=True)
        os.mkdir(out)

    results = {}
    for label, path in (("tar", tar_path), ("tar.gz", gz_path)):
        def bk(path=path):
            with open(path, "rb") as f:
                apply_tar(f, out)
        results[f"boxkit {label}"] = median_time(bk, n, fresh)
        flag = "-xzf" if label == "tar.gz" else "-xf"
        results[f"tar -x {label}"] = median_time(
            lambda flag=flag, path=path: subprocess.run(["tar", flag, path, "-C", out, "--same-owner",
                                                         "--xattrs"], check=True), n, fresh)
    if shutil.which("umoci"):
        layout = os.path.join(work, "layout")
        save_oci(["host:latest"], layout)
        bundle = os.path.join(work, "bundle")
        results["umoci unpack tar"] = median_time(
            lambda: subprocess.run(["umoci", "--log", "error", "unpack", "--image", f"{layout}:latest", bundle],
                                   check=True, capture_output=True), n,
            lambda: shutil.rmtree(bundle, ignore_errors=True))
        shutil.rmtree(bundle, ignore_errors=True)
    else:
        print("   umoci: skipped (apt-get install umoci)")
    shutil.rmtree(out, ignore_errors=True)
    for k, v in results.items():
        print(f"   {k:<18} {v * 1000:8.0f} ms  {size / 1e6 / v:7.0f} MB/s")
    if "umoci unpack tar" in results:
        print(f"   ratio boxkit/umoci (tar): {results['boxkit tar'] / results['umoci unpack tar']:.2f}  "
              f"(< 1 is faster than umoci)")
    print(f"   ratio boxkit/tar -x (tar): {results['boxkit tar'] / results['tar -x tar']:.2f}   "
          f"(gz): {results['boxkit tar.gz'] / results['tar -x tar.gz']:.2f}")


def bench_overlay(work: str) -> None:
    from boxkit import _sys
    from boxkit.images.overlay import mount_overlay

    print("\n2. overlay mount + umount (median of 20)")
    base = os.path.join(work, "ovl")
    layers = []
    for i in range(200):
        d = os.path.join(base, "layers", f"{i:064x}", "diff")
        os.makedirs(d)
        with open(os.path.join(d, f"f{i}"), "w") as f:
            f.write(str(i))
        layers.append(d)
    target = os.path.join(base, "merged")
    os.mkdir(target)
    for count in (1, 10, 100, 200):
        use = layers[:count] if count > 1 else layers[:2]  # one layer alone is a bind, not an overlay
        upper, wk = os.path.join(base, "u"), os.path.join(base, "w")

        def once(use=use, upper=upper, wk=wk):
            mount_overlay(use, upper, wk, target)
            _sys.SYS.umount2(target, _sys.MNT_DETACH)

        def setup(upper=upper, wk=wk):
            for d in (upper, wk):
                shutil.rmtree(d, ignore_errors=True)
                os.mkdir(d)
        t = median_time(once, 20, setup)
        print(f"   {len(use):>3} layers: {t * 1e6:8.0f} us")


def bench_build(work: str) -> None:
    from boxkit.build import build_file

    print("\n3. cached rebuild (median of 10)")
    ctx = os.path.join(work, "ctx")
    os.makedirs(os.path.join(ctx, "lib"))
    for i in range(50):
        with open(os.path.join(ctx, "lib", f"m{i}.py"), "w") as f:
            f.write("x = 1\n" * 200)
    with open(os.path.join(ctx, "Boxfile"), "w") as f:
        f.write("FROM busybox\nCOPY lib /app/lib\nRUN echo built > /app/stamp\nENV MODE=prod\nCMD [\"sh\"]\n")
    t = time.perf_counter()
    first = build_file(os.path.join(ctx, "Boxfile"), "bench-app:1", ctx, log=None, no_cache=True)
    cold = time.perf_counter() - t
    warm = median_time(lambda: build_file(os.path.join(ctx, "Boxfile"), "bench-app:1", ctx, log=None), 10)
    again = build_file(os.path.join(ctx, "Boxfile"), "bench-app:1", ctx, log=None)
    print(f"   first build {cold:.2f} s; cached rebuild {warm * 1000:.1f} ms (target < 200 ms); "
          f"same digest: {again.digest == first.digest}")


def bench_start(work: str) -> None:
    import boxkit
    from boxkit.build import Build

    print("\n4. container start, 1 vs 20 layers (median of 20)")
    ctx = os.path.join(work, "ctx20")
    os.makedirs(ctx)
    b = Build("busybox")
    for i in range(19):
        with open(os.path.join(ctx, f"f{i}"), "w") as f:
            f.write(str(i))
        b.copy(f"f{i}", f"/layers/f{i}")
    b.build("bench-20:1", ctx, log=None)
    boxkit.run("busybox", ["true"])  # warm the helper
    t1 = median_time(lambda: boxkit.run("busybox", ["true"]), 20)
    t20 = median_time(lambda: boxkit.run("bench-20:1", ["true"]), 20)
    print(f"   1 layer {t1 * 1000:.1f} ms, 20 layers {t20 * 1000:.1f} ms, ratio {t20 / t1:.2f} (target within 1.20)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--skip", default="")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root: mounts overlays and starts containers")
        return 1
    skip = set(filter(None, a.skip.split(",")))
    work = tempfile.mkdtemp(prefix="bk-bench-img-", dir="/var/tmp")
    os.environ["BOXKIT_ROOT"] = os.path.join(work, "root")
    try:
        if "apply" not in skip:
            bench_apply(work, a.n)
        if "overlay" not in skip:
            bench_overlay(work)
        if "build" not in skip:
            bench_build(work)
        if "start" not in skip:
            bench_start(work)
    finally:
        mod = sys.modules.get("boxkit.runtime.container")
        if mod is not None:
            mod._shutdown()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
