# %% [markdown]
# # 07 — What `docker run` really does: the OCI chain, with boxkit in runc's seat
#
# Neither docker nor podman starts a container itself. Both write an OCI **bundle** — a `config.json` that
# says everything about the container, beside its root file system — and call a **runtime** through five
# verbs: `create`, `start`, `state`, `kill`, `delete`. The Open Container Initiative (OCI) writes these
# contracts down: the *runtime spec* (the bundle and those verbs) and the *image spec* (what an image
# is: a manifest, a config, layers, and how they lie on disk). A third, the *distribution spec*, says
# how a registry serves them; this notebook does not use it.
#
# ```
# docker ─> containerd ─> containerd-shim ─> runc create, then runc start ─> the container
# podman ─> conmon ─> runc create ─> the container
#    └────> runc start   (podman runs start itself; conmon only runs create)
# ```
#
# boxkit has a runtime; `boxkit-runtime` speaks that command line, so podman can use it instead of runc.
# This notebook walks the state machine by hand, reads the bundle podman writes and compares it with
# docker's defaults, looks at the processes while a container runs, compares the cgroup files
# boxkit-runtime and runc write for the same flags, and opens an image the way the image spec lays it out.
# It ends with an exercise: you edit one field of a `config.json` and predict what the container may do.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit import course

course.start("containers")

# %%
# NBVAL_IGNORE_OUTPUT
import os
import tempfile
import textwrap

import boxkit
from boxkit import compare, exercises_oci
from boxkit.oci import demo

work = tempfile.mkdtemp(prefix="oci-")

# %% [markdown]
# ## 1. The state machine, by hand
#
# `create` sets the container up — namespaces, cgroup, mounts, `pivot_root`, capabilities — and stops
# its PID 1 right before `execve`. Then the `create` command exits, but not everything of the runtime
# goes with it: the container's PID 1 *is* a process of the runtime, forked by `create`, as runc's is
# `runc init`. It waits on a fifo, `exec.fifo`, in the runtime's state directory. `start` is a new
# command: it finds the container through `state.json`, opens the fifo and writes one byte, and PID 1
# goes on to `execve` the command. `kill` and `delete` find it the same way. (runc uses the fifo the
# other way round: `runc init` blocks opening it to write, and `runc start` opens it and reads.)
#
# The run below makes a bundle of its own (a busybox root and a `config.json` running `sleep`) and
# calls the four verbs one after the other. After each verb it asks `boxkit-runtime state demo`: the
# second column is the status that printed, or its error once the container is gone.

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root
rows, created = demo.walk_state_machine(work)
for command, status, note in rows:
    print(f"boxkit-runtime {command:26} -> {status:34} {note}")
print()
argv = " ".join(os.path.basename(a) if a.startswith("/") else a for a in created["argv"])
print(f"between create and start: PID 1's name {created['comm']!r}, its command line {argv!r}")
print(f"  its PIDs (host, its own namespace): {created['nspid']}")
print(f"  it holds exec.fifo open: {created['holds_fifo']}")
print(f"the state directory holds: {', '.join(created['files'])}")

# %%
# boxkit: needs root
statuses = [status for _c, status, _n in rows]
print(f"the states in order ({' -> '.join(statuses[:3])}):",
      statuses[:3] == ["created", "running", "stopped"])
print(f"the create command exited with success before start (exit code {created['create_exit']}):",
      created["create_exit"] == 0)
print(f"PID 1 before start is a fork of the create command ({created['comm']}, argv says create):",
      "create" in created["argv"] and created["pid"] != created["create_pid"])
print(f"before start, PID 1 is process 1 of its namespace and waits at the fifo "
      f"(NSpid {created['nspid']}, fifo open {created['holds_fifo']}):",
      created["nspid"][-1] == 1 and created["holds_fifo"])
print(f"start made PID 1 run the command ({rows[1][2]}):", created["comm_after_start"] == "sleep")
pids = f"host PID {created['pid']} before start, {created['pid_after_start']} after"
print(f"the same process went on to execve it ({pids}):",
      created["pid"] == created["pid_after_start"])
print(f"after delete the container is gone ({statuses[3]}):", "does not exist" in statuses[3])

