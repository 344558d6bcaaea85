"""The by-hand container, for real: every step as root, checked by what the helper sees, and that
nothing — no process, no mount, no directory — is left after close(), an exception or a failed step."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from boxkit import _sys, byhand
from boxkit.errors import BoxkitError, SpecError
from boxkit.images import resolve

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: unshares a mount namespace and mounts"),
              pytest.mark.skipif(not shutil.which("busybox"), reason="needs busybox-static (apt-get install busybox-static)")]

ALL = [("unshare", ["mount", "uts", "ipc", "pid"]), ("private", None), ("overlay", None), ("proc", None),
       ("pivot_root", None), ("detach", None), ("hostname", "byhand-test"), ("caps", None)]


def _mountinfo() -> list[str]:
    """The host's mounts that name a by-hand box's directory (its overlay and /proc, had they leaked).
    Not the whole table: other test sessions on this host (podman, ip netns) mount beside us."""
    with open("/proc/self/mountinfo") as f:
        return sorted(line for line in f if "boxkit-byhand-" in line)


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    return not os.path.exists(f"/proc/{pid}")


@pytest.fixture
def host_mounts():
    before = _mountinfo()
    yield before
    assert _mountinfo() == before, "the by-hand box left a mount in the host's mount table"


def test_every_step_does_what_it_says(host_mounts):
    image_ls = sorted(os.listdir(resolve("busybox").layers[-1]))   # busybox is one layer
    with byhand.Box("busybox") as box:
        host = box.state
        helper = box.proc.pid
        changes = {name: box.step(name, arg) for name, arg in ALL}
        assert changes["unshare"].after["pid"] == 1
        assert set(changes["unshare"].new_namespaces) == {"mount", "uts", "ipc", "pid"}
        assert all(m["shared"] is None for m in changes["private"].after["mounts"])
        assert [m["fstype"] for m in changes["overlay"].added] == ["overlay"]
        assert changes["pivot_root"].after["ls"] == sorted([*image_ls, byhand.OLDROOT])
        after = changes["detach"].after
        assert after["ls"] == image_ls
        assert not any(m["point"].startswith("/" + byhand.OLDROOT) for m in after["mounts"])
        assert [m["point"] for m in after["mounts"]] == ["/", "/proc"]
        assert changes["hostname"].after["hostname"] == "byhand-test"
        assert os.uname().nodename == host["hostname"], "the host's hostname changed"
        eff = int(changes["caps"].after["cap_eff"], 16)
        assert eff < int(host["cap_eff"], 16) and not eff & (1 << _sys.CAPABILITIES["CAP_SYS_ADMIN"])
        r = box.exec(["sh", "-c", "echo $$; hostname; ls /proc | grep -c '^[0-9]'"])
        assert r.returncode == 0, r.stderr
        pid, name, procs = r.stdout.split()
        assert (pid, name) == ("1", "byhand-test")
        assert int(procs) <= 3   # sh, ls and grep: the new PID namespace only
    assert _gone(helper)
    assert not os.path.exists(box.tmp)


def test_close_midway_leaves_nothing(host_mounts):
    box = byhand.Box("busybox")
    helper = box.proc.pid
    for name, arg in ALL[:4]:
        box.step(name, arg)
    box.close()
    assert box.closed and _gone(helper) and not os.path.exists(box.tmp)
    with pytest.raises(BoxkitError, match="has ended"):
        box.look()


def test_close_leaves_no_pid_1_for_the_hosts_init_to_reap(host_mounts):
    # killed with its helper, PID 1 would be an orphan (a zombie) until the host's init reaps it
    box = byhand.Box("busybox")
    box.step("unshare", ["mount", "pid"])
    pids = [box.proc.pid, box.pid]
    box.close()
    assert [p for p in pids if os.path.exists(f"/proc/{p}")] == []


def test_exception_in_a_with_block_leaves_nothing(host_mounts):
    with pytest.raises(RuntimeError), byhand.Box("busybox") as box:
        helper = box.proc.pid
        box.step(*ALL[0])
        box.step(*ALL[1])
        raise RuntimeError("a cell failed")
    assert _gone(helper) and not os.path.exists(box.tmp)


def test_a_failing_step_ends_the_box_and_names_the_step(host_mounts):
    box = byhand.Box("busybox")
    helper = box.proc.pid
    box.step("unshare", ["mount"])
    box.step("private")
    os.rmdir(os.path.join(box.tmp, "work"))   # the overlay mount must now fail in the helper
    with pytest.raises(BoxkitError, match="step overlay failed"):
        box.step("overlay")
    assert box.closed and _gone(helper) and not os.path.exists(box.tmp)


def test_a_refused_step_keeps_the_box(host_mounts):
    with byhand.Box("busybox") as box:
        with pytest.raises(SpecError, match="'pivot_root'.*needs overlay"):
            box.step("pivot_root")
        box.step("unshare", ["mount", "uts"])
        assert box.look()["pid"] == box.proc.pid   # no PID namespace: no fork, the helper itself


def test_exec_of_a_missing_command_says_so(host_mounts):
    with byhand.Box("busybox") as box:
        for name, arg in ALL[:6]:
            box.step(name, arg)
        with pytest.raises(BoxkitError, match="cannot execute no-such-program"):
            box.exec(["no-such-program"])
    assert box.closed


def test_an_interrupted_step_leaves_nothing(host_mounts):
    import signal

    box = byhand.Box("busybox")
    helper = box.proc.pid
    box.step("unshare", ["mount", "pid"])
    os.killpg(helper, signal.SIGSTOP)   # the helper cannot answer: the step hangs until ^C

    def interrupt(*_):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            box.step("private")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert box.closed and _gone(helper) and not os.path.exists(box.tmp)


def test_the_helper_dies_with_its_owner(host_mounts, tmp_path):
    import subprocess
    import sys

    owner = subprocess.run([sys.executable, "-c", """
