# %% [markdown]
# # 01 — Namespaces: a container is a process
#
# *"Containers are processes; through namespaces they stay isolated inside the operating system."*
#
# A **namespace** wraps one kind of global resource so that the processes inside see their own copy:
#
# | namespace | isolates | created with |
# |---|---|---|
# | `pid` | process ids — the first process inside is PID 1 | `unshare(CLONE_NEWPID)`, then `fork()` |
# | `mnt` | the mount table — the file system view | `CLONE_NEWNS` |
# | `uts` | hostname (and NIS domain name) | `CLONE_NEWUTS` |
# | `net` | interfaces, addresses, routes, ports | `CLONE_NEWNET` |
# | `user` | user and group ids — root inside can be an ordinary unprivileged uid outside | `CLONE_NEWUSER` |
# | `ipc` | System V IPC, POSIX message queues | `CLONE_NEWIPC` |
# | `cgroup` | the cgroup tree's root | `CLONE_NEWCGROUP` |
# | `time` | the boot and monotonic clocks | `unshare(CLONE_NEWTIME)`, then `fork()` |
#
# For `pid` and `time` the calling process stays where it was; the children it makes next are the
# first members of the new namespace. The mount namespace's flag is `CLONE_NEWNS`, not `..._NEWMNT`:
# it was the first kind of namespace, named before there were any others.
#
# Every demo below starts a real container with `boxkit` and looks at it from both sides.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit import course

course.start("containers")

# %%
# NBVAL_IGNORE_OUTPUT
import os

import boxkit
from boxkit import nsinfo

# %% [markdown]
# ## PID: the container's command is PID 1
#
# We start a container that sleeps, then look at it twice: from inside (`ps` run in it with `exec`, as
# `docker exec` would) and from the host, where the kernel's `/proc/PID/status` lists the same process's
# PID in every PID namespace it belongs to (`NSpid`).

# %%
# NBVAL_IGNORE_OUTPUT
c = boxkit.run("busybox", ["sleep", "300"], detach=True, hostname="box")
print(c.exec(["ps", "-o", "pid,user,comm"]).stdout)

# %%
# NBVAL_IGNORE_OUTPUT
print("host PID:", c.pid, "  NSpid:", nsinfo.nspid(c.pid))

# %%
inside_pid = int(c.exec(["sh", "-c", "ps -o pid,comm | awk '$2==\"sleep\"{print $1}'"]).stdout)
seen = c.exec(["ps", "-o", "comm"]).stdout.split()[1:]    # after the COMMAND header
on_host = sum(1 for d in os.listdir("/proc") if d.isdigit())
host_comm = open(f"/proc/{c.pid}/comm").read().strip()
print(f"PID inside: {inside_pid}, the container's first process:", inside_pid == 1)
print(f"host PID {c.pid} runs {host_comm}, the container's command:", host_comm == "sleep")
ns_pids = nsinfo.nspid(c.pid)
print(f"NSpid {ns_pids} ends with the inside PID:", ns_pids[-1] == inside_pid)
print(f"processes ps sees inside: {len(seen)} {seen}, on the host: {on_host}; only its own:",
      set(seen) <= {"sleep", "ps"} and on_host > len(seen))

# %% [markdown]
# The same process has two numbers. The host sees every process; the container sees only its own.
#
# ## Every namespace, host vs container
#
# `/proc/PID/ns/*` are links whose inode number names the namespace. Same number, same namespace.

# %%
# NBVAL_IGNORE_OUTPUT
table = nsinfo.table(c.pid)
print("own namespaces:", sorted(r.type for r in table if r.isolated))
print("shared with the host:", sorted(r.type for r in table if not r.isolated))

# %%
pid_row = next(r for r in table if r.type == "pid")
print(f"pid namespace: host {pid_row.host}, container {pid_row.container}; different:",
      pid_row.isolated)

