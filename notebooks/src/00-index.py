# %% [markdown]
# # How containers work — on the kernel in front of you
#
# A container is not a small virtual machine. It is an ordinary Linux process that the kernel treats
# specially in three ways, and this course proves each one on your own kernel, with real containers
# started from this notebook by the `boxkit` package:
#
# | # | notebook | the idea | what you will see |
# |---|---|---|---|
# | 1 | [01-namespaces](01-namespaces.ipynb) | **namespaces**: what a process can *see* | `ps` showing PID 1, a private hostname, mounts the host never sees, a root inside that is an ordinary uid outside |
# | 2 | [02-cgroups](02-cgroups.ipynb) | **cgroups**: what a process can *use* | a 500 MB limit enforced by the OOM killer, CPU quota, a fork bomb stopped cold |
# | 3 | [03-overlay](03-overlay.ipynb) | **overlay file system**: what a process is *made of* | two versions of an app sharing their dependency layers on disk |
# | 4 | [04-network](04-network.ipynb) | **network namespaces, veth and bridges** | two containers talking by name |
# | 5 | [05-capstone](05-capstone.ipynb) | **one service, every mechanism** | build, run under limits, watch, commit: all of it together |
# | 6 | [06-security](06-security.ipynb) | **security layers**: what root in a box may *do* | capabilities, seccomp, no_new_privs, masked paths each refusing, then removed one by one |
# | 7 | [07-oci](07-oci.ipynb) | **the OCI chain**: what `docker run` really calls | a bundle walked through create, start, kill, delete by hand; podman driving `boxkit-runtime` in runc's seat |
# | 8 | [08-by-hand](08-by-hand.ipynb) | **a container by hand**: the system calls, one per cell | `unshare`, `/` private, overlay, `/proc`, `pivot_root`, capabilities, `execve`, each followed by what it changed; then what boxkit adds and why |
# | 9 | [09-pid1](09-pid1.ipynb) | **PID 1, signals, and what is shared** | a PID 1 that ignores SIGTERM, zombies reaped by an init, and one kernel under every container |
#
# Read them in order. Every demo ends with a cell that prints the facts it proved.
#
# ## First: what does this host allow?
#
# Containers need root (or user namespaces), and hosts differ: cgroup v1 or v2, overlay allowed or not,
# inside another container or not. `boxkit.probe()` *tries* each kernel feature in a throw-away process
# and says what it means for the course. Where a host forbids a demo, the notebooks replay a recording
# of a real run and mark it **RECORDED**.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit import course

course.start("containers")   # shows the host check; replays RECORDED runs where demos cannot run live

# %%
import boxkit

report = boxkit.probe()   # the same report, as an object: its fields answer questions

# %% [markdown]
# The course runs **live** when every row the demos need is *ok*; **rootless** without root where the
# kernel lets a user make user namespaces (most demos run live in a user namespace of your own, the rest
# are replayed); and **recorded** on a host without either (the public mybinder.org, for one).

# %%
# NBVAL_IGNORE_OUTPUT
print(f"this host's course mode: {report.mode}")
print("namespace types the probe tried:", ", ".join(f"{ns} {state}" for ns, state in report.namespaces.items()))

# %%
KINDS = ("mount", "uts", "ipc", "pid", "net", "user", "cgroup", "time")
print(f"namespace types the probe tried: {sum(k in report.namespaces for k in KINDS)} of {len(KINDS)}:",
      all(k in report.namespaces for k in KINDS))

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
# command line is still the shell's. busybox `sh` runs the *last* command of `-c` by `exec`, without a
# fork — the shell *became* `ps` — so PID 1 of this container is `ps` itself, listing the only process
# its PID namespace holds: itself.

# %%
first = r.stdout.splitlines()[2].split()
print(f"exit code {r.exit_code}:", r.exit_code == 0)
print(f"processes the container saw: {len(r.stdout.splitlines()) - 2}, PID 1 among them ({first[0]} {first[2]}):",
      first[0] == "1" and first[2] == "{ps}")

# %% [markdown]
# ## What to try next
#
# Every notebook ends with what it proved and an **exercise**: you replace each `...` with your
# prediction, and a check cell starts real containers and answers *right* or *not yet*, from what the
# kernel did (with a hint that says why, never the answer). On a host that cannot run them (recorded
# mode), your answer is judged against measurements recorded on a real kernel.
#
# | notebook | the exercise |
# |---|---|
# | [01-namespaces](01-namespaces.ipynb#Exercise) | pick the namespaces of a container that sees the host's processes but has its own hostname |
# | [02-cgroups](02-cgroups.ipynb#Exercise) | which of three programs a 48 MiB limit kills: one that fills its heap, one that writes a file, one that writes to `/dev/shm` |
# | [03-overlay](03-overlay.ipynb#Exercise) | what a command leaves in the upper dir: whiteouts, copy-ups, new files |
# | [04-network](04-network.ipynb#Exercise) | which pings answer across two networks and the host |
# | [05-capstone](05-capstone.ipynb#Exercise) | how many orders the shop serves under 30 MiB before the OOM killer ends it |
# | [06-security](06-security.ipynb#Exercise) | which actions root in a default container can do |
#
# Next: [01 — namespaces](01-namespaces.ipynb), where each of those isolations is taken apart.
