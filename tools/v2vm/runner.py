"""Boot a cgroup-v2-only guest under qemu (TCG), run pytest in it, bring back its output and exit status.

The pieces and why each is there are in the package docstring (``tools/v2vm/__init__.py``). This module
finds the kernel, gets an initramfs able to mount a 9p root, writes the guest's ``run.sh`` into a
fresh io directory shared read-write with the guest, starts qemu with the serial console on a pipe,
streams that console to our stdout, and reads the inner exit status from the io directory afterwards
(the serial stream is for humans; the file is what we trust).
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from .initramfs import build_initramfs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUEST_INIT = os.path.join(REPO, "tools", "v2vm", "guest_init.sh")
FULL_TESTS = [
    "tests/integration/test_cgroup_mode.py",
    "tests/integration/test_cgroups_enforced.py",
    "tests/integration/test_runtime.py",
    "tests/unit/test_cgroups_drivers.py",
]
# The full selection took 13 min under TCG on the shared 2-core CI host (48 passed, pytest's own clock
# 9m36s, ~3 min of interpreter start-up and collection over 9p). The default keeps every cgroup test and
# the runtime tests that prove a container starts isolated and leaves nothing behind (cgroup namespace,
# gc of groups after a killed kernel included); the rest of test_runtime.py (signals, stdin, time
# namespace, user switch ...) does not touch cgroups and is the same code on v1 and v2.
RUNTIME_ON_V2 = ("test_pid_1_and_host_pid", "test_hostname_is_private", "test_mounts_do_not_reach_the_host",
                 "test_empty_network_namespace", "test_ipc_and_uts_and_cgroup_namespaces",
                 "test_capabilities_and_no_new_privs", "test_exit_codes", "test_nothing_left_after_exit",
                 "test_killed_kernel_is_collected", "test_gc_leaves_running_containers_alone")
# Notebook 02 (cgroups) under nbval too: most learners' machines are cgroup v2, and only the VM has
# one here. Its outputs were made on the v1 host; a cell whose output says which files it read reads
# the same numbers from the v2 files (memory.max, cpu.max, pids.max), so the committed outputs hold.
# the cgroups chapter in every edition: each edition's cgroup v2 cells print their own words, so each
# has a recording of its own (python -m tools.v2vm --record)
NOTEBOOKS_ON_V2 = ("notebooks/02-cgroups.ipynb",) + tuple(
    os.path.relpath(p, REPO) for p in sorted(glob.glob(os.path.join(REPO, "notebooks", "*", "02-cgroups.ipynb"))))
NBVAL_ARGS = ("--nbval", "--nbval-sanitize-with", "notebooks/sanitize.cfg", "--nbval-cell-timeout", "900")
DEFAULT_TESTS = [
    "tests/integration/test_cgroup_mode.py",
    "tests/integration/test_cgroups_enforced.py",
    "tests/integration/test_cgroups_viz.py",   # memory.high and PSI: v2 only, skipped on the host
    "tests/integration/test_cgroup_nesting.py",   # below the starter's group, after a leaf move
    "tests/hub/test_learner_cgroup_live.py",      # the class hub's per-learner group, one unified dir
    *(f"tests/integration/test_runtime.py::{t}" for t in RUNTIME_ON_V2),
    "tests/unit/test_cgroups_drivers.py",
    *NBVAL_ARGS, *NOTEBOOKS_ON_V2,
]
# cgroup_no_v1=all: no controller may bind to a v1 hierarchy, so all of them are on the v2 tree
CGROUP_V2_ARGS = "cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1"
READY = "v2vm-init: ready"
# A CI run once wedged both vCPUs ~90 s in (kernel 6.1.0-57 under qemu 7.2's multi-threaded TCG: pytest
# and a modprobe each "stuck" on one CPU, reported every ~28 s for 1337 s until the 1500 s timeout);
# the next run of the same selection passed in 377 s. A guest whose CPU has been stuck this long does
# not come back: kill it and boot once more, saying so, instead of waiting out the timeout.
LOCKUP = re.compile(r"soft lockup - CPU#(\d+) stuck for (\d+)s!")
LOCKUP_GIVE_UP_S = 90
SUMMARY = re.compile(r"^=*\s*(\d+ (passed|failed|error|errors|skipped|deselected)\b.*\bin [\d.]+s.*?)\s*=*$")


@dataclass
class VMConfig:
    kernel: str | None = None           # default: the newest /boot/vmlinuz-6.1.0-*-amd64 with modules
    cpus: int = 2
    memory: str = "3G"
    timeout: float = 1500.0             # whole run, boot included
    pytest_args: list[str] = field(default_factory=lambda: list(DEFAULT_TESTS))
    python: str = ""                    # default: the repo's venv python, else this interpreter
    verbose: bool = False               # kernel messages on the console (loglevel=7)
    qemu: str = "qemu-system-x86_64"
    echo: bool = True                   # stream the console to stdout while it runs
    initramfs: str = "own"              # "own" (boxkit builder) or "virtme" (virtme-ng, falls back to own)
    collect: str | None = None          # a host directory: what the guest wrote to /run/v2vm/out lands here


@dataclass
class Result:
    status: int | None                  # inner pytest's exit status; None when skipped or the VM failed
    skipped: str | None = None          # why nothing ran (no qemu, no kernel)
    error: str | None = None            # why the VM did not bring back a status
    boot_s: float | None = None         # host clock: qemu started -> our init running in the guest
    guest_boot_s: float | None = None   # guest clock (/proc/uptime) when our init was running
    total_s: float = 0.0
    summary: str | None = None          # pytest's last line, e.g. "39 passed in 301.2s"
    console: str = ""                   # everything the serial console printed
    output: str = ""                    # the inner run's output (from the io share)
    wedged: str | None = None           # a guest soft lockup that made us kill qemu (see LOCKUP)
    retried: str | None = None          # the first boot's lockup, when this result is the second boot's

    @property
    def exit_code(self) -> int:
        if self.skipped:
            return 0
        return self.status if self.status is not None else 2


def find_kernel(pattern: str = "/boot/vmlinuz-6.1.0-*-amd64") -> tuple[str, str] | None:
    """(image, version) of the newest installed kernel matching pattern that has its modules."""
    found = []
    for path in glob.glob(pattern):
        version = os.path.basename(path).removeprefix("vmlinuz-")
        if os.path.isdir(f"/lib/modules/{version}") and os.access(path, os.R_OK):
            found.append((path, version))
    if not found:
        return None

    def key(item: tuple[str, str]) -> list[int]:
        return [int(n) for n in re.findall(r"\d+", item[1])]
    return max(found, key=key)


def _python(cfg: VMConfig) -> str:
    if cfg.python:
        return cfg.python
    venv = os.path.join(REPO, ".venv", "bin", "python")
    return venv if os.path.exists(venv) else sys.executable


def _run_script(cfg: VMConfig) -> str:
    """What the guest runs (as root, in the checkout, read-only except for the tmpfs places)."""
    py = shlex.quote(_python(cfg))
    args = " ".join(shlex.quote(a) for a in cfg.pytest_args)
    return f"""#!/bin/sh
