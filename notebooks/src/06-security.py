# %% [markdown]
# # 06 — Security: root in a box is not root
#
# Inside a container the command runs as uid 0, the same number as the host's root. Namespaces alone
# do not make that safe: they change what a process *sees*, not what it may *do*. What it may do is
# decided by a stack of independent layers, each of which refuses on its own, and each of which is a
# kernel feature:
#
# | layer | the kernel feature | what it decides |
# |---|---|---|
# | capabilities | `capset`, `prctl(PR_CAPBSET_DROP)` | which of root's powers the process still holds (docker keeps a short list) |
# | seccomp | `prctl(PR_SET_SECCOMP)`, a BPF program | which *system calls* reach the kernel at all, with which arguments |
# | no_new_privs | `prctl(PR_SET_NO_NEW_PRIVS)` | setuid programs and file capabilities cannot add privileges |
# | masked and read-only paths | bind mounts over `/proc` files, read-only `/sys` and `/proc/sys` | what the kernel's own files tell and accept |
# | devices | `nodev` mounts, the devices cgroup | which device nodes may be opened: no host disk, no `/dev/mem` |
# | a cgroup of its own | a group in every cgroup hierarchy, a cgroup namespace | that the host's cgroup roots (and their `release_agent`) stay out of reach |
#
# **BPF** (first the *Berkeley Packet Filter*) is a small instruction set that the kernel itself runs:
# a program handed to the kernel, checked, and executed at a fixed point — for seccomp, at the entry of
# every system call. Docker adds a seventh layer where the host has one, an **LSM** (*Linux Security
# Module*: AppArmor or SELinux, rules the kernel checks on file, mount and network operations);
# boxkit loads none.
#
# Each section shows one layer refusing something, then runs the *same* action with that layer taken
# away — in a throw-away container, on your kernel. Where boxkit has no switch for one layer alone
# (masked and read-only paths, devices), the action runs `--privileged`, which takes away the first five layers at
# once; the sixth cannot be taken away at all, and section 6 says what that leaves untried.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit import course

course.start("containers")

# %% [markdown]
# ## Predict first
#
# Before any layer is shown at work: which of these can root in a *default* container do? Each is a
# job root does on an ordinary host. Replace each `...` by `True` or `False`. The check runs each
# action in a container of its own and tells you how many predictions match; its hint says what to
# think about, never which action you got wrong. The sections below show the layers that decide.

# %%
# boxkit: exercise
my_prediction = {
    "chown a file": ...,
    "listen on port 80": ...,
    "ptrace a sibling process": ...,
    "change the hostname": ...,
    "set the clock": ...,
    "load a kernel module": ...,
    "read the kernel log": ...,
    "read the host's disk through a node it makes": ...,
}

# %%
# boxkit: exercise
from boxkit import exercises

exercises.root_can(my_prediction)

# %% [markdown]
# Each action is one shell line in `exercises.ROOT_ACTIONS`. Stuck after a few tries? Read the
# sections below first; `exercises.solution("security")` then shows one answer and its reasoning.
#
# ## 1. Capabilities
#
# The kernel splits root's power into **capabilities**, one bit each: `CAP_CHOWN`, `CAP_SYS_ADMIN`
# (mount, most namespace work), `CAP_NET_ADMIN` (links, routes, firewall) and so on. Within its user
# namespace no process gains a capability outside its **bounding set** (`CapBnd` in
# `/proc/PID/status`) by running a program — the one exception, a capability already in its
# *inheritable* set, does not arise here: boxkit empties that set. So the bounding set of this
# notebook's root is "every capability" for a container started here without a user namespace of its
# own. It need not be all the kernel knows: a sandbox may run its root with fewer.

# %%
# NBVAL_IGNORE_OUTPUT
import boxkit
from boxkit import _sys
from boxkit.exercise_runs import status_fields

with open("/proc/sys/kernel/cap_last_cap") as f:
    known = int(f.read()) + 1      # capabilities are numbered from 0 to cap_last_cap
with open("/proc/self/status") as f:
    host_bnd = _sys.cap_names(int(status_fields(f.read())["CapBnd"], 16))
lacking = [n for n, bit in _sys.CAPABILITIES.items() if bit < known and n not in host_bnd]
print(f"capabilities this kernel knows: {known}")
if lacking:
    print(f"in this notebook's bounding set: {len(host_bnd)}; lacking: {', '.join(lacking)}")
else:
    print(f"in this notebook's bounding set: {len(host_bnd)}; lacking: none")

# %% [markdown]
# `CapEff` is what a process may use now. In a default container, decoded, it is docker's default
# list:

