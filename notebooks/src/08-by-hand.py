# %% [markdown]
# # 08 — A container by hand
#
# `boxkit.run` does about a dozen system calls before it `execve`s your command. Here you make the
# essential ones yourself, one per cell, and look after each at what it changed: the namespaces, the
# mount table, `ls /`, the PID, the hostname, the capabilities.
#
# The calls are made by a small helper process that `boxkit.byhand.Box` starts and drives over a pipe:
# `unshare(CLONE_NEWNS)` refuses a multi-threaded caller, and this notebook's kernel has several threads.
# The helper calls nothing but `boxkit._sys` — the same wrappers the runtime uses. If a cell fails or you
# interrupt it, the `Box` kills the helper and removes its directories; every mount it made lives in the
# helper's own mount namespace and goes with it.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit import course

course.start("containers")

# %% [markdown]
# ## 1. The helper, before any step
#
# It is an ordinary process of the host: the host's PID numbers, hostname, mount table and `/`.

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root
import os

from boxkit import _sys, byhand

box = byhand.Box("busybox")
host = box.look()
print(f"PID {host['pid']}, hostname {host['hostname']}, {len(host['mounts'])} mounts, CapEff {host['cap_eff']}")
print("ls /:", " ".join(host["ls"]))

# %% [markdown]
# ## 2. `unshare`: new namespaces
#
# `unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID)`. The mount namespace starts as a
# *copy* of the host's mount table. A new PID namespace applies to the caller's next child, so the helper
# forks and the child, PID 1, carries on.

# %%
# boxkit: needs root
ch = box.step("unshare", ["mount", "uts", "ipc", "pid"])
print("new namespaces:", ", ".join(ch.new_namespaces))
print(f"PID {ch.before['pid']} -> {ch.after['pid']}: PID 1: {ch.after['pid'] == 1}")
print(f"mount table {len(ch.after['mounts'])} lines, a copy of the host's: {len(ch.after['mounts']) == len(ch.before['mounts'])}")

# %% [markdown]
# ## 3. Make `/` private
#
# A mount marked `shared:N` in `/proc/self/mountinfo` is in a peer group: a mount below it propagates to
# every peer — here, back into the host. `mount(NULL, "/", NULL, MS_REC | MS_PRIVATE)` leaves every peer
# group. (On a systemd host everything is shared; a host without systemd may have nothing to cut.)

# %%
# boxkit: needs root
ch = box.step("private")
shared = [sum(m["shared"] is not None for m in s["mounts"]) for s in (ch.before, ch.after)]
print(f"shared mounts {shared[0]} -> {shared[1]}: none left to propagate: {shared[1] == 0}")

# %% [markdown]
# ## 4. The overlay root, and `/proc`
#
# The image's layers (unpacked in boxkit's store) are the read-only `lowerdir`s; a fresh `upperdir` takes
# the writes. Then a procfs, mounted by PID 1 of the new PID namespace, so it lists that namespace.

# %%
# boxkit: needs root
ch = box.step("overlay")
print("mounted:", *[m["fstype"] for m in ch.added], "| it holds:", " ".join(ch.after["merged_ls"]))
print(f"ls / unchanged: {ch.after['ls'] == ch.before['ls']}")
ch = box.step("proc")
print(f"mounted {ch.added[0]['fstype']} at merged/proc: {ch.added[0]['point'].endswith('/merged/proc')}")

# %% [markdown]
# ## 5. `pivot_root`, then detach the old root
#
# `pivot_root(new, new/.oldroot)` makes the overlay the root mount of the namespace and moves the host's
# tree under `/.oldroot` — still there, every mount of it. `umount2("/.oldroot", MNT_DETACH)` cuts it
# off. (`chroot` would only have changed this process's idea of `/`, with the host's tree still in the
# mount namespace; notebook 01 escapes a `chroot` that way.)

# %%
# boxkit: needs root
ch = box.step("pivot_root")
under = [m for m in ch.after["mounts"] if m["point"].startswith("/.oldroot")]
print("ls /:", " ".join(ch.after["ls"]))
print(f"the host's mounts under /.oldroot: {len(under)}: {len(under) == len(ch.before['mounts']) - 2}")

# %%
# boxkit: needs root
ch = box.step("detach")
print("ls /:", " ".join(ch.after["ls"]))
print(f"mount table {len(ch.before['mounts'])} -> {len(ch.after['mounts'])} lines: only the container's: "
      f"{[m['point'] for m in ch.after['mounts']] == ['/', '/proc']}")

# %% [markdown]
# ## 6. Hostname and capabilities
#
# `sethostname` in the new UTS namespace; then the bounding set is cut and `capset` keeps docker's 14
# capabilities. Root inside is still uid 0, without `CAP_SYS_ADMIN`.

