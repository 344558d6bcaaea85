# %% [markdown]
# # 05 — Capstone: one service, every mechanism
#
# Everything so far, in one run of the calls a container engine makes: **build** an app image with a layer cache, **run** it with memory, CPU
# and process limits on a bridge network with a published port, **watch** its memory and CPU while a
# load generator hits it, **commit** a change as a new layer, and compare the cgroup files boxkit wrote
# with the ones podman writes for the same flags.

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
# Its `Boxfile` starts `FROM host` (an image with python3), copies the app, sets the command.

# %%
ctx = tempfile.mkdtemp(prefix="shop-")
shutil.copytree(examples.path("shop"), ctx, dirs_exist_ok=True)
print(open(os.path.join(ctx, "Boxfile")).read())

# %% [markdown]
# The first build runs in a fresh build cache of its own (`cache_scope`: one per run of this notebook),
# so every step is really built here, as on a machine that never built the shop.

# %%
# NBVAL_IGNORE_OUTPUT
import uuid

lesson_cache = f"capstone-{uuid.uuid4().hex[:12]}"
first = build_file(os.path.join(ctx, "Boxfile"), "shop:1.0", ctx, cache_scope=lesson_cache)

# %% [markdown]
# Build again: nothing changed, so every step comes from the cache.

# %%
# NBVAL_IGNORE_OUTPUT
again = build_file(os.path.join(ctx, "Boxfile"), "shop:1.0", ctx, cache_scope=lesson_cache)

# %%
print(f"first build: every step built ({first.built_steps} built, {first.cached_steps} cached):",
      first.built_steps > 0 and first.cached_steps == 0)
print(f"rebuild: all from the cache ({again.built_steps} built, {again.cached_steps} cached):",
      again.built_steps == 0 and again.cached_steps > 0)
print(f"same image both times ({again.digest[7:19]}):", again.digest == first.digest)

# %% [markdown]
# ## 2. Run it like a real service
#
# 200 MiB of memory, half a CPU, at most 50 processes, on the default bridge with port 8000 published on
# the host as 18080 — docker's `run -d --memory 200m --cpus 0.5 --pids-limit 50 -p 18080:8000` (in
# both, `200M` and `200m` mean 200 MiB, 200 × 2²⁰ bytes). Each request the shop answers is an order,
# and its page says how many it holds.

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
# **1,500 orders**. Memory climbs with every order (1,500 × 32 KiB = 47 MiB on top of what the idle
# shop uses, far under the 200 MiB limit); CPU use presses against the 0.5 quota. The plot runs from
# the sampler's start to its stop, a little before and after the orders. The load is a count of
# orders, not a duration: on a faster machine the same orders arrive sooner, and the shop ends in the
# same state.

# %%
# boxkit: needs network, cgroups
# NBVAL_IGNORE_OUTPUT
sampler = shop.sample(hz=10)
ORDERS = 1500
load = loadgen.http_load("http://127.0.0.1:18080/", requests=ORDERS, concurrency=4)
series = sampler.stop()
from boxkit.viz.capstone import usage_figure

usage_figure(series, title=f"shop under load: {load.requests} orders, sent in {load.seconds:.1f} s")

# %%
# boxkit: needs network, cgroups
MiB = 1 << 20
grew = series.memory_current[-1] - series.memory_current[0]
served = load.requests
print(f"orders served ({served} of {ORDERS}, {load.errors} errors):", served == ORDERS)
cores = series.mean_cores(skip=1.0)
print(f"CPU stayed within the 0.5 quota ({cores:.2f} cores on average):", cores <= 0.6)
expected = ORDERS * (32 << 10)
print(f"memory grew with the orders (+{grew / MiB:.0f} MiB;"
      f" {ORDERS} x 32 KiB = {expected / MiB:.0f} MiB):", grew >= expected * 0.8)
peak = series.peak_memory
print(f"memory stayed under the 200 MiB limit (peak {peak / MiB:.0f} MiB):", peak <= 200 * MiB)
page = urllib.request.urlopen("http://127.0.0.1:18080/", timeout=5).read().decode().strip()
print(f"the shop still answers after the load ({page!r}):", page.startswith("shop 1.0"))