import os, signal
from boxkit import byhand
box = byhand.Box("busybox")
box.step("unshare", ["mount", "pid"]); box.step("private"); box.step("overlay")
print(box.proc.pid, box.tmp, flush=True)
os.kill(os.getpid(), signal.SIGKILL)   # no finalizer, no atexit
"""], capture_output=True, text=True, timeout=30, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    helper, tmp = owner.stdout.split()
    assert _gone(int(helper)), "the helper outlived its owner"
    assert os.path.exists(tmp)   # nobody ran to remove it ...
    with byhand.Box("busybox"):
        assert not os.path.exists(tmp)   # ... until the next Box swept it


def _groups() -> list[str]:
    hierarchy, _ = byhand.memory_controller()
    return sorted(n for n in os.listdir(hierarchy) if n.startswith(byhand.PREFIX))


def test_the_cgroup_step_moves_the_helper_and_its_pid_1_and_close_removes_the_group(host_mounts):
    hierarchy, limit_file = byhand.memory_controller()
    groups = _groups()
    with byhand.Box("busybox") as box:
        ch = box.step("cgroup", 48 << 20)
        group = box.cgroups[0]
        name = group[len(hierarchy):]
        assert os.path.isdir(group) and group.startswith(hierarchy + "/" + byhand.PREFIX)
        with open(f"{group}/{limit_file}") as f:
            assert int(f.read()) == 48 << 20
        assert any(line.endswith(":" + name) for line in ch.after["cgroup"])
        assert not any(line.endswith(":" + name) for line in ch.before["cgroup"])
        box.step("unshare", ["mount", "pid"])
        with open(f"{group}/cgroup.procs") as f:
            procs = sorted(int(p) for p in f.read().split())
        assert procs == sorted([box.proc.pid, box.pid])   # the helper and its PID 1, a child born in it
        helper = box.proc.pid
    assert _gone(helper) and not os.path.exists(group)
    assert _groups() == groups


def test_a_failing_cgroup_step_leaves_no_group(host_mounts):
    groups = _groups()
    box = byhand.Box("busybox")
    box.proc.kill()   # the PID written to cgroup.procs is gone: the write fails (ESRCH)
    box.proc.wait()
    with pytest.raises(BoxkitError, match="step cgroup failed"):
        box.step("cgroup", 48 << 20)
    assert box.closed and _groups() == groups


def test_the_uid_map_step_makes_root_inside_an_ordinary_uid_outside(host_mounts):
    with byhand.Box("busybox") as box:
        ch = box.step("unshare", ["user", "mount"])
        assert ch.after["uid"] == 65534 and ch.after["root_owner"] == 65534   # nothing is mapped yet
        assert all(m["shared"] is None for m in ch.after["mounts"])   # a less privileged copy: slaves
        ch = box.step("uid_map", (100000, 65536))
        assert (ch.after["uid"], ch.after["gid"]) == (0, 0)
        with open(f"/proc/{box.pid}/status") as f:
            status = f.read()
        assert byhand.status_field(status, "Uid").split() == ["100000"] * 4
        assert byhand.status_field(status, "Gid").split() == ["100000"] * 4
        with open(f"/proc/{box.pid}/setgroups") as f:
            assert f.read().strip() == "deny"
        assert int(ch.after["cap_eff"], 16) == (1 << (_sys.SYS.last_cap() + 1)) - 1   # the full set


def test_not_strict_the_kernel_refuses_out_of_order_with_its_errno(host_mounts):
    import errno

    with byhand.Box("busybox", strict=False) as box:
        for name, arg in ALL[:4]:
            box.step(name, arg)
        box.step("caps")
        with pytest.raises(BoxkitError, match="step pivot_root failed") as e:
            box.step("pivot_root")
        assert e.value.errno == errno.EPERM
    assert box.closed and not os.path.exists(box.tmp)
