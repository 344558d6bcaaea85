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
# | `memory` | bytes | reclaims, then the OOM killer ends a process of the group (SIGKILL, exit 137) |
# | `cpu` (quota) | CPU time per 100 ms period | takes the group off the CPUs until the next period (*throttling*) |
# | `cpu` (weight) | a share of a busy CPU | splits contended CPU time in proportion to the weights |
# | `pids` | number of tasks | `fork()`/`clone()` fail with EAGAIN |
#
# boxkit makes one group per container under its own subtree (`/sys/fs/cgroup/<controller>/boxkit/<id>` on
# cgroup v1, `/sys/fs/cgroup/boxkit/<id>` on v2), and a *sampler* reads the group's files while the
# container runs. Every plot below is those numbers.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit import course

course.start("cgroups")

# %%
# NBVAL_IGNORE_OUTPUT
import os
import subprocess

import boxkit
from boxkit import cgroups
from boxkit import cgroup_experiments as experiments
from boxkit.viz import cgroups as viz

host = cgroups.detect()
print("cgroup mode:", host.mode, "— boxkit drives cgroup", f"v{host.version}")
print("controllers:", ", ".join(host.controllers()))

# %% [markdown]
# ## Memory: 500 MB, and not a byte more
#
# The seed's example. A container limited to 500 MiB (`500M`: boxkit, like docker, counts in powers of
# two) runs a program that allocates 10 MiB after 10 MiB and touches every page (untouched pages cost
# nothing), aiming for 900 MiB. The sampler reads the group's usage 50 times a second, and the plot
# redraws while it runs. The hog's work is a count (90 steps), so every machine draws the same climb,
# only faster or slower.

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
fig, mem, r = viz.live_memory(memory="500M", target_mb=900, step_mb=10, hz=50)
r

# %% [markdown]
# Usage climbs step by step to the line. At the line a charge that would pass it makes the kernel
# reclaim the group's own pages first (the page cache of python's files; there is no swap here), and
# when nothing is left to reclaim the OOM killer ends the hog — only inside this group; the host and the
# notebook kernel never noticed. The ✖ sits on the last sample before the kill; the shaded strip is the
# sample interval the kill fell in. Where a sample caught the moment after the kill, the curve falls
# there: that is the kernel freeing the dead hog's memory, not the hog letting go. boxkit reads the verdict from `oom_kill` in `memory.oom_control`
# (v1) or `memory.events` (v2), not from the exit code alone: exit 137 only says "SIGKILL".

# %%
# boxkit: needs cgroups
MiB = 2**20
limit = 500 * MiB
peak = r.stats["memory_peak"]
print(f"exit code {r.exit_code} (128 + 9, SIGKILL):", r.exit_code == 137)
print("OOM killed (oom_kill in memory.oom_control or memory.events):", r.oom_killed)
print(f"peak {peak / MiB:.1f} MiB, highest sample {mem.peak_memory / MiB:.1f} MiB, limit 500 MiB:",
      peak <= limit and mem.peak_memory <= limit)
print(f"the hog reached the limit: peak {peak / MiB:.1f} of 500 MiB:", peak > 0.9 * limit)
print(f"a sample came within 5% of the limit: {mem.peak_memory / MiB:.1f} MiB:", mem.peak_memory > 0.95 * limit)

# %% [markdown]
# ## CPU quota: half a core
#
# `cpus=0.5` writes a quota of 50 ms per 100 ms period. Two busy loops want two whole cores; the group
# gets half of one. The bars on the right axis are the time the group spent *throttled* — parked until
# the next period — in each sample.
#
# A bar can be taller than the 100 ms between two samples: `throttled_time` (v1 `cpu.stat`) adds up the
# time each CPU's run queue of the group spent throttled, so two busy loops on two CPUs, both parked for
# a whole 100 ms, count 200 ms. A single sample may also show more than half a core: the quota is
# enforced per 100 ms *period*, and a sample's 100 ms rarely lines up with one. A sample that straddles
# two periods can hold the 50 ms the group ran at the end of one and the 50 ms at the start of the next
# (a whole core), and the sampler's own timing jitter stretches it a little more. Averaged over seconds,
# it is the quota.

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
print("both still burning when the window closed:", all(r.signal for r in results))
print(f"share of the heavier {heavy:.0%}, near 75% (65-85):", 0.65 <= heavy <= 0.85)
print(f"the lighter got less: {light:.0%} against {heavy:.0%}:", light < heavy)

# %% [markdown]
# ## pids: a fork bomb that goes nowhere
#
# A program forks as fast as it can for 3 seconds, in a container with `pids_limit=20` (`pids.max`).
# At 20 tasks every further `fork()` fails with EAGAIN — the program counts the refusals.

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
fig, pids, r = viz.live_pids(pids_limit=20, seconds=3)
print(r.stdout)