# %%
import os
import sys

from boxkit.exercise_runs import attempt
from boxkit.viz.security import Probe

PY = os.path.realpath(sys.executable)   # the host image holds this python at its host path
probes = []   # every action below, as a default container met it and without one layer
r = boxkit.run("host", ["cat", "/proc/self/status"])
eff = _sys.cap_names(int(status_fields(r.stdout)["CapEff"], 16))
print(f"CapEff in a default container: {len(eff)} capabilities")
print(", ".join(n.removeprefix("CAP_").lower() for n in eff))
print(f"fewer than the bounding set's ({len(eff)} of {len(host_bnd)}): {len(eff) < len(host_bnd)}")
print(f"CAP_SYS_ADMIN left out ({len(eff)} held): {'CAP_SYS_ADMIN' not in eff}")
print(f"CAP_NET_ADMIN left out ({len(eff)} held): {'CAP_NET_ADMIN' not in eff}")

# %% [markdown]
# Now two things root normally does, refused; then the same with the one capability each needs added
# (`--cap-add`, docker's flag). `attempt` (imported above) runs one shell line as root in a throw-away
# container and returns whether it worked and what it said; `probes` collects every action for the
# picture at the end.
#
# `mount` meets two layers, and each refuses it on its own: docker's seccomp profile, which boxkit
# follows, lets `mount` through the filter only for a container that holds `CAP_SYS_ADMIN`, and the
# kernel's own check asks for that capability again. So `seccomp=unconfined` alone leaves the
# capability check in place, and `--cap-add SYS_ADMIN` opens both. Both answer `EPERM`, "Operation not
# permitted" (the `mount` program words it "permission denied"), so the message cannot tell them
# apart; the order can. Once the call runs, the kernel
# looks up the mount point *before* it checks the capability, so a mount onto a directory that does
# not exist fails with `ENOENT`, "No such file or directory" — unless the filter refused the call
# before it started. The second half of the cell makes that call itself, from python.

# %%
# boxkit: needs root
mount = "mount -t tmpfs scratch /tmp && echo mounted"
ok, said = attempt(mount)
ok_u, said_u = attempt(mount, security_opt=["seccomp=unconfined"])
ok_c, said_c = attempt(mount, cap_add=["SYS_ADMIN"])
# the capability check alone refuses where the filter is gone: that run is this probe's first
probes.append(Probe("capabilities", "mount a tmpfs", not ok_u, said_u, "--cap-add SYS_ADMIN",
                    ok_c, said_c, "seccomp=unconfined"))
print(f"mount refused in a default container ({said}): {not ok}")
print(f"mount refused with seccomp=unconfined alone ({said_u}): {not ok_u}")
print(f"mount works with --cap-add SYS_ADMIN ({said_c}): {ok_c}")

nowhere = f"""{PY} -c "import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
if libc.mount(b'scratch', b'/no/such/dir', b'tmpfs', 0, None) < 0:
    raise SystemExit('mount: ' + os.strerror(ctypes.get_errno()))" """
_, said_n = attempt(nowhere)
_, said_nu = attempt(nowhere, security_opt=["seccomp=unconfined"])
before, ran = "not permitted" in said_n, "No such file" in said_nu
probes.append(Probe("seccomp", "mount reaches the kernel", before, said_n, "seccomp=unconfined",
                    ran, f"{said_nu}, the path was read"))
print(f"onto a missing directory, refused before the path is looked up ({said_n}): {before}")
print(f"the same with seccomp=unconfined: the call ran and looked ({said_nu}): {ran}")

link = "ip link add v0 type veth peer name v1 && echo link added"
ok, said = attempt(link)
ok_c, said_c = attempt(link, cap_add=["NET_ADMIN"])
probes.append(Probe("capabilities", "ip link add", not ok, said, "--cap-add NET_ADMIN",
                    ok_c, said_c))
print(f"ip link add refused in a default container ({said}): {not ok}")
print(f"ip link add works with --cap-add NET_ADMIN ({said_c}): {ok_c}")

