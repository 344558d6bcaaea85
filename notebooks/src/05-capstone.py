# %% [markdown]
# # 05 — Capstone: one service, every mechanism
#
# Everything so far, in one run of the calls a container engine makes: **build** an app image with a
# layer cache, **run** it with memory, CPU and process limits on a bridge network with a published
# port, **watch** its memory and CPU while a load generator hits it, **commit** a change as a new
# layer, and compare the cgroup files boxkit wrote with the ones podman writes for the same flags.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit import course

course.start("containers")

# %%
# NBVAL_IGNORE_OUTPUT
import os
import shutil
import tempfile

import boxkit
from boxkit import compare, examples, loadgen
from boxkit.images import resolve
from boxkit.build import build_file

# %% [markdown]
# ## 1. Build
#
# The app is a tiny HTTP shop (`boxkit/examples/shop/`): each order burns a little CPU and keeps 32 KiB.
# Its `Boxfile` starts `FROM host`: boxkit's `host` image, one layer that boxkit made offline from
# this host's own files (its python3, its shells and command-line tools, and the libraries they
# load). The Boxfile copies the app on top and sets the command.

# %%
ctx = tempfile.mkdtemp(prefix="shop-")
shutil.copytree(examples.path("shop"), ctx, dirs_exist_ok=True)
print(open(os.path.join(ctx, "Boxfile")).read())

# %% [markdown]
# The first build runs in a fresh build cache of its own (`cache_scope`: one per run of this notebook),
# so every layer is really built here, as on a machine that never built the shop. Only the `COPY`
# steps make a layer (the `--->` lines with a time); `FROM`, `WORKDIR`, `ENV` and `CMD` only set the
# image's configuration.

# %%
# NBVAL_IGNORE_OUTPUT
import uuid

lesson_cache = f"capstone-{uuid.uuid4().hex[:12]}"
first = build_file(os.path.join(ctx, "Boxfile"), "shop:1.0", ctx, cache_scope=lesson_cache)

# %% [markdown]
# The second build, below: nothing changed, so every step that makes a layer comes from the cache.

# %%
# NBVAL_IGNORE_OUTPUT
again = build_file(os.path.join(ctx, "Boxfile"), "shop:1.0", ctx, cache_scope=lesson_cache)

# %%
print(f"first build: every layer built ({first.built_steps} built, {first.cached_steps} cached):",
      first.built_steps > 0 and first.cached_steps == 0)
print(f"rebuild: all from the cache ({again.built_steps} built, {again.cached_steps} cached):",
      again.built_steps == 0 and again.cached_steps > 0)
print(f"same image both times ({again.digest[7:19]}):", again.digest == first.digest)

# %% [markdown]
# ## 2. Run it like a real service
#
# 200 MiB of memory, half a CPU, at most 50 tasks, on the default bridge with port 8000 published on
# the host as 18080 — docker's `run -d --memory 200m --cpus 0.5 --pids-limit 50 -p 18080:8000` (in
# both, `200M` and `200m` mean 200 MiB, 200 × 2²⁰ bytes). A task is a process or a thread: `pids.max`
# counts both, and the shop answers each order on a thread of its own. Each request the shop answers
# is an order, and its page says how many it holds, this first request included.

# %%
# boxkit: needs network, cgroups
import time
import urllib.request

shop = boxkit.run("shop:1.0", detach=True, name="shop", network="bridge", publish=["18080:8000"],
                  memory="200M", cpus=0.5, pids_limit=50)
page = ""
for _ in range(100):   # the server needs a moment to start listening
    try:
        page = urllib.request.urlopen("http://127.0.0.1:18080/", timeout=1).read().decode().strip()
        break
    except OSError:
        time.sleep(0.1)
print(f"the shop answered on the host's port 18080 ({page!r}):", page.startswith("shop 1.0"))

