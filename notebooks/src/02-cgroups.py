# %% [markdown]
# # 02 — cgroups: how much a container may use
#
# *"cgroups are a resource controller — we can say a container may use at most 500 MB of memory."*
#
# A **control group** is a directory in the cgroup file system. Processes are moved into it by writing
# their PID to `cgroup.procs`; limits are numbers written to its files; the kernel enforces them on every
# allocation, every scheduling decision and every `fork()`, and counts what happened in other files.
#
# | controller | the limit | what the kernel does at the limit |
# |---|---|---|
# | `memory` | bytes | reclaims, then the OOM (out-of-memory) killer ends a process of the group (SIGKILL, exit 137) |
# | `cpu` (quota) | CPU time per period (boxkit, like docker, uses 100 ms) | takes the group off the CPUs until the next period (*throttling*) |
# | `cpu` (weight) | a share of a busy CPU | splits contended CPU time in proportion to the weights |
# | `pids` | number of tasks | `fork()`/`clone()` fail with EAGAIN |
#
# boxkit makes one group per container under its own subtree, `boxkit/<id>`, below the group this
# notebook's kernel runs in (each hierarchy's top on most hosts: `/sys/fs/cgroup/<controller>/boxkit/<id>`
# on cgroup v1, `/sys/fs/cgroup/boxkit/<id>` on v2), so that a limit on the kernel's own group also
# bounds its containers. A *sampler* reads the group's files while the container runs. Every plot below
# is those numbers.
#
# Linux has two layouts of these files. **cgroup v1** mounts one tree per hierarchy, each holding one
# controller or a few (`/sys/fs/cgroup/memory/`, `/sys/fs/cgroup/pids/`, …); **cgroup v2** mounts one
# tree for all of them. A *hybrid* host mounts both: a controller sits in only one of the two at a time,
# and where the ones containers need (memory, cpu, pids) are in v1 trees, boxkit drives them the v1
# way. The next cell says which this host is.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit import course

course.start("cgroups")

# %%
# NBVAL_IGNORE_OUTPUT
import os

import boxkit
from boxkit import cgroups
from boxkit import cgroup_experiments as experiments
from boxkit.viz import cgroups as viz

host = cgroups.detect()
print("cgroup mode:", host.mode, "— boxkit drives cgroup", f"v{host.version}")
print("controllers:", ", ".join(host.controllers()))

# %% [markdown]
# ## Memory: 500 MiB, and not a byte more
#
# The seed's example. A container limited to 500 MiB (`500M`: boxkit, like docker, counts in powers of
# two) runs a program that allocates 10 MiB after 10 MiB and touches every page (untouched pages cost
# nothing), aiming for 900 MiB. The sampler reads the group's usage 50 times a second, and the plot
# redraws while it runs. The hog's work is a count (steps of 10 MiB up to 900 MiB), so every machine
# draws the same climb, only faster or slower.

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
fig, mem, r = viz.live_memory(memory="500M", target_mb=900, step_mb=10, hz=50)
r

# %% [markdown]
# Usage climbs step by step to the line. At the line a charge that would pass it makes the kernel
# reclaim the group's own pages first (the file pages it brought into memory, if any). The hog's own
# memory cannot go to swap: boxkit writes the same limit to memory + swap (`memory.memsw.limit_in_bytes`
# on v1, `memory.swap.max` 0 on v2; read back at the end of the chapter). When nothing is left to
# reclaim the OOM killer ends the hog — only inside this group; the host and the notebook kernel
# never noticed. The ✖ sits on the last sample before the kill; the shaded strip is the sample
# interval the kill fell in. Where a sample caught the moment after the kill, the curve falls
# there: that is the kernel freeing the dead hog's memory, not the hog letting go. boxkit reads the
# verdict from `oom_kill` in `memory.oom_control` (v1) or `memory.events` (v2), not from the exit code
# alone: exit 137 only says "SIGKILL".

# %%
# boxkit: needs cgroups
MiB = 2**20
limit = 500 * MiB
peak = r.stats["memory_peak"]
print(f"exit code {r.exit_code} (128 + 9, SIGKILL):", r.exit_code == 137)
print(f"oom_kill in memory.oom_control or memory.events: {r.stats.get('oom_kills')}; OOM-killed:",
      r.oom_killed)