# %% [markdown]
# ## 2. seccomp
#
# Every boxkit container not started `--privileged` loads a seccomp filter as its last step before
# `execve`. The filter is a *classic* BPF program: the kernel runs it at every system call, on the
# call's number and arguments, and it returns a verdict — let the call run, or fail it with an errno before it starts. libseccomp
# compiles it from boxkit's profile (the same decisions as docker's default profile). Each BPF
# instruction is a `struct sock_filter` of 8 bytes: a 16-bit operation, two 8-bit jump offsets and a
# 32-bit constant; so the program's size in bytes, divided by 8, is its length in instructions.
#
# Unless the container holds `CAP_SYS_ADMIN`, the filter refuses `unshare` outright and `clone` with
# namespace flags — a nested user namespace would give root a full capability set *inside* it, the
# door CVE-2022-0185 walked through. It refuses `keyctl`/`add_key` too: keyrings belong to a user,
# and root in a container without a user namespace of its own is the same uid 0 as the host's root.
# `Seccomp: 2` in `/proc/self/status` means "a filter is loaded".

# %%
import base64

from boxkit.runtime import caps
from boxkit.security import seccomp

INSTRUCTION = 8   # bytes in one struct sock_filter
profile = seccomp.default_profile()
program = base64.b64decode(seccomp.program(profile, caps.DEFAULT_MASK))   # the plan keeps base64
print(f"boxkit's profile: {len(profile.rules)} rules, default action {profile.default_action} "
      f"(errno {profile.default_errno})")
print(f"compiled: {len(program)} bytes, {len(program) // INSTRUCTION} BPF instructions")
print(f"whole instructions ({len(program)} bytes): {len(program) % INSTRUCTION == 0}")
r = boxkit.run("host", ["cat", "/proc/self/status"])
mode = status_fields(r.stdout)["Seccomp"]
print(f"a filter loaded in a default container (Seccomp: {mode}): {mode == '2'}")

# %%
keyctl = f"""{PY} -c "import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
nr = {{'x86_64': 248, 'aarch64': 217}}[os.uname().machine]   # add_key: glibc has no wrapper
if libc.syscall(nr, b'user', b'boxkit-demo', b'x', 1, -2) < 0:
    raise SystemExit('add_key: ' + os.strerror(ctypes.get_errno()))
print('add_key: a key was added to the kernel keyring')" """
nested = ("unshare -U -r sh -c 'echo user namespace: uid $(id -u), "
          "CapEff $(grep CapEff /proc/self/status | cut -f2)'")
for probe, cmd in (("unshare -U", nested), ("add_key", keyctl)):
    ok, said = attempt(cmd)
    ok_u, said_u = attempt(cmd, security_opt=["seccomp=unconfined"])
    probes.append(Probe("seccomp", probe, not ok, said, "seccomp=unconfined", ok_u, said_u))
    print(f"{probe} refused in a default container ({said}): {not ok}")
    print(f"{probe} works with seccomp=unconfined ({said_u}): {ok_u}")

# %% [markdown]
# The nested user namespace's `CapEff` holds every capability the kernel knows — inside that
# namespace, where the kernel checks them against objects the namespace owns; it can hold bits the
# host's bounding set lacks, because a new user namespace starts with a full set.
#
# ## 3. no_new_privs
#
# A setuid-root program runs with the file owner's uid as its effective uid — that is how `sudo` and `passwd` work. Here
# root in the container makes a setuid-root copy of `id`, becomes uid 1000 and runs it. With
# `no_new_privs` (boxkit's default) the kernel ignores the setuid bit; without it
# (`--security-opt no-new-privileges=false`, docker's default) `id` reports `euid=0(root)`.

# %%
# boxkit: needs root
setuid = (f"""{PY} -c "import shutil, os; shutil.copy('/usr/bin/id', '/tmp/id'); """
          """os.chmod('/tmp/id', 0o4755); os.setgid(1000); os.setuid(1000); """
          """os.execv('/tmp/id', ['id'])" """)
_, said = attempt(setuid)
_, said_n = attempt(setuid, security_opt=["no-new-privileges=false"])
probes.append(Probe("no_new_privs", "setuid-root id", "euid=0" not in said, said,
                    "no-new-privileges=false", "euid=0" in said_n, said_n))
print(f"the setuid bit ignored in a default container ({said}): {'euid=0' not in said}")
print(f"the setuid bit obeyed with no-new-privileges=false ({said_n}): {'euid=0' in said_n}")

# %% [markdown]
# ## 4. Masked and read-only paths
#
# boxkit, as docker, *masks* the files of `/proc` that tell about the host: `/dev/null` mounted over
# each file (`/proc/keys`, `/proc/timer_list` …, and `/proc/kcore` on a kernel that has one), an empty
# read-only `tmpfs` over each directory (`/proc/acpi` …). It mounts `/sys` read-only, and `/proc/sys`
# and a few other parts of `/proc` read-only. The run lists each container's mounts over `/proc`
# paths. Docker lifts these alone with `--security-opt systempaths=unconfined`; `--privileged` lifts
# them together with every other layer. boxkit has only `--privileged` for them, so each is shown
# against a privileged container. Each run writes `ip_forward` back with the value it read.

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root
FORWARD = "/proc/sys/net/ipv4/ip_forward"
look = (f"wc -c < /proc/keys; v=$(cat {FORWARD}); echo held $v; "
        f"echo $v > {FORWARD} && echo proc-sys-written; cat /proc/self/mountinfo")


