# %% [markdown]
# # 09 — PID 1, signals, and what a container shares with the host
#
# Two things the earlier notebooks took for granted.
#
# **PID 1 is special.** The first process of a PID namespace is that namespace's *init*, and the kernel
# treats it as such: a signal it has no handler for is dropped (nobody kills init by accident: from
# inside the namespace not even `SIGKILL` reaches it, from the host only `SIGKILL` and `SIGSTOP` do),
# every orphan of the namespace becomes its child and must be waited
# for by it, and when it exits the kernel kills everything else in the namespace. A container's command
# *is* PID 1, and most commands were never written to be an init.
#
# **"A container reuses what the OS already has"** — half true. Every container runs on the host's one
# kernel: its clock, its memory, its CPUs, its boot. The kernel's *reports* are not namespaced either,
# which is why a program that sizes itself from `/proc/meminfo` or the CPU count sizes itself for the
# whole machine. Files are another matter: a container sees an image's files, which may or may not be
# the host's own.
#
# Every demo below is measured on your kernel; each fact line prints what was measured beside its
# verdict.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit import course

course.start("containers")

# %%
# NBVAL_IGNORE_OUTPUT
import os
import signal
import stat
import sys
import time

import boxkit

PY = os.path.realpath(sys.executable)   # the host image holds this python at its host path

# %% [markdown]
# ## 1. A PID 1 without a SIGTERM handler ignores SIGTERM
#
# `sleep` installs no signal handlers: as an ordinary process a `SIGTERM` ends it (the default action).
# As PID 1 the kernel drops that same signal. `stop(timeout=3)` does what `docker stop` does: `SIGTERM`,
# a grace period of 3 s, then `SIGKILL` — the one signal init cannot refuse. The result says which one
# ended the container and how long it took.

# %%
GRACE = 3
c = boxkit.run("busybox", ["sleep", "300"], detach=True)
r = c.stop(timeout=GRACE)
c.remove()
print(f"ended by signal {r.signal} ({signal.Signals(r.signal).name if r.signal else '-'}), "
      f"SIGTERM was not enough: {r.signal == signal.SIGKILL}")
print(f"stop() needed SIGKILL after the grace period: {r.sigkill_after_grace}")
print(f"stop took {r.stop_time:.1f} s, at least the {GRACE} s grace period: {r.stop_time >= GRACE}")
plain = r

# %% [markdown]
# ## 2. `init=True`: a reaper as PID 1 forwards the signal
#
# With `init=True` (docker's `--init`, which runs `tini`) boxkit's own small init stays PID 1
# (`boxkit-init`), starts the command as PID 2 and forwards `SIGTERM` to it. `sleep` is an ordinary
# process there, the default action applies, and the container ends at once with `128 + 15 = 143`.

# %%
c = boxkit.run("busybox", ["sleep", "300"], detach=True, init=True)
ps = c.exec(["ps", "-o", "pid,comm"]).stdout.split()
r = c.stop(timeout=GRACE)
c.remove()
print(f"PID 1 is {ps[3]}, PID 2 is {ps[5]}: {ps[2:6] == ['1', 'boxkit-init', '2', 'sleep']}")
print(f"exit code {r.exit_code}, the command ended by SIGTERM: {r.exit_code == 128 + signal.SIGTERM}")
print(f"stop() needed SIGKILL: {r.sigkill_after_grace}")
print(f"stop took {r.stop_time:.3f} s, under 1 s: {r.stop_time < 1}")
reaped = r

# %%
# NBVAL_IGNORE_OUTPUT
print(f"docker stop of a plain sleep:  {plain.stop_time:6.3f} s  (SIGKILL after {GRACE} s)")
print(f"docker stop with --init:       {reaped.stop_time:6.3f} s  (SIGTERM, forwarded)")

