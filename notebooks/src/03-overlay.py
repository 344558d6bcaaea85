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
# | `workdir` | scratch space on the upper's file system for each copy-up; the container never sees it |
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
mounts = [line for line in open("/proc/self/mountinfo") if f"{demo}/merged" in line]
print(mounts[0].split(" - ")[1])

# %% [markdown]
# ## Writing a lower file: copy-up
#
# The merged view looks like the lower dir. Writing to `etc/config` cannot change the read-only lower
# layer, so the kernel first copies the file into `upper/`, then writes the copy.

# %%
# boxkit: needs root
with open(f"{demo}/merged/etc/config", "a") as f:
    f.write("mode=v2\n")
merged_text = open(f"{demo}/merged/etc/config").read()
lower_text = open(f"{demo}/lower/etc/config").read()
copy = f"{demo}/upper/etc/config"
copied = os.path.getsize(copy) if os.path.exists(copy) else 0
print(f"merged reads {merged_text.split()}, both lines:", merged_text == "mode=v1\nmode=v2\n")
print(f"lower still reads {lower_text.split()}, unchanged:", lower_text == "mode=v1\n")
print(f"upper holds etc/config, {copied} bytes, the whole changed file:",
      copied == len(merged_text))

# %% [markdown]
# ## Deleting a lower file: a whiteout
#
# A lower file cannot be removed either. The upper dir gets a **whiteout**: a character device with
# device number 0/0 under the same name, which tells overlayfs "this name is gone".

# %%
# boxkit: needs root
os.unlink(f"{demo}/merged/etc/old")
st = os.lstat(f"{demo}/upper/etc/old")
merged_etc = sorted(os.listdir(f"{demo}/merged/etc"))
kind = "char device" if stat.S_ISCHR(st.st_mode) else stat.filemode(st.st_mode)
print(f"merged etc/ lists {merged_etc}, old is gone:", "old" not in merged_etc)
old_lower = f"{demo}/lower/etc/old"
kept = os.path.getsize(old_lower) if os.path.exists(old_lower) else 0
print(f"lower etc/old still holds {kept} bytes:", kept == len("to be deleted\n"))
print(f"upper etc/old is a {kind} {os.major(st.st_rdev)}/{os.minor(st.st_rdev)}, a whiteout:",
      stat.S_ISCHR(st.st_mode) and st.st_rdev == 0)

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
merged_docs = sorted(os.listdir(f"{demo}/merged/docs"))
lower_docs = sorted(os.listdir(f"{demo}/lower/docs"))
marks = os.listxattr(f"{demo}/upper/docs")
mark = (os.getxattr(f"{demo}/upper/docs", "trusted.overlay.opaque")
        if "trusted.overlay.opaque" in marks else None)
print(f"merged docs/ lists {merged_docs}, only the new file:", merged_docs == ["new.txt"])
print(f"lower docs/ still lists {lower_docs}, intact:", lower_docs == ["a.txt", "b.txt"])
print(f"upper docs/ has trusted.overlay.opaque = {mark!r}, opaque:", mark == b"y")

# %% [markdown]
# All three markers in one picture, read from the four directories while the overlay is mounted: one
# column per path, the rows as the kernel resolves a name (upper first, lower where upper has nothing),
# one panel per top directory. Under them, what the **work** dir holds, each entry explained: besides
# the scratch dir `work/`, the kernel keeps one whiteout of its own there (named `#` and a hex number)
# and makes each whiteout it puts in upper a hard link to it, one inode for all of them. The cell after
# the figure checks that by inode number.

# %%
# boxkit: needs root
# NBVAL_IGNORE_OUTPUT
from boxkit.images.upper import scan_overlay
from boxkit.viz.overlay import overlay_figure

scan = scan_overlay(f"{demo}/lower", f"{demo}/upper", f"{demo}/work", f"{demo}/merged")
overlay_figure(scan)

# %%
# boxkit: needs root
whiteouts = [p for p, k in scan["upper"].items() if k == "whiteout"]
opaques = [p for p, k in scan["upper"].items() if k == "opaque"]
print(f"whiteouts in upper {whiteouts}, etc/old among them:", "etc/old" in whiteouts)
print(f"opaque dirs in upper {opaques}, docs among them:", "docs" in opaques)
hidden = sorted(p for p in scan["lower"] if p not in scan["merged"])
print(f"lower paths missing from merged {hidden}:",
      hidden == ["docs/a.txt", "docs/b.txt", "etc/old"])