# %% [markdown]
# ## 3. Watch it under load
#
# The sampler reads the container's cgroup files 10 times a second while 4 threads on the host send
# **1,500 orders**; it starts half a second before the first order and stops half a second after
# the last, so the plot shows the idle shop on both sides. Memory climbs with every order
# (1,500 × 32 KiB = 47 MiB on top of what the idle shop uses, far under the 200 MiB limit) and stays
# up when the orders stop: the shop never lets go of them. CPU use presses against the 0.5 quota:
# the kernel gives the group 50 ms of CPU time in each 100 ms period (`cpu.cfs_quota_us` over
# `cpu.cfs_period_us`, part 5 prints them) and throttles it for the rest of a period it has used up.
# In a period where the orders come slower than the shop could serve them it uses less. A point of
# the CPU panel is the CPU time used between two reads divided by the time between them; the
# sampler's reads do not fall on the kernel's period boundaries, so one point can rise above the
# dashed line, while the average over all the orders cannot (beyond a period's worth at each end).
# The load is a count of orders, not a duration: on a faster machine the same orders arrive sooner,
# and the shop ends in the same state. The last line asks for the shop's page once more, and that
# request is an order too.

# %%
# boxkit: needs network, cgroups
# NBVAL_IGNORE_OUTPUT
sampler = shop.sample(hz=10)
ORDERS = 1500
time.sleep(0.5)   # the idle shop before the orders
load = loadgen.http_load("http://127.0.0.1:18080/", requests=ORDERS, concurrency=4)
time.sleep(0.5)   # and after them
series = sampler.stop()
from boxkit.viz.capstone import usage_figure

usage_figure(series, title=f"shop under load: {load.requests} orders, sent in {load.seconds:.1f} s")

# %%
# boxkit: needs network, cgroups
MiB = 1 << 20
grew = series.memory_current[-1] - series.memory_current[0]
served = load.requests
print(f"orders served ({served} of {ORDERS}, {load.errors} errors):", served == ORDERS)
# the CPU time the shop used (the idle half-seconds add next to nothing), over the orders' time;
# the orders' time can start and end inside a 100 ms period (part 5 prints the period), and the
# group may use a whole period's quota in each of those two, hence the allowance
cpu_s = (series.cpu_usage_usec[-1] - series.cpu_usage_usec[0]) / 1e6
cores = cpu_s / load.seconds
allowed = series.cpu_limit * (load.seconds + 2 * 0.1) / load.seconds
print(f"CPU held to the {series.cpu_limit:g} quota ({cpu_s:.2f} s of CPU in {load.seconds:.2f} s of"
      f" orders: {cores:.2f} cores on average, at most {allowed:.2f}):", cores <= allowed)
throttled = series.nr_throttled[-1] - series.nr_throttled[0]
print(f"it wanted more: the kernel throttled it ({throttled} periods):", throttled > 0)
expected = ORDERS * (32 << 10)
print(f"memory grew with the orders (+{grew / MiB:.0f} MiB;"
      f" {ORDERS} x 32 KiB = {expected / MiB:.0f} MiB):", grew >= expected * 0.8)
peak, limit = series.peak_memory, series.memory_limit
print(f"memory stayed far under the limit, below half of it (peak {peak / MiB:.0f} MiB of"
      f" {limit / MiB:.0f} MiB):", peak < limit / 2)
tasks = max(series.pids_current)
print(f"its threads are tasks: one process counted as up to {tasks} of {series.pids_max}:",
      1 < tasks <= series.pids_max)
page = urllib.request.urlopen("http://127.0.0.1:18080/", timeout=5).read().decode().strip()
print(f"the shop still answers after the load ({page!r}):", page.startswith("shop 1.0"))

# %% [markdown]
# ## 4. Commit a change as a new layer
#
# Edit the running container (a new `VERSION`), then commit its upper dir — only what changed — as a
# layer on top of `shop:1.0`. Besides the changed file the layer holds the directories above what the
# container wrote: `app`, and `etc`, where the runtime wrote the container's `hosts`, `hostname` and
# `resolv.conf`, files a commit leaves out (they belong to this run, not to the image).

