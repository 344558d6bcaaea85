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
import subprocess

import boxkit
from boxkit import cgroups
from boxkit.cgroups import experiments
from boxkit.viz import cgroups as viz

host = cgroups.detect()
print("cgroup mode:", host.mode, "— boxkit drives cgroup", f"v{host.version}")
print("controllers:", ", ".join(host.controllers()))

# %% [markdown]
# ## Memory: 500 MB, and not a byte more
#
# The seed's example. A container limited to 500 MB runs a program that allocates 20 MB after 20 MB and
# touches every page (untouched pages cost nothing), aiming for 900 MB. The plot redraws while it runs.

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
fig, mem, r = viz.live_memory(memory="500M", target_mb=900)
r

# %% [markdown]
# Usage climbs to the line and stays there for a moment: the kernel tries to reclaim memory from the
# group before it gives up. Then the OOM killer ends the hog (the ✖) — only inside this group; the host
# and the notebook kernel never noticed. boxkit reads the verdict from `oom_kill` in `memory.oom_control`
# (v1) or `memory.events` (v2), not from the exit code alone: exit 137 only says "SIGKILL".

# %%
# boxkit: needs cgroups
limit = 500 * 2**20
print("exit code:", r.exit_code)
print("OOM killed:", r.oom_killed)
print("peak <= limit:", r.stats["memory_peak"] <= limit and mem.peak_memory <= limit)
print("the hog reached the limit:", r.stats["memory_peak"] > 0.9 * limit)

# %% [markdown]
# ## CPU quota: half a core
#
# `cpus=0.5` writes a quota of 50 ms per 100 ms period. Two busy loops want two whole cores; the group
# gets half of one. The bars on the right axis are the time the group spent *throttled* — parked until
# the next period — in each sample.

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
fig, cpu, r = viz.live_cpu(cpus=0.5, seconds=4)
r

# %%
# boxkit: needs cgroups
used = cpu.mean_cores(skip=1.0)
print("quota:", cpu.cpu_limit, "cores")
print("measured between 0.4 and 0.6 cores:", 0.4 <= used <= 0.6)
print("throttled:", cpu.nr_throttled[-1] > 0)

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
print("share of the heavier near 75% (65-85):", 0.65 <= heavy <= 0.85)
print("the lighter got less:", light < heavy)

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
print("max pids <= 20:", max(pids.pids_current) <= 20)
print("the bomb reached the limit:", max(pids.pids_current) >= 15)
print("the kernel refused forks:", int(r.stdout.split()[3]) > 0)
print("host can fork:", subprocess.run(["true"]).returncode == 0)

# %% [markdown]
# ## memory.high: throttle before you kill (cgroup v2)
#
# cgroup v2 has a second memory line, `memory.high`: above it the kernel does not kill, it slows the group
# down and reclaims its memory, and the stall shows up as *memory pressure* (PSI, `memory.pressure`).
# cgroup v1 has no equivalent (`memory.soft_limit_in_bytes` only acts when the whole machine runs short),
# so on a v1 or hybrid host this cell says so and the picture is shown on v2 hosts.

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
from IPython.display import display

if host.version == 2:
    r, s, psi = experiments.memory_high(high="200M", memory="400M", target_mb=300)
    display(viz.memory_high_figure(s, psi, 200 * 2**20))
else:
    print(f"this host is cgroup {host.mode}: memory.high and PSI are shown on cgroup v2 hosts")

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
print("every row has both:", all(v1 and v2 for _, v1, v2 in cgroups.FILE_MAP))

# %% [markdown]
# ## What was proved
#
# * A container limited to 500 MB was OOM-killed when it asked for more, and its peak never passed the
#   limit; boxkit knew it was the OOM killer, not just any SIGKILL.
# * A quota of 0.5 CPUs held two busy loops to about half a core, by throttling.
# * Weights 256:768 split one contended CPU about 25:75; weights are not caps.
# * A fork bomb stopped at `pids.max` 20 while the host went on forking.
#
# ## Exercise
#
# A 300 MB hog: what is the smallest limit, in steps of 50 MB, under which it finishes? (Python itself and
# the container's files need a little room too.) Set `my_limit`; the check runs the hog under your limit
# and under the next step down, and tells you whether the kernel agrees.

# %%
my_limit = "350M"

# %%
# boxkit: needs cgroups
from boxkit import exercises

exercises.memory_limit(my_limit, target_mb=300)

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