print(f"peak {peak / MiB:.1f} MiB and highest sample {mem.peak_memory / MiB:.1f} MiB, "
      "neither past the 500 MiB limit:", peak <= limit and mem.peak_memory <= limit)
print(f"the hog reached the limit: peak {peak / MiB:.1f} of 500 MiB:", peak > 0.9 * limit)
print(f"a sample came within 5% of the limit: {mem.peak_memory / MiB:.1f} MiB:",
      mem.peak_memory > 0.95 * limit)

# %% [markdown]
# ## CPU quota: half a core
#
# `cpus=0.5` writes a quota of 50 ms per 100 ms period (a container's group read back at the end of
# the chapter shows both numbers). Two busy loops want two whole cores; the group
# gets half of one. The bars on the right axis are the time the group spent *throttled* — parked until
# the next period — in each sample.
#
# A bar can be taller than the time between two samples: `throttled_time` (v1 `cpu.stat`) adds up the
# time each CPU's run queue of the group spent throttled, so two busy loops on two CPUs, both parked
# for a whole sample interval, count it twice. A single sample may also show more or less than half a
# core: the quota is enforced per 100 ms *period*, and a sample's 100 ms rarely lines up with one. A
# sample that straddles two periods can hold the 50 ms the group ran at the end of one and the 50 ms at
# the start of the next (a whole core), or mostly the parked time between them; the sampler's own
# timing jitter stretches both a little more. Averaged over seconds, it is the quota.

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
fig, cpu, r = viz.live_cpu(cpus=0.5, seconds=4)
r

# %%
# boxkit: needs cgroups
used = cpu.mean_cores(skip=1.0)
print("quota:", cpu.cpu_limit, "cores")
print(f"measured {used:.2f} cores, between 0.4 and 0.6:", 0.4 <= used <= 0.6)
print(f"throttled in {cpu.nr_throttled[-1]} periods, {cpu.throttled_usec[-1] / 1e6:.1f} s in all:",
      cpu.nr_throttled[-1] > 0)

# %% [markdown]
# ## CPU weights: 1 to 3
#
# A quota is a ceiling. A **weight** (`cpu.shares` on v1, `cpu.weight` on v2) is not: it only decides how a
# CPU that several groups want is split. Two busy containers are pinned to CPU 0 (`cpuset_cpus="0"`) with
# shares 256 and 768. Other programs on this machine may take part of CPU 0 too, so look at the split
# between the two, not the total.

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
results, pair = experiments.cpu_weights(shares=(256, 768), seconds=4, cpuset="0")
viz.shares_figure(pair, [256, 768])

# %%
# boxkit: needs cgroups
light, heavy = experiments.measured_shares(pair, skip=1.0)
ended_by = [r.signal for r in results]
print(f"signals that ended them after the window: {ended_by}; both still burning until then:",
      all(ended_by))
print(f"share of the heavier {heavy:.0%}, near 75% (65-85):", 0.65 <= heavy <= 0.85)
print(f"the lighter got less: {light:.0%} against {heavy:.0%}:", light < heavy)

# %% [markdown]
# ## pids: a fork bomb that goes nowhere
#
# A program forks as fast as it can in a container with `pids_limit=20` (`pids.max`). At 20 tasks
# every further `fork()` fails with EAGAIN — the program counts the refusals. The program itself is
# one of the 20 tasks, so it can make one child fewer than the limit. Once the bomb holds the
# limit, the notebook's kernel starts 20 processes of its own on the host and reads the group's
# `pids.current` before and after: the limit is the group's, not the machine's. Then the notebook
# waits for a count of samples (`seconds=3` at 20 samples a second) and stops the bomb with SIGTERM:
# the run is measured in counts, so a slow machine shows the same story.

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
fig, pids, r = viz.live_pids(pids_limit=20, seconds=3, host_forks=20)
print(r.stdout)

# %%
# boxkit: needs cgroups
made, refused = int(r.stdout.split()[1]), int(r.stdout.split()[3])
print(f"max pids {max(pids.pids_current)}, at most 20:", max(pids.pids_current) <= 20)
print(f"the bomb reached the limit: {max(pids.pids_current)} of 20:", max(pids.pids_current) >= 15)
print(f"the kernel refused {refused} forks:", refused > 0)
print(f"the bomb made {made} children; with itself, {made + 1} tasks, pids.max {pids.pids_max}:",
      made + 1 == pids.pids_max)
