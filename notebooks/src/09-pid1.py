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
# kernel: its wall clock (a time namespace may shift only the monotonic and boot-time clocks), its
# memory, its CPUs, its boot. The kernel's *reports* are not namespaced either, which is why a program
# that sizes itself from `/proc/meminfo` or the count of online CPUs sizes itself for the whole
# machine. Files are another matter: a container sees an image's files, which may or may not be
# the host's own. The end of the notebook puts the seed's sentence beside what the run showed.
#
# Every demo below is measured on your kernel; each fact line prints what was measured beside its
# verdict, and reads `True` when the kernel did what the text says.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit import course

course.start("containers")

# %%
# NBVAL_IGNORE_OUTPUT
import os
import signal
import sys

import boxkit
from boxkit import workloads

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
name = signal.Signals(r.signal).name if r.signal else "no signal"
killed = r.signal == signal.SIGKILL and r.sigkill_after_grace
print(f"ended by {name} after the grace period (exit code {r.exit_code}): {killed}")
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
term = r.exit_code == 128 + signal.SIGTERM and not r.sigkill_after_grace
print(f"ended on the SIGTERM, no SIGKILL (exit code {r.exit_code} = 128 + 15): {term}")
print(f"stop took {r.stop_time:.3f} s, under 1 s: {r.stop_time < 1}")
reaped = r

# %% [markdown]
# The two stops on one time axis, drawn from the times just measured:

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit.viz.shared import stop_timeline_figure

stop_timeline_figure([("sleep as PID 1", plain.stop_time, plain.sigkill_after_grace),
                      ("init=True (boxkit-init)", reaped.stop_time, reaped.sigkill_after_grace)],
                     grace=GRACE)

# %% [markdown]
# A program that *does* handle `SIGTERM` (a web server that drains its connections, `python` with a
# handler) stops cleanly as PID 1 too: the kernel drops only the signals PID 1 left at their default.
#
# ## 3. Zombies: orphans are PID 1's to reap
#
# A process that exits stays a *zombie* (state `Z` in `/proc/PID/stat`) until its parent calls
# `wait()`: the exit status must be kept for someone. A parent that exits first leaves *orphans*, and
# the kernel gives them to the namespace's init (or to a nearer ancestor that made itself a *child
# subreaper* with `prctl(PR_SET_CHILD_SUBREAPER)`, as `tini -s` does when it is not PID 1). A shell
# or a service manager waits for them; `sleep`, `python` or a JVM as PID 1 never does.
#
# The command below (`workloads.orphans`; `print(workloads.ORPHANS)` shows the program) is a
# well-behaved parent: it starts one child and waits for it. That child starts three children of its
# own and exits without waiting — the three are orphans, re-parented to PID 1, and each exits as soon
# as its parent has gone (it reads a pipe until the end, which comes when the last writer exits; no
# timing). A second program, exec'd next to it (`workloads.orphan_states`), prints the orphans'
# states and every zombie of the namespace.

# %%
def zombies(init):
    """PID 1's name, the three orphans' states, the namespace's zombies."""
    with boxkit.run("host", workloads.orphans(PY), detach=True, init=init) as c:
        r = c.exec(workloads.orphan_states(PY), timeout=60)
        pid1 = c.exec(["cat", "/proc/1/comm"]).stdout.strip()
    states, found = (r.stdout.splitlines() + ["", ""])[:2]
    return pid1, states.split(), found.split()


pid1, states, found = zombies(init=False)
print(f"PID 1 is {pid1}, not a reaper: {pid1 != 'boxkit-init'}")
print(f"the orphans' states ({' '.join(states)}), all zombies: {states == ['Z'] * 3}")
print(f"zombies in the namespace ({len(found)}), the three orphans: {len(found) == 3}")

# %%
pid1, states, found = zombies(init=True)
print(f"PID 1 is {pid1}: {pid1 == 'boxkit-init'}")
print(f"the orphans' states ({' '.join(states)}), all reaped and gone: {states == ['gone'] * 3}")
print(f"zombies in the namespace ({len(found)}), none: {len(found) == 0}")

