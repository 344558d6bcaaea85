# %% [markdown]
# # How containers work — on the kernel in front of you
#
# A container is not a small virtual machine. It is an ordinary Linux process that the kernel treats
# specially in three ways, and this course proves each one on your own kernel, with real containers
# started from this notebook by the `boxkit` package:
#
# | # | notebook | the idea | what you will see |
# |---|---|---|---|
# | 1 | [01-namespaces](01-namespaces.ipynb) | **namespaces**: what a process can *see* | `ps` showing PID 1, a private hostname, mounts the host never sees, root that is nobody outside |
# | 2 | [02-cgroups](02-cgroups.ipynb) | **cgroups**: what a process can *use* | a 500 MB limit enforced by the OOM killer, CPU quota, a fork bomb stopped cold |
# | 3 | [03-overlay](03-overlay.ipynb) | **overlay file system**: what a process is *made of* | two versions of an app sharing their dependency layers on disk |
# | 4 | [04-network](04-network.ipynb) | **network namespaces, veth and bridges** | two containers talking by name |
# | 5 | [05-capstone](05-capstone.ipynb) | **build your own docker** | all of it together |
# | 6 | [06-security](06-security.ipynb) | **security layers**: what root in a box may *do* | capabilities, seccomp, no_new_privs, masked paths each refusing, then removed one by one |
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
# The course runs **live** when every row the demos need is *ok*, **partial** when some demos must be
# replayed, and **recorded** on a host without the privileges (the public mybinder.org, for one).

# %%
print("course mode is one of live/partial/recorded:", report.mode in ("live", "partial", "recorded"))
print("the probe tried every namespace type:", all(
    any(c.name == f"{ns} namespace" for c in report.checks) for ns in ("mount", "pid", "net", "user")))

# %% [markdown]
# ## Your first container
#
# One line starts a real one: new namespaces, an overlay root over a tiny `busybox` image built from
# this machine's own `busybox-static`, `pivot_root`, capabilities dropped. It prints what it sees.

# %%
r = boxkit.run("busybox", ["sh", "-c", "echo hello from $(hostname); ps"], hostname="first")
print(r.stdout)

# %%
print("exit code:", r.exit_code)
print("the container saw itself as PID 1:", r.stdout.splitlines()[2].split()[0] == "1")

# %% [markdown]
# ## What to try next
#
# Every notebook ends with what it proved and an **exercise**: you set a variable or two, and a check cell
# starts real containers and answers `✓ right` or `✗ not yet`, from what the kernel did.
#
# | notebook | the exercise |
# |---|---|
# | [01-namespaces](01-namespaces.ipynb#Exercise) | pick the namespaces of a container that sees the host's processes but has its own hostname |
# | [02-cgroups](02-cgroups.ipynb#Exercise) | the smallest memory limit under which a 300 MB hog finishes |
# | [03-overlay](03-overlay.ipynb#Exercise) | what a command leaves in the upper dir: whiteouts, copy-ups, new files |
# | [04-network](04-network.ipynb#Exercise) | which pings answer across two networks and the host |
# | [05-capstone](05-capstone.ipynb#Exercise) | how many orders the shop serves under 30 MB before the OOM killer ends it |
# | [06-security](06-security.ipynb#Exercise) | which actions root in a default container can do |
#
# Next: [01 — namespaces](01-namespaces.ipynb), where each of those isolations is taken apart.