def over_proc(mountinfo):
    """The mounts over /proc paths: (masked, read-only); a masked one is not of type proc."""
    masked, read_only = [], []
    for line in mountinfo:
        left, _, right = line.partition(" - ")
        point = left.split()[4]
        if point.startswith("/proc/"):
            (read_only if right.split()[0] == "proc" else masked).append(point)
    return masked, read_only


normal = boxkit.run("host", look, timeout=30)
privileged = boxkit.run("host", look, timeout=30, privileged=True)
for name, r in (("default", normal), ("privileged", privileged)):
    out = r.stdout.splitlines()
    held = next(line.split()[1] for line in out if line.startswith("held "))
    written = f"written back ({held})" if "proc-sys-written" in out else "not written"
    masked, read_only = over_proc(line for line in out if " - " in line)
    print(f"{name:10}: /proc/keys {out[0]} bytes; ip_forward held {held}, {written}")
    if masked:
        print(f"{'':12}masked: {' '.join(masked)}")
    else:
        print(f"{'':12}masked: none")
    if read_only:
        print(f"{'':12}read-only: {' '.join(read_only)}")
    else:
        print(f"{'':12}read-only: none")
if os.path.exists("/proc/kcore"):
    print("/proc/kcore on this kernel: present")
else:
    print("/proc/kcore on this kernel: absent")

# %%
# boxkit: needs root
keys, keys_p = normal.stdout.split()[0], privileged.stdout.split()[0]
masked, read_only = over_proc(line for line in normal.stdout.splitlines() if " - " in line)
refusal = normal.stderr.strip().splitlines()[-1] if normal.stderr.strip() else "no message"
probes.append(Probe("masked paths", "read /proc/keys", keys == "0", f"{keys} bytes read",
                    "--privileged", keys_p != "0", f"{keys_p} bytes read"))
probes.append(Probe("read-only paths", "write /proc/sys", "proc-sys-written" not in normal.stdout,
                    refusal, "--privileged", "proc-sys-written" in privileged.stdout,
                    "ip_forward written back, the value it held"))
print(f"/proc/keys masked in a default container ({keys} bytes): "
      f"{keys == '0' and '/proc/keys' in masked}")
print(f"/proc/sys refused a write ({refusal}): {'proc-sys-written' not in normal.stdout}")
lifted = over_proc(line for line in privileged.stdout.splitlines() if " - " in line) == ([], [])
print(f"--privileged masks nothing and reads /proc/keys ({keys_p} bytes): "
      f"{lifted and keys_p != '0'}")

# %% [markdown]
# The privileged container wrote back the value `ip_forward` held, so its write changed nothing. A
# different value would have stayed in its own network namespace: `/proc/sys/net` shows the
# namespace of the process that opens it, and a privileged container keeps its own (the end of this
# notebook measures that); this run does not try it. The rest of `/proc/sys` is another matter: most
# of `kernel.*` and all of `vm.*` have no namespace, so there a privileged container's write is the
# host's (not tried here either).
#
# ## 5. Devices
#
# A container's `/dev` is a fresh `tmpfs`, mounted `nodev`. boxkit puts in it, as docker does:
#
# | entry | what it is |
# |---|---|
# | `null`, `zero`, `full`, `random`, `urandom`, `tty` | the six safe device nodes, bind mounts of the host's |
# | `pts`, `ptmx` | a `devpts` of the container's own for pseudo-terminals; `ptmx` (a link to `pts/ptmx`) makes new ones |
# | `shm` | a `tmpfs` for POSIX shared memory (`shm_open`) |
# | `mqueue` | the IPC namespace's POSIX message queues |
# | `fd`, `stdin`, `stdout`, `stderr` | links into `/proc/self/fd` |
# | `core` | a link to `/proc/kcore` (the kernel's memory, as a core file), masked where the kernel has one (section 4) |
# | `console` | the terminal of a container started with one (`-t`) |

# %%
# boxkit: needs root
TABLE = {"null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "mqueue",
         "fd", "stdin", "stdout", "stderr", "core", "console"}
