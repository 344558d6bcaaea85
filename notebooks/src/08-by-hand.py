# %% [markdown]
# # 08 — A container by hand
#
# `boxkit.run` makes dozens of system calls before it `execve`s your command: each mount of its
# container is one, and section 9 lists those mounts. Here you make the essential calls yourself, one
# step per cell, and look after each at what it changed: the cgroup, the namespaces, the mount table,
# `ls /`, the PID, the hostname, the capabilities, the uid.
#
# The calls are made by a small helper process that `boxkit.byhand.Box` starts and drives over a pipe,
# not by the process that runs this notebook's cells (the Jupyter kernel), for three reasons. `unshare`
# moves only the *calling thread* into the new namespaces, and that process runs several threads: the
# others would stay outside. A new PID namespace takes in no one at all, only the caller's next child.
# And a namespace that process entered would stay entered for every later cell, with nothing to end it.
#
# Each step is a few lines of `boxkit/byhand.py`; `byhand.show(step)` prints them, and the cell that
# first makes a step prints them before it does. The helper makes its namespace, mount and capability
# calls through `boxkit._sys` — the same wrappers the runtime uses. If the kernel refuses a step or you
# interrupt a cell, the `Box` kills the helper and removes its directory and its cgroup; every mount
# it made lives in the helper's own mount namespace and goes with it. (A step the `Box` refuses by
# name, before the kernel sees it, leaves the box as it was: section 11 shows both.)

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit import course

course.start("containers")

# %% [markdown]
# ## 1. The helper, before any step
#
# It is an ordinary process of the host: the host's PID numbers, hostname, mount table and `/`. The
# host's `/` holds whatever this host keeps there, so it differs from host to host; the cell sorts
# its names into those the busybox image has too and the host's own.
#
# When a program runs as root (uid 0), the kernel gives it every capability of its *bounding set*
# (`CapBnd`, a set each process inherits from its parent) as its effective set (`CapEff`); the kernel
# knows the capabilities numbered up to `/proc/sys/kernel/cap_last_cap`.
# Where the host's bounding set lacks some, root holds fewer than the kernel knows, and so does every
# container it starts without a user namespace, `--privileged` ones included: there "every
# capability" means this host's bounding set. (The user-namespace section below shows the other case.)

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root
import os

from boxkit import _sys, byhand

box = byhand.Box("busybox")
host = box.look()
print(f"PID {host['pid']}, hostname {host['hostname']}, {len(host['mounts'])} mounts")
image = set().union(*(os.listdir(layer) for layer in box.layers))
both = [n for n in host["ls"] if n in image]
print(f"ls / on this host: {len(host['ls'])} entries; the image has {len(both)} of these too:")
print(" ".join(both))
print("the host's own:", " ".join(n for n in host["ls"] if n not in image))
known = _sys.SYS.last_cap() + 1
bnd = _sys.cap_names(int(host["cap_bnd"], 16))
eff = _sys.cap_names(int(host["cap_eff"], 16))
print(f"capabilities the kernel knows {known}, in the bounding set {len(bnd)}, held {len(eff)}")
lacking = [n for n, bit in _sys.CAPABILITIES.items() if bit < known and n not in bnd]
print("known but not in this host's bounding set:", ", ".join(lacking) or "none")

# %% [markdown]
# ## 2. A cgroup: a directory, a limit, a PID
#
# A cgroup is a directory of the cgroup filesystem, and its files are its settings. The step makes
# one for memory, writes its limit (`memory.limit_in_bytes` on a cgroup v1 host, `memory.max` on v2)
# and writes the helper's PID into `cgroup.procs`, which moves the helper into it. Every process it
# forks from now on starts in the same group, the container's PID 1 included — which is why this step
# comes first: a process that is already running stays where it is when its parent moves.
#
# The cgroup files are the host's, so the notebook's own process writes them, as a runtime does from
# outside its container. Notebook 02 measured what such a limit does; here you see it written. Each
# line of `/proc/PID/cgroup` reads *hierarchy ID : controllers : the group's path* (on cgroup v2, the
# one line `0::path`); the cell compares the helper's memory line before and after.

