"""PID 1 in real containers (issue 16, notebook 09): a PID 1 without a handler ignores SIGTERM and
stop() needs SIGKILL; init=True forwards it; orphans stay zombies under a PID 1 that does not reap and
are collected by boxkit-init; the kernel kills the rest of the namespace when PID 1 exits; the
container's cgroup files at /sys/fs/cgroup (cgroupfs=True) give the real limits while /proc/meminfo
gives the host's. Needs root; skips with the reason otherwise."""

from __future__ import annotations

import os
import shutil
import signal
import sys

import pytest

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: starts real containers"),
              pytest.mark.skipif(not shutil.which("busybox"), reason="needs busybox-static (apt-get install busybox-static)")]

PY = os.path.realpath(sys.executable)

# the command: waits for its own child, which leaves three children to PID 1 and exits
ORPHANS = """
import os, time
r, w = os.pipe()
middle = os.fork()
if middle == 0:
    kids = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            os.close(w)
            os.read(r, 1)
            os._exit(0)
        kids.append(pid)
    with open('/tmp/orphans.new', 'w') as f:
        f.write(' '.join(map(str, kids)))
    os.rename('/tmp/orphans.new', '/tmp/orphans')
    os._exit(0)
os.close(r)
os.close(w)
os.waitpid(middle, 0)
time.sleep(300)
"""

SETTLE = """
import os, time
def state(pid):
    try:
        return open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[0]
    except FileNotFoundError:
        return 'gone'
t = time.monotonic()
while not os.path.exists('/tmp/orphans') and time.monotonic() - t < 20:
    time.sleep(0.01)
kids = open('/tmp/orphans').read().split()
t = time.monotonic()
while any(state(k) not in ('Z', 'gone') for k in kids) and time.monotonic() - t < 20:
    time.sleep(0.01)
t = time.monotonic()
while any(state(k) != 'gone' for k in kids) and time.monotonic() - t < 2:
    time.sleep(0.01)
print(' '.join(state(k) for k in kids))
print(' '.join(p for p in os.listdir('/proc') if p.isdigit() and state(p) == 'Z'))
"""


def test_sleep_as_pid1_ignores_sigterm_and_stop_needs_sigkill():
    import boxkit

    c = boxkit.run("busybox", ["sleep", "300"], detach=True)
    try:
        r = c.stop(timeout=1.5)
    finally:
        c.remove()
    assert r.sigkill_after_grace, "sleep as PID 1 has no SIGTERM handler: the kernel drops SIGTERM"
    assert r.signal == signal.SIGKILL and r.exit_code == 137
    assert r.stop_time >= 1.5, "SIGKILL only after the whole grace period"


def test_init_forwards_sigterm_and_stops_at_once():
    import boxkit

    c = boxkit.run("busybox", ["sleep", "300"], detach=True, init=True)
    try:
        assert c.exec(["cat", "/proc/1/comm"]).stdout.strip() == "boxkit-init"
        r = c.stop(timeout=20)   # no sleep before: the reaper forwards from the moment run() returns
    finally:
        c.remove()
    assert not r.sigkill_after_grace and r.exit_code == 128 + signal.SIGTERM and r.signal is None
    assert r.stop_time < 10


def test_init_forwards_a_sigterm_sent_right_after_start():
    import boxkit

    # the reaper's handlers are in place before the start is reported: no SIGTERM is lost
    for _ in range(5):
        c = boxkit.run("busybox", ["sleep", "300"], detach=True, init=True)
        try:
            r = c.stop(timeout=10)
        finally:
            c.remove()
        assert not r.sigkill_after_grace and r.exit_code == 143