r = boxkit.run("host", "ls -l /dev | tail -n +2", timeout=30)
entries = []
for line in r.stdout.splitlines():   # mode, links, owner, group, size or major, minor, date, name
    left, _, target = line.partition(" -> ")
    fields, name = left.split(), left.split()[-1]
    entries.append(name)
    kind = {"c": "char device", "b": "block device", "d": "directory", "l": "link"}[fields[0][0]]
    numbers = f" {fields[4].rstrip(',')}:{fields[5]}" if fields[0][0] in "cb" else ""
    print(f"{name:8} {kind}{numbers}" + (f" -> {target}" if target else ""))
print(f"every entry is one the table names ({len(entries)} entries): {set(entries) <= TABLE}")

nodev, devnodes = [], []   # section 4's default container: its mounts, nodev or not
for line in normal.stdout.splitlines():
    if " - " in line:
        point, opts = line.split()[4:6]
        if not point.startswith(("/proc/", "/sys/")):   # the masks of section 4 left out
            (nodev if "nodev" in opts.split(",") else devnodes).append(point)
print(f"mounted nodev: {' '.join(nodev)}")
print(f"not nodev: {' '.join(devnodes)}")
writable = {"/", "/dev", "/dev/shm"}
print(f"the root, /dev and /dev/shm are nodev ({' '.join(sorted(writable & set(nodev)))}): "
      f"{writable <= set(nodev)}")

# %% [markdown]
# The host's disks being absent from that list proves little: the default capabilities include `CAP_MKNOD`, so root inside can *make* a
# node for any device, given its type and major:minor numbers (the host lists its disks and their
# numbers in `/proc/partitions`). What refuses is the *open*, twice over. Every file system the
# container can make a node on — its root, `/dev`, `/dev/shm` — is mounted `nodev`: the kernel will
# not open a device node found on it (`EACCES`, "Permission denied"). The six device bind mounts and
# `devpts` are not `nodev`, as the lines above show: their nodes must open. And on cgroup v1 the
# container's devices cgroup lets it create any node but open only the safe ones (`EPERM`, "Operation
# not permitted"). Docker adds one host device with `--device`; boxkit has only `--privileged`, which
# opens the devices cgroup to every node.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit.exercise_runs import host_disk

disk, major, minor = host_disk()
try:
    with open(f"/dev/{disk}", "rb") as f:
        opened = f"it reads {len(f.read(1))} byte"
except OSError as e:
    opened = e.strerror
print(f"this host's disk: /dev/{disk}, block device {major}:{minor}; its root opens it: {opened}")

# %% [markdown]
# On some hosts even root is refused its own disk, for a reason of the host's (a sandbox, a virtual
# machine's guard), as the line above may show. So that every host shows the same thing, the disk
# below is a **loop device**: a block device the kernel makes over a file, here a small one starting
# with the word `boxkit`, detached at the end of the cell. The first run makes the node in `/tmp` (on the `nodev` root). To meet the devices cgroup
# alone, the second run mounts a `tmpfs` of its own, without `nodev` (that needs `CAP_SYS_ADMIN`);
# the third does the same privileged. Each run reads six bytes and writes nothing.

# %%
# boxkit: needs root
import subprocess
import tempfile

with tempfile.NamedTemporaryFile(dir="/var/tmp", prefix="boxkit-disk-") as backing:
    backing.write(b"boxkit".ljust(1 << 20, b"\0"))
    backing.flush()
    loop = subprocess.run(["losetup", "--find", "--show", backing.name], capture_output=True,
                          text=True, check=True).stdout.strip()
    try:
        rdev = os.stat(loop).st_rdev
        with open(loop, "rb") as f:
            on_host = f.read(6).decode()
        read = (f"mknod DIR/disk b {os.major(rdev)} {os.minor(rdev)} && echo node made && "
                "head -c6 DIR/disk > /tmp/six && echo read $(cat /tmp/six)")   # never a write
        own_fs = "mkdir /tmp/m && mount -t tmpfs x /tmp/m && " + read.replace("DIR", "/tmp/m")
        runs = {"default": boxkit.run("busybox", read.replace("DIR", "/tmp"), timeout=30),
                "own tmpfs, --cap-add SYS_ADMIN": boxkit.run("busybox", own_fs, timeout=30,
                                                             cap_add=["SYS_ADMIN"]),
                "own tmpfs, --privileged": boxkit.run("busybox", own_fs, timeout=30,
                                                      privileged=True)}
    finally:
        subprocess.run(["losetup", "-d", loop], check=True)
told = {name: (r.stdout + r.stderr).strip().replace("\n", "; ") for name, r in runs.items()}
for name, text in told.items():
    print(f"{name:31}: {text}")