# %%
# boxkit: needs root
byhand.show("cgroup")
ch = box.step("cgroup", 64 << 20)
hierarchy, limit_file = byhand.memory_controller()
group = box.cgroups[0]


def memory_line(view: dict) -> str:
    """The memory line of the helper's /proc/PID/cgroup (on cgroup v2, the one line 0::)."""
    lines = view["cgroup"]
    v2 = next((x for x in lines if x.startswith("0::")), "")
    return next((x for x in lines if ":memory:" in x), v2)


with open(f"{group}/{limit_file}") as f:
    limit = int(f.read())
moved = memory_line(ch.after).endswith(":" + group[len(hierarchy):])
with open("/proc/self/cgroup") as f:
    notebook_group = memory_line({"cgroup": f.read().splitlines()})
before, after = memory_line(ch.before), memory_line(ch.after)
# the notebook's own group is the host's business: compared, not printed
print(f"the helper's memory cgroup before the step, the notebook's own: {before == notebook_group}")
print(f"after it {after}, the new group: {moved}")
print(f"{limit_file} read back, {limit >> 20} MiB: the limit written: {limit == 64 << 20}")

# %% [markdown]
# ## 3. `unshare`: new namespaces
#
# `unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID)`. The mount namespace starts as a
# *copy* of the host's mount table. A new PID namespace applies to the caller's next child, so the helper
# forks and the child, PID 1, carries on; born after the cgroup step, it is in the group too.

# %%
# boxkit: needs root
byhand.show("unshare")
ch = box.step("unshare", ["mount", "uts", "ipc", "pid"])
print("new namespaces:", ", ".join(ch.new_namespaces))
print(f"PID {ch.before['pid']} -> {ch.after['pid']}: PID 1: {ch.after['pid'] == 1}")
n_before, n_after = len(ch.before["mounts"]), len(ch.after["mounts"])
print(f"mount table {n_after} lines, the host's {n_before}: a copy: {n_after == n_before}")
pid1 = memory_line(ch.after)
print(f"PID 1's memory cgroup {pid1}: the helper's: {pid1 == memory_line(ch.before)}")

# %% [markdown]
# ## 4. Make `/` private
#
# A mount marked `shared:N` in `/proc/self/mountinfo` is in peer group N: a mount or unmount below it
# propagates to every peer. The copy `unshare` made joins its original's peer group, so a mount the
# helper made below it would appear in the host's table too. `mount(NULL, "/", NULL, MS_REC |
# MS_PRIVATE)` takes every mount of the copy out of its peer group. (On a systemd host everything is
# shared; a host without systemd may have little or nothing to cut. With a new *user* namespace the
# copy is different again: the section on user namespaces shows it.)

# %%
# boxkit: needs root
byhand.show("private")
ch = box.step("private")
shared = [sum(m["shared"] is not None for m in s["mounts"]) for s in (ch.before, ch.after)]
print(f"shared mounts {shared[0]} -> {shared[1]}: none left to propagate: {shared[1] == 0}")

# %% [markdown]
# ## 5. The overlay root, and `/proc`
#
# The image's layers (unpacked in boxkit's store) are the read-only `lowerdir`s; a fresh `upperdir` takes
# the writes. Then a procfs, mounted by PID 1 of the new PID namespace, so it lists that namespace.

# %%
# boxkit: needs root
byhand.show("overlay")
ch = box.step("overlay")
print("mounted:", *[m["fstype"] for m in ch.added], "| it holds:", " ".join(ch.after["merged_ls"]))
print(f"ls / ({len(ch.after['ls'])} entries) unchanged: {ch.after['ls'] == ch.before['ls']}")

# %%
# boxkit: needs root
byhand.show("proc")
ch = box.step("proc")
point = ch.added[0]["point"]
print(f"mounted {ch.added[0]['fstype']} at merged/proc: {point.endswith('/merged/proc')}")