old = os.lstat(f"{demo}/upper/etc/old")
spare = [p for p, k in scan["work"].items() if k == "whiteout"]
same = [p for p in spare if os.lstat(f"{demo}/work/{p}").st_ino == old.st_ino]
print(f"whiteouts in work: {len(spare)}, each the inode of upper etc/old ({old.st_nlink} links):",
      bool(spare) and same == spare)

# %%
# boxkit: needs root
unmount_overlay(f"{demo}/merged")
changes = sorted(os.path.relpath(os.path.join(d, n), f"{demo}/upper")
                 for d, ds, fs in os.walk(f"{demo}/upper") for n in fs + ds)
print(f"upper holds {changes}, only the changes:",
      changes == ["docs", "docs/new.txt", "etc", "etc/config", "etc/old"])
shutil.rmtree(demo, ignore_errors=True)
print(f"the demo's directories ({demo}) removed:", not os.path.exists(demo))

# %% [markdown]
# Those three markers are exactly what an image layer stores: a layer *is* an upper dir, written as a
# tar where whiteouts become `.wh.NAME` files and opaque dirs a `.wh..wh..opq` file
# (`boxkit commit` does that conversion).
#
# ## What copy-up costs
#
# **Predict first.** A container appends one byte to a file of its image. The next cell does that to
# lower files of 4 KiB up to 128 MiB, each time on a fresh overlay, and times the first append
# (open, write, close). Will the 128 MiB file take about as long as the 4 KiB one? If not, why is the
# first write to a big lower file slow, and would a second append be slow too? Write your guess down,
# then run the cell.

# %%
# boxkit: needs root
# NBVAL_IGNORE_OUTPUT
from boxkit.image_experiments import copy_up_latency, fs_type
from boxkit.viz.layers import copyup_figure

sizes = [4 << 10, 256 << 10, 4 << 20, 32 << 20, 128 << 20]
points = copy_up_latency(sizes)
param = "/sys/module/overlay/parameters/metacopy"   # Y or N: the default when no option is given
meta = open(param).read().strip() if os.path.exists(param) else "?"
if meta == "Y":
    print(f"lower, upper and work dirs on {fs_type('/var/tmp')}; metacopy on (no metacopy= option "
          f"given; {param}: {meta})")
else:
    print(f"lower, upper and work dirs on {fs_type('/var/tmp')}; metacopy off (no metacopy= option "
          f"given; {param}: {meta})")
for size, secs in points:
    print(f"{size >> 10:>8} KiB  {secs * 1000:8.2f} ms")
copyup_figure(points)

# %%
# boxkit: needs root
big, small = points[-1][1] * 1000, points[0][1] * 1000
print(f"first append to 128 MiB {big:.1f} ms, to 4 KiB {small:.2f} ms; over 5 times slower:",
      big > 5 * small)

# %% [markdown]
# The answer: the lower file is read-only, so before anything may change it the kernel **copies the
# whole file** into the upper dir, whatever the size of the write. The time grows with the file, not
# with the one byte. It is paid once: later writes go to the upper copy. That is one reason
# containers keep large, changing data (a database, a log) in volumes, not in the image.
#
# *When* is it paid? Not at the write: at the first **open for writing**. The next cell opens a
# 32 MiB lower file read-only, then for writing without writing a byte, and counts what the upper
# dir holds after each; then it appends a byte and opens the file for writing once more.

# %%
# boxkit: needs root
from boxkit.image_experiments import copy_up_at_open

at_open = copy_up_at_open(32 << 20)
print(f"after a read-only open, upper holds {at_open['after_read_open']} bytes of it:",
      at_open["after_read_open"] == 0)
print(f"after an open for writing, nothing written: {at_open['after_write_open']} bytes of "
      f"{at_open['size']}, the whole file:", at_open["after_write_open"] >= at_open["size"])
print(f"a second open for writing used that copy (inode {at_open['upper_inode']}), no new copy:",
      at_open["same_inode"])

# %% [markdown]
# Two exceptions. Where the upper dir's file system can *reflink* (xfs, btrfs; ext4 cannot) and the
# lower file lies on that same file system, overlayfs clones the file's blocks instead of copying
# them, and copy-up is cheap whatever the size. And an overlay with `metacopy=on` copies only the
# metadata for a `chmod`/`chown`, and the data later, at the first open for writing, as an ordinary
# copy-up does. The measurement above printed the file system these overlays used and whether
# metacopy was on.

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
# parent and its inputs: the base (an image, named and never built) and both dependency steps are
# unchanged, so the second build says `CACHED` for the two dependency steps and makes one new layer.
# The first build runs in a build cache of its own (a new `cache_scope` for each run of this
# notebook), so it builds every step, as a first build anywhere would.