# %%
# boxkit: needs cgroups
made, refused = int(r.stdout.split()[1]), int(r.stdout.split()[3])
print(f"max pids {max(pids.pids_current)}, at most 20:", max(pids.pids_current) <= 20)
print(f"the bomb reached the limit: {max(pids.pids_current)} of 20:", max(pids.pids_current) >= 15)
print(f"the kernel refused {refused} forks:", refused > 0)
print("the host went on forking while it ran (a process outside the group):",
      subprocess.run(["true"]).returncode == 0)

# %% [markdown]
# ## memory.high: throttle before you kill (cgroup v2)
#
# cgroup v2 has a second memory line, `memory.high`: above it the kernel does not kill, it slows the group
# down and reclaims its memory, and the stall shows up as *memory pressure* (PSI, `memory.pressure`).
# cgroup v1 has no equivalent (`memory.soft_limit_in_bytes`, docker's `--memory-reservation`, only acts when
# the whole machine runs short; runc writes that reservation to `memory.low` on v2).
# So the next cell needs a cgroup v2 host: on a v1 or hybrid one it replays a run recorded on cgroup v2
# (the course's own v2 VM, `python -m tools.v2vm --record`), with the RECORDED badge.
#
# A hog grows towards 300 MB with `memory.high` at 200 MB and `memory.max` at 400 MB: it is not killed,
# it is held near the high line, and the time its tasks spend stalled on memory rises (PSI's
# `some avg10`, the share of the last 10 s in which at least one task waited for memory).

# %%
# boxkit: needs cgroups, cgroup2
# NBVAL_IGNORE_OUTPUT
from IPython.display import display

MiB = 2**20
r, s, psi = experiments.memory_high(high="200M", memory="400M", target_mb=300)
display(viz.memory_high_figure(s, psi, 200 * MiB))
print(f"cgroup {host.mode}, kernel {os.uname().release}")
print(f"OOM-killed: {r.oom_killed} — memory.high throttles, it does not kill: {not r.oom_killed}")
print(f"peak {s.peak_memory / MiB:.0f} MiB, under memory.max (400 MiB): {s.peak_memory <= 400 * MiB}")
top = max((p for _, p in psi), default=None)
print(f"memory pressure (PSI some avg10) at its highest: {top} % — above 0: {bool(top)}")

# %% [markdown]
# ## The same limits, two file layouts
#
# cgroup v1 has one tree per controller, each with its own file names; v2 has one tree whose files are
# prefixed by the controller. boxkit's two drivers write the same limits into these files
# (`boxkit.cgroups.FILE_MAP`); the column this host uses is highlighted.

# %%
# NBVAL_IGNORE_OUTPUT
viz.file_map(host.mode)

# %%
print("v1 names of the memory limit:", cgroups.FILE_MAP[0][1])
print("v2 names of the memory limit:", cgroups.FILE_MAP[0][2])
reserve = next(row for row in cgroups.FILE_MAP if "soft_limit" in row[1])
print(f"docker's --memory-reservation: {reserve[1]} on v1, {reserve[2]} on v2:", reserve[2] == "memory.low")
print(f"rows in the table: {len(cgroups.FILE_MAP)}, every row names both sides:",
      all(v1 and v2 for _, v1, v2 in cgroups.FILE_MAP))

# %% [markdown]
# ## What was proved
#
# * A container limited to 500 MiB was OOM-killed when it asked for more, and its peak never passed the
#   limit; boxkit knew it was the OOM killer, not just any SIGKILL.
# * A quota of 0.5 CPUs held two busy loops to about half a core, by throttling.
# * Weights 256:768 split one contended CPU about 25:75; weights are not caps.
# * A fork bomb stopped at `pids.max` 20 while the host went on forking.
#
# ## Exercise
#
# The group is charged for every page its processes touch — not only the memory a program asks for.
# Three programs each put **100 MiB** somewhere, each in a container limited to **48 MiB**:
#
# * `heap`: python holds 100 MiB in a bytes object (anonymous memory);
# * `file`: `dd` writes a 100 MiB file to `/tmp` (the container's overlay, on the host's disk; the
#   pages pass through the page cache, charged to the group);
# * `shm`: `dd` writes 100 MiB to `/dev/shm` (a tmpfs: files that live only in memory).
#
# This host has no swap for the group. For each program, predict `"finishes"` or `"killed"` (by the
# OOM killer). Reason it out: which of these pages can the kernel take back at the limit, and how? The
# check runs the three programs and reads `oom_kill` for each.

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
# Move the sliders and press **Run**: a 600 MB hog runs under the memory limit, then two busy loops under
# the CPU quota.

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
viz.panel(hog_mb=600, seconds=3)

# %% [markdown]
# Next: [03 — the overlay file system](03-overlay.ipynb).