d, c, p = runs.values()
print(f"the host's root reads the loop device {os.major(rdev)}:{os.minor(rdev)} ({on_host}): "
      f"{on_host == 'boxkit'}")
print(f"the node made in a default container ({told['default']}): {'node made' in d.stdout}")
print(f"nodev refused the open ({d.stderr.strip()}): {'Permission denied' in d.stderr}")
print(f"the devices cgroup refused it on a tmpfs without nodev ({c.stderr.strip()}): "
      f"{'Operation not permitted' in c.stderr}")
print(f"a privileged container read it ({told['own tmpfs, --privileged']}): "
      f"{'read boxkit' in p.stdout}")
probes.append(Probe("devices", "open a disk's node (nodev)", "read boxkit" not in d.stdout,
                    told["default"], "--privileged", "read boxkit" in p.stdout,
                    told["own tmpfs, --privileged"]))
probes.append(Probe("devices", "same, tmpfs without nodev", "read boxkit" not in c.stdout,
                    told["own tmpfs, --cap-add SYS_ADMIN"], "--privileged",
                    "read boxkit" in p.stdout, told["own tmpfs, --privileged"],
                    "--cap-add SYS_ADMIN"))

# %% [markdown]
# ## 6. The cgroup release_agent
#
# On cgroup v1 the **root** group of each hierarchy has a file `release_agent`: the path of a program
# that the *host's* kernel runs, as the host's root, when a group whose `notify_on_release` is `1`
# loses its last process and has no child group left. Whoever can write it, and can make some group
# with `notify_on_release=1` empty, runs any program as root on the host. The container escape of
# CVE-2022-0492 did exactly this: holding `CAP_SYS_ADMIN` — or gaining it in a new user namespace
# (`unshare -UrmC`) where no seccomp filter refused that — it mounted a hierarchy that *already
# exists* (`-o rdma`), in which the container sat at the root, and wrote that root's `release_agent`.
#
# A v1 mount made inside a cgroup namespace starts at the group the namespace was made in, and
# `release_agent` exists only in a hierarchy's root group. So what stops the escape first is that a
# container has a group of its own in **every** hierarchy — named ones such as `name=systemd`
# included — before its cgroup namespace is made. Here are this host's v1 hierarchies, read from
# `/proc/self/mountinfo`, with the options that mount each one again and the number of processes in
# its root group:

# %%
# NBVAL_IGNORE_OUTPUT
hierarchies = {}   # mount point -> the -o options of the same hierarchy
with open("/proc/self/mountinfo") as f:
    for line in f:
        left, _, right = line.partition(" - ")
        fstype, _source, options = right.split()[:3]
        if fstype != "cgroup":
            continue
        names = [o for o in options.split(",")
                 if o.startswith("name=") or o not in ("rw", "ro") and "=" not in o
                 and o not in ("xattr", "noprefix", "clone_children", "cpuset_v2_mode")]
        named_only = all(o.startswith("name=") for o in names)
        hierarchies[left.split()[4]] = ",".join((["none"] if named_only else []) + names)
for point, opts in hierarchies.items():
    has_agent = os.path.exists(os.path.join(point, "release_agent"))
    with open(os.path.join(point, "cgroup.procs")) as f:
        at_root = len(f.read().split())
    print(f"{point:24} -o {opts:18} {at_root:4} processes; release_agent at its root: {has_agent}")
if not hierarchies:
    print("no v1 hierarchy is mounted here: cgroup v2 has no release_agent at all")

# %% [markdown]
# Now the attack's first step from inside, with `--cap-add SYS_ADMIN`: mount each of them, look for
# `release_agent`, count the processes the mount's root group holds (compare the host's counts
# above). Nothing is written. From the host, `/proc/PID/cgroup` shows where the container sits in
# each hierarchy.

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root, cgroups
look = r'''mkdir -p /tmp/cg
for o in "$@"; do
  if mount -t cgroup -o "$o" cg /tmp/cg 2>/tmp/err; then
    agent=absent; [ -e /tmp/cg/release_agent ] && agent=PRESENT
    echo "$o mounted: release_agent $agent; processes in its root $(wc -l < /tmp/cg/cgroup.procs)"
    umount /tmp/cg
  else echo "$o refused: $(head -1 /tmp/err)"; fi
done'''
argv = ["sh", "-c", look, "sh", *hierarchies.values()]
default = boxkit.run("host", argv, timeout=30)
print("default container:", default.stdout.rstrip(), sep="\n")
box = boxkit.run("host", ["sleep", "60"], detach=True, cap_add=["SYS_ADMIN"])
try:
    with open(f"/proc/{box.pid}/cgroup") as f:
        seen = [line.strip().split(":", 2) for line in f if line.split(":")[1]]   # v1 lines only
    inside = box.exec(argv).stdout
    said = box.exec("mount -t cgroup -o none,name=escape cg /tmp/cg 2>&1 && umount /tmp/cg"
                    ).stdout.splitlines()
    new_name = said[0] if said else "mounted"