# %% [markdown]
# A program that *does* handle `SIGTERM` (a web server that drains its connections, `python` with a
# handler) stops cleanly as PID 1 too: the kernel drops only the signals PID 1 left at their default.
#
# ## 3. Zombies: orphans are PID 1's to reap
#
# A process that exits stays a *zombie* (state `Z` in `/proc/PID/stat`) until its parent calls
# `wait()`: the exit status must be kept for someone. A parent that exits first leaves *orphans*, and
# the kernel gives them to the namespace's init. A shell or a service manager waits for them; `sleep`,
# `python` or a JVM as PID 1 never does.
#
# The program below is a well-behaved parent: it starts one child and waits for it. That child starts
# three children of its own and exits without waiting — the three are orphans, re-parented to PID 1,
# and each exits as soon as its parent has gone (it reads a pipe until the end, which comes when the
# last writer exits; no timing). It writes their PIDs to `/tmp/orphans` for us.

# %%
ORPHANS = """
import os, time
r, w = os.pipe()
middle = os.fork()
if middle == 0:
    kids = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:                     # an orphan to be: ends once the middle process has gone
            os.close(w)
            os.read(r, 1)
            os._exit(0)
        kids.append(pid)
    with open('/tmp/orphans.new', 'w') as f:
        f.write(' '.join(map(str, kids)))
    os.rename('/tmp/orphans.new', '/tmp/orphans')
    os._exit(0)                          # leaves its three children to PID 1
os.close(r)
os.close(w)
os.waitpid(middle, 0)                    # the command waits for its own child, never for orphans
time.sleep(300)
"""

# run inside the container: wait (at most 20 s) until the orphans have exited, then give PID 1 two
# seconds to reap them; print each orphan's state and every zombie of the PID namespace
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


def orphans(init):
    with boxkit.run("host", [PY, "-c", ORPHANS], detach=True, init=init) as c:
        r = c.exec([PY, "-c", SETTLE], timeout=60)
        pid1 = c.exec(["cat", "/proc/1/comm"]).stdout.strip()
    states, zombies = (r.stdout.splitlines() + ["", ""])[:2]
    return pid1, states.split(), zombies.split()


pid1, states, zombies = orphans(init=False)
print(f"the orphans' states: {' '.join(states)}; PID 1 is {pid1}, not a reaper: {pid1 != 'boxkit-init'}")
print(f"zombies under a PID 1 that does not reap: {len(zombies)} — {len(zombies) == 3}")

# %%
pid1, states, zombies = orphans(init=True)
print(f"the orphans' states: {' '.join(states)}; PID 1 is {pid1}: {pid1 == 'boxkit-init'}")
print(f"zombies under boxkit-init: {len(zombies)} — {len(zombies) == 0}")
print(f"every orphan reaped (gone from /proc): {states == ['gone'] * 3}")

# %% [markdown]
# A zombie holds no memory and no CPU, only its PID and its exit status. But PIDs are a limited
# resource — `pids.max` of the container's cgroup counts zombies (notebook 02's fork bomb stopped at
# it), and so does the kernel's `pid_max` — so a long-running container whose PID 1 never reaps slowly
# runs out of processes it may start.
#
# ## 4. When PID 1 exits, the kernel kills the rest
#
# PID 1 below starts three background `sleep 300`s and waits for a file to appear. From the host we
# find the container's processes by their PID namespace (`/proc/PID/ns/pid` names it), then create the
# file: PID 1 exits normally — and the three sleepers do not outlive it. The kernel sends `SIGKILL` to
# every process of a PID namespace whose init exits (`zap_pid_ns_processes`): a container cannot leave
# processes behind on the host.

# %%
def in_namespace(pid):
    """The host PIDs of every process in ``pid``'s PID namespace."""
    ns = os.readlink(f"/proc/{pid}/ns/pid")
    found = []
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and os.readlink(f"/proc/{p}/ns/pid") == ns:
                found.append(int(p))
        except OSError:
            pass   # ended meanwhile
    return sorted(found)