# %%
# NBVAL_IGNORE_OUTPUT
import tempfile

from boxkit.image_experiments import build_seed_app, shared_layers
from boxkit.images.store import Store

import uuid

work = tempfile.mkdtemp(prefix="bk-seed-", dir="/var/tmp")
builds = []
scope = f"overlay-{uuid.uuid4().hex[:12]}"
v1, v2 = build_seed_app(work, log=print, cache_scope=scope, results=builds)

# %%
b1, b2 = builds
print(f"1.0: {b1.built_steps} layer steps built, {b1.cached_steps} cached:",
      b1.built_steps == 3 and b1.cached_steps == 0)
print(f"2.0: {b2.built_steps} built (the changed COPY app.sh), {b2.cached_steps} cached:",
      b2.built_steps == 1 and b2.cached_steps == 2)

# %%
# NBVAL_IGNORE_OUTPUT
out2 = boxkit.run(v2).stdout
print(boxkit.run(v1).stdout + out2)
header = ("layer", "on disk", "step")
print(f"{header[0]:<13} {header[1]:>9}  {header[2]}")
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
print(f"both images on disk {totals['stored']} B, their sizes add up to {totals['summed']} B; "
      "the store holds less than the sum:", totals["stored"] < totals["summed"])
share = shared_layers(v1, v2)
print(f"layers 2.0 shares with 1.0: {share['shared']} (busybox and the 2 dependencies):",
      share["shared"] == 3)
print(f"new layers in 2.0: {share['added']} (the app):", share["added"] == 1)
print(f"v2 added a {share['added_bytes']}-byte layer tar, under 16 kB:",
      share["added_bytes"] < 16_000)
print(f"v2 added less than 1% of the {share['shared_bytes']} bytes it shares:",
      share["added_bytes"] < share["shared_bytes"] / 100)

# %% [markdown]
# Two sizes exist: the history and the figure give each layer's bytes **on disk** (its unpacked
# directory, in whole file-system blocks; each box's width follows it, but for a layer the figure marks
# "not to scale"); the store also knows the size
# of the layer's **tar** (`Store().layers_of(ref)` has both). And why can 2.0 share 1.0's layers at
# all? Layers are **content-addressed**: a layer's name is the SHA-256 of its uncompressed tar (the
# *diff id* in the history above), so the same files, packed the same way, are the same layer
# whichever build made them — the store keeps it once.
#
# Careful, though: `busybox` now has two ids on screen. The build log's `FROM busybox ---> …` is not
# a layer: it is the digest of busybox's **manifest**, the small JSON that names the image's config
# and its layers. The history's bottom row is the **diff id** of busybox's one layer. A third,
# the digest of the **config** (the JSON with `Cmd`, `Env` and the list of diff ids), is what docker
# calls the *image id*. (boxkit's `Successfully built` line names the new image's manifest digest too,
# where docker's classic builder prints the image id.) The next cell reads all three from the store.

# %%
# NBVAL_IGNORE_OUTPUT
bb_manifest_digest, bb_manifest, bb_config = store.manifest_of("busybox")
bb_diff = bb_config["rootfs"]["diff_ids"][0]
from_id = next(line.split()[-1] for line in b1.log if line.startswith(" --->"))
print(f"build log, FROM busybox --->  {from_id}")
print(f"busybox's manifest digest     {bb_manifest_digest[7:19]}  (config + list of layers)")
print(f"busybox's config digest       {bb_manifest['config']['digest'][7:19]}  (docker's image id)")
print(f"its one layer's diff id       {bb_diff[7:19]}  (sha256 of the uncompressed tar)")

# %%
base_row = Store().history(v2)[-1]
print(f"the build log names busybox's manifest ({from_id}):", from_id == bb_manifest_digest[7:19])
print(f"the history's base layer is busybox's diff id ({base_row['diff_id'][7:19]}):",
      base_row["diff_id"] == bb_diff)