# %% [markdown]
# ### Users: the seed's claim, corrected
#
# The seed notes say that each container has its own users. **By default it does not.** A container
# started by root shares the host's `user` namespace, so uid 0 inside is uid 0 on the host; as root,
# the table above lists `user` as shared. A container gets users of its own only when asked:
# `userns=True` here, `--userns-remap` in docker (off by default there too). The section *User*
# below shows what that changes. `time` is shared too unless asked for (`time_offset=`).
#
# A **rootless** container (started by a user without root) is the exception: it always has a `user`
# namespace of its own, because that is how it gets a root inside at all. On such a host the table
# above lists `user` as the container's own.
#
# Docker's defaults differ from boxkit's in two ways. On a cgroup v1 or hybrid host it shares the
# `cgroup` namespace too (`--cgroupns=private` is its default only on cgroup v2). And it has no option
# for a time namespace at all.

# %% [markdown]
# ### The picture
#
# Here is the picture the seed notes describe, drawn from this container's own `/proc` data: the host's
# process tree from PID 1 down to the container, the container's processes boxed with both of their
# PIDs joined (`NSpid`), and every namespace inode on both sides. Between the host's PID 1 and the
# container sit this notebook's kernel and boxkit's helper, the process that forks every container;
# whatever started the kernel (Jupyter, a shell, the machine's own supervisor) is folded into one row.
#
# The same code draws `docs/img/namespace.png`, the seed's figure. There the container's PID 1 is
# `boxkit-init`: that container was started with `init=True`, a tiny init that reaps zombies and
# forwards signals, like `docker run --init` (notebook 09 shows why a container needs one).

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit.viz.namespaces import namespace_figure

namespace_figure(nsinfo.snapshot(c.pid, hostname="box"))

# %% [markdown]
# Containers nest: the "host" of this notebook may itself be a container, with boxkit's containers
# made inside it. The name of the host panel's PID 1 does not tell (a virtual machine's first process
# may have any name); its PID namespace does. The kernel gives its first PID namespace a fixed inode
# number, `0xEFFFFFFC` (`PROC_PID_INIT_INO` in the kernel's `include/linux/proc_ns.h`); every other
# PID namespace gets a new one.

# %%
# NBVAL_IGNORE_OUTPUT
mine = nsinfo.ns_inodes()["pid"]
pid1 = open("/proc/1/comm").read().strip()
if mine == nsinfo.PID_INIT_INO:
    print(f"the host panel's PID namespace is {mine} ({mine:#x}), the kernel's first: "
          f"its PID 1, {pid1}, is this machine's first process.")
else:
    print(f"the host panel's PID namespace is {mine} ({mine:#x}), not the kernel's first "
          f"({nsinfo.PID_INIT_INO:#x}): this 'host' is itself a container; {pid1} is its PID 1.")

# %% [markdown]
# ## UTS: a hostname of its own

# %%
host_name = open("/proc/sys/kernel/hostname").read().strip()
inside_name = c.exec(["hostname"]).stdout.strip()
print(f"hostname inside: {inside_name}, the one it was given:", inside_name == "box")
print(f"the host's hostname is still {host_name}, not box:", host_name != "box")

# %% [markdown]
# ## Mount: a mount made for the container never reaches the host
#
# boxkit's first mount call in a new container is `mount(NULL, "/", NULL, MS_REC|MS_PRIVATE)`. Without
# it, mounts could *propagate*: a shared mount copies every new mount to its peers, so the container's
# overlay root, its `/proc` and its volumes could appear on the host. On a host booted with systemd,
# `/` is shared (systemd makes it so at boot); a host without systemd may have `/` private already.
# The cell below prints which this host has. Then we bind a host directory into a container and
# compare the two mount tables.

# %%
import tempfile

vol = tempfile.mkdtemp(prefix="boxkit-vol-")
with open(os.path.join(vol, "note.txt"), "w") as f:
    f.write("written on the host\n")
root_mount = [x for x in nsinfo.mounts() if x["target"] == "/"][-1]
print("this host's / is", f"shared (peer group {root_mount['shared']})"
      if root_mount["shared"] is not None else "private")
host_before = open("/proc/self/mountinfo").read().splitlines()
m = boxkit.run("busybox", ["sleep", "300"], detach=True, volumes=[f"{vol}:/data:ro"])
r = m.exec(["sh", "-c", "cat /data/note.txt; grep ' /data ' /proc/self/mountinfo | wc -l; "
                        "grep -c 'shared:' /proc/self/mountinfo"])