# %% [markdown]
# ## 6. `pivot_root`, then detach the old root
#
# `pivot_root(new, new/.oldroot)` makes the overlay the root mount of the namespace and moves the host's
# tree under `/.oldroot` — still there, every mount of it. `umount2("/.oldroot", MNT_DETACH)` cuts it
# off. (`chroot` would only have changed this process's idea of `/`, with the host's tree still in the
# mount namespace; notebook 01 escapes a `chroot` that way.)

# %%
# boxkit: needs root
byhand.show("pivot_root")
ch = box.step("pivot_root")
under = [m for m in ch.after["mounts"] if m["point"].startswith("/.oldroot")]
print("ls /:", " ".join(ch.after["ls"]))
hosts = len(ch.before["mounts"]) - 2   # all but the overlay and its /proc
print(f"the host's mounts under /.oldroot, {len(under)} of {hosts}: "
      f"all there: {len(under) == hosts}")

# %%
# boxkit: needs root
byhand.show("detach")
ch = box.step("detach")
print("ls /:", " ".join(ch.after["ls"]))
points = [m["point"] for m in ch.after["mounts"]]
print(f"mount table {len(ch.before['mounts'])} -> {len(points)} lines, {' '.join(points)}: "
      f"only the container's: {points == ['/', '/proc']}")

# %% [markdown]
# ## 7. Hostname and capabilities
#
# `sethostname` in the new UTS namespace; then the capabilities. `capset` alone would not last: at
# `execve` a root process is given its whole bounding set again (section 1). So the step first cuts
# the bounding set down to docker's default capabilities, then sets the effective and permitted sets
# to the same. Root inside is still uid 0, without `CAP_SYS_ADMIN`. The count before is the host's
# bounding set, as the first cell printed it, not every capability the kernel knows.

# %%
# boxkit: needs root
byhand.show("hostname")
ch = box.step("hostname", "byhand")
mine = os.uname().nodename
inside_only = ch.after["hostname"] != ch.before["hostname"] and mine == ch.before["hostname"]
print(f"hostname {ch.after['hostname']}, the notebook's still {mine}: "
      f"changed inside only: {inside_only}")

# %%
# boxkit: needs root
byhand.show("caps")
ch = box.step("caps")
eff, bnd = ([_sys.cap_names(int(s[k], 16)) for s in (ch.before, ch.after)]
            for k in ("cap_eff", "cap_bnd"))
gone = "CAP_SYS_ADMIN" not in eff[1] + bnd[1]
print(f"uid {ch.after['uid']}, CapEff {len(eff[0])} -> {len(eff[1])}, CapBnd {len(bnd[0])} -> "
      f"{len(bnd[1])}: CAP_SYS_ADMIN gone from both: {gone}")

# %% [markdown]
# ## 8. `execve`
#
# PID 1, the helper's child since `unshare`, becomes the command: the command is PID 1. The same shell
# line also measures what the next section compares. When the command ends, the helper, which only
# waited for it, ends with its exit status, and the `Box` ends too: the host then has neither process,
# nor the box's directory, nor its cgroup.

# %%
# boxkit: needs root
import tempfile

byhand.show("exec")
PROBE = ("ls /dev | wc -l; grep -c ' /proc/' /proc/self/mountinfo; "
         "grep NoNewPrivs /proc/self/status | cut -f2; grep Seccomp: /proc/self/status | cut -f2; "
         "ls /proc/self/fd | wc -l; wc -l < /proc/self/mountinfo")
procs = [box.proc.pid, box.pid]   # the host's PIDs of the helper and of PID 1
r = box.exec(["sh", "-c", "ps -o pid,comm; echo ---; " + PROBE])
ps, hand = r.stdout.split("---\n")
print(ps, end="")
print(f"exit status {r.returncode}: the command succeeded: {r.returncode == 0}")
alive = [p for p in procs if os.path.exists(f"/proc/{p}")]
print(f"the helper and PID 1 (host PIDs {procs}) still on the host: {len(alive)}: "
      f"none: {not alive}")