# %% [markdown]
# ## 2. The bundle podman writes
#
# `podman create --memory 64m --pids-limit 50` and `podman init` write the bundle and call the runtime's
# `create` (here with `--network none` too, and `--ulimit nofile=1024:1024 --ulimit nproc=1024:1024`:
# podman's own default limits need `CAP_SYS_RESOURCE`, which some hosts withhold even from root). Here
# is its `config.json`, shortened to the fields this notebook reads, and below it the plan boxkit made
# of it — the same kind of plan (`boxkit.runtime.plan.Plan`) that `boxkit run` fills from its own flags.
# How to read it:
#
# * A field the bundle does not carry is a default of the spec: `root.readonly` absent means a writable
#   root, `noNewPrivileges` absent means false.
# * JSON has no octal, so the `umask` is written in decimal: umask 18 is the familiar `022`.
# * The spec's memory `swap` is the limit of memory and swap *together*; podman asks for twice the
#   memory (chapter 05 measured it).
# * podman asks for a cgroup namespace only on a cgroup v2 host. On v1 (and hybrid) the container stays
#   in the host's cgroup namespace: which namespaces a container gets is the bundle's decision, and the
#   runtime only carries it out (chapter 06 shows why that matters on v1).

# %%
# boxkit: needs root
rootfs = os.path.join(work, "bundle", "rootfs")
config, plan, podman_cfg = demo.podman_bundle(rootfs, "--memory", "64m", "--pids-limit", "50")
width = max(len(k) for k in config)
for k, v in config.items():
    print(f"{k:{width}}  {v}")
print()
for k, v in plan.items():
    print(f"plan[{k!r}]".ljust(width + 2), v)

# %%
# boxkit: needs root
mode = boxkit.probe().cgroup_mode
limit = config["linux.resources.memory"]["limit"]
print(f"podman asked for 64 MiB ({limit} bytes):", limit == 64 << 20)
namespaces = ", ".join(plan["ns"])
print(f"a cgroup namespace only on cgroup v2, podman's default (cgroup {mode}; {namespaces}):",
      ("cgroup" in plan["ns"]) == (mode == "v2"))
print(f"the plan has the bundle's mounts ({plan['mount_entries']} of {len(config['mounts'])}):",
      plan["mount_entries"] == len(config["mounts"]))

# %% [markdown]
# ### podman's defaults are not docker's
#
# Chapter 06 ran docker's defaults: a short list of capabilities and docker's seccomp profile. podman
# keeps a list of its own (in `containers.conf`) and ships its own profile. The run below reads both out
# of the bundle and sets them beside docker's, as boxkit keeps them. A profile names the calls of every
# architecture it covers: here the machine's own and the 32-bit ones its kernel also runs, so the lists
# hold 32-bit calls too (i386's `readdir`, say). Names that are not a call on any of them are left out.

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root
vs = demo.against_docker(podman_cfg)
print(f"capabilities in podman's bounding set: {len(vs['caps'])}; in docker's default set: "
      f"{len(vs['docker_caps'])}")
if vs["docker_only_caps"]:
    print(f"  docker's, not podman's: {', '.join(vs['docker_only_caps'])}")
else:
    print("  docker's, not podman's: none")
if vs["bundle_only_caps"]:
    print(f"  podman's, not docker's: {', '.join(vs['bundle_only_caps'])}")
else:
    print("  podman's, not docker's: none")
print(f"seccomp rules: {vs['bundle_rules']} in podman's bundle, {vs['docker_rules']} in boxkit's "
      "default profile (docker's decisions)")
print(f"system calls each allows a container with podman's capabilities: "
      f"podman's {vs['bundle_allows']}, boxkit's {vs['docker_allows']}")
arches = ", ".join(a.removeprefix("SCMP_ARCH_").lower() for a in vs["arches"]["bundle"])
left = ", ".join(sorted({*vs["foreign"]["bundle"], *vs["foreign"]["docker"]})) or "none"
print(textwrap.fill(f"  the architectures podman's profile covers: {arches}; names left out, "
                    f"not a call on any of them: {left}", 100, subsequent_indent="    "))
for who, calls in (("boxkit's (docker's) only", vs["docker_only_calls"]),
                   ("podman's only", vs["bundle_only_calls"])):
    allowed = f"  allowed by {who}: {', '.join(calls)}" if calls else f"  allowed by {who}: none"
    print(textwrap.fill(allowed, 100, subsequent_indent="    "))

# %% [markdown]
# The capability lists differ by the names printed first. What each of those gives a container:
#
# | capability | what root in the container may do with it |
# |---|---|
# | `CAP_NET_RAW` | open raw and packet sockets (a classic `ping` does; so does a program that forges packets on its network) |
# | `CAP_MKNOD` | create device nodes with `mknod` (opening them is still up to the devices layer) |
# | `CAP_AUDIT_WRITE` | write records to the kernel's audit log (what `login` and `sshd` do) |
#
# The two counts of seccomp rules do not compare: a rule is one `syscalls` entry, a list of names with
# one action. podman writes its profile into the bundle already worked out for this container's
# capabilities, and lists some refusals as rules of their own; boxkit's copy of docker's profile keeps
# its rules by capability (`includes`, `excludes`) and works them out when it compiles the filter. What
# compares is the set of calls each lets through for the same capabilities — the two lists above.
#
# podman's filter lets `mount` and `unshare` through, where docker's refuses them without
# `CAP_SYS_ADMIN`. `mount` still fails under podman: the capability check refuses it. But creating a
# user namespace needs no capability at all (user_namespaces(7)), so under podman's defaults root in the
# container may make one, where the host allows user namespaces. In it, its creator holds every
# capability over the namespaces it owns — so, with a new mount namespace beside it (`unshare -Urm`,
# which also maps the caller to root), the same `mount` goes through. The three, tried under podman
# with boxkit-runtime (`id -u` prints 65534, the kernel's "overflow" id, for a uid the new namespace
# has no mapping for):

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root
in_userns = "unshare -Urm sh -c 'mount -t tmpfs none /tmp && grep \" /tmp \" /proc/self/mounts'"
tried = demo.podman_can(rootfs, {"mount a tmpfs": "mount -t tmpfs none /tmp",
                                 "make a user namespace": "unshare -U id -u",
                                 "mount a tmpfs in one": in_userns})