print(r.stdout)

# %% [markdown]
# Why must `/` be made private? A mount namespace starts as a **copy** of its parent's. When the copy is
# made in the same user namespace (a runtime running as root), a copy of a *shared* mount joins the
# same **peer group** (`shared:N` in `/proc/PID/mountinfo`): a mount under one peer is repeated under
# every other, in both directions.
#
# When the new mount namespace belongs to a new user namespace (a rootless runtime), the kernel counts
# the copy as *less privileged* and turns its shared mounts into **slaves** (`master:N`): the host's
# new mounts still arrive, but nothing made in the copy goes back (`man 7 mount_namespaces`). So a
# rootless container could never push a mount to the host; a runtime running as root could.
#
# We measure both: a tmpfs made shared on the host; a namespace copied with `unshare -m --propagation
# unchanged` (a runtime as root, without that first mount call); one copied the same way inside a new
# user namespace (`unshare -U -m`); then a second mount made on the host *after* the copies. Our
# container `m` is drawn beside them.

# %%
# boxkit: needs root
# NBVAL_IGNORE_OUTPUT
from boxkit.viz.mounts import propagation_figure

lab = nsinfo.propagation_lab(m.pid)
propagation_figure(lab["trees"], demo=lab["demo"])

# %%
# boxkit: needs root
from boxkit.viz.mounts import tag

copy = lab["trees"]["unshare -m --propagation unchanged"]
demo_copy = next(x for x in copy if x["target"] == lab["demo"])
slave = lab["trees"]["unshare -U -m (a new user namespace)"]


def later_in(tree):
    return next((tag(x) for x in tree if x["target"] == lab["later"]), "absent")


print(f"the copy's demo mount is {tag(demo_copy)}; the later mount in it: {later_in(copy)}; "
      "it arrived:", lab["copy_sees_later"])
print(f"in the new user namespace the demo mount is {tag(lab['userns_demo'])}, a slave:",
      lab["userns_demo"]["master"] is not None and lab["userns_demo"]["shared"] is None)
print(f"the later mount in the slave: {later_in(slave)}; it arrived too:", lab["userns_sees_later"])
print(f"shared mounts in the boxkit container: {lab['container_shared']}; none:",
      lab["container_shared"] == 0)

# %%
# while the container runs: a leaked mount would show on the host as a new line of its mount table,
# its mount point under the container's root (.../<id>/merged/data)
host_now = open("/proc/self/mountinfo").read().splitlines()
added = sorted(set(host_now) - set(host_before))
leaked = [line for line in host_now if m.id in line.split()[4]]
lines = r.stdout.split("\n")
print(f"the container reads {lines[0]!r} from its one /data mount ({lines[1]}):",
      lines[0] == "written on the host" and lines[1] == "1")
print(f"host mounts before the container {len(host_before)}, while it runs {len(host_now)}, "
      f"new {len(added)}; none added:", not added)
print(f"host mounts under the container's root: {len(leaked)}; the host's table holds none:",
      not leaked)
print(f"shared (propagating) mounts inside: {int(lines[2])}; none:", int(lines[2]) == 0)
m.remove()

# %% [markdown]
# ## Net: an empty network stack
#
# `boxkit.run` gives every container a network namespace of its own unless you pass
# `network="host"`, even when you list the other namespaces yourself (`namespaces=[...]`): the
# network is chosen by `network=`, as docker's `--network` does. A new network namespace holds the
# loopback `lo`, down until someone brings it up (boxkit does). On a host that has loaded a tunnel
# module (`ipip`, `sit`, `gre`…) the kernel also puts that module's fallback device (`tunl0`, `sit0`…)
# in every new network namespace, down and unconfigured, unless the sysctl
# `net.core.fb_tunnels_only_for_init_net` says otherwise. So we look at which links are *up*: only `lo`.
# No route out, no other container, no host interface: `ip route` prints nothing, and a packet to any
# address outside fails before it is sent — the kernel has no route for it. (Notebook 04 wires
# containers together.)

