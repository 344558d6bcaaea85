#!/usr/bin/env python3
"""Container start-up: ``true`` in a fresh container, boxkit against its peers, in one run.

    sudo .venv/bin/python bench/startup.py [-n 30] [--limits] [--gap 0.05]

Every runtime starts the same busybox root directory with pid, mount, uts, ipc and net namespaces
and runs ``/bin/true``; the time is from the call to the reaped exit, medians of N runs after a warm-up.
The runtimes take turns (one start each per round, shuffled, ``--gap`` seconds of quiet before each),
so drifting background load hits them alike. Absolute times on shared machines are noise: read the
ratios. boxkit prepares its next container while idle (see boxkit.runtime.init, "the spare"); the gap
gives every runtime the same idle time, and a last row shows boxkit back to back, with no gap, where
the spare is still being made when the next start arrives; "image switched" alternates two root
directories (so the spare prebuilt on the last one never fits) with the same gap. "boxkit (warm
process)" loads boxkit's default seccomp filter; "seccomp=unconfined" is the same start without it.

Peers (skipped, with the reason, where missing): crun, runc (OCI bundles made with ``runc spec``),
bubblewrap, ``unshare`` + ``chroot`` (util-linux; the least isolation, a floor), podman (``--rootfs``).
crun refuses this host's hybrid cgroup layout (hugetlb alone on v2), so it runs in a private mount
namespace where ``/sys/fs/cgroup/unified`` is unmounted. ``--limits`` adds memory+cpu+pids limits to
boxkit, runc and crun (all three then create cgroups).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def make_rootfs(d: str) -> str:
    root = os.path.join(d, "rootfs")
    os.makedirs(os.path.join(root, "bin"))
    bb = shutil.which("busybox") or "/bin/busybox"
    shutil.copy2(bb, os.path.join(root, "bin", "busybox"))
    for applet in ("sh", "true", "ls", "ps"):
        os.symlink("busybox", os.path.join(root, "bin", applet))
    for sub in ("proc", "sys", "dev", "etc", "tmp"):
        os.makedirs(os.path.join(root, sub))
    return root


def make_bundle(d: str, root: str, limits: bool) -> str:
    bundle = os.path.join(d, "bundle")
    os.makedirs(bundle)
    subprocess.run(["runc", "spec", "--bundle", bundle], check=True)
    with open(os.path.join(bundle, "config.json")) as f:
        cfg = json.load(f)
    cfg["root"] = {"path": root, "readonly": False}
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["/bin/true"]
    if limits:
        cfg["linux"]["resources"] = {"memory": {"limit": 500 << 20},
                                     "cpu": {"quota": 50000, "period": 100000}, "pids": {"limit": 100}}
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(cfg, f)
    return bundle


def timed(fn, n: int) -> float:
    """Back to back, no pause: a loop of starts (what a script that starts many containers sees)."""
    fn()  # warm-up
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def interleaved(runners: dict, n: int, gap: float, every: dict[str, int]) -> dict[str, float]:
    """Round-robin: one start of each runtime per round, in a shuffled order, ``gap`` seconds apart.
    Interleaving puts every runtime under the same background noise (a busy CI machine drifts over a
    run); the gap measures a start from a quiet state, which is what a notebook cell sees. A runtime
    listed in ``every`` runs only in every k-th round (podman and the CLI are slow)."""
    import random

    times: dict[str, list[float]] = {name: [] for name in runners}
    for fn in runners.values():
        fn()   # warm-up: images, page cache, the zygote
    for i in range(n):
        order = list(runners)
        random.shuffle(order)
        for name in order:
            if i % every.get(name, 1):
                continue
            time.sleep(gap)
            t = time.perf_counter()
            runners[name]()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items() if ts}


def leftovers(cli: list[str], root: str, k: int = 3) -> None:
    """What a batch of CLIs killed outright leaves: ``k`` containers whose supervisor is gone."""
    from boxkit import paths

    before = set(os.listdir(paths.containers_dir())) if os.path.isdir(paths.containers_dir()) else set()
    env = {**os.environ, "BOXKIT_NO_GC": "1"}
    procs = [subprocess.Popen(cli[:-2] + ["--rootfs", root, "/bin/sleep", "1000"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(k)]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = set(os.listdir(paths.containers_dir())) - before if os.path.isdir(paths.containers_dir()) else set()
        if len([c for c in now if os.path.exists(os.path.join(paths.container_dir(c), "state.json"))]) >= k:
            break
        time.sleep(0.02)
    for p in procs:
        p.kill()
        p.wait()


def cli_with_leftovers(cli: list[str], root: str, n: int, gap: float) -> tuple[float, float]:
    """The CLI's ``true`` right after a batch of killed CLIs, alternating with a clean start: (clean,
    with leftovers) medians. The leftovers are made and collected outside the timed part."""
    from boxkit.runtime import collector

    clean, dirty = [], []
    run = sh(cli)
    for _ in range(n):
        collector.wait(60)
        time.sleep(gap)
        t = time.perf_counter()
        run()
        clean.append(time.perf_counter() - t)
        leftovers(cli, root)
        time.sleep(gap)
        t = time.perf_counter()
        run()
        dirty.append(time.perf_counter() - t)
    collector.wait(60)
    boxkit_gc()
    return statistics.median(clean), statistics.median(dirty)


def boxkit_gc() -> None:
    import boxkit

    boxkit.gc()


def sh(argv: list[str]):
    def run() -> None:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({r.returncode}): {r.stderr.decode()[-300:]}")
    return run


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--limits", action="store_true", help="memory+cpu+pids limits (cgroups) on every runtime")
    ap.add_argument("--gap", type=float, default=0.05, help="seconds of quiet before each start (default 0.05)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root")
        return 1
    own_root = "BOXKIT_ROOT" not in os.environ
    os.environ.setdefault("BOXKIT_ROOT", tempfile.mkdtemp(prefix="boxkit-bench-"))
    import boxkit

    d = tempfile.mkdtemp(prefix="bench-start-")
    runners: dict = {}
    skipped: dict[str, str] = {}
    every = {"boxkit (python -m boxkit)": 3, "podman (runc)": 5}
    podman_store = None
    try:
        root = make_rootfs(d)
        lim = {"memory": "500M", "cpus": 0.5, "pids_limit": 100} if a.limits else {}

        def boxkit_warm() -> None:
            r = boxkit.run(rootfs=root, argv=["/bin/true"], **lim)
            assert r.exit_code == 0, r
        runners["boxkit (warm process)"] = boxkit_warm

        def boxkit_unconfined() -> None:   # the same start without the seccomp filter: its cost
            r = boxkit.run(rootfs=root, argv=["/bin/true"], security_opt=["seccomp=unconfined"], **lim)
            assert r.exit_code == 0, r
        runners["boxkit (seccomp=unconfined)"] = boxkit_unconfined
        cli = [sys.executable, "-m", "boxkit", "run", "--rm"]
        if a.limits:   # options before the image: everything after it is the command
            cli += ["--memory", "500M", "--cpus", "0.5", "--pids-limit", "100"]
        cli += ["--rootfs", root]
        runners["boxkit (python -m boxkit)"] = sh(cli + ["/bin/true"])
        # the command as typed: ./course writes .venv/bin/boxkit as the fast client (boxkit/fastrun.py
        # under python -I -S, and a warm helper that outlives the command, boxkit/cli/warm.py)
        typed = os.path.join(os.path.dirname(sys.executable), "boxkit")
        if "fastrun" not in open(typed, errors="replace").read(400):   # a plain pip install: pip's entry point
            print(f"note: {typed} is pip's entry point, not the fast client (./course writes it)")
        runners["boxkit (CLI)"] = sh([typed, *cli[3:], "/bin/true"])
        # pip's own entry point (what `pip install boxkit` puts on PATH: Binder, a hub's image), written
        # here as pip writes it, since ./course replaces the venv's with the fast client above
        pip_script = os.path.join(d, "boxkit-pip")
        with open(pip_script, "w") as f:
            f.write(f"#!{sys.executable}\nimport re\nimport sys\nfrom boxkit.fastrun import entry\n"
                    "if __name__ == '__main__':\n"
                    "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
                    "    sys.exit(entry())\n")
        os.chmod(pip_script, 0o755)
        runners["boxkit (pip's entry point)"] = sh([pip_script, *cli[3:], "/bin/true"])

        bundle = None
        if shutil.which("runc"):
            bundle = make_bundle(d, root, a.limits)
            counter = iter(range(10**6))
            runners["runc"] = lambda: sh(["runc", "run", "--bundle", bundle, f"bk{next(counter)}"])()
        else:
            skipped["runc"] = "not installed (apt-get install runc)"
        if shutil.which("crun") and bundle:
            counter2 = iter(range(10**6))
            # crun rejects a hybrid layout; hide the v2 mount in a private mount namespace
            runners["crun"] = lambda: sh(
                ["unshare", "-m", "sh", "-c",
                 f"umount /sys/fs/cgroup/unified 2>/dev/null; exec crun run --bundle {bundle} ck{next(counter2)}"])()
            # the same wrapper's own cost, so the ratio is crun's alone
            runners["(unshare -m sh wrapper alone)"] = sh(["unshare", "-m", "sh", "-c", "exec true"])
        else:
            skipped["crun"] = "not installed (apt-get install crun)"
        if shutil.which("bwrap"):
            runners["bubblewrap"] = sh(
                ["bwrap", "--bind", root, "/", "--proc", "/proc", "--dev", "/dev", "--unshare-all",
                 "--die-with-parent", "/bin/true"])
        else:
            skipped["bubblewrap"] = "not installed"
        runners["unshare+chroot"] = sh(
            ["unshare", "-m", "-u", "-i", "-n", "-p", "-f", "--mount-proc=" + root + "/proc", "chroot", root,
             "/bin/true"])
        if shutil.which("podman"):
            # this sandbox caps RLIMIT_NOFILE/NPROC below podman's defaults: pin the limits. A store of
            # its own (runc, as crun refuses the hybrid layout), removed at the end: boxkit/podman.py
            from boxkit.podman import Podman

            podman_store = Podman()
            podman = sh(podman_store.argv(
                "run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
                *(["--memory", "500m", "--cpus", "0.5", "--pids-limit", "100"] if a.limits else []),
                "--rootfs", root, "/bin/true"))
            try:
                podman()
                runners["podman (runc)"] = podman
            except RuntimeError as e:
                skipped["podman"] = str(e).splitlines()[0][:120]
        else:
            skipped["podman"] = "not installed"
        results = interleaved(runners, a.n, a.gap, every)
        results["boxkit (warm, back to back)"] = timed(boxkit_warm, a.n)
        # every start on another root than the last: the spare prebuilt on the last image does not
        # fit, the plain one serves (a notebook switching images, or a run with volumes)
        other = make_rootfs(os.path.join(d, "other"))
        flip = iter(range(10**6))

        def boxkit_switching() -> None:
            time.sleep(a.gap)
            r = boxkit.run(rootfs=(root, other)[next(flip) % 2], argv=["/bin/true"], **lim)
            assert r.exit_code == 0, r
        results["boxkit (image switched)"] = timed(boxkit_switching, a.n) - a.gap
        # a killed CLI's leftovers must not slow the next command (the import only looks; a collector
        # started in the background removes them: boxkit/runtime/collector.py)
        paired, results["boxkit (CLI, leftovers)"] = cli_with_leftovers(cli + ["/bin/true"], root,
                                                                        max(5, a.n // 3), a.gap)
        results["boxkit (CLI, paired clean)"] = paired
    finally:
        if podman_store is not None:
            podman_store.close()
        from boxkit.cli import warm

        warm.stop()   # the fast client's helper: it outlives every command, not the bench
        shutil.rmtree(d, ignore_errors=True)
        if own_root:   # end the zygote (it removes what it holds) before its root goes
            from boxkit.runtime.container import _shutdown

            _shutdown()
            shutil.rmtree(os.environ["BOXKIT_ROOT"], ignore_errors=True)

    if "crun" in results and "(unshare -m sh wrapper alone)" in results:
        results["crun (minus wrapper)"] = results["crun"] - results.pop("(unshare -m sh wrapper alone)")
    base = results["boxkit (warm process)"]
    print(f"\n`true` in a fresh container{' with memory+cpu+pids limits' if a.limits else ''}, "
          f"median of {a.n} interleaved rounds, {a.gap * 1000:.0f} ms apart (back to back: one loop)\n")
    print(f"{'runtime':<26} {'median':>10}   boxkit-warm / runtime")
    for name, t in sorted(results.items(), key=lambda kv: kv[1]):
        print(f"{name:<26} {t * 1000:>8.1f}ms   {base / t:>6.2f}")
    for name, why in skipped.items():
        print(f"{name:<26} skipped: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