c = boxkit.run("busybox", "sleep 300 & sleep 300 & sleep 300 & "
                          "while [ ! -e /tmp/go ]; do sleep 0.05; done; echo PID 1 exits", detach=True)
c.exec("until [ $(ps -o args | grep -c '^sleep 300') = 3 ]; do sleep 0.01; done")
sleepers = [p for p in in_namespace(c.pid)
            if open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")[:2] == [b"sleep", b"300"]]
c.exec("touch /tmp/go")
r = c.wait(30)
c.remove()
left = [p for p in sleepers if os.path.exists(f"/proc/{p}")]
print(f"background sleepers before: {len(sleepers)} — {len(sleepers) == 3}")
print(f"PID 1 exited by itself with code {r.exit_code}: {r.exit_code == 0 and r.stdout == 'PID 1 exits' + chr(10)}")
print(f"sleepers still running afterwards: {len(left)} — {len(left) == 0}")

# %% [markdown]
# This is why `init=True` (and tini) end when their command ends: the kernel takes care of whatever the
# command left running. It is also why a PID 1 that crashes takes the whole container down.
#
# ## 5. One kernel
#
# Now the seed's last claim. What a container *reuses* is above all the host's kernel — not a copy of
# it, the same running one. Its release, and its *boot id* (a random UUID the kernel draws at boot,
# `/proc/sys/kernel/random/boot_id`), are the host's.

# %%
r = boxkit.run("busybox", "uname -r; cat /proc/sys/kernel/random/boot_id")
inside_release, inside_boot = r.stdout.split()
host_release = os.uname().release
host_boot = open("/proc/sys/kernel/random/boot_id").read().strip()
print(f"kernel release inside {inside_release}, on the host {host_release}: {inside_release == host_release}")
print(f"boot id the same as the host's: {inside_boot == host_boot}")

# %% [markdown]
# ## 6. The kernel's reports are the host's: the JVM surprise
#
# A container limited to **500 MB** of memory and **0.5 CPU** (notebook 02 showed both enforced) asks
# the kernel how big the machine is. `/proc/meminfo` and the CPU count are not namespaced: it is told
# the host's totals. A JVM before Java 10 (and 8u191 for Java 8) sized its default heap as a quarter of `MemTotal` and
# its thread pools by the CPU count — inside a 500 MB container on a large host it planned for the
# host, and was OOM-killed. The same holds for `nproc`, `os.cpu_count()`, `free` and most runtimes'
# defaults.
#
# A *cgroup-aware* program reads the real limit where docker puts it: the container's own cgroup files,
# mounted read-only at `/sys/fs/cgroup` (`cgroupfs=True` here; in a cgroup namespace the container's
# group is that tree's root). On cgroup v1 the limits are `memory/memory.limit_in_bytes` and
# `cpu/cpu.cfs_quota_us` ÷ `cpu.cfs_period_us`; on v2 `memory.max` and `cpu.max` (`quota period`).
# That is what Java 10+ (`-XX:+UseContainerSupport`), Go's `automaxprocs` and .NET do.

# %%
# boxkit: needs cgroups
READ = ("grep MemTotal /proc/meminfo; nproc; "
        "if [ -f /sys/fs/cgroup/memory.max ]; then cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max; "
        "else cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
        "echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us); fi")
r = boxkit.run("busybox", READ, memory="500M", cpus=0.5, cgroupfs=True)
lines = r.stdout.splitlines()
mem_inside_kb, nproc_inside = int(lines[0].split()[1]), int(lines[1])
limit_bytes = int(lines[2])
quota, period = (int(x) for x in lines[3].split())
host_kb = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
print(f"MemTotal inside {mem_inside_kb // 1024} MiB, the host's {host_kb // 1024} MiB: {mem_inside_kb == host_kb}")
print(f"nproc inside {nproc_inside}, the host's CPUs {os.cpu_count()}: {nproc_inside == os.cpu_count()}")
print(f"the real memory limit, from the cgroup files: {limit_bytes // 2**20} MiB — {limit_bytes == 500 * 2**20}")
print(f"the real CPU limit: {quota} / {period} µs = {quota / period} CPU — {quota / period == 0.5}")

# %% [markdown]
# A JVM that believed `MemTotal` would have planned a heap of a quarter of the host's memory:

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
print(f"a quarter of MemTotal: {mem_inside_kb // 4 // 1024} MiB; the container may use {limit_bytes // 2**20} MiB")

# %% [markdown]
# LXCFS (used by LXD and some Kubernetes set-ups) goes further: it mounts FUSE files over
# `/proc/meminfo` and `/proc/cpuinfo` that report the cgroup's limits. Docker and boxkit do not.
#
# ## 7. Files: the host's own inodes, or the image's
#
# The `host` image was built from the host's programs and libraries by *hard links* (boxkit's image
# store is on the same file system here; on another one they would be copies): the same inode, the same
# pages in the page cache, no extra disk. An overlay over one file system reports the underlying file's
# inode number, so `stat` inside a container shows it. Its `/etc` is its own, written when the image
# was built.
#
# The `busybox` image has one file of the host's (the static `busybox` binary, linked the same way);
# everything else is its own: `/bin/sh` there is a link to busybox, not the host's `dash`, and its
# `/etc/passwd` is its own. An image pulled from a registry (`boxkit pull`) or built from a Dockerfile
# brings its own copy of every file: its layers are unpacked into the image store.

# %%
# boxkit: needs root
def inodes(image, paths):
    r = boxkit.run(image, ["stat", "-L", "-c", "%i"] + paths)
    return [int(x) for x in r.stdout.split()]


def host_inode(path):
    return os.stat(path).st_ino


for image, paths in (("host", [PY, "/bin/sh", "/etc/passwd"]), ("busybox", ["/bin/busybox", "/bin/sh", "/etc/passwd"])):
    for path, ino in zip(paths, inodes(image, paths)):
        name = "the host's python" if path == PY else path
        print(f"{image:8} {name:18} the host's own inode: {ino == host_inode(path)}")

# %%
# boxkit: needs root
from boxkit.images import resolve

layer = resolve("host").layers[-1]
same = own = 0
for dirpath, _dirs, names in os.walk(layer):
    for name in names:
        st = os.lstat(os.path.join(dirpath, name))
        if not stat.S_ISREG(st.st_mode):
            continue
        host_path = os.path.join("/", os.path.relpath(dirpath, layer), name)
        try:
            h = os.stat(host_path)
        except OSError:
            own += 1
            continue
        if (h.st_dev, h.st_ino) == (st.st_dev, st.st_ino):
            same += 1
        else:
            own += 1
print(f"files of the host image that are the host's own inodes: {same} of {same + own}, "
      f"more than 90 %: {same > 0.9 * (same + own)}")

# %% [markdown]
# ## What was proved
#
# * `sleep` as PID 1 ignored `SIGTERM`: `stop()` waited out the grace period and needed `SIGKILL`.
#   With `init=True` the reaper forwarded `SIGTERM`, and the container stopped at once (exit 143).
# * Three orphans stayed zombies under a PID 1 that does not reap; `boxkit-init` collected them all.
# * When PID 1 exited, the kernel killed the three processes it left running.
# * One kernel: the same release and the same boot id inside as on the host.
# * The kernel's reports are the host's: a 500 MB / 0.5 CPU container sees the host's `MemTotal` and
#   CPU count; the real limits are in its cgroup files, where cgroup-aware programs read them.
# * Files: the `host` image's programs are the host's own inodes (hard links); `busybox` shares only
#   its one binary; every image's `/etc` is its own.
#
# **Try next:** run `python` with a `SIGTERM` handler as PID 1 —
# `boxkit.run("host", [PY, "-c", "import signal, time; signal.signal(signal.SIGTERM, lambda *a: exit(0)); time.sleep(300)"], detach=True)` —
# and `stop()` it. Which exit code, and did it need `SIGKILL`?