# %%
probe = ("ip -o link | cut -d' ' -f2,3; echo routes: $(ip route | wc -l); "
         "ping -c 1 -W 1 8.8.8.8 2>&1 | tail -1")
r = boxkit.run("busybox", ["sh", "-c", probe])
print(r.stdout)

# %%
out = r.stdout.splitlines()
# each link as "name: <FLAGS>", like "lo: <LOOPBACK,UP,LOWER_UP>"
links = {x.split()[0].rstrip(":").split("@")[0]: x.split()[1].strip("<>").split(",")
         for x in out[:-2]}
up = sorted(name for name, flags in links.items() if "UP" in flags)
routes = int(out[-2].split()[1])
print(f"interfaces: {sorted(links)}, up: {up}; only the loopback is up:", up == ["lo"])
print(f"routes in the namespace: {routes}, none:", routes == 0)
print(f"a ping out says {out[-1]!r}; unreachable:", "Network is unreachable" in out[-1])

# %% [markdown]
# ## User: root inside, an ordinary uid outside
#
# With a user namespace (`userns=True`), boxkit maps uid 0 inside to uid 100000 outside
# (`/proc/PID/uid_map` holds the map: 65536 ids from 100000; Docker's `--userns-remap` takes its range
# from `/etc/subuid`). Root inside owns its files and namespaces, and nothing on the host: uid 100000 is
# just an unprivileged uid there. A file created inside lands in the container's writable layer, a
# directory on the host (the overlay's *upper* directory; notebook 03 builds one) — owned by 100000.
#
# The other direction is where *nobody* comes from: a host id **outside** the map has no name inside, and
# the kernel shows it as the overflow id 65534 (`nobody`, `/proc/sys/kernel/overflowuid`). We bind a
# directory owned by the host's root (uid 0, unmapped: the map starts at 100000; mode 0700) into the
# container: inside it belongs to 65534, and root inside may not even open it. Root's capabilities
# (here `CAP_DAC_OVERRIDE`, which lets root ignore a file's mode) are capabilities *in its user
# namespace*: the kernel lets them act on a file only when the file's owner and group are mapped into
# that namespace (the kernel's `capable_wrt_inode_uidgid`). uid 0 of the host is not.

# %%
# boxkit: needs root, idmap
# NBVAL_IGNORE_OUTPUT
hostfile = tempfile.mkdtemp(prefix="boxkit-owned-")
os.chmod(hostfile, 0o700)   # mkdtemp's own mode; the demo needs it: no one else may enter
with open(os.path.join(hostfile, "root-owned"), "w") as f:
    f.write("owned by the host's root\n")
u = boxkit.run("busybox", ["sleep", "300"], userns=True, detach=True,
               volumes=[f"{hostfile}:/hostdir:ro"])
u.exec(["touch", "/tmp/made-inside"])   # made by root inside, before we look
shown = u.exec(["sh", "-c", "id; ls -ln /tmp/made-inside; ls -lnd /hostdir; "
                            "cat /hostdir/root-owned 2>&1"])
st = os.stat(hostfile)
print(f"on the host: the directory's owner uid {st.st_uid}, mode {st.st_mode & 0o777:04o}")
print(shown.stdout)

# %% [markdown]
# The map as a picture: the ids inside (top) and the host's (bottom), joined where the map joins them;
# the host's uid 0 is in no range, so inside it shows as 65534. That number is also a mapped id of its
# own (the title names the host uid it maps to): inside, an owner shown as 65534 may be that uid or any
# host id outside the map.

# %%
# boxkit: needs root, idmap
# NBVAL_IGNORE_OUTPUT
from boxkit.viz.namespaces import idmap_figure

idmap_figure(nsinfo.id_map(u.pid))

# %%
# boxkit: needs root, idmap
import shutil

made = os.path.join(u.upper_dir, "tmp", "made-inside")
uid_inside = u.exec(["id", "-u"]).stdout.strip()
seen_inside = int(u.exec(["stat", "-c", "%u", "/hostdir"]).stdout)
print(f"uid inside: {uid_inside}, root:", uid_inside == "0")
inside0, outside0, count = nsinfo.id_map(u.pid)[0]
print(f"uid map: {count} ids from {inside0} inside to {outside0} outside; 0 to 100000:",
      (inside0, outside0) == (0, 100000))
