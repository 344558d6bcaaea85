# %% [markdown]
# # 06 — Security: root in a box is not root
#
# Inside a container the command runs as uid 0. Yet it cannot mount a file system, add a network link,
# create a user namespace or read the kernel's keyring. Nothing of that is one switch: it is a stack of
# independent layers, each of which refuses on its own, and each of which is a kernel feature:
#
# | layer | the kernel feature | what it decides |
# |---|---|---|
# | capabilities | `capset`, `prctl(PR_CAPBSET_DROP)` | which of root's ~41 powers the process still holds (docker keeps 14) |
# | seccomp | `prctl(PR_SET_SECCOMP)`, a BPF program | which *system calls* reach the kernel at all, with which arguments |
# | no_new_privs | `prctl(PR_SET_NO_NEW_PRIVS)` | setuid programs and file capabilities cannot add privileges |
# | masked and read-only paths | bind mounts over `/proc` files, read-only `/sys` and `/proc/sys` | what the kernel's own files tell and accept |
# | device nodes | a `/dev` holding only safe nodes, the devices cgroup | no host disk, no `/dev/mem` |
#
# Each section shows one layer refusing something, then runs the *same* action with only that layer
# taken away — in a throw-away container, on your kernel. `--privileged` at the end removes them all.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit import course

course.start("containers")

# %%
# NBVAL_IGNORE_OUTPUT
import os
import sys

import boxkit
from boxkit import _sys

PY = os.path.realpath(sys.executable)   # the host image holds this python at its host path
verdicts = []                            # (layer, probe, refused by default, works without the layer)


def attempt(cmd, **options):
    """Run a shell command as root in a throw-away container: (it worked, the last line it said)."""
    r = boxkit.run("host", cmd, timeout=30, **options)
    ok = r.exit_code == 0
    said = [line.strip() for line in (r.stdout if ok else r.stderr or r.stdout).splitlines() if line.strip()]
    # the last line of a success, the first of a refusal (mount adds a line about dmesg after it)
    return ok, (said[-1] if ok else said[0]) if said else f"exit status {r.exit_code}"


def status(text, key):
    return next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith(key + ":"))


# %% [markdown]
# ## 1. Capabilities
#
# `/proc/self/status` shows the capability sets as bit masks. `CapEff` is what the process may use now;
# decoded, it is docker's default list. `CAP_SYS_ADMIN` (mount, most namespace work) and
# `CAP_NET_ADMIN` (links, routes, firewall) are not on it.

# %%
r = boxkit.run("host", ["cat", "/proc/self/status"])
eff = int(status(r.stdout, "CapEff"), 16)
names = _sys.cap_names(eff)
print(f"CapEff = {eff:#018x}: {len(names)} capabilities")
print(", ".join(n.removeprefix("CAP_").lower() for n in names))
print("CAP_SYS_ADMIN held:", "CAP_SYS_ADMIN" in names, "| CAP_NET_ADMIN held:", "CAP_NET_ADMIN" in names)

# %% [markdown]
# Now two things root normally does, refused; then the same with the one capability each needs added
# (`--cap-add`, docker's flag).

# %%
# boxkit: needs root
mount = "mount -t tmpfs scratch /tmp && echo mounted"
link = "ip link add v0 type veth peer name v1 && echo link added"
for probe, cmd, cap in (("mount a tmpfs", mount, "SYS_ADMIN"), ("ip link add", link, "NET_ADMIN")):
    ok, said = attempt(cmd)
    ok_with, said_with = attempt(cmd, cap_add=[cap])
    verdicts.append(("capabilities", probe, not ok, ok_with))
    print(f"{probe}: default -> {said}")
    print(f"{'':{len(probe)}}  --cap-add {cap} -> {said_with}")

# %% [markdown]
# ## 2. seccomp
#
# Every boxkit container loads a seccomp filter as its last step before `execve`: a BPF program the
# kernel runs at every system call, compiled by libseccomp from boxkit's profile (the same decisions as
# docker's default profile). It refuses `unshare`/`clone` with namespace flags unless the container
# holds `CAP_SYS_ADMIN` — a nested user namespace would give root a full capability set *inside* it,
# the door CVE-2022-0185 walked through — and `keyctl`/`add_key`, because the kernel keyring is not
# namespaced. `Seccomp: 2` in `/proc/self/status` means "a filter is loaded".

# %%
from boxkit.runtime import caps
from boxkit.security import seccomp