prefix = f"{byhand.PREFIX}{os.getpid()}-"   # how this notebook's box directories and cgroups begin
left = [n for n in os.listdir(tempfile.gettempdir()) if n.startswith(prefix)]
print(f"box directories (upper, work, merged) left in the temporary directory: {len(left)}: "
      f"none: {not left}")
print(f"its cgroup {group} removed: {not os.path.exists(group)}")

# %% [markdown]
# ## 9. The same container from `boxkit.run`, and what boxkit adds
#
# The same image, the same shell line. Each row but the last shows what one more step of boxkit's
# changes (in `/proc/PID/status`, `NoNewPrivs` 1 is the flag set; `Seccomp` 2 is a filter installed,
# 0 none: proc(5)); the last row counts the whole mount table, which the cell after it lists.

# %%
# boxkit: needs root
import boxkit

made = boxkit.run("busybox", ["sh", "-c", "ps -o pid,comm; echo ---; " + PROBE], hostname="byhand")
ps2, full = made.stdout.split("---\n")
rows = ("entries in /dev", "masked/read-only /proc mounts", "NoNewPrivs", "Seccomp",
        "fds open in ls (+ its own)", "mounts")
for what, h, b in zip(rows, hand.split(), full.split(), strict=True):
    print(f"{what:30} by hand {h:>4}   boxkit {b:>4}   differs: {h != b}")
first = " ".join(ps2.splitlines()[1].split())
print(f"boxkit's PID 1 ({first}) is the command too: {ps2 == ps}")
dev = boxkit.run("busybox", ["ls", "/dev"]).stdout.split()
print(f"boxkit's /dev ({len(dev)} entries):", " ".join(dev))

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root
from boxkit.runtime.rootfs import MASKED_PATHS, READONLY_PATHS  # docker's two lists

seen = byhand.parse_mountinfo(boxkit.run("busybox", ["cat", "/proc/self/mountinfo"]).stdout)
kinds = {"masked (/dev/null or an empty tmpfs bound over it)": [], "bound read-only": [],
         "the host's device nodes, each bound from its /dev": [], "the rest": []}
for m in seen:
    if m["point"].startswith(("/proc/", "/sys/")):
        # a path of the same procfs or sysfs bound read-only, or something else bound over it
        kind = "bound read-only" if m["fstype"] in ("proc", "sysfs") else "masked"
    else:
        kind = "the host's device" if m["fstype"] == "devtmpfs" else "the rest"
    kinds[next(k for k in kinds if k.startswith(kind))].append(m["point"])
print(f"boxkit's container has {len(seen)} mounts:")
for kind, points in kinds.items():
    print(f"  {kind} ({len(points)}): {' '.join(points)}")
absent = [p for p in MASKED_PATHS + READONLY_PATHS if not os.path.exists(p)]
print("in docker's lists, but not on this kernel, so nothing to hide:", " ".join(absent) or "none")