# %% [markdown]
# ## 4. Commit a change as a new layer
#
# Edit the running container (a new `VERSION`), then commit its upper dir — only what changed — as a
# layer on top of `shop:1.0`.

# %%
# boxkit: needs network, cgroups
# NBVAL_IGNORE_OUTPUT
from boxkit.build.commit import commit_container
from boxkit.images.store import Store

shop.exec(["sh", "-c", "echo 1.1 > /app/VERSION"])
commit_container("shop", "shop:1.1", comment="echo 1.1 > /app/VERSION")
store = Store()
base_layers = resolve("shop:1.0").layers
new_layers = resolve("shop:1.1").layers
print(len(base_layers), "layers ->", len(new_layers), "layers")

# %%
# boxkit: needs network, cgroups
shared = sum(a == b for a, b in zip(base_layers, new_layers))
print(f"shop:1.1 reuses every layer of shop:1.0 ({shared} of {len(base_layers)}):",
      new_layers[:len(base_layers)] == base_layers)
print(f"one new layer ({len(base_layers)} -> {len(new_layers)} layers):",
      len(new_layers) == len(base_layers) + 1)
said = boxkit.run("shop:1.1", ["cat", "/app/VERSION"]).stdout.strip()
print(f"a container of shop:1.1 reads the committed version ({said!r}):", said == "1.1")

# %% [markdown]
# ## 5. The same limits, written by podman
#
# A limit is a number in a cgroup file. Here are the files behind the running shop, and the files podman
# (with runc) writes for the same `--memory 200m --cpus 0.5 --pids-limit 50`.

# %%
# boxkit: needs network, cgroups
# NBVAL_IGNORE_OUTPUT
ours = compare.limits_of(shop.pid)
theirs = compare.podman_limits(resolve("busybox").layers[-1], "200m", 0.5, 50)
for what, (path, value) in ours.items():
    other = theirs.get(what, ("", "—"))[1] if isinstance(theirs, dict) else "—"
    print(f"{what:13} boxkit {value:>12}   podman {other:>12}   {os.path.basename(path)}")
if isinstance(theirs, str):
    print("podman:", theirs)

# %%
# boxkit: needs network, cgroups
if isinstance(theirs, dict):
    equal = sum(theirs[k][1] == v[1] for k, v in ours.items() if k in theirs)
    print(f"boxkit and podman wrote the same limits ({equal} of {len(ours)} files equal):",
          equal == len(ours))
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
print(f"its upper directory is gone ({upper}):", not os.path.exists(upper))
print(f"port 18080 is no longer published ({len(fw.published())} in the map):", not published)

# %% [markdown]
# ## What was proved
#
# * A build file made an image layer by layer (a fresh cache: every step built), and a second build took
#   every step from the cache.
# * The shop ran under memory, CPU and process limits on a bridge, and answered on a published port;
#   removing it took its process, cgroup directories, upper directory and port off the host.
# * Under load its CPU stayed at the quota and its memory grew with the orders, under the limit.
# * A change to the running container became one new layer on top of the old image's layers.
# * The limits are numbers in cgroup files — the same numbers podman writes, where podman is installed.
#
# ## Exercise
#
# The shop keeps 32 KiB per order, and it started from the first point of the memory plot above
# (`series.memory_current[0]` bytes). Under `my_memory`, how many orders will it serve before the OOM
# killer ends it? Put your estimate in `my_orders`. The check runs the shop under that limit and sends
# orders one by one until it dies; an estimate close enough is right (the check says how close).

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
# **Try next:** run the load of part 3 again with `cpus=0.1` instead: does a CPU limit ever kill? What do
# `series.nr_throttled` and the request latencies say?
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
# * **rootless containers as a whole**: chapter 01 shows a user namespace and its id map; the ranges of
#   `/etc/subuid`, `newuidmap` and cgroups delegated to a user are not shown.
# * **orchestration**: many containers on many machines (Kubernetes starts each pod with the same
#   kernel features you used here, through runc or crun).