profile = seccomp.default_profile()
program = seccomp.program(profile, caps.DEFAULT_MASK)
print(f"boxkit's profile: {len(profile.rules)} rules, default action {profile.default_action} "
      f"(errno {profile.default_errno}); compiled: {len(program) * 3 // 4 // 8} BPF instructions")
r = boxkit.run("host", ["grep", "Seccomp:", "/proc/self/status"])
print("in a container:", r.stdout.strip())

# %%
keyctl = f"""{PY} -c "import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
nr = {{'x86_64': 248, 'aarch64': 217}}[os.uname().machine]   # add_key: glibc has no wrapper
if libc.syscall(nr, b'user', b'boxkit-demo', b'x', 1, -2) < 0:
    raise SystemExit('add_key: ' + os.strerror(ctypes.get_errno()))
print('add_key: a key was added to the kernel keyring')" """
nested = "unshare -U -r sh -c 'echo nested user namespace: uid $(id -u) with CapEff $(grep CapEff /proc/self/status | cut -f2)'"
for probe, cmd in (("unshare -U", nested), ("add_key", keyctl)):
    ok, said = attempt(cmd)
    ok_without, said_without = attempt(cmd, security_opt=["seccomp=unconfined"])
    verdicts.append(("seccomp", probe, not ok, ok_without))
    print(f"{probe}: default -> {said}")
    print(f"{'':{len(probe)}}  seccomp=unconfined -> {said_without}")

# %% [markdown]
# ## 3. no_new_privs
#
# A setuid-root program runs with the file owner's uid — that is how `sudo` and `passwd` work. Here
# root in the container makes a setuid-root copy of `id`, becomes uid 1000 and runs it. With
# `no_new_privs` (boxkit's default) the kernel ignores the setuid bit; without it
# (`--security-opt no-new-privileges=false`, docker's default) `id` reports `euid=0(root)`.

# %%
# boxkit: needs root
setuid = (f"""{PY} -c "import shutil, os; shutil.copy('/usr/bin/id', '/tmp/id'); os.chmod('/tmp/id', 0o4755); """
          f"""os.setgid(1000); os.setuid(1000); os.execv('/tmp/id', ['id'])" """)
_, said = attempt(setuid)
_, said_without = attempt(setuid, security_opt=["no-new-privileges=false"])
verdicts.append(("no_new_privs", "setuid-root id", "euid=0" not in said, "euid=0" in said_without))
print("default:                    ", said)
print("no-new-privileges=false:    ", said_without)

# %% [markdown]
# ## 4. Masked and read-only paths, 5. devices
#
# boxkit, as docker, binds `/dev/null` over files of `/proc` that tell about the host (`/proc/keys`,
# `/proc/kcore`, `/proc/timer_list` …), mounts `/sys` read-only and `/proc/sys` read-only, and gives
# `/dev` only `null`, `zero`, `full`, `random`, `urandom` and `tty`. Only `--privileged` removes these,
# so each is shown against a privileged container.

# %%
# boxkit: needs root
look = ("wc -c < /proc/keys; echo 1 > /proc/sys/net/ipv4/ip_forward && echo proc-sys-written; "
        "ls /dev | wc -l; grep -c ' /proc/' /proc/self/mountinfo")
normal = boxkit.run("host", look, timeout=30)
privileged = boxkit.run("host", look, timeout=30, privileged=True)
for name, r in (("default", normal), ("privileged", privileged)):
    lines = r.stdout.split()
    print(f"{name:10}: /proc/keys {lines[0]} bytes; /proc/sys written: {'proc-sys-written' in lines}; "
          f"/dev entries {lines[-2]}; mounts over /proc paths {lines[-1]}")
disks = sorted(n for n in os.listdir("/dev") if n.startswith(("vd", "sd", "nvme", "xvd")) and n[-1].isalpha())
disk = disks[0] if disks else None
if disk:
    seen = boxkit.run("host", f"ls /dev/{disk}", timeout=30, privileged=True).exit_code == 0
    hidden = boxkit.run("host", f"ls /dev/{disk}", timeout=30).exit_code != 0
    verdicts.append(("devices", f"the host disk /dev/{disk}", hidden, seen))
    print(f"host disk /dev/{disk}: in a default container {not hidden}, in a privileged one {seen}")
verdicts.append(("masked paths", "read /proc/keys", normal.stdout.split()[0] == "0",
                 privileged.stdout.split()[0] != "0"))
verdicts.append(("read-only /proc/sys", "write ip_forward", "proc-sys-written" not in normal.stdout,
                 "proc-sys-written" in privileged.stdout))