# %% [markdown]
# Which ids would another host get? A busybox image built on another host, or at another time, packs
# other file times (and maybe another binary), so its layer has another diff id. The dependency
# layers hold the same bytes with pinned file times, but a tar records each file's mode and owner
# too: another host gets the same ids only where those match (another umask, or a build as an
# ordinary user, gives other ids). The README's pictures of this story (`docs/img/overlay1.png`,
# `overlay2.png`) are drawn by the figure code above on one host, so they show that host's ids.
#
# ## Push and pull: what a registry holds
#
# A registry (Docker Hub, or the one here) is an HTTP server that stores **blobs** by digest (the
# layers, the config, and the manifest itself) and **tags** that name a manifest. `docker push` sends
# each layer **compressed** (gzip), so the blob, and the digest the manifest lists for it, is that of
# the *compressed* bytes; the config travels unchanged, and its `rootfs.diff_ids` still name the
# *uncompressed* tars. A puller downloads the compressed blobs, unpacks each, and checks it against
# the diff id the config names.
#
# The next cell starts Debian's `docker-registry` on 127.0.0.1 (a free port, its storage in a new
# directory), pushes `seed-app:2.0` to it as `docker push` would (each layer gzip'd), reads back the
# manifest and the config, then pulls it with boxkit's `pull` (what `boxkit pull` runs): first into
# an empty store, then into this one. It runs the pulled image, then stops the registry and removes its
# directory, the empty store and the pulled tag.

# %%
# boxkit: needs root
# NBVAL_IGNORE_OUTPUT
from boxkit.image_experiments import registry_roundtrip

trip = registry_roundtrip(v2, repo="seed-app", tag="2.0", pulled="seed-app:pulled")
if "missing" in trip:
    print(trip["missing"])
else:
    steps = ["base: busybox" if r["created_by"].startswith("boxkit base") else r["created_by"][:24]
             for r in Store().layers_of(v2)]
    tars = [x["tar_bytes"] for x in trip["pushed"]["layers"]]
    header = ("layer", "diff id (config)", "tar B", "digest (manifest)", "gzip B")
    print(f"{header[0]:<25} {header[1]:<17} {header[2]:>9}   {header[3]:<17} {header[4]:>9}")
    for step, diff, tar, desc in zip(steps, trip["config"]["rootfs"]["diff_ids"], tars,
                                     trip["manifest"]["layers"]):
        print(f"{step:<25} {diff[7:19]:<17} {tar:>9}   "
              f"{desc['digest'][7:19]:<17} {desc['size']:>9}")
    print("blobs on the registry's disk:", [d[7:19] for d in trip["registry_blobs"]])

# %%
# boxkit: needs root
if "missing" in trip:
    print(trip["missing"])
else:
    diffs = trip["config"]["rootfs"]["diff_ids"]
    digests = [desc["digest"] for desc in trip["manifest"]["layers"]]
    local = [r["diff_id"] for r in Store().layers_of(v2)]
    named = set(digests) | {trip["manifest"]["config"]["digest"], trip["manifest_digest"]}
    print(f"layer digests in the manifest that are diff ids: {len(set(digests) & set(diffs))} "
          f"of {len(digests)}, none:", not set(digests) & set(diffs))
    print(f"the config from the registry lists the {len(diffs)} local diff ids:", diffs == local)
    print(f"the registry's disk holds {len(trip['registry_blobs'])} blobs: gzip'd layers, config, "
          "manifest:", set(trip["registry_blobs"]) == named)
    fetched = trip["empty_fetched"]
    want = set(digests) | {trip["manifest"]["config"]["digest"]}
    print(f"into an empty store: {len(fetched)} blobs fetched ({sum(fetched.values())} B), the "
          "config and the gzip'd layers; each layer unpacked to its diff id:",
          set(fetched) == want and trip["empty_diff_ids"] == diffs)
    print(f"into this store: {len(trip['new_blobs'])} new blob, the manifest; every layer found "
          "by its diff id:", trip["new_blobs"] == [trip["manifest_digest"]])
    mine = trip["pushed"]["local_manifest_digest"]
    print(f"the registry's manifest {trip['manifest_digest'][7:19]} is not the local {mine[7:19]}:",
          trip["manifest_digest"] != mine)
    print(f"the pulled image runs and says {trip['run_pulled'].split()}:",
          trip["run_pulled"] == out2)
    print(f"registry stopped (exit code {trip['registry_exit']}), its directory, the empty store "
          "and the pulled tag removed:",
          trip["registry_exit"] is not None and not trip["registry_dir_left"]
          and not trip["pulled_tag_left"])