for label, (ok, said) in tried.items():
    if ok:
        print(f"{label:22} works: {said}")
    else:
        print(f"{label:22} refused: {said}")

# %%
# boxkit: needs root
print(f"podman's set lacks docker's {', '.join(vs['docker_only_caps'])}:",
      set(vs["docker_only_caps"]) == {"CAP_NET_RAW", "CAP_MKNOD", "CAP_AUDIT_WRITE"})
n_caps = f"{len(vs['caps'])} and {len(vs['docker_caps'])} capabilities"
print(f"CAP_SYS_ADMIN is in neither set ({n_caps}):",
      "CAP_SYS_ADMIN" not in vs["caps"] + vs["docker_caps"])
through = sorted({"mount", "unshare"} & set(vs["bundle_only_calls"]))
print(f"podman's filter lets mount and unshare through, docker's does not ({', '.join(through)}):",
      through == ["mount", "unshare"])
mount_ok, mount_said = tried["mount a tmpfs"]
userns_ok, userns_said = tried["make a user namespace"]
print(f"under podman, mount is refused ({mount_said}):", not mount_ok)
print(f"under podman, root made a user namespace (uid inside it {userns_said}):", userns_ok)
inside_ok, inside_said = tried["mount a tmpfs in one"]
print(f"under podman, root mounted a tmpfs in its own user namespace ({inside_said}):",
      inside_ok and inside_said.startswith("none /tmp tmpfs"))

# %% [markdown]
# ## 3. The processes while it runs
#
# `podman run -d` with `sleep` as the command: podman starts **conmon** (the monitor that holds the
# container's stdio and waits for its exit code), conmon runs `boxkit-runtime create`, podman runs
# `boxkit-runtime start`, and both runtime commands exit. The container's PID 1 was re-parented to conmon, a *sub-reaper*
# (`PR_SET_CHILD_SUBREAPER`), so conmon learns its exit status. The tree, read from `/proc`: the
# container's ancestors up to conmon, then every child conmon has.

# %%
# boxkit: needs root
tree = demo.process_tree(rootfs)
print("\n".join(tree["lines"]))
if tree["children"]:
    print(f"conmon's children: {', '.join(tree['children'])}")
else:
    print("conmon's children: none")

# %%
# boxkit: needs root
print(f"the container's parent is conmon ({' > '.join(tree['chain'])}):",
      len(tree["chain"]) == 2 and tree["chain"][0] == "conmon")
children = ", ".join(tree["children"])
print(f"conmon's only child is the command itself, no runtime left ({children}):",
      tree["children"] == ["sleep"])

# %% [markdown]
# ## 4. The same limits, two runtimes
#
# `--memory 64m --cpus 0.5 --pids-limit 50` through podman, once with runc and once with boxkit-runtime: a
# limit is a number in a cgroup file, and both runtimes write the same numbers.

# %%
# boxkit: needs root
mine = compare.podman_limits(rootfs, "64m", 0.5, 50, runtime=demo.runtime_path())
runc = compare.podman_limits(rootfs, "64m", 0.5, 50)
for what in mine:
    name, ours, theirs = os.path.basename(mine[what][0]), mine[what][1], runc[what][1]
    print(f"{what:13} {name:24} boxkit-runtime {ours:>10}   runc {theirs:>10}")

# %%
# boxkit: needs root
same = sum(mine[w][1] == runc[w][1] for w in mine)
print(f"the same files, the same values ({same} of {len(mine)} files):", same == len(mine))

# %% [markdown]
# ## 5. The other contract: an image, as the image spec lays it out
#
# The bundle's `rootfs` came from an image. The image spec says how an image is stored: an `index.json`
# names a **manifest** by its digest; the manifest names a **config** and the **layers** (tar archives),
# each by digest; the config lists each layer's digest uncompressed (`rootfs.diff_ids`) and the command
# to run. A digest is the sha256 of the bytes it names, so every hop can be checked. A layer's digest is
# that of the bytes as stored, a diff_id that of the plain tar: the two differ for a compressed layer
# (`…tar+gzip`, as registries serve most), and are one for a layer stored uncompressed (`…tar`).
# boxkit's image store is such a layout; here is its `busybox` image, hop by hop.