# %% [markdown]
# | step boxkit adds | what it does | why (the bug, where there is one) |
# |---|---|---|
# | masked paths | `/dev/null` or an empty read-only `tmpfs` bound over the paths of docker's list (`/proc/kcore`, `/proc/keys`, `/proc/timer_list` …); `/proc/sys`, `/proc/sysrq-trigger`, `/proc/irq`, `/proc/bus`, `/proc/fs` bound read-only. Of both lists, only the paths this kernel has: the cell above prints which | where they exist: the kernel's memory image (`kcore`), the host's keys and timers leak through procfs; a writable `/proc/sys/kernel/core_pattern` runs a program of your choice as the host's root; `sysrq-trigger` reboots the host |
# | devices | a `tmpfs` `/dev` mounted `nodev`, holding only the entries printed above: the character devices `null`, `zero`, `full`, `random`, `urandom` and `tty`, each a bind mount of the host's node; the links `fd`, `stdin`, `stdout`, `stderr`, `ptmx` and `core`; mounts for `pts`, `shm` and `mqueue`. The root is `nodev` too | a node made with `mknod` on a `nodev` mount cannot be opened; else a `/dev/sda` or `/dev/mem` made inside would read the host's disk or memory (notebook 06 tries one) |
# | no_new_privs | `prctl(PR_SET_NO_NEW_PRIVS)` | a setuid program in the image cannot gain privileges (notebook 06 shows one) |
# | seccomp | a BPF filter on every system call | the kernel bugs reached through a nested user namespace (CVE-2022-0185, CVE-2022-0492) and the unnamespaced keyring |
# | fd hygiene | every fd but 0-2 closed before `execve`, the cwd checked | runc CVE-2024-21626 leaked an fd of the host's `/sys/fs/cgroup`, and a workdir of `/proc/self/fd/7` walked out of the container. By hand, the helper's command pipe leaked into the container just like that |
# | non-dumpable join | `prctl(PR_SET_DUMPABLE, 0)` while `boxkit exec` joins | runc CVE-2016-9962: a process in the container ptraced the joining `runc exec` and took its fds to the host. It does not outlive an `execve`, which makes a process dumpable again: in CVE-2019-5736 an image made runc execute itself inside the container (`#!/proc/self/exe`), and a process of the container then rewrote the runc binary through `/proc/PID/exe`; runc's answer was to run from a sealed copy of itself |
# | cgroups | the container's own group, with memory, CPU and pids limits (by hand: one memory group) | a fork bomb or a leak inside takes the host down with it |

# %% [markdown]
# ## 10. A user namespace: root inside, an ordinary uid outside
#
# `boxkit.run(..., userns=True)` and every rootless container add one namespace more: a *user*
# namespace, in which ids are the namespace's own. A second box shows it, with
# `unshare(CLONE_NEWUSER | CLONE_NEWNS)`. Until someone writes its maps, no id of the host has a
# number inside: the helper's own uid, and the owner of every file, read as the overflow uid. The
# caller holds every capability the kernel knows — but only over what the new namespace owns.
#
# The mount namespace made with it is *less privileged* than the host's (mount_namespaces(7)): its
# copy of a shared mount does not join the original's peer group, as the first box's copy did: it
# becomes a *slave* (`master:N`), which receives mounts from the host and never sends any back.

# %%
# boxkit: needs root, idmap
u = byhand.Box("busybox")
ch = u.step("unshare", ["user", "mount"])
with open("/proc/sys/kernel/overflowuid") as f:
    overflow = int(f.read())
print(f"uid inside {ch.after['uid']}, the overflow uid {overflow}: "
      f"unmapped: {ch.after['uid'] == overflow}")
caps = _sys.cap_names(int(ch.after["cap_eff"], 16))
print(f"CapEff {len(caps)} capabilities, of {known} the kernel knows: "
      f"all of them: {len(caps) == known}")
counts = {k: [sum(m[k] is not None for m in s["mounts"]) for s in (ch.before, ch.after)]
          for k in ("shared", "master")}
(s0, s1), (m0, m1) = counts["shared"], counts["master"]
print(f"shared mounts {s0} -> {s1}, slaves {m0} -> {m1}: none of the copy's is shared: {s1 == 0}")

# %% [markdown]
# The maps are files of the helper's `/proc/PID`. A process of the parent namespace with `CAP_SETUID`
# there (here the notebook's, as root) may map any range; the helper itself could map only its own
# uid. Writing `deny` to `setgroups` first is what an unprivileged writer must do before `gid_map`
# (so that no one drops a group that was denying them access); root need not, and does it here the
# same way. Once the maps are written, the helper sets its uid and gid to 0 *of the namespace*.

# %%
# boxkit: needs root, idmap
byhand.show("uid_map")
ch = u.step("uid_map", (100000, 65536))
with open(f"/proc/{u.pid}/uid_map") as f:
    print("uid_map:", " ".join(f.read().split()))