# %% [markdown]
# So a layer has two names. The manifest's digest names the bytes that travel and that the registry
# stores (compressed); the config's diff id names the content (uncompressed), which is what a store
# compares. That is why pulling into this store fetched no layer at all: the registry's gzip'd blobs
# were new to it, but every diff id in the config was already here. And the manifest digest names the
# exact upload: the registry's manifest lists gzip'd layers, so its digest is not the one
# `seed-app:2.0` has in the local store. On Docker Hub you see manifest digests and compressed sizes, never
# diff ids: those are in each image's config.
#
# ## Ten containers of 2.0
#
# Every container of an image mounts the **same** layer directories as its lower dirs; only its upper
# dir is its own. The next cell starts ten containers of 2.0, each writing 4 KiB to a new file in
# `/tmp`, reads which directories each container's root overlay stacks (from the container's own
# `/proc/PID/mountinfo`), and measures each upper dir. An upper dir holds more than the new file: the
# files boxkit writes into every container (such as `/etc/hosts`), the directories above each file
# (copied up as parents), every one in whole file-system blocks. The cell prints one container's.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit.image_experiments import containers_cost
from boxkit.viz.layers import containers_figure

cost = containers_cost(v2, n=10)
print(f"image layers: {cost['image_bytes']} B, upper dirs: {cost['upper_bytes']}")
print(f"the first container's upper dir holds {cost['upper_paths']}")
containers_figure(cost)

# %%
n_box, n_layers = cost["containers"], cost["image_lowerdir"].count(":") + 1
same = cost["lowerdirs"].count(cost["image_lowerdir"])
print(f"root overlays stacking the image's {n_layers} layer dirs as lower dirs: {same} of {n_box}:",
      same == n_box)
print(f"upper dirs, one per container: {len(set(cost['upperdirs']))} of {n_box}:",
      len(set(cost["upperdirs"])) == n_box)
print(f"upper dirs holding their container's {cost['write_bytes']}-byte file: "
      f"{cost['wrote']} of {n_box}:", cost["wrote"] == n_box)
print(f"largest upper dir {max(cost['upper_bytes'])} B, image {cost['image_bytes']} B; "
      "every upper dir smaller:", max(cost["upper_bytes"]) < cost["image_bytes"])
print(f"ten containers cost {cost['total_bytes']} B, less than two copies of the image:",
      cost["total_bytes"] < 2 * cost["image_bytes"])
print(f"ten full copies of the image would cost {cost['without_sharing_bytes']} B, more:",
      cost["without_sharing_bytes"] > cost["total_bytes"])

# %%
held = sum(len(files) for _d, _ds, files in os.walk(work))
shutil.rmtree(work, ignore_errors=True)
print(f"the build context ({held} files) removed:", not os.path.exists(work))

# %% [markdown]
# ## What was proved
#
# * Writing a lower file copied it whole into the upper dir; deleting one left a whiteout (a character
#   device 0/0); a directory made anew over a lower one was marked opaque. The lower dir never changed.
# * Copy-up of a one-byte write took longer the bigger the lower file (here, without reflink or
#   metacopy), and the whole file was copied at the first open for writing, before a byte was written.
# * Version 1.0 built every step; 2.0 reused the base and dependency layers of 1.0 (the build said
#   `CACHED` for both dependency steps) and built one small new layer.
# * A registry stored each layer gzip'd, under the digest of the compressed bytes that its manifest
#   lists; the config kept the diff ids. boxkit pulled the image back, checked each layer against its
#   diff id, and fetched nothing a store already held.
# * Ten containers of one image stacked the very same layer directories, read from each one's mount
#   table; each cost only its own small upper dir.
#
# ## Exercise
#
# A `busybox` container runs `my_command`. Predict what it leaves in the container's upper dir: for each
# path the command deletes, changes or makes, `"whiteout"` (an image file deleted), `"copy-up"` (an image
# file changed), `"new"` (not in the image) or `"opaque"` (an image directory replaced whole). The check
# runs the command in a real container and reads its upper dir before and after, so the files boxkit
# wrote there before the command ran do not count; nor does a directory the image already has that is
# in upper only as the parent of such a path (like `etc` above, beside `etc/config`).

# %%
# boxkit: exercise
my_command = "rm /bin/ls; echo admin >> /etc/passwd; echo hi > /tmp/note"
my_prediction = ...   # a dict: path without the leading / (like "usr/lib/x") -> its kind

# %%
# boxkit: exercise
from boxkit import exercises

exercises.overlay_upper(my_command, my_prediction)

# %% [markdown]
# Stuck after a few tries? `exercises.solution("overlay")` shows one answer and the reasoning behind it.
#
# **Try next:** replace a whole directory (`rm -r /home; mkdir /home; touch /home/me`) and predict again.
# Continue with [04 — networks](04-network.ipynb).
