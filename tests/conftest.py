"""Shared test fixtures and the session-level leak check.

After the whole suite the host must hold nothing the suite made: no mounts (any at all, not only
boxkit's), cgroup directories, network namespaces, veth links or processes. The check compares the host
before and after the session and fails the run (exit status 1) listing what leaked.
"""

from __future__ import annotations

import os
import subprocess
import tempfile

import pytest

# The first network namespace anyone names on a boot (``ip netns add``, podman's bridge network in
# test_oci_podman) makes /run/netns a shared bind mount of itself and leaves it for the next one, by
# design. Namespaces left inside it still count (the netns row), and so does a second mount on it.
ONCE_PER_BOOT = {"/run/netns"}

# This machine's sandbox runs every session in a memory cgroup of its own, /process_api/<id>, which is
# not ours to write into (the machine's rules). boxkit nests its groups below the group of the process
# that starts containers (boxkit/cgroups/host.py), so here it is told to keep them at the hierarchies'
# roots, as before; tests/integration/test_cgroup_nesting.py proves nesting with a group of its own.
def _keep_off_the_sandbox_group() -> None:
    try:
        with open("/proc/self/cgroup") as f:
            if "/process_api/" in f.read():
                os.environ.setdefault("BOXKIT_CGROUP_PARENT", "/")
    except OSError:
        pass


_keep_off_the_sandbox_group()


def _mounts() -> set[str]:
    """Every mount point, a second mount on the same point counted apart: whoever made a new one (podman's
    store once slipped past a check that looked only for boxkit's and overlay mounts), it is a leak."""
    seen: dict[str, int] = {}
    out = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4]
            if point in ONCE_PER_BOOT and point not in seen:
                continue
            seen[point] = seen.get(point, 0) + 1
            out.add(point if seen[point] == 1 else f"{point} (#{seen[point]})")
    return out


def _cgroup_dirs() -> set[str]:
    found = set()
    for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        try:
            entries = os.listdir(base)
        except OSError:
            continue
        if os.path.ismount(base):   # a v2 root: its top-level groups
            found.update(e.path for e in os.scandir(base) if e.is_dir(follow_symlinks=False))
        for ctrl in entries:
            top = os.path.join(base, ctrl)
            if os.path.isdir(top) and os.path.ismount(top):
                # any new group at the top of a hierarchy (podman's libpod_parent was one)
                found.update(e.path for e in os.scandir(top) if e.is_dir(follow_symlinks=False))
            for cand in (top, os.path.join(top, "boxkit")) if os.path.isdir(top) else ():
                if os.path.basename(cand).startswith("boxkit") and os.path.isdir(cand):
                    found.add(cand)
                    for dirpath, dirnames, _ in os.walk(cand):
                        found.update(os.path.join(dirpath, d) for d in dirnames)
    return found


def _cmd(argv: list[str]) -> set[str]:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return {line.split()[0].split("@")[0] for line in out.splitlines() if line.strip()}


def _procs() -> set[str]:
    """Processes whose cmdline mentions boxkit's helper or that live in a boxkit cgroup."""
    me = os.getpid()
    found = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/cgroup") as f:
                cg = f.read()
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if "boxkit.runtime" in cmd or "boxkit.cli.warm" in cmd or "/boxkit/" in cg or comm == "boxkit-keeper":
            found.add(f"{pid} {cmd.strip()[:80]}")
    return found


def _nft() -> set[str]:
    try:
        out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return {line.strip() for line in out.splitlines() if "boxkit" in line}


def snapshot() -> dict[str, set[str]]:
    return {
        "mounts": _mounts(),
        "cgroup dirs": _cgroup_dirs(),
        "netns": _cmd(["ip", "netns", "list"]),
        "veth links": _cmd(["ip", "-o", "-br", "link", "show", "type", "veth"]),
        "bridges": {b for b in _cmd(["ip", "-o", "-br", "link", "show", "type", "bridge"]) if "bk" in b},
        "processes": _procs(),
        "nft tables": _nft(),
    }


_BEFORE: dict[str, set[str]] = {}


def pytest_sessionstart(session):
    if "BOXKIT_ROOT" not in os.environ:
        os.environ["BOXKIT_ROOT"] = os.environ.get("BOXKIT_TEST_ROOT") or "/var/lib/boxkit-test"
    _BEFORE.update(snapshot())


def pytest_sessionfinish(session, exitstatus):
    import sys

    # end this process's zygote as a finished notebook kernel would (normally at exit)
    container = sys.modules.get("boxkit.runtime.container")
    if container is not None:
        container._shutdown()
    if os.geteuid() == 0 and "boxkit" in sys.modules:
        # what notebook kernels (nbval) left: their groups, and boxkit's empty cgroup base directories
        import time as _t

        import boxkit

        _t.sleep(0.5)
        boxkit.gc()   # waits for a collector an import started in the background
    if os.environ.get("BOXKIT_SKIP_LEAK_CHECK"):
        return
    # containers end asynchronously; give teardown that runs off the critical path a moment
    import time

    deadline = time.monotonic() + 10
    while True:
        after = snapshot()
        leaks = {k: sorted(after[k] - _BEFORE.get(k, set())) for k in after}
        leaks = {k: v for k, v in leaks.items() if v}
        if not leaks or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if leaks:
        lines = [f"  {k}: {', '.join(v[:8])}" for k, v in leaks.items()]
        print("\nLEAK CHECK FAILED — the suite left these on the host:\n" + "\n".join(lines))
        session.exitstatus = 1
    else:
        print("\nleak check: the host holds no new mounts or cgroups, and no boxkit netns, veths or processes")


def is_root() -> bool:
    return os.geteuid() == 0


needs_root = pytest.mark.skipif(not is_root(), reason="needs root: starts real containers")


@pytest.fixture(scope="session")
def learner_repo():
    """The checkout as a non-root learner may read it, wherever the clone lives (tests/learners.py)."""
    from learners import learner_checkout

    with learner_checkout() as d:
        yield d


@pytest.fixture
def tmp_root(monkeypatch):
    """A private BOXKIT_ROOT for one test."""
    with tempfile.TemporaryDirectory(prefix="boxkit-t-") as d:
        monkeypatch.setenv("BOXKIT_ROOT", d)
        yield d
