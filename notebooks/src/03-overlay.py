# %% [markdown]
# # 03 — The overlay file system: layers, shared
#
# *"Version 2.0 reuses the dependencies and only stores the difference."*
#
# A container image is a **stack of layers**: read-only directory trees, each holding what one build
# step added, changed or deleted. `overlayfs` shows the stack as one tree, and puts a writable
# **upper** directory on top for the container:
#
# ```
# mount -t overlay overlay -o lowerdir=L2:L1,upperdir=U,workdir=W  MERGED
# ```
#
# | part | role |
# |---|---|
# | `lowerdir` | read-only layers, top-most first; a file in `L2` hides the same name in `L1` |
# | `upperdir` | every change lands here: written files are *copied up*, deletions leave *whiteouts* |
# | `workdir` | scratch space on the upper's file system, used to make each copy-up atomic |
# | merged | what the container sees as `/` |
#
# We first build one by hand, then the seed's story with real images.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit import course

course.start("containers")

# %%
# boxkit: needs root
# NBVAL_IGNORE_OUTPUT
import os
import shutil
import stat

import boxkit
from boxkit.images.overlay import mount_overlay, unmount_overlay

demo = "/var/tmp/boxkit-overlay-demo"
shutil.rmtree(demo, ignore_errors=True)
for d in ("lower/etc", "lower/docs", "upper", "work", "merged"):
    os.makedirs(f"{demo}/{d}")
open(f"{demo}/lower/etc/config", "w").write("mode=v1\n")
open(f"{demo}/lower/etc/old", "w").write("to be deleted\n")
open(f"{demo}/lower/docs/a.txt", "w").write("a\n")
open(f"{demo}/lower/docs/b.txt", "w").write("b\n")

mount_overlay([f"{demo}/lower"], f"{demo}/upper", f"{demo}/work", f"{demo}/merged")
print([line.split(" - ")[1] for line in open("/proc/self/mountinfo") if f"{demo}/merged" in line][0])

# %% [markdown]
# ## Writing a lower file: copy-up
#
# The merged view looks like the lower dir. Writing to `etc/config` cannot change the read-only lower
# layer, so the kernel first copies the file into `upper/`, then writes the copy.

# %%
# boxkit: needs root
with open(f"{demo}/merged/etc/config", "a") as f:
    f.write("mode=v2\n")
print("merged sees:", open(f"{demo}/merged/etc/config").read().split())
print("lower unchanged:", open(f"{demo}/lower/etc/config").read() == "mode=v1\n")
print("copy in upper:", os.path.exists(f"{demo}/upper/etc/config"))

# %% [markdown]
# ## Deleting a lower file: a whiteout
#
# A lower file cannot be removed either. The upper dir gets a **whiteout**: a character device with
# device number 0/0 under the same name, which tells overlayfs "this name is gone".

# %%
# boxkit: needs root
os.unlink(f"{demo}/merged/etc/old")
st = os.lstat(f"{demo}/upper/etc/old")
print("gone from merged:", not os.path.exists(f"{demo}/merged/etc/old"))
print("still in lower:", os.path.exists(f"{demo}/lower/etc/old"))
print("whiteout is a char device 0/0:", stat.S_ISCHR(st.st_mode) and st.st_rdev == 0)

# %% [markdown]
# ## Replacing a directory: opaque
#
# Remove `docs/` and create it again: the new directory must not show the lower `a.txt` and `b.txt`.
# The upper `docs/` is marked **opaque** with the extended attribute `trusted.overlay.opaque=y`:
# nothing below shows through it.

# %%
# boxkit: needs root
shutil.rmtree(f"{demo}/merged/docs")
os.mkdir(f"{demo}/merged/docs")
open(f"{demo}/merged/docs/new.txt", "w").write("new\n")
print("merged docs/:", sorted(os.listdir(f"{demo}/merged/docs")))
print("lower docs/ intact:", sorted(os.listdir(f"{demo}/lower/docs")))
print("opaque:", os.getxattr(f"{demo}/upper/docs", "trusted.overlay.opaque"))

# %% [markdown]
# All three markers in one picture, read from the four directories while the overlay is mounted: one
# column per path, the rows as the kernel resolves a name (upper first, lower where upper has nothing).

# %%
# boxkit: needs root
# NBVAL_IGNORE_OUTPUT
from boxkit.images.upper import scan_overlay
from boxkit.viz.overlay import overlay_figure