# %% [markdown]
# A zombie holds no user memory and no CPU time: its pages and open files were freed when it exited.
# What stays is the kernel's record of it — its `task_struct` (a few KiB of kernel memory), its PID and
# its exit status — until it is reaped. PIDs are a limited resource: `pids.max` of the container's
# cgroup counts zombies (notebook 02's fork bomb stopped at it), and so does the kernel's `pid_max`,
# so a long-running container whose PID 1 never reaps slowly runs out of processes it may start.
#
# ## 4. When PID 1 exits, the kernel kills the rest
#
# PID 1 below starts three background `sleep 300`s and waits for a file to appear. From the host we
# find the container's processes by their PID namespace (`/proc/PID/ns/pid` names it), then an
# `exec` creates the file inside: PID 1 exits normally — and the three sleepers, looked for on the
# host as soon as PID 1 has ended (before boxkit cleans anything up), did not outlive it. The kernel sends `SIGKILL` to
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


PID1 = ("sleep 300 & sleep 300 & sleep 300 & "
        "while [ ! -e /tmp/go ]; do sleep 0.05; done; echo PID 1 exits")
c = boxkit.run("busybox", PID1, detach=True)
c.exec("until [ $(ps -o args | grep -c '^sleep 300') = 3 ]; do sleep 0.01; done")
sleepers = [p for p in in_namespace(c.pid)
            if open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")[:2] == [b"sleep", b"300"]]
c.exec("touch /tmp/go")
r = c.wait(30)
left = [p for p in sleepers if os.path.exists(f"/proc/{p}")]   # before remove() cleans up
c.remove()
print(f"background sleepers before ({len(sleepers)}), three: {len(sleepers) == 3}")
by_itself = r.exit_code == 0 and r.stdout == "PID 1 exits\n"
print(f"PID 1 exited by itself (exit code {r.exit_code}, said {r.stdout.strip()!r}): {by_itself}")
print(f"sleepers still running afterwards ({len(left)}), none: {len(left) == 0}")

# %% [markdown]
# `tini` and `boxkit-init` exit as soon as their command exits: that is their design (docker's `--init`
# ties the container's life to the command's). What makes it safe is what this section showed: when
# the init exits, the kernel (`zap_pid_ns_processes`) kills whatever the command left running, so
# nothing of the container outlives it. It is also why a PID 1 that crashes takes the whole container
# down.
#
# ## 5. One kernel
#
# Now the seed's last claim. What a container *reuses* is above all the host's kernel — not a copy of
# it, the same running one. Its release, and its *boot id* (a random UUID the kernel draws at boot,
# `/proc/sys/kernel/random/boot_id`), are the host's; so is the machine architecture `uname -m` names.

# %%
# NBVAL_IGNORE_OUTPUT
r = boxkit.run("busybox", "uname -r; uname -m; cat /proc/sys/kernel/random/boot_id")
inside_release, inside_machine, inside_boot = r.stdout.split()
host = os.uname()
host_boot = open("/proc/sys/kernel/random/boot_id").read().strip()
print(f"kernel release inside {inside_release}, on the host {host.release}: "
      f"{inside_release == host.release}")
print(f"boot id inside {inside_boot}, on the host {host_boot}: {inside_boot == host_boot}")
print(f"architecture inside {inside_machine}, on the host {host.machine}: "
      f"{inside_machine == host.machine}")

# %% [markdown]
# This is also the limit of "runs the same everywhere". An image holds machine code for one
# architecture (the one printed above) that calls one kernel's system-call interface. It runs
# unchanged on any host of that architecture whose Linux kernel offers the system calls and features
# it uses — but not on another architecture (an `arm64` image on an `x86_64` host needs an emulator),
# and on macOS or Windows, docker runs Linux containers inside a Linux virtual machine.
#
# ## 6. The kernel's reports are the host's: the JVM surprise
#
# A container limited to **500 MiB** of memory and **0.5 CPU** (notebook 02 showed both enforced) asks
# the kernel how big the machine is. `/proc/meminfo` is not namespaced: it is told the host's total.
# A JVM before Java 10 (and 8u191 for Java 8) sized its default heap as a quarter of `MemTotal` and its
# thread pools by the CPU count — inside a 500 MiB container on a large host it planned for the host,
# and was OOM-killed. `free`, `top` and any program that sizes itself from these files are fooled the
# same way.
#
# A *cgroup-aware* program reads the real limit where docker puts it: the container's own cgroup files,
# mounted read-only at `/sys/fs/cgroup` (`cgroupfs=True` here; in a cgroup namespace the container's
# group is that tree's root). On cgroup v1 the limits are `memory/memory.limit_in_bytes` and
# `cpu/cpu.cfs_quota_us` ÷ `cpu.cfs_period_us`; on v2 `memory.max` and `cpu.max` (`quota period`).
# That is what Java 10+ (`-XX:+UseContainerSupport`), Go's `automaxprocs` and .NET do.

# %%
# boxkit: needs cgroups
READ = ("grep MemTotal /proc/meminfo; cd /sys/fs/cgroup; "
        "if [ -f memory.max ]; then cat memory.max cpu.max; "
        "else cat memory/memory.limit_in_bytes; "
        "echo $(cat cpu/cpu.cfs_quota_us) $(cat cpu/cpu.cfs_period_us); fi")
r = boxkit.run("busybox", READ, memory="500M", cpus=0.5, cgroupfs=True)
lines = r.stdout.splitlines()
mem_inside_kb = int(lines[0].split()[1])
limit_bytes = int(lines[1])
quota, period = (int(x) for x in lines[2].split())
host_kb = next(int(x.split()[1]) for x in open("/proc/meminfo") if x.startswith("MemTotal"))
print(f"MemTotal inside {mem_inside_kb // 1024} MiB, the host's {host_kb // 1024} MiB: "
      f"{mem_inside_kb == host_kb}")
print(f"the real memory limit, from the cgroup files ({limit_bytes // 2**20} MiB), 500 MiB: "
      f"{limit_bytes == 500 * 2**20}")
print(f"the real CPU limit ({quota} / {period} µs = {quota / period} CPU), half a CPU: "
      f"{quota / period == 0.5}")

# %% [markdown]
# A JVM that believed `MemTotal` would have planned a heap of a quarter of the host's memory:

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
print(f"a quarter of MemTotal: {mem_inside_kb // 4 // 1024} MiB; "
      f"the container may use {limit_bytes // 2**20} MiB")

# %% [markdown]
# The CPU count is subtler, because "how many CPUs" has three answers. `os.cpu_count()` (and
# `/proc/cpuinfo`) report the CPUs the kernel has online — the host's, always. `sched_getaffinity`
# reports the CPUs this process may run on, which a **cpuset** (`cpuset_cpus="0"`, docker's
# `--cpuset-cpus`) narrows. A CFS **quota** (`cpus=0.5`, docker's `--cpus`) narrows neither: the
# process may still run on every CPU, only for less time per period; the third answer, the quota, is
# only in the cgroup files read above. So the affinity follows a cpuset and not a quota, and
# `os.cpu_count()` follows neither (`os.process_cpu_count()`, new in Python 3.13, follows the
# affinity). GNU `nproc` prints the affinity; its releases from 2025 on also take a cgroup v2 quota
# (`cpu.max`) into account, so under a quota what `nproc` prints depends on its version. The same program in
# three containers, with the host's `nproc`:

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
COUNT = "import os; print(os.cpu_count(), len(os.sched_getaffinity(0)))"
RUNS = {"no limit": {}, "cpus=0.5": {"cpus": 0.5}, "cpuset_cpus=0": {"cpuset_cpus": "0"}}
print(boxkit.run("host", "nproc --version").stdout.splitlines()[0])
seen = {}
for label, limits in RUNS.items():
    r = boxkit.run("host", f"nproc; {PY} -c '{COUNT}'", **limits)
    seen[label] = [int(x) for x in r.stdout.split()]
    nproc, cpu_count, affinity = seen[label]
    print(f"{label:14} nproc {nproc}, os.cpu_count() {cpu_count}, "
          f"sched_getaffinity {affinity}")

# %%
# boxkit: needs cgroups
host_cpus = os.cpu_count()
by_quota, by_cpuset = seen["cpus=0.5"], seen["cpuset_cpus=0"]
print(f"with a quota, the affinity is the host's count ({by_quota[2]} of {host_cpus}): "
      f"{by_quota[2] == host_cpus}")
print(f"with a cpuset of one CPU, the affinity is 1 and nproc says so ({by_cpuset[2]}, "
      f"{by_cpuset[0]}): {by_cpuset[2] == by_cpuset[0] == 1}")
print(f"os.cpu_count() is the host's count under both ({by_quota[1]} and {by_cpuset[1]} "
      f"of {host_cpus}): {by_quota[1] == by_cpuset[1] == host_cpus}")

# %% [markdown]
# `/proc/meminfo` and `/proc/cpuinfo` could be made to tell the truth: LXCFS (used by LXD and some
# Kubernetes set-ups) mounts FUSE files over them that report the cgroup's limits. Docker and boxkit
# do not.
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
# everything else is its own: `/bin/sh` there is the image's symbolic link to that busybox, not
# the host's `/bin/sh`, and its `/etc/passwd` is its own. An image pulled from a registry (`boxkit pull`) or built from a Dockerfile
# brings its own copy of every file: its layers are unpacked into the image store.
#
# Each line below names the file, the inode number `stat -L` (which follows symbolic links) finds
# inside the container, the inode of the host file the text says it is, and the inode of the host's
# file at the same path.

# %%
# boxkit: needs root
# (image, path inside, the host file it is, or None for a file of the image's own)
EXPECT = [("host", PY, PY), ("host", "/bin/sh", "/bin/sh"), ("host", "/etc/passwd", None),
          ("busybox", "/bin/busybox", "/bin/busybox"), ("busybox", "/bin/sh", "/bin/busybox"),
          ("busybox", "/etc/passwd", None)]
inside = {}
for image in ("host", "busybox"):
    paths = [p for i, p, _ in EXPECT if i == image]
    r = boxkit.run(image, ["stat", "-L", "-c", "%i"] + paths)
    inside.update({(image, p): int(x) for p, x in zip(paths, r.stdout.split())})
for image, path, is_host in EXPECT:
    ino, same_path = inside[image, path], os.stat(path).st_ino
    name = "the host's python" if path == PY else path
    if is_host is None:
        print(f"{image:8} {name:18} inode {ino}, the host's {same_path}, "
              f"a file of the image's own: {ino != same_path}")
    elif is_host == path:
        print(f"{image:8} {name:18} inode {ino}, the host's {same_path}, the host's own file: "
              f"{ino == same_path}")
    else:
        target = os.stat(is_host).st_ino
        print(f"{image:8} {name:18} inode {ino}, the host's {same_path}; it is the host's "
              f"{is_host} ({target}): {ino == target != same_path}")

# %% [markdown]
# ## 8. Only the pieces it needs
#
# The seed's sentence has a second half: the container "only carries the pieces it needs". For the
# `host` image's machine code that is literal. `boxkit/images/base.py` lists programs
# (`HOST_PROGRAMS`: `sh`, `ls`, `ps`, ...) plus the python that runs boxkit, and adds every file their
# ELF headers name: the *dynamic loader* (`PT_INTERP`) and each shared library (`DT_NEEDED`), then the
# libraries those name, until nothing new appears (`boxkit/images/elf.py` reads the headers without
# running anything). Python's own modules are another matter: no header names them, so the image takes
# python's standard library whole (less its tests and GUI modules) — whether a program imports a
# module or not. The counts below show how much of the image that is.
#
# The tree below is that walk for one program, python — with `_ssl`, the extension module python opens
# at run time (`dlopen`) for `import ssl`. Each file sits under the first file that names it; `libc`
# is named by several. Below the tree, the whole image beside the host's files: how many of them it
# holds, and how many bytes it adds on disk.

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root
import _ssl

from boxkit import sharing
from boxkit.images import resolve
from boxkit.viz.shared import closure_figure

tree = sharing.closure_tree(PY, loads=[_ssl.__file__])
counted = sharing.census(resolve("host").layers[-1])
closure_figure(tree, counted)

# %%
# boxkit: needs root
import sysconfig

n = counted.shared + counted.own
print(f"files of the host image that are the host's own inodes ({counted.shared} of {n}), "
      f"more than 90 %: {counted.shared > 0.9 * n}")
stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
in_stdlib = sum(len(files) for _d, _s, files in os.walk(resolve("host").layers[-1] + stdlib))
print(f"files of python's standard library, taken whole ({in_stdlib} of {n}), most of the image: "
      f"{in_stdlib > n / 2}")
share = counted.shared / counted.host_files
print(f"the host's files the image holds ({counted.shared} of {counted.host_files}, "
      f"{share:.1%}), under a tenth: {share < 0.1}")
extra = counted.own_bytes / counted.shared_bytes
print(f"bytes the image adds on disk ({counted.own_bytes // 1024} KiB beside "
      f"{counted.shared_bytes // 2**20} MiB of the host's files), under 1 %: {extra < 0.01}")

# %% [markdown]
# The other road to "only what it needs" is the `busybox` image: one **statically linked** program
# (no `PT_INTERP`, no libraries: every library function it calls is inside it) that is `sh`, `ls`,
# `ps` and hundreds more, chosen by the name it is started under (`argv[0]`). Each of those programs
# is a symbolic link to it; besides them the image holds only a few configuration files.

# %%
# boxkit: needs root
import stat

from boxkit.images.base import BUSYBOX
from boxkit.images.elf import read_elf

info = read_elf(BUSYBOX)
static = info is not None and info.interp is None and not info.needed
if info.interp:
    print(f"{BUSYBOX} is static (loader: {info.interp}, {len(info.needed)} libraries "
          f"needed): {static}")
else:
    print(f"{BUSYBOX} is static (loader: none, {len(info.needed)} libraries "
          f"needed): {static}")
kinds = {"file": 0, "link": 0, "other": 0}
for dirpath, dirs, names in os.walk(resolve("busybox").layers[-1]):
    for entry in names:
        path = os.path.join(dirpath, entry)
        to_busybox = os.path.islink(path) and os.readlink(path) == BUSYBOX
        regular = stat.S_ISREG(os.lstat(path).st_mode)
        kinds["file" if regular else "link" if to_busybox else "other"] += 1
print(f"programs of the busybox image that are symlinks to {BUSYBOX} ({kinds['link']}), "
      f"more than 100: {kinds['link'] > 100}")
print(f"regular files of the busybox image, busybox and a few configuration files "
      f"({kinds['file']}), under 10: {kinds['file'] < 10}")

# %% [markdown]
# ## 9. The same pages in memory
#
# A hard link saves disk. It saves memory too: a file's contents are cached once in the kernel's *page
# cache*, and every process that maps the file maps those same physical pages — whether it runs on
# the host or in a container, because the overlay hands the real file to `mmap`. The kernel shows it:
# `/proc/PID/pagemap` holds, for each virtual page of a process, the number of the physical page frame
# behind it (the frame numbers need root to read).
#
# Two containers of the `host` image run the same python. For the code of `libpython` (or of python
# itself, where it has no separate library) we compare the frames of each page both have mapped — and
# the frames of the python running this notebook, on the host.

# %%
# boxkit: needs root
READY = "open('/tmp/ready', 'w').close(); import time; time.sleep(300)"
a = boxkit.run("host", [PY, "-c", READY], detach=True)
b = boxkit.run("host", [PY, "-c", READY], detach=True)
try:
    for c in (a, b):
        c.exec("until [ -e /tmp/ready ]; do sleep 0.01; done")
    maps = {who: sharing.text_mapping(pid) for who, pid in
            (("a", a.pid), ("b", b.pid), ("host", os.getpid()))}
    pages = {who: sharing.frames(pid, maps[who]) for who, pid in
             (("a", a.pid), ("b", b.pid), ("host", os.getpid()))}
finally:
    a.remove()
    b.remove()
m = maps["a"]
host_ino = maps["host"].inode
print(f"both containers map {os.path.basename(m.path)}, inode {m.inode} and {maps['b'].inode}, "
      f"as the host's python does ({host_ino}): {m.inode == maps['b'].inode == host_ino}")
both, same = sharing.same_frames(pages["a"], pages["b"])
print(f"code pages both containers have mapped ({both}), at the same physical frames ({same}): "
      f"{both > 0 and same == both}")
both, same = sharing.same_frames(pages["a"], pages["host"])
print(f"code pages a container and this notebook's python share ({both}), at the same frames "
      f"({same}): {both > 0 and same == both}")

# %% [markdown]
# ## The seed's last claim, and what the run showed
#
# | the seed says | what this notebook measured |
# |---|---|
# | "The same idea lets a container reuse what already exists in the operating system, …" | It reuses the host's **one kernel**, always: the same release and boot id inside (§5). The host's *files* are reused only when the image is made of them: the `host` image's programs are the host's inodes (§7) and run from the same pages in memory (§9). An image from a registry brings its own copy of its files — but images reuse each other's layers (notebook 03: 2.0 kept 1.0's), and every container of an image runs on that one copy. |
# | "… so it only carries the pieces it needs to work, …" | True of the machine code of the images boxkit builds: the `host` image is a program list plus its ELF closure, a small share of the host's files at almost no extra disk (§8) — though most of its files are python's standard library, taken whole; `busybox` is one static binary. Many registry images carry a whole distribution's userland. |
# | "… which keeps the container light." | Light, because nothing is booted and starting one copies no file: a container is host processes in namespaces. But not isolated by namespaces alone: the kernel's reports (`MemTotal`, the count of online CPUs) are the host's (§6), and notebook 06 showed the other layers a container needs. And "runs anywhere" holds for one architecture and kernel interface (§5). |
#
# In the seed's own words (pt-BR): *"E esse conceito serve também com o container aproveitando as
# dependências que já existe no sistema operacional, assim ele só tem os pedaços que ele precisa para
# funcionar, deixando o container leve."*
#
# ## What was proved
#
# * `sleep` as PID 1 ignored `SIGTERM`: `stop()` waited out the grace period and needed `SIGKILL`.
#   With `init=True` the reaper forwarded `SIGTERM`, and the container stopped at once (exit 143).
# * Three orphans stayed zombies under a PID 1 that does not reap; `boxkit-init` collected them all.
# * When PID 1 exited, the kernel killed the three processes it left running.
# * One kernel: the same release, boot id and architecture inside as on the host.
# * The kernel's reports are the host's: a 500 MiB / 0.5 CPU container sees the host's `MemTotal`; the
#   real limits are in its cgroup files. The CPU affinity follows a cpuset, not a quota;
#   `os.cpu_count()` follows neither.
# * Files: the `host` image's programs are the host's own inodes (hard links) — its python's closure
#   drawn as a tree, the image a sliver of the host's files at almost no extra disk; `busybox` is one
#   static binary; every image's `/etc` is its own.
# * Memory: two containers and the host's own python run the same physical pages of python's code.
#
# ## Exercise
#
# The notebook stopped two containers: `sleep` as PID 1 (SIGKILL after the grace period) and `sleep`
# under `init=True` (SIGTERM). Now five more, each a busybox `sh -c` command, some under `init=True`.
# For each, predict which signal ends it when it is stopped with a grace period of 3 s: `"SIGTERM"`
# (it ends on the SIGTERM) or `"SIGKILL"` (it is still there when the grace period runs out).

# %%
# boxkit: exercise
from boxkit import exercises_pid1

exercises_pid1.show()

# %%
# boxkit: exercise
my_prediction = {
    "shell": ...,
    "shell with a trap": ...,
    "shell with a trap, in wait": ...,
    "init=True, shell": ...,
    "init=True, shell ignoring TERM": ...,
}

# %%
# boxkit: exercise
exercises_pid1.check(my_prediction)

# %% [markdown]
# Stuck after a few tries? `exercises_pid1.solution()` shows one answer and the reasoning behind it.
#
# **Try next:** run `python` with a `SIGTERM` handler as PID 1 and `stop()` it:
# `boxkit.run("host", [PY, "-c", HANDLER], detach=True)` with
# `HANDLER = "import signal, time; signal.signal(signal.SIGTERM, lambda *a: exit(0)); time.sleep(300)"`.
# Which exit code, and did it need `SIGKILL`?
