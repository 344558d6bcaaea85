#!/usr/bin/env python3
"""Redraw every figure under docs/img/ from real runs on this machine: one command.

    sudo .venv/bin/python tools/figures.py            # all
    sudo .venv/bin/python tools/figures.py namespace  # one

Each entry starts the containers it needs, draws with the same package code the notebooks use,
and saves a PNG. Areas register their figures in FIGURES below.
"""

from __future__ import annotations

import importlib
import os
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMG = os.path.join(HERE, "docs", "img")


def namespace() -> None:
    import boxkit
    from boxkit import nsinfo
    from boxkit.viz.namespaces import namespace_figure

    with boxkit.run("busybox", ["sh", "-c", "sleep 300 & sleep 300"], detach=True, hostname="box",
                    init=True) as c:
        import time

        time.sleep(0.3)
        fig = namespace_figure(nsinfo.snapshot(c.pid, hostname="box"))
    fig.savefig(os.path.join(IMG, "namespace.png"), bbox_inches="tight")


def userns() -> None:
    import boxkit
    from boxkit import nsinfo
    from boxkit.viz.namespaces import idmap_figure

    with boxkit.run("busybox", ["sleep", "300"], detach=True, userns=True) as c:
        fig = idmap_figure(nsinfo.id_map(c.pid))
    fig.savefig(os.path.join(IMG, "userns-idmap.png"), bbox_inches="tight")


def overlay_by_hand() -> None:
    """Notebook 03's by-hand overlay: copy-up, whiteout and opaque dir, scanned while mounted."""
    import shutil
    import tempfile

    from boxkit import _sys
    from boxkit.images.overlay import mount_overlay
    from boxkit.images.upper import scan_overlay
    from boxkit.viz.overlay import overlay_figure

    demo = tempfile.mkdtemp(prefix="bk-fig-ovl-", dir="/var/tmp")
    d = {k: os.path.join(demo, k) for k in ("lower", "upper", "work", "merged")}
    try:
        for p in ("lower/etc", "lower/docs", "upper", "work", "merged"):
            os.makedirs(os.path.join(demo, p))
        for p, text in (("etc/config", "mode=v1\n"), ("etc/old", "x\n"), ("docs/a.txt", "a\n"),
                        ("docs/b.txt", "b\n")):
            with open(os.path.join(d["lower"], p), "w") as f:
                f.write(text)
        mount_overlay([d["lower"]], d["upper"], d["work"], d["merged"])
        try:
            with open(os.path.join(d["merged"], "etc/config"), "a") as f:
                f.write("mode=v2\n")
            os.unlink(os.path.join(d["merged"], "etc/old"))
            shutil.rmtree(os.path.join(d["merged"], "docs"))
            os.mkdir(os.path.join(d["merged"], "docs"))
            with open(os.path.join(d["merged"], "docs/new.txt"), "w") as f:
                f.write("new\n")
            fig = overlay_figure(scan_overlay(d["lower"], d["upper"], d["work"], d["merged"]))
        finally:
            _sys.SYS.umount2(d["merged"], _sys.MNT_DETACH)
    finally:
        shutil.rmtree(demo, ignore_errors=True)
    fig.savefig(os.path.join(IMG, "overlay-by-hand.png"), bbox_inches="tight")


def mounts() -> None:
    """nsinfo.propagation_lab: a shared tmpfs, copies with propagation unchanged (in the same user
    namespace and in a new one), a boxkit container."""
    import boxkit
    from boxkit import nsinfo
    from boxkit.viz.mounts import propagation_figure

    with boxkit.run("busybox", ["sleep", "60"], detach=True) as c:
        lab = nsinfo.propagation_lab(c.pid)
    fig = propagation_figure(lab["trees"], demo=lab["demo"],
                             title="Mount propagation: 'later', mounted on the host after the copies, "
                             "reached both; not the container")
    fig.savefig(os.path.join(IMG, "mount-propagation.png"), bbox_inches="tight")


# name -> "module:function" (module functions take the output directory)
FIGURES: dict[str, object] = {
    "namespace": namespace,
    "userns": userns,
    "overlay-by-hand": overlay_by_hand,
    "mounts": mounts,
    "overlay": "boxkit.viz.layers:draw_docs_figures",
    "topology": "boxkit.viz.topology:draw_docs_figures",
}


def main(argv: list[str]) -> int:
    import matplotlib

    matplotlib.use("Agg")
    os.makedirs(IMG, exist_ok=True)
    for name in argv or list(FIGURES):
        target = FIGURES[name]
        if isinstance(target, str):
            mod, fn = target.split(":")
            try:
                f = getattr(importlib.import_module(mod), fn)
            except (ImportError, AttributeError) as e:
                print(f"{name}: skipped ({e})")
                continue
            f(IMG)
        else:
            target()
        print(f"{name}: drawn")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