hf = r.stats["host_forks"]
print(f"pids.current {hf['pids_before']} before and {hf['pids_after']} after the host's forks; "
      "the bomb held the limit at both reads:",
      hf["pids_before"] == hf["pids_after"] == hf["limit"])
print(f"meanwhile the host started {hf['started']} of {hf['asked']} processes:",
      hf["started"] == hf["asked"])

# %% [markdown]
# ## memory.high: throttle before you kill (cgroup v2)
#
# cgroup v2 has a second memory line, `memory.high`: above it the kernel does not kill, it slows the group
# down and reclaims its memory, and the stall shows up as *memory pressure*. The kernel measures it as
# **PSI**, *pressure stall information*: the share of recent time in which tasks waited for memory
# (`memory.pressure`).
#
# cgroup v1 has no equivalent. Its `memory.soft_limit_in_bytes` (docker's `--memory-reservation`)
# does nothing until the whole machine runs short of memory; then the kernel reclaims first from the
# groups that are *above* their soft limit. It is on its way out: recent kernels log
# "soft_limit_in_bytes is deprecated and will be removed" the first time after boot that it is written.
# On v2, runc writes that
# reservation to `memory.low`, which protects a group's memory *below* it — as far as its parent
# groups grant protection too: the kernel caps a group's `memory.low` by its ancestors' (cgroup-v2.rst,
# "effective low boundary"). Neither slows a group down.
#
# So the next cell needs a cgroup v2 host. On a v1 or hybrid one it shows a run recorded on a cgroup v2
# machine instead, marked with the RECORDED badge.
#
# A hog grows towards 300 MiB with `memory.high` at 200 MiB and `memory.max` at 400 MiB. The kernel
# does not kill it: it holds it near the high line, each allocation made to wait, and the time its tasks
# spend stalled on memory rises (PSI's `some avg10`, the share of the last 10 s in which at least one
# task waited for memory). The cell prints how the hog ended: if it never reached its target, boxkit
# stopped it when the experiment's time was up.

# %%
# boxkit: needs cgroups, cgroup2
# NBVAL_IGNORE_OUTPUT
from IPython.display import display

MiB = 2**20
r, s, psi = experiments.memory_high(high="200M", memory="400M", target_mb=300)
display(viz.memory_high_figure(s, psi, 200 * MiB))
print(f"cgroup {host.mode}, kernel {os.uname().release}")
ended = f"boxkit's timeout after {r.wall_time:.0f} s" if r.timed_out else f"exit {r.exit_code}"
print(f"the hog ended by {ended}; oom_kill {r.stats.get('oom_kills')}: memory.high held it, "
      f"it did not kill: {not r.oom_killed}")
print(f"peak {s.peak_memory / MiB:.0f} MiB, under memory.max (400 MiB): "
      f"{s.peak_memory <= 400 * MiB}")
top = max((p for _, p in psi), default=None)
print(f"memory pressure (PSI some avg10) at its highest: {top} %; above 0: {bool(top)}")

# %% [markdown]
# ## The same limits, two file layouts
#
# cgroup v1 has one tree per hierarchy (one controller or a few), each with its own file names; v2 has
# one tree for all of them, with file names of its own (`memory.max` where v1 has `memory.limit_in_bytes`).
# boxkit's two drivers write the same limits into these files
# (`boxkit.cgroups.FILE_MAP`); the column this host uses is highlighted. A *reservation* is not a
# limit: as the section above says, it only steers reclaim (v1's soft limit when the whole host runs
# short of memory, v2's `memory.low` also when an ancestor group's limit is reached).

# %%
# NBVAL_IGNORE_OUTPUT
viz.file_map(host.mode)

# %% [markdown]
# The table is boxkit's. The kernel's side: a container with a memory limit, a CPU quota and a pids
# limit, and every file of this host's column looked up in the container's own group (the
# directories its `/proc/PID/cgroup` names), and the limits read back from them. Some files exist only
# on some kernels (memory + swap needs swap accounting; `memory.peak` needs Linux 5.19), so the cell
# names any this host lacks. On v1 the memory + swap file holds the memory limit (no swap beyond it);
# on v2 the swap file holds swap alone, 0.

# %%
# boxkit: needs cgroups
limits = {"memory": "64M", "cpus": 0.5, "pids_limit": 50}
with boxkit.run("busybox", ["sleep", "60"], detach=True, **limits) as box:
    found = experiments.group_files(box.pid, cgroups.FILE_MAP, host.mode)
    limit_file = next(x for x in found if x[0] == "memory limit")
    held = experiments.read_back(found)   # file → the numbers on its first line