# %% [markdown]
# ## The cgroup release_agent story
#
# On cgroup v1, a hierarchy's `release_agent` file names a program the *host's* kernel runs, as the
# host's root, when a group empties. Whoever can mount a v1 hierarchy of their own can write it — the
# container escape of CVE-2022-0492 mounted one from a new user and cgroup namespace. Three layers stand
# in the way, and each refuses on its own: no `CAP_SYS_ADMIN` (mount is refused), seccomp (the nested
# user namespace is refused), and the kernel itself: in a cgroup namespace other than the host's, v1
# may only mount a hierarchy that already exists, never a new one (and since 5.17, writing a
# `release_agent` needs `CAP_SYS_ADMIN` in the host's user namespace).

# %%
# boxkit: needs root
cg = "mount -t cgroup -o none,name=escape x /tmp && echo mounted a new v1 hierarchy"
for how, probe, cmd, options in (
        ("default", None, cg, {}),
        ("--cap-add SYS_ADMIN", "v1 mount + SYS_ADMIN", cg, {"cap_add": ["SYS_ADMIN"]}),
        ("nested userns, seccomp=unconfined", "v1 mount in a userns", f"unshare -U -r -C -m sh -c '{cg}'",
         {"security_opt": ["seccomp=unconfined"]})):
    ok, said = attempt(cmd, **options)
    print(f"{how:34}: {'MOUNTED' if ok else 'refused'} — {said}")
    if probe:   # the kernel's rule cannot be removed from a container: not tried without it
        verdicts.append(("kernel (cgroup ns)", probe, not ok, None))

# %% [markdown]
# ## --privileged: the sum of everything removed
#
# `--privileged` (docker's meaning) gives every capability, no seccomp filter, no `no_new_privs`, every
# host device, writable `/sys` and `/proc`, no masked paths. A privileged container's root is the
# host's root in all but the mount and PID namespaces.

# %%
# boxkit: needs root
for name, opts in (("default", {}), ("privileged", {"privileged": True})):
    r = boxkit.run("host", "cat /proc/self/status; grep ' /sys ' /proc/self/mounts", timeout=30, **opts)
    n = len(_sys.cap_names(int(status(r.stdout, "CapEff"), 16)))
    sys_rw = " rw," in r.stdout.splitlines()[-1]
    print(f"{name:10}: {n:2} capabilities, Seccomp {status(r.stdout, 'Seccomp')}, "
          f"NoNewPrivs {status(r.stdout, 'NoNewPrivs')}, /sys writable {sys_rw}")

# %% [markdown]
# ## The stack, with every probe's verdict
#
# Red: the probe was refused in a default container; the second line says what happened when only
# that layer was removed.

# %%
# boxkit: needs root
from boxkit.viz.security import stack_figure

stack_figure(verdicts)

# %%
# boxkit: needs root
for layer, probe, refused, works_without in verdicts:
    print(f"{layer:20} {probe:40} refused by default: {refused!s:5}  works without the layer: {works_without}")

# %% [markdown]
# ## What was proved
#
# * Root in a default container holds 14 capabilities; `mount` and `ip link add` are refused, and each
#   works once its one capability is added.
# * A seccomp filter is loaded in every container (`Seccomp: 2`): a nested user namespace and `add_key`
#   are refused with EPERM, and work with `seccomp=unconfined`.
# * `no_new_privs` makes a setuid-root program run without root; without it, the same program gets
#   `euid=0`.
# * `/proc/keys` is masked, `/proc/sys` and `/sys` are read-only, the host's disks are absent; only
#   `--privileged` shows them.
# * A new v1 cgroup hierarchy — the release_agent escape — stays refused even with `CAP_SYS_ADMIN` or
#   without seccomp: the kernel's cgroup namespace rule is a layer too.
#
# ## Exercise
#
# Which of these can root in a *default* container do? Replace each `...` by `True` or `False`. The check runs
# each action in its own container and compares.

# %%
# boxkit: exercise
my_prediction = {
    "chown a file": ...,
    "listen on port 80": ...,
    "open a raw socket": ...,
    "mount a tmpfs": ...,
    "change the hostname": ...,
    "create a user namespace": ...,
    "write /proc/sys": ...,
}

# %%
# boxkit: exercise
from boxkit import exercises

exercises.root_can(my_prediction)

# %% [markdown]
# Stuck after a few tries? `exercises.solution("security")` shows one answer and the reasoning behind it.
#
# **Try next:** write a profile of your own — `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls":
# [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}` — and run
# `boxkit.run("busybox", "mkdir /tmp/x", security_opt=["seccomp=/path/to/it.json"])`. Which error does
# `mkdir` print, and which `errnoRet` would make it say "Permission denied"?
