"""podman beside boxkit leaves the host as it found it: no mount, no cgroup, no process, no store.

Left to its defaults podman keeps ``/var/lib/containers/storage/overlay`` mounted and ``libpod_parent``
groups in every hierarchy after notebook 05's comparison (boxkit/podman.py says why); these run the
same comparison, and a store whose owner was killed, against the whole host.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from boxkit import compare, podman
from boxkit.images import resolve


def _session_snapshot():
    """tests/conftest.py's ``snapshot``, the session leak check's view of the host; loaded by path, since
    ``conftest`` names tests/integration/conftest.py here."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "conftest.py")
    spec = importlib.util.spec_from_file_location("boxkit_tests_leak_check", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.snapshot


snapshot = _session_snapshot()

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: podman with cgroup limits"),
              pytest.mark.skipif(not shutil.which("podman"), reason="needs podman (apt-get install podman)")]

KEYS = ("mounts", "cgroup dirs", "processes")


def _host() -> dict[str, set[str]]:
    s = snapshot()
    procs = set()
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"/podman/" in f.read() and int(pid) != os.getpid():
                    procs.add(pid)
        except (OSError, ValueError):
            continue
    return {"mounts": s["mounts"], "cgroup dirs": s["cgroup dirs"] - _own_spares(s["cgroup dirs"]),
            "processes": procs}


def _own_spares(dirs: set[str]) -> set[str]:
    """The groups this process's warm helper makes for its spares, named spare-<helper pid>-<n>: it makes
    and retires them in the background whenever it likes (a CI run once caught one half made), so they
    are no sign of podman's; the session's leak check sees that the helper takes them with it."""
    from boxkit.runtime import client

    helper = client._client
    if helper is None or not helper.alive:
        return set()
    mark = f"/spare-{helper.proc.pid}-"
    return {d for d in dirs if mark in d}


def _stores() -> list[str]:
    """The stores' directories: graph roots under $BOXKIT_ROOT, run roots under /run."""
    out = []
    for base in (os.path.join(os.environ["BOXKIT_ROOT"], "podman"), "/run/boxkit-podman"):
        out += [os.path.join(base, n) for n in os.listdir(base)] if os.path.isdir(base) else []
    return sorted(out)


def test_comparing_limits_with_podman_leaves_the_host_as_it_was():
    before, stores = _host(), _stores()
    theirs = compare.podman_limits(resolve("busybox").layers[-1], "200m", 0.5, 50)
    if isinstance(theirs, str):
        pytest.skip(theirs)
    assert theirs["memory limit"][1] == "209715200" and theirs["pids limit"][1] == "50"
    assert "/boxkit-podman-" in theirs["memory limit"][0], "podman's group sits in the parent boxkit removes"
    after = _host()
    assert {k: after[k] - before[k] for k in KEYS} == {k: set() for k in KEYS}
    assert _stores() == stores


def test_a_store_whose_owner_was_killed_is_collected_by_the_next_import():
    script = f"""
import os, signal
from boxkit.podman import Podman
p = Podman(driver="overlay")
r = p.run("run", "-d", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
          "--rootfs", {resolve("busybox").layers[-1]!r}, "sleep", "600")
print(p.dir, p.cgroup_parent, r.returncode, r.stderr.strip()[-200:].replace(" ", "_"), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    before, stores = _host(), _stores()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120).stdout.split()
    store, parent, rc = out[0], out[1], int(out[2])
    try:
        if rc != 0:
            pytest.skip(f"podman could not start a container here: {' '.join(out[3:])}")
        groups = [g for g in _host()["cgroup dirs"] if g.endswith(parent)]
        # the running container's /dev/shm (a tmpfs under the store), and often the overlay driver's home
        assert any(m.startswith(store + "/") for m in _host()["mounts"]), "podman mounted under its store"
        assert groups, "the container runs under boxkit's cgroup parent"
        sleeper = {int(p) for g in groups for d, _, _ in os.walk(g)
                   for p in open(os.path.join(d, "cgroup.procs")).read().split()}
        assert sleeper, "the container (sleep) and conmon run in the parent's groups"
    finally:
        # the next `import boxkit` (a new kernel) collects it: gc on import sees a store left
        env = {k: v for k, v in os.environ.items() if k != "BOXKIT_NO_GC"}
        subprocess.run([sys.executable, "-c", "import boxkit"], env=env, timeout=120, check=True)
        from boxkit.runtime import collector

        assert collector.wait(120), "the collector the import started is still at work after 120 s"
        done = podman.gc()
    assert done == [], f"import left this to a second gc: {done}"
    assert _stores() == stores, "graph root and run root removed"
    for pid in sleeper:
        for _ in range(100):
            if not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z":
                break
            time.sleep(0.02)
        else:
            pytest.fail(f"the container's process {pid} outlived gc")
    after = _host()
    assert {k: after[k] - before[k] for k in KEYS} == {k: set() for k in KEYS}