# %%
# boxkit: needs network, cgroups
from boxkit.build.commit import commit_container

shop.exec(["sh", "-c", "echo 1.1 > /app/VERSION"])
commit_container("shop", "shop:1.1", comment="echo 1.1 > /app/VERSION")
base_layers = resolve("shop:1.0").layers
new_layers = resolve("shop:1.1").layers

# %%
# boxkit: needs network, cgroups
shared = sum(a == b for a, b in zip(base_layers, new_layers))
print(f"shop:1.1 reuses every layer of shop:1.0 ({shared} of {len(base_layers)}):",
      new_layers[:len(base_layers)] == base_layers)
print(f"one new layer ({len(base_layers)} -> {len(new_layers)} layers):",
      len(new_layers) == len(base_layers) + 1)
top = new_layers[-1]   # the new layer, unpacked in the store
entries = sorted(os.path.relpath(os.path.join(d, n), top)
                 for d, dirs, names in os.walk(top) for n in dirs + names)
files = [e for e in entries if not os.path.isdir(os.path.join(top, e))]
print(f"the new layer's only file is the changed one ({', '.join(files)}):",
      files == ["app/VERSION"])
print("the directories above it:", ", ".join(e for e in entries if e not in files))
said = boxkit.run("shop:1.1", ["cat", "/app/VERSION"]).stdout.strip()
print(f"a container of shop:1.1 reads the committed version ({said!r}):", said == "1.1")

# %% [markdown]
# ## 5. The same limits, written by podman
#
# A limit is a number in a cgroup file. Here are the files behind the running shop, and the files podman
# (with runc) writes for the same `--memory 200m --cpus 0.5 --pids-limit 50`. One of them differs on
# purpose: swap. Without `--memory-swap`, docker and podman let a container swap as much again as its
# memory limit; boxkit gives a container no swap unless asked, so the OOM killer acts at the memory
# limit. Cgroup v1 limits memory and swap together (`memory.memsw.limit_in_bytes`, shown as
# `memory+swap`), v2 swap alone (`memory.swap.max`, shown as `swap`); a kernel that does not account
# swap has neither file.

# %%
# boxkit: needs network, cgroups
# NBVAL_IGNORE_OUTPUT
ours = compare.limits_of(shop.pid, swap=True)
theirs = compare.podman_limits(resolve("busybox").layers[-1], "200m", 0.5, 50, swap=True)
for what, (path, value) in ours.items():
    other = theirs.get(what, ("", "—"))[1] if isinstance(theirs, dict) else "—"
    print(f"{what:13} boxkit {value:>12}   podman {other:>12}   {os.path.basename(path)}")
if isinstance(theirs, str):
    print("podman:", theirs)

# %%
# boxkit: needs network, cgroups
SWAP = ("memory+swap", "swap")


def swap_room(limits):
    """Bytes of swap a container may use beyond its memory, None where swap is not accounted."""
    if "memory+swap" in limits:   # v1: memory and swap together
        return int(limits["memory+swap"][1]) - int(limits["memory limit"][1])
    return int(limits["swap"][1]) if "swap" in limits else None


if isinstance(theirs, dict):
    limits = [k for k in ours if k not in SWAP]
    equal = sum(k in theirs and theirs[k][1] == ours[k][1] for k in limits)
    print(f"boxkit and podman wrote the same memory, CPU and pids limits ({equal} of {len(limits)}"
          " files equal):", equal == len(limits))
    mine, podmans = swap_room(ours), swap_room(theirs)
    if mine is None or podmans is None:
        print("this kernel does not account swap: no swap limit to compare")
    else:
        memory = int(ours["memory limit"][1])
        print(f"swap: podman allows as much again as the memory, boxkit none ({podmans} and {mine}"
              " bytes beyond the memory):", podmans == memory and mine == 0)
else:
    print("podman is not available here: nothing to compare")