# %%
# boxkit: needs root
ch = box.step("hostname", "byhand")
inside_only = ch.after["hostname"] != ch.before["hostname"] and os.uname().nodename == ch.before["hostname"]
print(f"hostname {ch.after['hostname']}, the notebook's still {os.uname().nodename}: changed inside only: {inside_only}")
ch = box.step("caps")
kept = _sys.cap_names(int(ch.after["cap_eff"], 16))
print(f"CapEff {len(_sys.cap_names(int(ch.before['cap_eff'], 16)))} -> {len(kept)} capabilities: "
      f"CAP_SYS_ADMIN gone: {'CAP_SYS_ADMIN' not in kept}")

# %% [markdown]
# ## 7. `execve`
#
# The helper becomes the command, so the command is PID 1. The same shell line also measures what the
# next section compares.

# %%
# boxkit: needs root
PROBE = ("ls /dev | wc -l; grep -c ' /proc/' /proc/self/mountinfo; grep NoNewPrivs /proc/self/status | cut -f2; "
         "grep Seccomp: /proc/self/status | cut -f2; ls /proc/self/fd | wc -l; wc -l < /proc/self/mountinfo")
r = box.exec(["sh", "-c", "ps -o pid,comm; echo ---; " + PROBE])
ps, hand = r.stdout.split("---\n")
print(ps, end="")
print(f"exit status {r.returncode}: the box has ended: {box.closed}")

# %% [markdown]
# ## 8. The same container from `boxkit.run`, and what boxkit adds
#
# The same image, the same shell line. Each row is one more step boxkit makes, measured in both:

# %%
# boxkit: needs root
import boxkit

made = boxkit.run("busybox", ["sh", "-c", "ps -o pid,comm; echo ---; " + PROBE], hostname="byhand")
ps2, full = made.stdout.split("---\n")
rows = ("entries in /dev", "masked/read-only /proc mounts", "NoNewPrivs", "Seccomp", "fds open in ls (+ its own)", "mounts")
for what, h, b in zip(rows, hand.split(), full.split(), strict=True):
    print(f"{what:30} by hand {h:>4}   boxkit {b:>4}   differs: {h != b}")
print(f"boxkit's PID 1 is the command too: {ps2 == ps}")

# %% [markdown]
# | step boxkit adds | what it does | why (the bug, where there is one) |
# |---|---|---|
# | masked paths | `/dev/null` bound over `/proc/kcore`, `/proc/keys`, `/proc/timer_list`, `/proc/sched_debug` …; `/proc/sys`, `/proc/sysrq-trigger`, `/proc/irq` read-only | the kernel's memory image, the host's keyring and timers leak through procfs; a writable `/proc/sys/kernel/core_pattern` runs a program of your choice as the host's root; `sysrq-trigger` reboots the host |
# | devices | a `tmpfs` `/dev` holding only `null zero full random urandom tty` (+ pts, shm, mqueue); the root is `nodev` | a `mknod`ed `/dev/sda` or `/dev/mem` would read the host's disk or memory |
# | no_new_privs | `prctl(PR_SET_NO_NEW_PRIVS)` | a setuid program in the image cannot gain privileges (notebook 06 shows one) |
# | seccomp | a BPF filter on every system call | the kernel bugs reached through a nested user namespace (CVE-2022-0185, CVE-2022-0492) and the unnamespaced keyring |
# | fd hygiene | every fd but 0-2 closed before `execve`, the cwd checked | runc CVE-2024-21626 leaked an fd of the host's `/sys/fs/cgroup`, and a workdir of `/proc/self/fd/7` walked out of the container. By hand, the helper's command pipe leaked into the container just like that |
# | non-dumpable exec | `prctl(PR_SET_DUMPABLE, 0)` while `boxkit exec` joins | runc CVE-2019-5736: the container opened the joining runtime's `/proc/PID/exe` and overwrote the runc binary on the host |
# | cgroups | the container's own group with memory, CPU and pids limits | a fork bomb or a leak inside takes the host down with it |
# | `pivot_root`, not `chroot` | the host's tree detached from the mount namespace | the `..` climb out of a `chroot` (notebook 01) |

# %% [markdown]
# ## 9. Nothing is left behind
#
# The box ended at `execve`'s exit; `close()` and a `with` block end it earlier. A step that fails ends it
# too — here `detach` before `pivot_root` is refused by name, and `hostname` without a UTS namespace,
# which would rename the host.

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
    helper = b.proc.pid
print(f"helper {helper} gone: {not os.path.exists(f'/proc/{helper}')}; its directory gone: {not os.path.exists(b.tmp)}")

# %% [markdown]
# ## What to take away
#
# * A container is a process after `unshare`, a private mount table, an overlay, `/proc`, `pivot_root`
#   plus detaching the old root, `sethostname`, dropped capabilities and `execve`. That is the part that
#   makes it *look* like a machine of its own.
# * The rest of `boxkit run` is what makes it *safe*: masked paths, a `/dev` of safe nodes, no_new_privs,
#   seccomp, closed fds, cgroups. Each answers an escape that happened.