# %%
# NBVAL_IGNORE_OUTPUT
chain = demo.image_chain("busybox")
print("index.json   ->", chain["index"]["mediaType"], chain["index"]["digest"])
print("manifest     -> config", chain["manifest"]["config"])
for media, size, digest in chain["manifest"]["layers"]:
    print(f"             -> layer  {media}, {size} bytes, {digest}")
print("config       ->", {k: chain["config"][k] for k in ("os", "architecture", "cmd")})
print("               rootfs.diff_ids", chain["config"]["diff_ids"])

# %%
blobs = {"manifest": chain["index"]["digest"], "config": chain["manifest"]["config"],
         **{f"layer {i}": d for i, (_m, _s, d) in enumerate(chain["manifest"]["layers"], 1)}}
for what, digest in blobs.items():
    got = demo.blob_sha256(chain["root"], digest)   # the sha256 of the blob file's bytes
    print(f"the {what}'s digest is the sha256 of its bytes ({got[:19]}…):", got == digest)
layers, diffs = chain["manifest"]["layers"], chain["config"]["diff_ids"]
print(f"one diff_id per layer (layers {len(layers)}, diff_ids {len(diffs)}):",
      len(layers) == len(diffs))
kinds = ", ".join(media.rsplit(".", 1)[-1] for media, _size, _digest in layers)
plain = [media.endswith(".tar") for media, _size, _digest in layers]
print(f"digest and diff_id are one exactly for the uncompressed layers ({kinds}):",
      [digest == diff for (_m, _s, digest), diff in zip(layers, diffs)] == plain)

# %% [markdown]
# ## What to take away
#
# * A container engine is a front: it turns your flags into a `config.json`. The runtime turns the
#   `config.json` into system calls. Inside boxkit, `boxkit run` (from its flags) and `boxkit-runtime`
#   (from a `config.json`) fill the same plan, which one runtime carries out.
# * `create` and `start` are two verbs so that the engine can work on the container in between — from
#   outside, through PID 1's PID — with its namespaces already there and its command not yet running,
#   held by the runtime's own process as PID 1. (The spec's hooks are the runtime's own: it runs them
#   inside `create`, `start` and `delete`.)
# * "The default" is the engine's: podman and docker hand the same runtime different capabilities and
#   different filters.
# * The OCI runtime-tools validation suite drives any runtime through this command line; its figures
#   for boxkit-runtime and runc, measured on one host (the document names it), are in
#   `docs/oci-runtime.md`.
#
# ## Exercise
#
# The exercise's bundle is written by hand, a short one of the kind `runc spec` writes (podman's, in
# section 2, is a longer one). These are its fields that decide what root in the container may do — and one field it
# does *not* have (`runc spec` leaves it out too):

# %%
spec = exercises_oci.bundle_config()
print("root                  ", spec["root"])
print("process.user          ", spec["process"]["user"])
print("process.capabilities  ", spec["process"]["capabilities"]["bounding"],
      "(the same in bounding, effective, permitted)")
print("process.noNewPrivileges", spec["process"]["noNewPrivileges"])
print("linux.namespaces      ", [n["type"] for n in spec["linux"]["namespaces"]])
print("linux.seccomp         ", spec["linux"].get("seccomp", "absent"))
print()
print("the edits, one field each:")
for name in exercises_oci.EDITS:
    print("  ", name)

# %% [markdown]
# Pick **one** of the edits. After it, can the container's shell (root in the container, unless your
# edit says otherwise) write a file in `/`, mount a tmpfs on `/tmp`, change the hostname, and listen on
# port 80? Replace each `...` below: `edit` with the edit's name as printed, each action with `True` or
# `False`. The check writes the edited `config.json` beside a busybox root, runs `boxkit-runtime create`
# and `start` on it, and reads what the shell could do.

# %%
# boxkit: exercise
edit = ...
my_prediction = {
    "write a file in /": ...,
    "mount a tmpfs on /tmp": ...,
    "change the hostname": ...,
    "listen on port 80": ...,
}

# %%
# boxkit: exercise
from boxkit import exercises_oci

exercises_oci.check(my_prediction, edit=edit)

# %% [markdown]
# Stuck after a few tries? `exercises_oci.solution()` shows one answer and the reasoning behind it.
#
# **Try next:** the other three edits, each predicted before you run it. Which of the four actions
# would a `linux.seccomp` like docker's change, for the edit that adds `CAP_SYS_ADMIN`?