print(f"owner on the host of the file made inside: {os.stat(made).st_uid}, the mapped uid:",
      os.stat(made).st_uid == nsinfo.id_map(u.pid)[0][1])
print(f"owner inside of the host root's directory: {seen_inside}, the overflow uid (nobody):",
      seen_inside == 65534)
refusal = shown.stdout.strip().splitlines()[-1]
print(f"root inside reading it: {refusal!r}; refused:", "Permission denied" in refusal)
u.remove()
shutil.rmtree(hostfile)

# %% [markdown]
# ## IPC: message queues of its own
#
# POSIX message queues live in an IPC namespace (`/dev/mqueue` lists them). A queue made in one
# container does not exist in another.

# %%
a = boxkit.run("busybox", ["sleep", "300"], detach=True)
b = boxkit.run("busybox", ["sleep", "300"], detach=True)
a.exec(["touch", "/dev/mqueue/orders"])   # touch on an mqueue file system makes a queue
in_a = a.exec(["ls", "/dev/mqueue"]).stdout.split()
in_b = b.exec(["ls", "/dev/mqueue"]).stdout.split()
print(f"queues in a: {in_a}, the one made there:", in_a == ["orders"])
print(f"queues in b: {in_b}; a's queue is not there:", "orders" not in in_b)
a.remove()
b.remove()

# %% [markdown]
# ## cgroup: the container sees its own group as the root
#
# boxkit puts each container into its own cgroup (notebook 02 limits it). With a cgroup namespace
# created *after* that move, the container's `/proc/self/cgroup` shows `/`, hiding the host's tree.

# %%
# NBVAL_IGNORE_OUTPUT
print("inside: ", c.exec(["cat", "/proc/self/cgroup"]).stdout.splitlines()[:3])
print("host:   ", open(f"/proc/{c.pid}/cgroup").read().splitlines()[:3])

# %%
inside = c.exec(["cat", "/proc/self/cgroup"]).stdout.splitlines()
paths = sorted({line.rsplit(":", 1)[1] for line in inside})
print(f"paths inside, over {len(inside)} lines: {paths}; every one is /:", paths == ["/"])

# %% [markdown]
# ## Time: a different boot clock
#
# A time namespace (Linux 5.6+) offsets two clocks: `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME`, the one
# `/proc/uptime` reads. The wall clock (`CLOCK_REALTIME`) is the host's in every time namespace.
# Checkpoint/restore uses it so a migrated container's clocks do not jump. Here: a container that
# believes the machine has been up a year longer.

# %%
year = 365 * 24 * 3600
r = boxkit.run("busybox", ["cat", "/proc/uptime"], time_offset=year)
inside_up = float(r.stdout.split()[0])
host_up = float(open("/proc/uptime").read().split()[0])
apart = inside_up - host_up
print(f"uptime inside {inside_up / 86400:.1f} days, on the host {host_up / 86400:.1f} days: "
      f"{apart / 86400:.2f} days apart, one year:", abs(apart - year) < 60)

# %% [markdown]
# ## Why `pivot_root`, not `chroot`
#
# `chroot` only changes one process's idea of `/`. A process that may call `chroot` (root has
# `CAP_SYS_CHROOT`) escapes: chroot into a subdirectory — its working directory is now *outside* the new
# root — climb with `..` and chroot to `.`. The program is `nsinfo.CHROOT_ESCAPE`; first in a plain
# `chroot` jail on the host, then in a container, where `pivot_root` moved the root *mount* and detached
# the host's tree, so there is nothing left to climb to. We leave a secret file on the host for it to find.

# %%
# boxkit: needs root
import subprocess

from boxkit.images import resolve

secret = tempfile.mkdtemp(prefix="boxkit-secret-")
with open(os.path.join(secret, "secret"), "w") as f:
    f.write("host secret\n")
