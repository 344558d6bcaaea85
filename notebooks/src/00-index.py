# %% [markdown]
# # How containers work — on the kernel in front of you
#
# A container is not a small virtual machine. It is an ordinary Linux process that the kernel fences in.
# Four kinds of fence decide what it is: **namespaces** decide what it can *see*, **cgroups** what it
# can *use*, a **layered file system** what it is *made of*, and **security layers** (capabilities,
# seccomp, no_new_privs) what root inside it may *do*. Chapters 01–04 and 06 take the fences apart (04
# the network namespace in depth); 05 and 07–09 put them together — as a service, as the OCI chain
# that `docker run` drives, by hand from system calls, and around the container's first process. Every
# chapter proves its claims on your own kernel, with real containers started from the notebook by the
# `boxkit` package:
#
# | # | notebook | the idea | what you will see |
# |---|---|---|---|
# | 1 | [01-namespaces](01-namespaces.ipynb) | **namespaces**: what a process can *see* | `ps` showing PID 1, a private hostname, mounts the host never sees, a root inside that is an ordinary uid outside |
# | 2 | [02-cgroups](02-cgroups.ipynb) | **cgroups**: what a process can *use* | a memory limit enforced by the OOM killer, CPU quota, a fork bomb stopped cold |
# | 3 | [03-overlay](03-overlay.ipynb) | **overlay file system**: what a process is *made of* | two versions of an app sharing their dependency layers on disk |
# | 4 | [04-network](04-network.ipynb) | **network namespaces, veth and bridges** | two containers talking by name |
# | 5 | [05-capstone](05-capstone.ipynb) | **one service, every fence** | build, run under limits, watch, commit: all of it together |
# | 6 | [06-security](06-security.ipynb) | **security layers**: what root in a box may *do* | capabilities, seccomp, no_new_privs, masked paths, devices and a cgroup of its own each refusing something; then each taken away (with `--privileged` where boxkit has no switch for it alone) |
# | 7 | [07-oci](07-oci.ipynb) | **the OCI chain**: what `docker run` really calls | a bundle walked through create, start, kill, delete by hand; podman driving `boxkit-runtime` in runc's seat |
# | 8 | [08-by-hand](08-by-hand.ipynb) | **a container by hand**: the system calls, one per cell | a cgroup, `unshare`, `/` private, overlay, `/proc`, `pivot_root`, hostname, capabilities, `execve`, each followed by what it changed; then what boxkit adds and why, and a user namespace's id maps |
# | 9 | [09-pid1](09-pid1.ipynb) | **PID 1, signals, and what is shared** | a PID 1 that ignores SIGTERM, zombies reaped by an init, and one kernel under every container |
#
# Read them in order. Every demo ends with a cell that prints the facts it proved.
#
# ## First: what does this host allow?
#
# Containers need root (or user namespaces), and hosts differ: cgroup v1, v2 or a hybrid of both,
# overlay allowed or not, inside another container or not. The first cell of every notebook asks
# `boxkit.probe()`, which *tries* each kernel feature in a throw-away process. Where a host forbids a demo, the notebooks replay a
# recording of a real run and mark it **RECORDED**. Here it shows every row; the other notebooks show
# one line — the mode, the kernel, the cgroup mode, root or not — with the table folded away under it.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit import course

course.start("containers", full=True)   # every row of the host check, in plain words

# %% [markdown]
# The course runs **live** when every row the demos need says *yes*; **rootless** without root where
# the kernel lets a user make user namespaces (most demos run live in a user namespace of your own, the
# rest are replayed); and **recorded** on a host without either (the public mybinder.org, for one).
#
# ## Reading a notebook's cells
#
# Some cells start with a comment line that is meant for the tools, not for you:
#
# | the line | what it means |
# |---|---|
# | `# boxkit: needs root` | the cell needs what its name says; `needs cgroups`, `needs network`, `needs cgroup2` (a cgroup v2 host) and `needs idmap` (a kernel whose user namespace can hand a container the range of user ids that the user-namespace demos map) likewise, several joined by commas. On a host that lacks it the cell replays a recorded run, with a RECORDED badge, instead of failing |
# | `# boxkit: exercise` | a cell of an exercise: it always runs as written, in every mode, so that *your* answer is the one judged |
# | `# NBVAL_IGNORE_OUTPUT` | the tests re-run every notebook and compare each output with the one stored here ([nbval](https://nbval.readthedocs.io)); this cell's output depends on the host (a kernel version, a PID, a plot), so they do not compare it |
#
# A fact line prints what was measured in parentheses, then `True` or `False`; `True` is the outcome
# the prose claims: `the container exited with success (exit code 0): True`. The tests compare only
# the `True` or `False` of a fact line: the numbers before it may differ from run to run.
#
# The check is also a Python object, whose fields answer questions. Two fact lines below ask it how
# many namespace types worked here, and whether it tried every type this kernel has.