finally:
    box.kill()
    box.wait(10)
    box.remove()
print("--cap-add SYS_ADMIN:", inside, sep="\n")
print("the container's group in each hierarchy, seen from the host:")
for _n, hierarchy, group in seen:
    print(f"  {hierarchy:14} {group}")

# %%
# boxkit: needs root, cgroups
mounted = [line for line in inside.splitlines() if " mounted:" in line]
refused = [line for line in default.stdout.splitlines() if " refused:" in line]
print(f"a default container may mount none ({len(refused)} of {len(hierarchies)} refused): "
      f"{len(refused) == len(hierarchies)}")
print(f"with CAP_SYS_ADMIN it mounts each ({len(mounted)} of {len(hierarchies)}): "
      f"{len(mounted) == len(hierarchies)}")
print(f"release_agent absent from every mount ({len(mounted)} mounts looked at): "
      f"{mounted != [] and not any('PRESENT' in line for line in mounted)}")
print(f"a group of its own in every hierarchy, not the root ({len(seen)} hierarchies): "
      f"{seen != [] and all(group != '/' for _n, _h, group in seen)}")
print(f"a new hierarchy refused even with CAP_SYS_ADMIN ({new_name}): {'denied' in new_name}")
hidden = sum("PRESENT" not in line for line in mounted)
probes.append(Probe("a cgroup of its own", "reach a release_agent",
                    bool(mounted) and hidden == len(mounted),
                    f"release_agent absent in {hidden} of {len(mounted)} mounts",
                    "no group of its own", None, "boxkit always makes one",
                    "--cap-add SYS_ADMIN"))

# %% [markdown]
# What the run shows, and what else stands in the way:
#
# * **Its own group in every hierarchy.** Each mount shows the container's own group: no
#   `release_agent`, and only the container's few processes where the host's roots hold many. The
#   opposite is not tried here, because boxkit has no way to leave a container at a hierarchy's
#   root: a runtime that does hands a container holding `CAP_SYS_ADMIN`, without a user namespace of
#   its own, that hierarchy's `release_agent`.
# * **No `CAP_SYS_ADMIN`.** Without it, `mount` is refused by the capability check and by seccomp,
#   each on its own (section 1): the default container above mounted none.
# * **seccomp** refuses `mount` and `unshare` to a container without `CAP_SYS_ADMIN`, so the path
#   through a nested user namespace is closed too (sections 1 and 2).
# * **An LSM**: docker's AppArmor profile denies every `mount` on hosts that have AppArmor. Not shown
#   here: boxkit loads no LSM profile.
# * **`userns=True`.** Since Linux 5.17 the kernel lets a process write `release_agent` only when its
#   cgroup namespace belongs to the host's *initial* user namespace and it holds `CAP_SYS_ADMIN`
#   there. Root in a user namespace of its own fails both; root in a container without one passes
#   both, so for it this check alone is no protection. Not shown here either: no container of this
#   notebook sees a `release_agent` to try the check on.
# * **`notify_on_release`.** Even a written `release_agent` runs only when a group with
#   `notify_on_release` set to `1` empties; whoever can write `release_agent` can usually also set
#   `notify_on_release` on a group it can empty, so this is a condition, not a protection.
#
# The last line above is a separate, weaker rule: in a cgroup namespace other than the host's, the
# kernel refuses to *create* a new v1 hierarchy (`-o none,name=escape` names one that does not
# exist), but it lets existing ones be mounted — which is all the attack needs. cgroup v2 has no
# `release_agent` file at all.
#
# ## --privileged: the sum of everything removed
#
# `--privileged` (docker's meaning) gives every capability of the host's bounding set, no seccomp
# filter, no `no_new_privs`, the host's devices, writable `/sys` and `/proc`, no masked paths. It does
# *not* join the host's namespaces, nor leave its own groups: the container keeps its own
# namespaces, as the inode numbers of `/proc/PID/ns` show beside the host's (printed for the
# privileged container), and its own group in each hierarchy, as `/proc/PID/cgroup` shows.

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root
from boxkit import nsinfo