jail = tempfile.mkdtemp(prefix="boxkit-jail-")
# a hard-linked copy of the host image's files, so the escape's mkdir never touches the image itself
subprocess.run(["cp", "-al", resolve("host").layers[-1] + "/.", jail], check=True)
print("in a chroot jail:  ", nsinfo.chroot_escape_on_host(jail, os.path.join(secret, "secret")))
r = boxkit.run("host", ["python3", "-c", nsinfo.CHROOT_ESCAPE, os.path.join(secret, "secret")])
print("in a boxkit container:", r.stdout.strip())

# %%
# boxkit: needs root
import shutil

jailed = nsinfo.chroot_escape_on_host(jail, os.path.join(secret, "secret"))
print(f"from the chroot jail the climb read {jailed!r}; it escaped:", "host secret" in jailed)
print(f"from the container it got {r.stdout.strip()!r}; pivot_root held:",
      "host secret" not in r.stdout and "not reachable" in r.stdout)
shutil.rmtree(secret)
shutil.rmtree(jail)

# %% [markdown]
# ## Try it: untick a namespace
#
# Each box is one namespace type. **Run** starts a real container with exactly the ticked ones (its own
# mount namespace always: without one its root would be mounted over the host's) and puts four
# answers beside the host's: the processes `ps` sees, the hostname, the network links, the mounts.
# Untick `pid` and the host's processes appear; untick `net` and the host's links do (the explorer
# passes `network="host"` for that); untick `uts` and the container answers with the host's name.
# Under the table, the host's links are named by kind: a host may have more than `lo` and its network
# card (a bridge another runtime made, the kernel's `ifb` devices), and none of them is the container's.
# The `ipc` and `cgroup` boxes have no row: their difference shows in `/dev/mqueue` and
# `/proc/self/cgroup`, as above.

# %%
# boxkit: needs root
# NBVAL_IGNORE_OUTPUT
from boxkit.viz.explorer import namespace_explorer

explorer = namespace_explorer()
explorer.run()   # once with every box ticked; then click Run yourself
explorer

# %% [markdown]
# ## Clean up
#
# `remove()` ends the container and deletes what it made; a `with` block does it for you.

# %%
import shutil

c.remove()
shutil.rmtree(vol)
started = [c, m, a, b] + ([u] if "u" in globals() else [])   # u: only where the user cell ran
left = sum(1 for x in started if x.running)
print(f"detached containers this notebook started: {len(started)}, still running: {left}; none:",
      left == 0)

# %% [markdown]
# ## What was proved
#
# * A container's command is PID 1 inside and an ordinary PID outside; inside, `ps` sees only the
#   container's processes.
# * Each namespace is an inode in `/proc/PID/ns`; a container has its own `mnt`, `pid`, `net`, `uts`,
#   `ipc` and `cgroup` namespaces, and `user`/`time` on request: by default it has no users of its own.
# * Mounts stay inside because `/` is made private first. Without that, a copy of a shared mount is a
#   peer of the host's when root makes it, and only a slave in a new user namespace (rootless).
# * Root inside can be uid 100000 outside, and a host id outside the map shows as 65534 (nobody)
#   inside.
# * `chroot` is escapable by the classic `..` climb; `pivot_root` plus detaching the old root stops that
#   climb (other escapes are what capabilities, seccomp and LSMs — Linux Security Modules such as
#   AppArmor and SELinux — are for; notebook 06 shows the first two).
#
# ## Exercise
#
# Make a container that **sees every process of the host** but has a **hostname of its own**: choose its
# namespaces in `my_namespaces` (as `boxkit.run` names them; `mount` is required), and predict in `my_own`
# which links of `/proc/PID/ns` will then differ from the host's. The check starts that container, asks it
# for its hostname and the host's processes, and compares the namespace inodes.

# %%
# boxkit: exercise
my_namespaces = ...   # a list of names as boxkit.run takes them, like ["mount", ...]
my_own = ...          # a set of /proc/PID/ns names, like {"mnt", ...}

# %%
# boxkit: exercise
from boxkit import exercises

exercises.namespaces(my_namespaces, my_own)

# %% [markdown]
# Stuck after a few tries? `exercises.solution("namespaces")` shows one answer and the reasoning behind it.
#
# **Try next:** add `"ipc"` and predict again; then add `"pid"` too and read what the check says.
# Continue with [02 — cgroups](02-cgroups.ipynb).