def test_a_pid1_that_handles_sigterm_stops_without_sigkill():
    import boxkit

    prog = "import signal, time; signal.signal(signal.SIGTERM, lambda *a: exit(3)); time.sleep(300)"
    c = boxkit.run("host", [PY, "-c", prog], detach=True)
    try:
        # until PID 1 has installed its handler: SigCgt in /proc/1/status (SIGTERM is bit 14 from 0)
        c.exec(["sh", "-c", "until [ $(( 0x$(grep SigCgt /proc/1/status | cut -f2) >> 14 & 1 )) = 1 ]; "
                            "do sleep 0.01; done"], timeout=30)
        r = c.stop(timeout=20)
    finally:
        c.remove()
    assert not r.sigkill_after_grace and r.exit_code == 3


def _orphans(init: bool) -> tuple[list[str], list[str]]:
    import boxkit

    with boxkit.run("host", [PY, "-c", ORPHANS], detach=True, init=init) as c:
        r = c.exec([PY, "-c", SETTLE], timeout=60)
    states, zombies = (r.stdout.splitlines() + ["", ""])[:2]
    return states.split(), zombies.split()


def test_orphans_stay_zombies_under_a_pid1_that_does_not_reap():
    states, zombies = _orphans(init=False)
    assert states == ["Z"] * 3 and len(zombies) == 3, (states, zombies)


def test_boxkit_init_reaps_orphans():
    states, zombies = _orphans(init=True)
    assert states == ["gone"] * 3 and zombies == [], (states, zombies)


def _in_namespace(pid: int) -> list[int]:
    ns = os.readlink(f"/proc/{pid}/ns/pid")
    out = []
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and os.readlink(f"/proc/{p}/ns/pid") == ns:
                out.append(int(p))
        except OSError:
            pass
    return out


def test_when_pid1_exits_the_kernel_kills_the_rest():
    import boxkit

    c = boxkit.run("busybox", "sleep 300 & sleep 300 & sleep 300 & "
                              "while [ ! -e /tmp/go ]; do sleep 0.05; done", detach=True)
    try:
        c.exec("until [ $(ps -o args | grep -c '^sleep 300') = 3 ]; do sleep 0.01; done", timeout=30)
        others = [p for p in _in_namespace(c.pid) if p != c.pid]
        sleepers = [p for p in others if open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")[:2] == [b"sleep", b"300"]]
        assert len(sleepers) == 3
        c.exec("touch /tmp/go")
        r = c.wait(30)
    finally:
        c.remove()
    assert r.exit_code == 0 and not r.timed_out
    assert [p for p in sleepers if os.path.exists(f"/proc/{p}")] == []


def test_cgroupfs_gives_the_real_limits_and_meminfo_the_hosts():
    import boxkit

    read = ("grep MemTotal /proc/meminfo; nproc; "
            "if [ -f /sys/fs/cgroup/memory.max ]; then cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max; "
            "else cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
            "echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us); fi; "
            "touch /sys/fs/cgroup/x 2>/dev/null && echo writable || echo read-only")
    r = boxkit.run("busybox", read, memory="500M", cpus=0.5, cgroupfs=True, timeout=30)
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    host_kb = int(next(x for x in open("/proc/meminfo") if x.startswith("MemTotal")).split()[1])
    assert int(lines[0].split()[1]) == host_kb and int(lines[1]) == os.cpu_count()
    assert int(lines[2]) == 500 * 2**20
    assert [int(x) for x in lines[3].split()] == [50000, 100000]
    assert lines[4] == "read-only"
    plain = boxkit.run("busybox", "ls /sys/fs/cgroup | wc -l", timeout=30)
    assert plain.stdout.strip() == "0", "without cgroupfs=True nothing is mounted there"


def test_host_image_files_are_the_hosts_inodes():
    import boxkit

    r = boxkit.run("host", ["stat", "-L", "-c", "%i", PY, "/etc/passwd"], timeout=30)
    py_ino, passwd_ino = (int(x) for x in r.stdout.split())
    assert py_ino == os.stat(PY).st_ino, "a hard link of the host's file, seen through the overlay"
    assert passwd_ino != os.stat("/etc/passwd").st_ino, "the image's /etc is its own"