scan = scan_overlay(f"{demo}/lower", f"{demo}/upper", f"{demo}/work", f"{demo}/merged")
overlay_figure(scan)

# %%
# boxkit: needs root
print(f"upper holds {sum(k == 'whiteout' for k in scan['upper'].values())} whiteout, etc/old:",
      scan["upper"].get("etc/old") == "whiteout")
print(f"opaque dirs in upper: {sum(k == 'opaque' for k in scan['upper'].values())}, docs:",
      scan["upper"].get("docs") == "opaque")
print("lower docs/a.txt missing from merged:", "docs/a.txt" in scan["lower"] and "docs/a.txt" not in scan["merged"])

# %%
# boxkit: needs root
unmount_overlay(f"{demo}/merged")
print("upper holds only the changes:", sorted(
    os.path.relpath(os.path.join(d, n), f"{demo}/upper") for d, ds, fs in os.walk(f"{demo}/upper") for n in fs + ds))
shutil.rmtree(demo)

# %% [markdown]
# Those three markers are exactly what an image layer stores: a layer *is* an upper dir, written as a
# tar where whiteouts become `.wh.NAME` files and opaque dirs a `.wh..wh..opq` file
# (`boxkit commit` does that conversion).
#
# ## What copy-up costs
#
# Copy-up copies the **whole file**, whatever the size of the write. Appending one byte to a large
# lower file (a database, a log) is expensive the first time — one reason containers keep such data
# in volumes, not in the image.
#
# That holds on the file systems here. Two exceptions: where the upper dir's file system can *reflink*
# (xfs, btrfs), overlayfs clones the file's blocks instead of copying them, and copy-up is cheap
# whatever the size; and an overlay mounted with `metacopy=on` copies only the metadata for a
# `chmod`/`chown`, and the data only on the first write. Below, only the file's size varies: the
# write is always one byte.

# %%
# boxkit: needs root
# NBVAL_IGNORE_OUTPUT
from boxkit.image_experiments import copy_up_latency
from boxkit.viz.layers import copyup_figure

sizes = [4 << 10, 256 << 10, 4 << 20, 32 << 20, 128 << 20]
points = copy_up_latency(sizes)
for size, secs in points:
    print(f"{size >> 10:>8} KiB  {secs * 1000:8.2f} ms")
copyup_figure(points)

# %%
# boxkit: needs root
print(f"copy-up of 128 MiB {points[-1][1] * 1000:.1f} ms, of 4 KiB {points[0][1] * 1000:.2f} ms; more than 5x slower:",
      points[-1][1] > 5 * points[0][1])

# %% [markdown]
# ## The seed's story: version 1.0 and version 2.0
#
# An app with two dependencies, built with a build file (the Dockerfile subset boxkit supports):
#
# ```
# FROM busybox
# COPY dep-a /deps/a
# COPY dep-b /deps/b
# COPY app.sh /app/
# CMD ["sh", "/app/app.sh"]
# ```
#
# Each `COPY` makes a layer. Version 2.0 changes only `app.sh`. Every step gets a cache key from its
# parent and its inputs: the base and both dependency steps are unchanged, so the second build says
# `CACHED` for them and makes one new layer. The first build runs in a build cache of its own (a new
# `cache_scope` for each run of this notebook), so it builds every step, as a first build anywhere would.

# %%
# NBVAL_IGNORE_OUTPUT
import tempfile

from boxkit.image_experiments import build_seed_app, shared_layers
from boxkit.images.store import Store

import uuid

work = tempfile.mkdtemp(prefix="bk-seed-", dir="/var/tmp")
builds = []
v1, v2 = build_seed_app(work, log=print, cache_scope=f"overlay-{uuid.uuid4().hex[:12]}", results=builds)

# %%
b1, b2 = builds
print(f"1.0: {b1.built_steps} layer steps built, {b1.cached_steps} cached:", b1.built_steps == 3 and b1.cached_steps == 0)
print(f"2.0: {b2.built_steps} built (the changed COPY app.sh), {b2.cached_steps} cached:",
      b2.built_steps == 1 and b2.cached_steps == 2)

# %%
# NBVAL_IGNORE_OUTPUT
print(boxkit.run(v1).stdout, boxkit.run(v2).stdout)
print(f"{'layer':<13} {'on disk':>9}  step")
for h in Store().history(v2):
    print(f"{(h['diff_id'] or 'sha256:<none>')[7:19]:<13} {h['size']:>9}  {h['created_by'][:60]}")

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit.viz.layers import layers_figure

