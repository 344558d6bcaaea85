# %% [markdown]
# # 07 — What `docker run` really does: the OCI chain, with boxkit in runc's seat
#
# Neither docker nor podman starts a container itself. Both write an OCI **bundle** — a `config.json` that
# says everything about the container, beside its root file system — and call a **runtime** through five
# verbs: `create`, `start`, `state`, `kill`, `delete`.
#
# ```
# docker ─> containerd ─> containerd-shim ─> runc create/start ─> the container
# podman ─────────────────> conmon ─────────> runc create/start ─> the container
# ```
#
# boxkit has a runtime; `boxkit-runtime` speaks that command line, so podman can use it instead of runc.
# This notebook walks the state machine by hand, reads the bundle podman writes, looks at the processes
# while a container runs, and compares the cgroup files boxkit-runtime and runc write for the same flags.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit import course

course.start("containers")

# %%
# NBVAL_IGNORE_OUTPUT
import os
import tempfile

from boxkit import compare
from boxkit.oci import demo

work = tempfile.mkdtemp(prefix="oci-")

# %% [markdown]
# ## 1. The state machine, by hand
#
# `create` sets the container up — namespaces, cgroup, mounts, `pivot_root`, capabilities — and stops PID 1
# right before `execve`, waiting on a fifo in the runtime's state directory. `start` opens the fifo and PID 1
# runs the command. Nothing of the runtime stays behind in between: the verbs read `state.json`.

# %%
# boxkit: needs root
rows = demo.walk_state_machine(work)
for command, status, note in rows:
    print(f"boxkit-runtime {command:26} -> {status:34} {note}")

# %%
# boxkit: needs root
statuses = [status for _c, status, _n in rows]
print("created -> running -> stopped:", statuses[:3] == ["created", "running", "stopped"], f"({' -> '.join(statuses[:3])})")
print("PID 1 was not the command before start:", "python" in rows[0][2], f"({rows[0][2].split(',')[0]})")
print("after delete the container is gone:", "does not exist" in statuses[3])

# %% [markdown]
# ## 2. The bundle podman writes
#
# `podman create --memory 64m --pids-limit 50` and `podman init` write the bundle and call the runtime's
# `create`. Here is its `config.json`, shortened to what matters, and next to it the plan boxkit made of
# it — the same dict `boxkit run` builds from its own flags.

# %%
# boxkit: needs root
rootfs = os.path.join(work, "bundle", "rootfs")
config, plan = demo.podman_bundle(rootfs, "--memory", "64m", "--pids-limit", "50")
width = max(len(k) for k in config)
for k, v in config.items():
    print(f"{k:{width}}  {v}")
print()
for k, v in plan.items():
    print(f"plan[{k!r}]".ljust(width + 2), v)

# %%
# boxkit: needs root
print("podman asked for 64 MiB:", config["linux.resources.memory"]["limit"] == 64 << 20,
      f"({config['linux.resources.memory']['limit']} bytes)")
print("no cgroup namespace on cgroup v1 (podman's default):", "cgroup" not in plan["ns"], f"({', '.join(plan['ns'])})")
print("the plan has the bundle's mounts:", plan["mount_entries"] == len(config["mounts"]), f"({plan['mount_entries']})")

# %% [markdown]
# ## 3. The processes while it runs
#
# `podman run -d`: podman starts **conmon** (the monitor that holds the container's stdio and waits for its
# exit code), conmon runs `boxkit-runtime create`, podman runs `boxkit-runtime start`, and both runtime
# commands exit. The container's PID 1 was re-parented to conmon, a *sub-reaper*
# (`PR_SET_CHILD_SUBREAPER`), so conmon learns its exit status. The tree, read from `/proc`:

# %%
# boxkit: needs root
tree = demo.process_tree(rootfs)
print("\n".join(tree))

# %%
# boxkit: needs root
print("the container's parent is conmon:", tree[0] == "conmon", f"({tree[0]})")
print("conmon's child is the command itself:", tree[-1].endswith("sleep"), f"({tree[-1].strip(' └─')})")

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
    print(f"{what:13} {os.path.basename(mine[what][0]):24} boxkit-runtime {mine[what][1]:>10}   runc {runc[what][1]:>10}")

# %%
# boxkit: needs root
print("the same files, the same values:", all(mine[w][1] == runc[w][1] for w in mine),
      f"({len(mine)} files)")

# %% [markdown]
# ## What to take away
#
# * A container engine is a front: it turns your flags into a `config.json`. The runtime turns the
#   `config.json` into system calls. `boxkit run` and `boxkit-runtime` are two fronts of one engine.
# * `create` and `start` are two verbs because the engine has work to do in between (hooks, the network),
#   with the container's namespaces already there and its command not yet running.
# * The OCI runtime-tools validation suite drives any runtime through this command line; its figures for
#   boxkit-runtime and runc on this host are in `docs/oci-runtime.md`.