with open(f"/proc/{u.pid}/status") as f:
    outside = int(byhand.status_field(f.read(), "Uid").split()[0])
print(f"uid inside {ch.before['uid']} -> {ch.after['uid']}, on the host {outside}: "
      f"root inside only: {ch.after['uid'] == 0 and outside == 100000}")
print(f"the host's / as seen inside, owner {ch.after['root_owner']}: "
      f"the host's root unmapped: {ch.after['root_owner'] == overflow}")
u.close()

# %% [markdown]
# ## 11. Nothing is left behind
#
# The first box ended at `execve`'s exit; `close()` and a `with` block end a box earlier, and so does a
# step the kernel refuses. A step out of order never reaches the kernel: here `detach` before
# `pivot_root` is refused by name, and `hostname` without a UTS namespace, which would rename the
# host; the box goes on, and the `with` block ends it. Then the host keeps no process, directory or
# cgroup of any box this notebook made.

# %%
# boxkit: needs root
with byhand.Box("busybox") as b:
    try:
        b.step("detach")
    except boxkit.SpecError as e:
        print(e)
    b.step("unshare", ["mount", "pid"])
    try:
        b.step("hostname", "oops")
    except boxkit.SpecError as e:
        print(e)
    procs = [b.proc.pid, b.pid]   # this box's helper and its PID 1
    if "u" in globals():          # the second box's helper, where section 10 ran live
        procs.append(u.proc.pid)
alive = [p for p in procs if os.path.exists(f"/proc/{p}")]
print(f"of the host PIDs {procs}, still there: {len(alive)}: none: {not alive}")
left = [n for n in os.listdir(tempfile.gettempdir()) if n.startswith(prefix)]
print(f"box directories left in the temporary directory: {len(left)}: none: {not left}")
groups = [n for n in os.listdir(hierarchy) if n.startswith(prefix)]
print(f"box cgroups left in the memory hierarchy: {len(groups)}: none: {not groups}")

# %% [markdown]
# ## What to take away
#
# * A container is a process after a cgroup, `unshare`, a private mount table, an overlay, `/proc`,
#   `pivot_root` plus detaching the old root, `sethostname`, dropped capabilities and `execve`. That
#   is the part that makes it *look* like a machine of its own.
# * A user namespace and its maps make root inside an ordinary uid outside.
# * The rest of `boxkit run` is what makes it *safe*: masked paths, a `/dev` of safe nodes, no_new_privs,
#   seccomp, closed fds, cgroup limits. Each answers an attack that happened.
#
# ## Exercise
#
# The order above works, and the `Box` refuses any other by name before the kernel sees it.
# `byhand.Box("busybox", strict=False)` lets the kernel judge instead. Each recipe below is the order of
# the sections from `unshare` to the capabilities, with one step moved or left out, and then `execve`
# of `true`. For each, predict the first step the kernel refuses and its *errno* (the name of the error
# a refused system call returns; `errno(3)` lists them), as `("step", "EPERM")`, or `None` if every
# step passes and the command runs. The check runs every recipe in a box of its own.

# %%
from boxkit import exercises_byhand

for name, steps in exercises_byhand.RECIPES.items():
    print(f"{name}: {' -> '.join(s for s, _arg in steps)}")

# %%
# boxkit: exercise
my_prediction = {
    "caps moved before pivot_root": ...,
    "detach moved before pivot_root": ...,
    "detach left out": ...,
    "caps moved before hostname": ...,
}

# %%
# boxkit: exercise
from boxkit import exercises_byhand

exercises_byhand.check(my_prediction)

# %% [markdown]
# Stuck after a few tries? `exercises_byhand.solution()` shows one answer and the reasoning behind it.
#
# **Try next:** in a `Box("busybox", strict=False)`, make only `unshare`, `private` and `pivot_root`,
# with no overlay to pivot to. Which errno does `pivot_root` return here, and would it be the same on a
# host whose `/tmp` is a mount of its own? `pivot_root(2)` lists its reasons for `EBUSY` and `EINVAL`.