store = Store()
layers_figure({v1: store.layers_of(v1), v2: store.layers_of(v2)},
              "version 2.0 reuses the dependencies; only the app layer is new")

# %%
from boxkit.viz.layers import disk_totals

totals = disk_totals({v1: store.layers_of(v1), v2: store.layers_of(v2)})
print(f"both images on disk {totals['stored']:,} B, their sizes add up to {totals['summed']:,} B; "
      "the store holds less than the sum:", totals["stored"] < totals["summed"])
share = shared_layers(v1, v2)
print("shared layers:", share["shared"], "(busybox + 2 dependencies)")
print("dependency layers shared:", share["shared"] - 1)
print("new layers in 2.0:", share["added"])
print(f"v2 added a {share['added_bytes']:,}-byte layer tar, under 16 kB:", share["added_bytes"] < 16_000)
print(f"v2 added less than 1% of the {share['shared_bytes']:,} bytes it shares:",
      share["added_bytes"] < share["shared_bytes"] / 100)

# %% [markdown]
# Two sizes exist: the history and the figure give each layer's bytes **on disk** (its unpacked
# directory, in whole file-system blocks; each box is as wide as that), a registry stores and sends the
# layer's **tar** (`Store().layers_of(ref)` has both). And why can
# 2.0 share 1.0's layers at all? Layers are **content-addressed**: a layer's name is the SHA-256 of its
# uncompressed tar (the *diff id* above), so the same files, packed the same way, are the same layer whichever build
# made them — the store keeps it once. `docs/img/overlay1.png` and `overlay2.png` (the seed's figures) are
# drawn by this same code from these images (`tools/figures.py overlay`).
#
# ## Ten containers of 2.0
#
# Every container of an image mounts the **same** layer directories as its lower dirs; only its upper
# dir is its own. Ten containers that each write 4 KiB cost the image once plus ten small upper dirs.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit.image_experiments import containers_cost
from boxkit.viz.layers import containers_figure

cost = containers_cost(v2, n=10)
print(f"image layers: {cost['image_bytes']:,} B, upper dirs: {cost['upper_bytes']}")
containers_figure(cost)

# %%
print("containers:", cost["containers"])
print(f"largest upper dir {max(cost['upper_bytes']):,} B, image {cost['image_bytes']:,} B; every upper dir smaller:",
      max(cost["upper_bytes"]) < cost["image_bytes"])
print(f"ten containers cost {cost['total_bytes']:,} B, less than two copies of the image:",
      cost["total_bytes"] < 2 * cost["image_bytes"])
print(f"without shared layers they would cost {cost['without_sharing_bytes']:,} B:",
      cost["without_sharing_bytes"] > cost["total_bytes"])

# %%
shutil.rmtree(work)
print("done")

# %% [markdown]
# ## What was proved
#
# * Writing a lower file copied it whole into the upper dir; deleting one left a whiteout (a character
#   device 0/0); a directory made anew over a lower one was marked opaque. The lower dir never changed.
# * Copy-up of a one-byte write cost time in proportion to the file's size (here, without reflink or
#   metacopy).
# * Version 1.0 built every step; 2.0 reused the base and dependency layers of 1.0 (the build said
#   `CACHED`) and built one small new layer.
# * Ten containers of one image shared its layers on disk; each cost only its own small upper dir.
#
# ## Exercise
#
# A `busybox` container runs `my_command`. Predict what it leaves in the container's upper dir: for each
# path, `"whiteout"` (an image file deleted), `"copy-up"` (an image file changed), `"new"` (not in the
# image) or `"opaque"` (an image directory replaced whole). The check runs the command in a real container
# and reads its upper dir before and after.

# %%
# boxkit: exercise
my_command = "rm /bin/ls; echo admin >> /etc/passwd; echo hi > /tmp/note"
my_prediction = ...   # a dict: path in the upper dir (like "etc/hosts") -> its kind

# %%
# boxkit: exercise
from boxkit import exercises

exercises.overlay_upper(my_command, my_prediction)

# %% [markdown]
# Stuck after a few tries? `exercises.solution("overlay")` shows one answer and the reasoning behind it.
#
# **Try next:** replace a whole directory (`rm -r /home; mkdir /home; touch /home/me`) and predict again.
# Continue with [04 — networks](04-network.ipynb).
