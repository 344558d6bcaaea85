"""podman drives boxkit-runtime: Debian's podman 4.3 with ``--runtime boxkit-runtime``, on a store of
boxkit's own (boxkit/podman.py: podman left to its defaults leaks mounts and cgroups).

Every run keeps podman's own seccomp profile (``linux.seccomp`` in the bundle, loaded by boxkit-runtime)
and passes 1024:1024 for nofile and nproc: podman asks for a hard limit of 1048576, which needs
CAP_SYS_RESOURCE, missing on this machine kind — runc fails the same way without them."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tarfile

import pytest

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
FLAGS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="podman with an OCI runtime as root: needs root"),
    pytest.mark.skipif(not shutil.which("podman"), reason="needs podman (apt-get install podman)"),
    pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="needs a static busybox (Debian: busybox-static)"),
]


def _runtime() -> str:
    near = os.path.join(os.path.dirname(sys.executable), "boxkit-runtime")
    found = near if os.path.exists(near) else shutil.which("boxkit-runtime")
    if not found:
        pytest.skip("boxkit-runtime is not installed (pip install -e .)")
    return os.path.abspath(found)


def _image_tar(tmp: str) -> str:
    """A busybox root as a tar for ``podman import``: the static busybox and one link per applet."""
    out = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    path = os.path.join(tmp, "busybox.tar")
    with tarfile.open(path, "w") as t:
        for d in ("bin", "etc", "tmp", "proc", "sys", "dev"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            t.addfile(info)
        t.add(BUSYBOX, "bin/busybox")
        for applet in out:
            if applet != "busybox":
                info = tarfile.TarInfo(f"bin/{applet}")
                info.type, info.linkname = tarfile.SYMTYPE, "busybox"
                t.addfile(info)
    return path


@pytest.fixture(scope="module")
def podman(tmp_path_factory):
    from boxkit.podman import Podman

    with Podman() as store:
        store.runtime = _runtime()
        r = store.run("import", "-q", _image_tar(str(tmp_path_factory.mktemp("img"))), "bkbusybox")
        assert r.returncode == 0, r.stderr
        yield store


def test_run_rm_prints_hi(podman):
    r = podman.run("run", "--rm", *FLAGS, "bkbusybox", "echo", "hi")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hi\n"


def test_podmans_seccomp_profile_is_in_force(podman):
    # podman writes its default profile (containers-common) into linux.seccomp; unconfined leaves it out
    r = podman.run("run", "--rm", *FLAGS, "bkbusybox", "sh", "-c", "grep Seccomp: /proc/self/status")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Seccomp:\t2\n", "PID 1 runs under a filter (mode 2)"
    r = podman.run("run", "--rm", *FLAGS, "--security-opt", "seccomp=unconfined", "bkbusybox", "sh", "-c",
                   "grep Seccomp: /proc/self/status")
    assert r.stdout == "Seccomp:\t0\n", (r.stdout, r.stderr)


def test_run_detached_exec_logs_stop_rm(podman):
    r = podman.run("run", "-d", "--name", "bk-d1", *FLAGS, "bkbusybox", "sh", "-c",
                   "trap 'exit 0' TERM; echo started; while true; do sleep 0.1; done")
    assert r.returncode == 0, r.stderr
    try:
        r = podman.run("exec", "bk-d1", "sh", "-c", "echo in-exec; cat /proc/1/cmdline | tr '\\0' ' '")
        assert r.returncode == 0, r.stderr
        assert r.stdout.split("\n")[0] == "in-exec" and "while true" in r.stdout
        r = podman.run("logs", "bk-d1")
        assert r.stdout == "started\n", r.stderr
        r = podman.run("stop", "-t", "10", "bk-d1")
        assert r.returncode == 0, r.stderr
        r = podman.run("inspect", "bk-d1", "--format", "{{.State.Status}} {{.State.ExitCode}}")
        assert r.stdout.split() == ["exited", "0"], "SIGTERM reached the trap: exit 0, not a SIGKILL's 137"
    finally:
        r = podman.run("rm", "-f", "bk-d1")
    assert r.returncode == 0, r.stderr


def test_memory_limit_oom_kills_a_hog(podman, tmp_path):
    # in a directory of its own: conmon 2.1 (Debian) writes its OOM mark, a file named "oom", into its
    # working directory, which podman 4.3 does not read there (so OOMKilled reads false, with runc too)
    argv = podman.argv("run", "--name", "bk-oom", "--memory", "64m", "--memory-swap", "64m", *FLAGS, "bkbusybox",
                       "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes >&2; x=a; while true; do x=$x$x; done")
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    try:
        assert r.stderr.split("\n")[0] == str(64 << 20), "the container sees the limit podman asked for"
        assert r.returncode == 137, "the kernel's OOM killer ended it with SIGKILL (podman reports 128+9)"
        r2 = podman.run("inspect", "bk-oom", "--format", "{{.State.ExitCode}}")
        assert r2.stdout.strip() == "137"
    finally:
        podman.run("rm", "-f", "bk-oom")


def test_interactive_terminal(podman):
    cmd = shlex.join(podman.argv("run", "--rm", "-it", *FLAGS, "bkbusybox", "sh", "-c", "tty; echo done-it"))
    r = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert "/dev/pts/0" in r.stdout and "done-it" in r.stdout, r.stdout


def test_default_network(podman):
    r = podman.run("run", "--rm", *FLAGS, "bkbusybox", "sh", "-c", "ip -4 -o addr show; ip route")
    assert r.returncode == 0, r.stderr
    addrs = [line.split()[1] for line in r.stdout.splitlines() if " inet " in line]
    assert "lo" in addrs and any(a != "lo" for a in addrs), r.stdout   # podman's bridge gave it an interface
    assert "default via" in r.stdout


def test_private_cgroupns_with_cap_sys_admin_reaches_no_release_agent(podman):
    """podman --cgroupns private --cap-add SYS_ADMIN: every v1 hierarchy mounted from inside shows the
    container's own group, named ones too (the bundle's cgroupsPath is podman's /libpod_parent/...).
    With podman's v1 default, the host's cgroup namespace, the bundle decides: docs/oci-runtime.md."""
    from cgroup_escape import SCRIPT, parse, v1_hierarchies

    hierarchies = v1_hierarchies()
    if not hierarchies:
        pytest.skip("no cgroup v1 hierarchy on this host: no release_agent to reach")
    r = podman.run("run", "--rm", *FLAGS, "--cgroupns", "private", "--cap-add", "SYS_ADMIN", "bkbusybox",
                   "sh", "-c", SCRIPT, "sh", *hierarchies)
    assert r.returncode == 0, r.stderr
    seen = parse(r.stdout)
    assert set(seen) == set(hierarchies), r.stdout
    assert all(what == "mounted cgroup=yes release_agent=absent" for what in seen.values()), seen
