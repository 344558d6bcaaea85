"""The zygote's spare container, prebuilt on the last image: used when the next plan fits it, never
when it could show the wrong root. Real containers; needs root."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from boxkit.runtime.state import proc_state

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: starts real containers"),
              pytest.mark.skipif(not shutil.which("busybox"), reason="needs busybox-static (apt-get install busybox-static)")]

IDLE = 0.3   # the zygote makes its next spare when idle (after a 5 ms grace): give it the time


def _ptrace_refused() -> str | None:
    """Why a vfork'd spare PID 1 cannot be used here (the zygote then forks it), or None."""
    if os.environ.get("BOXKIT_NO_VFORK"):
        return "BOXKIT_NO_VFORK is set"
    from boxkit import _sys

    pid = os.fork()
    if pid == 0:
        time.sleep(5)
        os._exit(0)
    try:
        _sys.SYS.ptrace_seize(pid, _sys.PTRACE_O_EXITKILL)
        return None
    except OSError as e:
        return f"ptrace is refused here ({e.strerror}): spares fork their PID 1"
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)


_NO_VFORK = _ptrace_refused()
needs_vfork = pytest.mark.skipif(_NO_VFORK is not None, reason=str(_NO_VFORK))
needs_prebuild = pytest.mark.skipif(bool(os.environ.get("BOXKIT_NO_PREBUILD")), reason="BOXKIT_NO_PREBUILD is set")


def make_rootfs(root, marker: str) -> str:
    os.makedirs(os.path.join(root, "bin"))
    shutil.copy2(shutil.which("busybox"), os.path.join(root, "bin", "busybox"))
    out = subprocess.run([os.path.join(root, "bin", "busybox"), "--list"], capture_output=True, text=True).stdout
    for applet in out.split():
        if applet != "busybox":
            os.symlink("busybox", os.path.join(root, "bin", applet))
    for d in ("proc", "sys", "dev", "etc", "tmp", "mnt"):
        os.makedirs(os.path.join(root, d))
    with open(os.path.join(root, "etc", "marker"), "w") as f:
        f.write(marker + "\n")
    return str(root)


def root_upper(mountinfo: str) -> str:
    """The upperdir of the overlay mounted on / (mountinfo's super options)."""
    for line in mountinfo.splitlines():
        fields = line.split()
        if fields[4] == "/" and " - overlay " in line:
            opts = line.split(" - ", 1)[1].split()[2]
            return next(o.split("=", 1)[1] for o in opts.split(",") if o.startswith("upperdir="))
    raise AssertionError(f"no overlay on / in:\n{mountinfo}")


@needs_prebuild
def test_the_next_container_of_an_image_starts_in_a_prebuilt_spare(tmp_path):
    import boxkit
    from boxkit import paths

    root = make_rootfs(tmp_path / "r", "one")
    first = boxkit.run(rootfs=root, argv=["cat", "/proc/self/mountinfo"], timeout=30)
    assert first.exit_code == 0, first.stderr
    assert "/spare/" not in root_upper(first.stdout), "a spare built on a root it had never seen"
    time.sleep(IDLE)
    t = time.monotonic()
    with boxkit.run(rootfs=root, argv=["sleep", "30"], hostname="pre", detach=True) as c:
        # the start returns once the command runs (the socket to PID 1 closed at its execve: no
        # other copy of it may live on, in the command or in the spare's first process)
        assert time.monotonic() - t < 5
        upper = root_upper(c.exec(["cat", "/proc/self/mountinfo"]).stdout)
        # the overlay was mounted before the container was asked for, on the spare's directory
        assert "/spare/" in upper, upper
        # which now is the container's: writes land in its upper dir, under its id
        assert c.exec(["sh", "-c", "echo hi > /written"]).exit_code == 0
        with open(os.path.join(paths.container_dir(c.id), "upper", "written")) as f:
            assert f.read() == "hi\n"
        assert c.exec(["cat", "/etc/hostname"]).stdout == "pre\n"
        assert "127.0.1.1\tpre" in c.exec(["cat", "/etc/hosts"]).stdout
        assert c.exec(["cat", "/etc/marker"]).stdout == "one\n"
        assert c.exec(["cat", "/proc/1/comm"]).stdout == "sleep\n"   # still the command as PID 1


def test_a_root_directory_replaced_at_the_same_path_is_not_served_from_the_old_one(tmp_path):
    """The spare holds the old directory mounted; a new one at the same path is a new inode."""
    import boxkit

    root = make_rootfs(tmp_path / "r", "old")
    assert boxkit.run(rootfs=root, argv=["cat", "/etc/marker"], timeout=30).stdout == "old\n"
    time.sleep(IDLE)
    shutil.rmtree(root)
    make_rootfs(root, "new")
    r = boxkit.run(rootfs=root, argv=["cat", "/etc/marker"], timeout=30)
    assert (r.exit_code, r.stdout) == (0, "new\n"), r.stderr