# %%
import os

import boxkit

report = boxkit.probe()   # the same check, as an object: its fields answer questions

# %%
# NBVAL_IGNORE_OUTPUT
print(f"this host's course mode: {report.mode}")
tried = ", ".join(f"{ns} {state}" for ns, state in report.namespaces.items())
print(f"namespace types the probe tried: {tried}")

# %%
works = [ns for ns, state in report.namespaces.items() if state in ("ok", "userns")]
print(f"namespace types that worked here ({len(works)} of {len(report.namespaces)}):",
      len(works) == len(report.namespaces))
# the kernel lists one link per namespace type in /proc/self/ns (mnt is the mount namespace); the
# *_for_children links name the namespaces this process's next children will get, not more types
listed = {"mount" if n == "mnt" else n for n in os.listdir("/proc/self/ns")
          if not n.endswith("_for_children")}
print(f"every type the kernel lists was tried ({len(listed)} listed):",
      listed <= set(report.namespaces))

# %% [markdown]
# ## Your first container
#
# One line starts a real one: new namespaces, an overlay root over a tiny `busybox` image built from
# this machine's own `busybox-static`, `pivot_root`, capabilities dropped. It prints what it sees.

# %%
r = boxkit.run("busybox", ["sh", "-c", "echo hello from $(hostname); ps"], hostname="first")
print(r.stdout)

# %% [markdown]
# One process, and it is `ps`: `{ps} sh -c echo hello…` means a process whose name is `ps` but whose
# command line is still the shell's. busybox `sh` runs the *last* command of `-c` in its own process,
# without a fork; and since `ps` is one of busybox's own programs, it does not even `execve` it: it
# calls `ps`'s code directly and renames itself `ps` (`prctl(PR_SET_NAME)`). An `execve` would have
# replaced the command line too. So PID 1 of this container is the shell, now running `ps`, listing
# the only process its PID namespace holds: itself.

# %%
lines = r.stdout.splitlines()
rows = [line.split() for line in lines[2:] if line.strip()]   # the rows below ps's header
pid1 = " ".join(rows[0][0:3:2]) if rows else "none"          # the first row's PID and name
print(f"the container exited with success (exit code {r.exit_code}):", r.exit_code == 0)
print(f"the hostname inside was its own ({lines[0].split()[-1]}):", lines[0] == "hello from first")
print(f"the container saw one process, PID 1 named ps ({len(rows)} seen: {pid1}):",
      len(rows) == 1 and pid1 == "1 {ps}")

# %% [markdown]
# ## What to try next
#
# Every chapter, 01 to 09, has an **exercise** (06 asks for your predictions first, before its demos;
# the others at the end, after what they proved): you replace each `...` with your prediction, and a
# check cell starts real containers and answers *right* or *not yet*, from what the kernel did (with a
# hint that says why, never the answer). On a host that cannot run them (recorded
# mode), your answer is judged against measurements recorded on a real kernel.
#
# | notebook | the exercise |
# |---|---|
# | [01-namespaces](01-namespaces.ipynb#Exercise) | pick the namespaces of a container that sees the host's processes but has its own hostname |
# | [02-cgroups](02-cgroups.ipynb#Exercise) | which of three programs a memory limit kills: one that fills its heap, one that writes a file, one that writes to `/dev/shm` |
# | [03-overlay](03-overlay.ipynb#Exercise) | what a command leaves in the upper dir: whiteouts, copy-ups, new files |
# | [04-network](04-network.ipynb#Exercise) | which pings answer across two networks and the host |
# | [05-capstone](05-capstone.ipynb#Exercise) | how many orders the shop serves under a memory limit before the OOM killer ends it |
# | [06-security](06-security.ipynb#Predict-first) | which actions root in a default container can do |
# | [07-oci](07-oci.ipynb#Exercise) | edit one field of a bundle's `config.json`, and what the container's root may do after it |
# | [08-by-hand](08-by-hand.ipynb#Exercise) | the steps of a container by hand in another order: which step the kernel refuses, with which error |
# | [09-pid1](09-pid1.ipynb#Exercise) | which signal ends each of five containers when they are stopped |
#
# Next: [01 — namespaces](01-namespaces.ipynb), where each namespace of the host check is taken apart.