# %% [markdown]
# ## Clean up
#
# `remove()` asks boxkit's helper to kill the shop and take away everything it made, and returns
# without waiting. So the host is asked, for a few seconds, whether the traces are gone: the
# process, its cgroup directories (those the limits above were read from), its overlay upper
# directory and its published port.

# %%
# boxkit: needs network, cgroups
from boxkit.net import firewall as fw

groups = sorted({os.path.dirname(path) for path, _value in ours.values()})
pid, upper = shop.pid, shop.upper_dir
shop.remove()
shutil.rmtree(ctx)   # the build context, a temporary copy of the example
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    left = [p for p in (f"/proc/{pid}", upper, *groups) if os.path.exists(p)]
    published = ("tcp", 18080) in fw.published()
    if not left and not published:
        break
    time.sleep(0.05)

# %%
# boxkit: needs network, cgroups
print(f"the shop's process (host PID {pid}) is gone:", not os.path.exists(f"/proc/{pid}"))
gone = [g for g in groups if not os.path.exists(g)]
print(f"its cgroup directories are gone ({len(gone)} of {len(groups)}):", len(gone) == len(groups))
# the path below boxkit's root (a BOXKIT_ROOT moves the root; the tests use one of their own)
print(f"its upper directory is gone ({'/'.join(upper.split('/')[-3:])}):", not os.path.exists(upper))
print(f"port 18080 is no longer published ({len(fw.published())} ports in the DNAT map):",
      not published)

# %% [markdown]
# ## What was proved
#
# * A build file made an image layer by layer (a fresh cache: every layer built), and a second build
#   took every layer from the cache.
# * The shop ran under memory, CPU and process limits on a bridge, and answered on a published port;
#   removing it took its process, cgroup directories, upper directory and port off the host.
# * Under load the kernel throttled its CPU to the quota, its threads counted against its task
#   limit, and its memory grew with the orders, far under the limit.
# * A change to the running container became one new layer on top of the old image's layers, holding
#   the changed file.
# * The limits are numbers in cgroup files — the same numbers podman writes, where podman is installed,
#   except swap, which podman allows by default and boxkit does not.
#
# ## Exercise
#
# The shop keeps 32 KiB per order. Under a memory limit of `my_memory` (and no swap, as boxkit sets
# it), how many orders will it serve before the OOM killer ends it? Put your estimate in `my_orders`.
# The check runs the shop under that limit and sends orders one by one until it dies; an estimate
# close enough is right (the check says how close).

# %%
# boxkit: exercise
my_memory = "30M"
my_orders = ...   # a whole number of orders

# %%
# boxkit: exercise
from boxkit import exercises

exercises.shop_orders(my_memory, my_orders)

# %% [markdown]
# Stuck after a few tries? `exercises.solution("shop")` shows one answer and the reasoning behind it.
#
# **Try next:** start the shop of part 2 again with `cpus=0.1` and send it part 3's orders: does a CPU
# limit ever kill? What do `series.nr_throttled` and the load's `load.latencies_ms` (each order's time,
# in milliseconds) say? Remove the shop when you are done.
#
# ## What comes next, and what the course leaves out
#
# The next chapters open the box further:
#
# * 06 — [security layers](06-security.ipynb): what keeps root in a box small (capabilities, the
#   seccomp filter on system calls, no_new_privs, read-only and masked paths);
# * 07 — [the OCI chain](07-oci.ipynb): from docker and podman down to the runtime;
# * 08 — [a container by hand](08-by-hand.ipynb): made from system calls, one cell at a time;
# * 09 — [the first process](09-pid1.ipynb): what PID 1 owes its children.
#
# Left out of the whole course:
#
# * **LSM profiles**: AppArmor and SELinux rules are named in chapter 06, never written or loaded here.
# * **rootless containers as a whole**: chapter 01 shows a user namespace and its id map, and chapter
#   08 writes one by hand; the ranges of `/etc/subuid`, `newuidmap` and cgroups delegated to a user are
#   not shown.
# * **orchestration**: many containers on many machines (Kubernetes starts each pod with the same
#   kernel features you used here, through runc or crun).