facts = {}
for name, opts in (("default", {}), ("privileged", {"privileged": True})):
    c = boxkit.run("host", ["sleep", "60"], detach=True, **opts)
    try:
        table = nsinfo.NamespaceTable(nsinfo.compare(c.pid))
        own = [row.type for row in table if row.isolated]
        with open(f"/proc/{c.pid}/cgroup") as f:
            rows = [line.strip().split(":", 2) for line in f]
        groups = [g for _n, ctl, g in rows if ctl] or [g for _n, _c, g in rows]   # v2 only: one
        r = c.exec("cat /proc/self/status; grep ' /sys ' /proc/self/mounts; ls /dev | wc -l")
    finally:
        c.kill()
        c.wait(10)
        c.remove()
    st, lines = status_fields(r.stdout), r.stdout.splitlines()
    n = len(_sys.cap_names(int(st["CapEff"], 16)))
    facts[name] = (own, n, groups)
    print(f"{name:10}: {n:2} capabilities, Seccomp {st['Seccomp']}, NoNewPrivs {st['NoNewPrivs']}, "
          f"/sys writable {' rw,' in lines[-2]}, /dev entries {lines[-1]}")
    print(f"{'':10}  namespaces of its own: {' '.join(own)}; its groups: {' '.join(set(groups))}")
print(f"the host's /dev: {len(os.listdir('/dev'))} entries")
print("the privileged container's namespaces beside this notebook's:", table, sep="\n")

# %%
# boxkit: needs root
own, n, groups = facts["privileged"]
kept = {"mnt", "pid", "net", "uts", "ipc", "cgroup"} <= set(own)
print(f"privileged: every capability of the host's bounding set ({n} of {len(host_bnd)}): "
      f"{n == len(host_bnd)}")
print(f"privileged: still its own mnt, pid, net, uts, ipc and cgroup namespaces "
      f"({' '.join(own)}): {kept}")
print(f"privileged: still a group of its own, not the root ({len(groups)} hierarchies): "
      f"{groups != [] and '/' not in groups}")

# %% [markdown]
# ## The stack, with every probe
#
# One band per layer, with the way it refuses. Left: what the probe met in its first container, a
# default one unless the box names another setting (red: refused). Right: what it met with that layer
# removed (green: it worked; red: still refused; grey: not tried). Where the right box says
# `--privileged`, every other layer went with it (sections 4 and 5).

# %%
# boxkit: needs root
from boxkit.viz.security import stack_figure

stack_figure(probes)

# %%
# boxkit: needs root
from boxkit.viz.security import layer_name, setting_name

for p in probes:
    print(f"{layer_name(p.layer)}: {p.probe} refused, {setting_name(p.setting)} ({p.said}): {p.refused}")
    if p.works_without is not None:
        outcome = "works" if p.works_without else "still refused, by another layer"
        print(f"    with {p.without}: {outcome} ({p.said_without})")

# %% [markdown]
# ## What was proved
#
# * Root in a default container holds docker's short list of capabilities, fewer than the host's
#   bounding set; `mount` and `ip link add` are refused and work once their one capability is added.
#   `mount` is refused by seccomp before the kernel looks at it (no `ENOENT` for a missing directory)
#   and, with the filter gone, by the capability check.
# * A seccomp filter, a BPF program, is loaded in every container not `--privileged`: a nested user
#   namespace and `add_key` are refused with EPERM, and work with `seccomp=unconfined`.
# * `no_new_privs` makes a setuid-root program run without root; without it, the same program gets
#   `euid=0`.
# * `/proc/keys` is masked and `/proc/sys` is read-only; `--privileged` lifts both.
# * Root inside can make a node for a disk, but not open it: `nodev` (on every file system it can make
#   a node on) refuses, and the devices cgroup refuses where `nodev` is gone; `--privileged` reads it.
# * With `CAP_SYS_ADMIN` a container mounts every v1 hierarchy of the host, and finds its own group
#   there, without `release_agent`.
# * `--privileged` removes the first five layers, and still leaves the container its own namespaces
#   and its own groups. It needs no `release_agent`: every capability, no filter and the host's
#   devices let root in it load a kernel module or open the host's disk, wherever the host's own root
#   may (not tried here).
#
# Back to your predictions: each action of the exercise is decided by one of these layers. If the
# check said "not yet", find the layer for each action and run the check again.
#
# **Try next:** write a profile of your own — `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls":
# [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}` — and run
# `boxkit.run("busybox", "mkdir /tmp/x", security_opt=["seccomp=/path/to/it.json"])`. Which error does
# `mkdir` print, and which `errnoRet` would make it say "Permission denied"?