def test_another_image_or_a_volume_is_served_by_the_plain_spare(tmp_path):
    import boxkit

    a = make_rootfs(tmp_path / "a", "a")
    b = make_rootfs(tmp_path / "b", "b")
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "f").write_text("from the host\n")
    assert boxkit.run(rootfs=a, argv=["true"], timeout=30).exit_code == 0
    time.sleep(IDLE)
    assert boxkit.run(rootfs=b, argv=["cat", "/etc/marker"], timeout=30).stdout == "b\n"
    time.sleep(IDLE)
    # the spare now stands on b, whose tree no longer reaches the host: a volume cannot be bound there
    r = boxkit.run(rootfs=b, argv=["cat", "/mnt/v/f", "/etc/marker"], volumes=[f"{vol}:/mnt/v"], timeout=30)
    assert (r.exit_code, r.stdout) == (0, "from the host\nb\n"), r.stderr
    time.sleep(IDLE)
    r = boxkit.run(rootfs=b, argv=["cat", "/mnt/v/f"], volumes=[f"{vol}:/mnt/v:ro"], timeout=30)
    assert (r.exit_code, r.stdout) == (0, "from the host\n"), r.stderr


def test_read_only_and_user_in_a_prebuilt_spare(tmp_path):
    import boxkit

    root = make_rootfs(tmp_path / "r", "x")
    assert boxkit.run(rootfs=root, argv=["true"], timeout=30).exit_code == 0
    time.sleep(IDLE)
    r = boxkit.run(rootfs=root, argv=["sh", "-c", "id -u; cat /etc/hostname; touch /x"], readonly=True,
                   user="1000:1000", hostname="ro", timeout=30)
    lines = r.stdout.splitlines()
    assert lines[:2] == ["1000", "ro"], r.stdout
    assert r.exit_code != 0 and "Read-only file system" in r.stderr


def test_stdin_and_stdout_larger_than_a_pipe_both_ways(tmp_path):
    """One thread feeds stdin and drains stdout and stderr: neither side may block the other."""
    import boxkit

    root = make_rootfs(tmp_path / "r", "x")
    data = os.urandom(1 << 20).hex().encode()   # 2 MiB, 32 pipe buffers
    r = boxkit.run(rootfs=root, argv=["sh", "-c", "cat; cat /etc/marker >&2"], stdin=data, timeout=60)
    assert r.exit_code == 0 and r.stdout.encode() == data and r.stderr == "x\n"
    # a command that never reads its stdin: the feeder stops at the broken pipe, nothing hangs
    t = time.monotonic()
    assert boxkit.run(rootfs=root, argv=["true"], stdin=data, timeout=60).exit_code == 0
    assert time.monotonic() - t < 10


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


@needs_vfork
def test_the_spare_first_process_is_held_then_killed_and_dies_with_a_killed_zygote(tmp_path):
    """A spare's PID 1 runs in its first process's memory, which sleeps in a vfork (D), is stopped by
    ptrace once PID 1 execs (t), then killed when the zygote is idle. If the zygote is killed, the
    kernel kills it (PTRACE_O_EXITKILL): nothing is left running or frozen."""
    import sys

    import boxkit

    root = make_rootfs(tmp_path / "r", "x")
    script = tmp_path / "z.py"
    script.write_text(
        "import sys, time, boxkit\n"
        f"boxkit.run(rootfs={root!r}, argv=['true'])\n"
        "from boxkit.runtime.container import client\n"
        "print(client().proc.pid, flush=True)\n"
        "time.sleep(30)\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        zpid = int(proc.stdout.readline())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:   # the spares (prebuilt and plain): first processes and PID 1s
            kids = {p: proc_state(p) for p in _children(zpid)}
            if len(kids) == 4 and list(kids.values()).count("D") == 2:
                break
            time.sleep(0.05)
        assert len(kids) == 4 and list(kids.values()).count("D") == 2, kids   # first ones sleep in their vfork
        os.kill(zpid, 9)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(proc_state(p) not in (None, "Z") for p in kids):
            time.sleep(0.05)
        assert all(proc_state(p) in (None, "Z") for p in kids), {p: proc_state(p) for p in kids}
    finally:
        proc.kill()
        proc.wait()
        boxkit.gc()


@needs_vfork
def test_the_first_process_is_gone_once_the_zygote_was_idle(tmp_path):
    import boxkit
    from boxkit.runtime.container import client

    root = make_rootfs(tmp_path / "r", "x")
    with boxkit.run(rootfs=root, argv=["sleep", "30"], detach=True) as c:
        time.sleep(IDLE)
        zpid = client().proc.pid
        kids = _children(zpid)
        assert c.pid in kids
        # besides the container: only the spares (a first process in its vfork and a PID 1 each);
        # no first process of an earlier spare, stopped ("t") or alive
        others = {p: proc_state(p) for p in kids if p != c.pid}
        assert len(others) == 4 and list(others.values()).count("D") == 2 and "t" not in others.values(), others