missing = [name for _, name, path in found if path is None]
core = {"memory limit", "memory in use", "OOM kills", "CPU quota", "process limit", "processes"}
# the same words on v1 and v2 (the VM runs this notebook too): paths and names only where they match
group = "/".join(os.path.dirname(limit_file[2] or "").split("/")[-2:])
print(f"the memory limit's file is in the container's own group ({group}):", group == f"boxkit/{box.id}")
print(f"files of the table found in the container's group: {len(found) - len(missing)} of {len(found)}:",
      len(found) > len(missing))
if missing:
    print("missing on this host:", ", ".join(missing))
in_group = (held.get(limit_file[1]) or [None])[0]
print(f"the memory limit's file holds {in_group} bytes, the 64 MiB asked for:", in_group == 64 * MiB)
swap = next(((held.get(name) or [None])[0] for what, name, _ in found
             if what == "memory + swap limit"), None)
print(f"no swap beyond the limit (the memory + swap file holds {swap}):", swap in (64 * MiB, 0))
quota = [n for what, name, _ in found if what == "CPU quota" for n in held.get(name, [])]
print(f"CPU quota file(s) hold {quota}: 50 ms per 100 ms period:", quota[:2] == [50_000, 100_000])
there = sum(1 for what, _, path in found if what in core and path)
print(f"the limit, usage, OOM, CPU quota and pids files: {there} of "
      f"{sum(1 for what, _, _ in found if what in core)} there:",
      all(path for what, _, path in found if what in core))

# %% [markdown]
# ## What was proved
#
# * A container limited to 500 MiB was OOM-killed when it asked for more, and its peak never passed the
#   limit; boxkit knew it was the OOM killer, not just any SIGKILL.
# * A quota of 0.5 CPUs held two busy loops to about half a core, by throttling.
# * Weights 256:768 split one contended CPU about 25:75 (a weight only splits a contended CPU; this
#   run did not show either container alone).
# * A fork bomb stopped at `pids.max` 20 while the host went on forking.
# * The files of this host's column of the v1/v2 table are the kernel's: a container's group holds
#   them, with the limits boxkit wrote.
#
# ## Exercise
#
# A group is charged for the pages its processes bring into memory — not only the memory a program
# asks for (a page already in memory stays charged to the group that brought it in first).
# Three programs each put **100 MiB** somewhere, each in a container limited to **48 MiB**:
#
# * `heap`: python holds 100 MiB in a bytes object;
# * `file`: `dd` writes a 100 MiB file to `/tmp`;
# * `shm`: `dd` writes 100 MiB to `/dev/shm`.
#
# For each program, predict `"finishes"` or `"killed"` (by the OOM killer). Where each one's bytes
# land matters: `boxkit.run("busybox", ["mount"]).stdout` lists what a container's `/` and `/dev/shm`
# are. The check runs the three programs and reads `oom_kill` for each.

# %%
from boxkit.exercise_runs import CHARGE_LIMIT, CHARGE_MIB, CHARGE_PROGRAMS

print(f"each container's limit: {int(CHARGE_LIMIT.rstrip('M'))} MiB ({CHARGE_LIMIT}); "
      f"each program puts {CHARGE_MIB} MiB somewhere:")
for name, (image, argv) in CHARGE_PROGRAMS.items():
    print(f"  {name} ({image} image): {' '.join(argv)}")

# %%
# boxkit: exercise
my_prediction = {"heap": ..., "file": ..., "shm": ...}   # "finishes" or "killed"

# %%
# boxkit: exercise
from boxkit import exercises

exercises.memory_charge(my_prediction)

# %% [markdown]
# Stuck after a few tries? `exercises.solution("memory")` shows one answer and the reasoning behind it.

# %% [markdown]
# ## Try the limits yourself
#
# Move the sliders and press **Run**: a 600 MiB hog runs under the memory limit, then two busy loops
# under the CPU quota. The cell runs once with the sliders as they start, so a copy of this notebook
# saved without its widgets (or shown RECORDED) still shows that run's plot.

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
viz.panel(hog_mb=600, seconds=3, run_now=True)

# %% [markdown]
# Next: [03 — the overlay file system](03-overlay.ipynb).
