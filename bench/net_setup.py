"""Network set-up and teardown: boxkit.net (pyroute2, in process) against the same steps with `ip`.

Run as root:  .venv/bin/python bench/net_setup.py [-n 20]

Measured in one run, on the same kernel, with a fresh network namespace per iteration (its creation
is not timed):

* cold: the first container on a network — bridge + address + up, veth pair into the namespace,
  address, links up, default route; teardown deletes the veth and the bridge.
* warm: a bridge already up (another container holds it) — only the veth part.
* boxkit's teardown is split: `release(defer=True)` frees the lease and the ports and leaves the idle
  bridge up (the veth goes with the namespace, in a kernel worker); `reap()`, which the runtime runs
  when idle, retires and deletes the idle bridge — timed too, because a container's exit must not
  wait on it.
* container start: boxkit.run(rootfs, ['true']) with network="none" vs network="bridge" (when the
  runtime can start containers here).

Prints medians in ms and the ratios boxkit / ip. The `ip` baseline is what a shell script would do:
one process per step.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

GAP = 0.05


def box() -> subprocess.Popen:
    p = subprocess.Popen(["unshare", "--net", "sleep", "60"])
    me = os.stat("/proc/self/ns/net").st_ino
    while os.stat(f"/proc/{p.pid}/ns/net").st_ino == me:
        time.sleep(0.001)
    return p


def kill(p: subprocess.Popen) -> None:
    p.kill()
    p.wait()


def ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True)


def ns(pid: int, *argv: str) -> None:
    subprocess.run(["nsenter", "-t", str(pid), "-n", "ip", *argv], check=True)


def ip_setup(pid: int, bridge: str | None, veth: str) -> None:
    if bridge:
        ip("link", "add", "bkbench0", "type", "bridge")
        ip("addr", "add", "10.213.250.1/24", "dev", "bkbench0")
        ip("link", "set", "bkbench0", "up")
    ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", str(pid))
    ip("link", "set", veth, "master", "bkbench0", "up")
    ns(pid, "addr", "add", "10.213.250.2/24", "dev", "eth0")
    ns(pid, "link", "set", "eth0", "up")
    ns(pid, "link", "set", "lo", "up")
    ns(pid, "route", "add", "default", "via", "10.213.250.1")


def ip_teardown(bridge: bool, veth: str) -> None:
    subprocess.run(["ip", "link", "del", veth], stderr=subprocess.DEVNULL)  # often gone with the netns
    if bridge:
        ip("link", "del", "bkbench0")


def ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=15)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root")
        return 1
    root = tempfile.mkdtemp(prefix="boxkit-bench-")
    os.environ["BOXKIT_ROOT"] = root
    import boxkit.net as bn

    t = time.perf_counter()
    import pyroute2  # noqa: F401
    print(f"import pyroute2: {(time.perf_counter() - t) * 1000:.0f} ms (paid once per process, only when a "
          "network is asked for)")
    res: dict[str, list[float]] = {k: [] for k in (
        "bk cold setup", "bk cold release", "bk cold deletes", "ip cold setup", "ip cold teardown",
        "bk warm setup", "bk warm release", "ip warm setup", "ip warm teardown")}
    # a warm-up attach so that the first timed one does not pay for imports
    p = box()
    bn.attach("ffff0000", p.pid, "bridge", None, "w", []).release()
    kill(p)
    for i in range(a.n):
        for mode in ("cold", "warm"):
            holder = holder_att = None
            if mode == "warm":
                holder = box()
                holder_att = bn.attach(f"eeee{i:04x}", holder.pid, "bridge", None, "h", [])
                ip("link", "add", "bkbench0", "type", "bridge")
                ip("addr", "add", "10.213.250.1/24", "dev", "bkbench0")
                ip("link", "set", "bkbench0", "up")
            p = box()
            cid = f"abcd{i:04x}"
            t0 = time.perf_counter()
            att = bn.attach(cid, p.pid, "bridge", None, cid, [])
            setup = time.perf_counter() - t0
            kill(p)                     # the container exits; then the runtime releases its network
            t0 = time.perf_counter()
            att.release(defer=True)     # lease and ports freed; the idle bridge stays for the next one
            release = time.perf_counter() - t0
            t0 = time.perf_counter()
            bn.reap()                   # idle bridge retired and deleted (~40 ms), for when the caller is idle
            deletes = time.perf_counter() - t0
            res[f"bk {mode} setup"].append(setup)
            res[f"bk {mode} release"].append(release)
            if mode == "cold":
                res["bk cold deletes"].append(deletes)

            p = box()
            t0 = time.perf_counter()
            ip_setup(p.pid, "bkbench0" if mode == "cold" else None, "bkvbench")
            t1 = time.perf_counter()
            kill(p)
            t2 = time.perf_counter()
            ip_teardown(mode == "cold", "bkvbench")
            t1, t2 = t1 - t0, time.perf_counter() - t2
            res[f"ip {mode} setup"].append(t1)
            res[f"ip {mode} teardown"].append(t2)
            if holder is not None:
                holder_att.release()
                kill(holder)
                ip("link", "del", "bkbench0")
    for k, v in res.items():
        print(f"{k:18s} {ms(v):7.1f} ms  (median of {len(v)})")
    print(f"ratio cold setup     boxkit/ip = {ms(res['bk cold setup']) / ms(res['ip cold setup']):.2f}")
    print(f"ratio warm setup     boxkit/ip = {ms(res['bk warm setup']) / ms(res['ip warm setup']):.2f}")
    print(f"ratio cold teardown  boxkit release(defer=True) / ip teardown = "
          f"{ms(res['bk cold release']) / ms(res['ip cold teardown']):.2f}; reap() afterwards: "
          f"{ms(res['bk cold deletes']):.1f} ms")
    print(f"ratio warm teardown  boxkit release / ip teardown = "
          f"{ms(res['bk warm release']) / ms(res['ip warm teardown']):.2f}")
    extra = start_bench(a.n)
    if extra is not None:
        # the target: a bridge adds no more to a start than the ip baseline of the same steps (the
        # bridge stays up between starts, as it does for the ip baseline's warm case)
        for mode in ("warm", "cold"):
            base = ms(res[f"ip {mode} setup"])
            print(f"bridge start adds {extra:.1f} ms vs ip {mode} setup {base:.1f} ms: "
                  f"{'within' if extra <= base else 'OVER'} the baseline")
    # the zygote keeps an idle bridge for the next start: end it (it reaps the bridge) before the
    # root holding the bridge's records goes, or the bridge outlives the records that name it
    from boxkit.runtime.container import _shutdown

    _shutdown()
    bn.reap()
    shutil.rmtree(root, ignore_errors=True)
    return 0


def start_bench(n: int) -> float | None:
    """boxkit.run(['true']) with network none vs bridge, interleaved, when the runtime is available."""
    bb = shutil.which("busybox")
    if not bb:
        print("container start: skipped (no busybox)")
        return None
    try:
        import boxkit
        run = boxkit.run
    except (ImportError, AttributeError) as e:
        print(f"container start: skipped ({e})")
        return None
    rootfs = tempfile.mkdtemp(prefix="boxkit-bench-root-")
    os.makedirs(os.path.join(rootfs, "bin"))
    for d in ("proc", "sys", "dev", "etc", "tmp"):
        os.makedirs(os.path.join(rootfs, d))
    shutil.copy2(bb, os.path.join(rootfs, "bin", "busybox"))
    os.symlink("busybox", os.path.join(rootfs, "bin", "true"))
    times: dict[str, list[float]] = {"none": [], "bridge": []}
    try:
        for _ in range(2):
            run(rootfs=rootfs, argv=["true"], network="bridge")
        for _ in range(n):
            for mode in ("none", "bridge"):
                time.sleep(GAP)   # the same quiet before each start as bench/startup.py gives
                t = time.perf_counter()
                r = run(rootfs=rootfs, argv=["true"], network=mode)
                times[mode].append(time.perf_counter() - t)
                assert r.exit_code == 0
    except Exception as e:   # the runtime is someone else's moving part: report, do not crash
        print(f"container start: skipped ({type(e).__name__}: {e})")
        return None
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    print(f"run(['true']) network=none   {ms(times['none']):7.1f} ms")
    print(f"run(['true']) network=bridge {ms(times['bridge']):7.1f} ms  "
          f"(+{ms(times['bridge']) - ms(times['none']):.1f} ms, ratio {ms(times['bridge']) / ms(times['none']):.2f})")
    return ms(times["bridge"]) - ms(times["none"])


if __name__ == "__main__":
    sys.exit(main())