# a checkout under /tmp, /run or /var/lib (CI clones anywhere) is hidden by the guest's tmpfs mounts:
# it also comes as its own 9p share, mounted back at the same path
if [ ! -d {shlex.quote(REPO)}/tools/v2vm ]; then
    mkdir -p {shlex.quote(REPO)} && mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=loose,access=any \
        v2vmrepo {shlex.quote(REPO)} || echo "v2vm: cannot mount the checkout share"
fi
cd {shlex.quote(REPO)} || {{ echo 253 > /run/v2vm/rc; exit; }}
mkdir -p /run/v2vm/out
export HOME=/tmp BOXKIT_ROOT=/var/lib/boxkit-test BOXKIT_EXPECT_CGROUP=v2
export PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MPLCONFIGDIR=/tmp/mpl XDG_CACHE_HOME=/tmp/cache
export TERM=dumb COLUMNS=120 LANG=C.UTF-8
echo "v2vm: kernel $(uname -r), /sys/fs/cgroup is $(stat -f -c %T /sys/fs/cgroup), \
controllers: $(cat /sys/fs/cgroup/cgroup.controllers), cpus: $(nproc), mem: $(awk '/MemTotal/{{print $2}}' /proc/meminfo) kB"
t0=$(cut -d' ' -f1 /proc/uptime)
{py} -m pytest -q -p no:cacheprovider {args}
rc=$?
echo "v2vm: inner pytest exit status $rc after $(awk -v t0=$t0 '{{printf "%.1f", $1 - t0}}' /proc/uptime) s (guest clock)"
echo $rc > /run/v2vm/rc
"""


def qemu_command(cfg: VMConfig, kernel: str, initrd: str, io_dir: str) -> list[str]:
    append = " ".join([
        "console=ttyS0", "panic=-1", "quiet", f"loglevel={7 if cfg.verbose else 3}",
        CGROUP_V2_ARGS, f"init={GUEST_INIT}",
    ])
    return [
        cfg.qemu, "-accel", "tcg", "-machine", "q35", "-cpu", "max",
        "-smp", str(cfg.cpus), "-m", cfg.memory,
        "-nodefaults", "-no-user-config", "-display", "none", "-vga", "none", "-net", "none",
        "-monitor", "none", "-parallel", "none",
        # output-only serial console onto our stdout pipe (virtme-ng does the same)
        "-chardev", "file,id=con,path=/proc/self/fd/1", "-serial", "chardev:con",
        "-fsdev", "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap",
        "-device", "virtio-9p-pci,fsdev=root,mount_tag=/dev/root",
        "-fsdev", f"local,id=io,path={io_dir},security_model=none,multidevs=remap",
        "-device", "virtio-9p-pci,fsdev=io,mount_tag=v2vmio",
        "-fsdev", f"local,id=repo,path={REPO},security_model=none,readonly=on,multidevs=remap",
        "-device", "virtio-9p-pci,fsdev=repo,mount_tag=v2vmrepo",
        "-no-reboot", "-kernel", kernel, "-initrd", initrd, "-append", append,
    ]


def why_not(cfg: VMConfig) -> str | None:
    """The reason this host cannot run the VM, or None."""
    if not shutil.which(cfg.qemu):
        return f"needs {cfg.qemu}: apt-get install qemu-system-x86"
    if cfg.kernel:
        if not os.access(cfg.kernel, os.R_OK):
            return f"cannot read kernel {cfg.kernel}"
    elif find_kernel() is None:
        return "needs a Debian 6.1 kernel with its modules: apt-get install linux-image-amd64 (/boot/vmlinuz-6.1.0-*-amd64)"
    if not os.access(GUEST_INIT, os.X_OK):
        return f"guest init {GUEST_INIT} is not executable"
    return None


def run_vm(cfg: VMConfig) -> Result:
    reason = why_not(cfg)
    if reason:
        return Result(None, skipped=reason)
    if cfg.kernel:
        kernel, version = cfg.kernel, os.path.basename(cfg.kernel).removeprefix("vmlinuz-")
    else:
        kernel, version = find_kernel()  # type: ignore[misc]
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="v2vm-") as tmp:
        io_dir = os.path.join(tmp, "io")
        os.mkdir(io_dir)
        initrd = os.path.join(tmp, "initrd.cpio")
        try:
            how = build_initramfs(kernel, version, initrd, prefer=cfg.initramfs)
        except (OSError, RuntimeError, subprocess.SubprocessError) as e:
            return Result(None, error=f"cannot build the initramfs for {kernel}: {e}")
        with open(os.path.join(io_dir, "run.sh"), "w") as f:
            f.write(_run_script(cfg))
        cmd = qemu_command(cfg, kernel, initrd, io_dir)
        _say(cfg, f"initramfs by {how}; booting {kernel} under TCG, {cfg.cpus} vCPUs, {cfg.memory}")
        res = _boot(cfg, cmd)
        if res.wedged and time.monotonic() - t_start + 400 < cfg.timeout:
            _say(cfg, f"{res.error}: booting once more")
            first = res.error
            shutil.rmtree(io_dir)
            os.mkdir(io_dir)
            with open(os.path.join(io_dir, "run.sh"), "w") as f:
                f.write(_run_script(cfg))
            cfg_left = VMConfig(**{**cfg.__dict__, "timeout": cfg.timeout - (time.monotonic() - t_start)})
            res = _boot(cfg_left, cmd)
            res.retried = first
        res.total_s = time.monotonic() - t_start
        try:
            res.output = open(os.path.join(io_dir, "output.txt"), errors="replace").read()
        except OSError:
            pass
        try:
            res.guest_boot_s = float(open(os.path.join(io_dir, "boot_uptime")).read())
        except (OSError, ValueError):
            pass
        if cfg.collect and os.path.isdir(os.path.join(io_dir, "out")):
            os.makedirs(cfg.collect, exist_ok=True)
            for name in os.listdir(os.path.join(io_dir, "out")):
                shutil.copy(os.path.join(io_dir, "out", name), os.path.join(cfg.collect, name))
        try:
            res.status = int(open(os.path.join(io_dir, "rc")).read())
        except (OSError, ValueError):
            res.error = res.error or "the guest wrote no exit status (see the console above)"
        for line in (res.output or res.console).splitlines():
            m = SUMMARY.match(line.strip())
            if m:
                res.summary = m.group(1)
        return res


def _say(cfg: VMConfig, msg: str) -> None:
    if cfg.echo:
        print(f"v2vm: {msg}", flush=True)


def _boot(cfg: VMConfig, cmd: list[str]) -> Result:
    res = Result(None)
    t0 = time.monotonic()
    lines: list[str] = []
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            cwd="/", start_new_session=True)
    try:
        deadline = t0 + cfg.timeout
        os.set_blocking(proc.stdout.fileno(), False)  # type: ignore[union-attr]
        buf = b""
        while True:
            chunk = _read_some(proc, 0.5)
            if chunk is None:   # end of file: qemu closed the console
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
                break
            if chunk:
                buf += chunk
                *done, buf = buf.split(b"\n")
                for raw in done:
                    line = raw.decode(errors="replace").rstrip("\r")
                    lines.append(line)
                    if cfg.echo:
                        print(line, flush=True)
                    if res.boot_s is None and READY in line:
                        res.boot_s = time.monotonic() - t0
                        _say(cfg, f"boot took {res.boot_s:.1f} s (qemu start -> init running)")
                    m = LOCKUP.search(line)
                    if m and int(m.group(2)) >= LOCKUP_GIVE_UP_S and res.wedged is None:
                        res.wedged = f"guest soft lockup: CPU#{m.group(1)} stuck for {m.group(2)} s"
            if res.wedged:
                res.error = f"{res.wedged}; qemu killed after {time.monotonic() - t0:.0f} s"
                proc.kill()
                break
            elif proc.poll() is not None:
                break
            if time.monotonic() > deadline:
                res.error = f"timed out after {cfg.timeout:.0f} s; qemu killed"
                proc.kill()
                break
        if buf:
            lines.append(buf.decode(errors="replace"))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    res.console = "\n".join(lines)
    return res


def _read_some(proc: subprocess.Popen, wait: float) -> bytes | None:
    """What the console printed within wait seconds; None at end of file."""
    import select

    fd = proc.stdout.fileno()  # type: ignore[union-attr]
    r, _, _ = select.select([fd], [], [], wait)
    if not r:
        return b""
    try:
        return os.read(fd, 65536) or None
    except BlockingIOError:
        return b""
