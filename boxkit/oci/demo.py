"""What notebook 07 shows of the OCI chain, measured: a bundle made by hand and walked through the
runtime's state machine, the bundle podman writes, the process tree while podman runs a container, and
the cgroup files each runtime writes for the same flags.

Course side: it drives the ``boxkit-runtime`` command and podman as a learner would, in a temporary
directory and a podman store of boxkit's own (:class:`boxkit.podman.Podman`), and removes both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from ..images.base import BUSYBOX, _build_busybox
from ..podman import Podman
from . import bundle as bundlemod

# pinned for every runtime, runc as well: RLIMIT_NOFILE/NPROC of 1024 instead of podman's hard
# 1048576, which needs CAP_SYS_RESOURCE (this machine kind withholds it; runc fails without them too).
# podman's own seccomp profile stays: both runtimes load it
PODMAN_FLAGS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")


def runtime_path() -> str:
    near = os.path.join(os.path.dirname(sys.executable), "boxkit-runtime")
    return near if os.path.exists(near) else (shutil.which("boxkit-runtime") or "boxkit-runtime")


def make_bundle(directory: str, args: list[str], **config) -> str:
    """A bundle: boxkit's offline busybox root in ``rootfs/`` and a ``config.json`` like
    ``runc spec`` writes, with ``args`` as the process and ``config`` merged over the top level."""
    os.makedirs(directory, exist_ok=True)
    _build_busybox(os.path.join(directory, "rootfs"))
    cfg = bundlemod.example_config(args)
    cfg.update(config)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    return directory


def runtime(root: str, *args: str, stdout=None) -> subprocess.CompletedProcess:
    """``boxkit-runtime --root ROOT ARGS``; output through files, as a created container keeps the
    runtime's stdio."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        rc = subprocess.run([runtime_path(), "--root", root, *args], stdin=subprocess.DEVNULL,
                            stdout=stdout or out, stderr=err, timeout=60).returncode
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(args, rc, out.read(), err.read())


def walk_state_machine(directory: str) -> list[tuple[str, str, str]]:
    """create → start → kill → delete by hand on a ``sleep`` container; after each verb the status
    ``state`` reports and what was true of PID 1. Returns (command, status, note) rows."""
    bundle = make_bundle(os.path.join(directory, "bundle"), ["sleep", "60"])
    root = os.path.join(directory, "state")
    rows = []

    def status() -> tuple[str, int]:
        p = runtime(root, "state", "demo")
        if p.returncode != 0:
            return p.stderr.strip().removeprefix("boxkit-runtime: "), 0
        st = json.loads(p.stdout)
        return st["status"], st["pid"]

    def comm(pid: int) -> str:
        try:
            with open(f"/proc/{pid}/cmdline") as f:
                return f.read().split("\0")[0] or "?"
        except OSError:
            return "gone"

    try:
        runtime(root, "create", "--bundle", bundle, "demo")
        s, pid = status()
        # the runtime's own init, before execve: python3 or python by how the venv was made
        name = os.path.basename(comm(pid))
        init = "python" if name.startswith("python") else name
        rows.append(("create --bundle DIR demo", s, f"PID 1 runs {init}, waiting at the fifo"))
        runtime(root, "start", "demo")
        s, pid = status()
        rows.append(("start demo", s, f"PID 1 runs {comm(pid)}"))
        runtime(root, "kill", "demo", "KILL")
        deadline = time.monotonic() + 5
        while status()[0] != "stopped" and time.monotonic() < deadline:
            time.sleep(0.02)
        rows.append(("kill demo KILL", status()[0], "PID 1 ended"))
        runtime(root, "delete", "demo")
        rows.append(("delete demo", status()[0], "its state directory is gone"))
    finally:
        runtime(root, "delete", "--force", "demo")
    return rows


def _short_config(cfg: dict) -> dict:
    linux = cfg.get("linux", {})
    return {
        "process.args": cfg["process"]["args"],
        "process.capabilities.bounding": len(cfg["process"].get("capabilities", {}).get("bounding", [])),
        "root": {**cfg["root"], "path": "…/" + os.path.basename(cfg["root"]["path"])},
        "mounts": sorted(m["destination"] for m in cfg.get("mounts", [])),   # podman's order varies
        "linux.namespaces": [n["type"] + (" (joined)" if n.get("path") else "") for n in linux.get("namespaces", [])],
        "linux.resources.memory": linux.get("resources", {}).get("memory"),
        "linux.resources.pids": linux.get("resources", {}).get("pids"),
        "linux.cgroupsPath": "/…/" + linux.get("cgroupsPath", "").rsplit("/", 1)[-1][:19] + "…",
        "linux.seccomp": "absent" if "seccomp" not in linux else f"{len(linux['seccomp'].get('syscalls', []))} rules",
    }


def podman_bundle(rootfs: str, *flags: str) -> tuple[dict, dict]:
    """The config.json podman writes for ``podman run FLAGS --rootfs ROOTFS sh`` (podman init makes
    the bundle and calls the runtime's create), shortened to what matters, and boxkit's plan for it."""
    with Podman() as p:
        p.runtime = runtime_path()
        r = p.run("create", *PODMAN_FLAGS, "--network", "none", *flags, "--rootfs", rootfs, "sleep", "5")
        if r.returncode != 0:
            raise RuntimeError(r.stderr.strip()[-300:])
        cid = r.stdout.strip()
        try:
            r = p.run("init", cid)   # writes the bundle and calls boxkit-runtime create
            if r.returncode != 0:
                raise RuntimeError(r.stderr.strip()[-300:])
            path = p.run("inspect", "--format", "{{.OCIConfigPath}}", cid).stdout.strip()
            with open(path) as f:
                cfg = json.load(f)
            plan = bundlemod.to_plan(cid[:12], os.path.dirname(path), {**cfg, "root": {"path": rootfs}})
        finally:
            p.run("rm", "-f", "-t", "0", cid)
    keep = ("argv", "ns", "readonly", "hostname", "no_new_privs", "cgroups_path")
    short_plan = {k: getattr(plan, k) for k in keep}
    short_plan["mount_entries"] = len(plan.mount_entries)
    short_plan["caps.bounding"] = bin(plan.cap_sets["bounding"]).count("1") if plan.cap_sets else None
    short_plan["cgroups_path"] = "/…/" + short_plan["cgroups_path"].rsplit("/", 1)[-1][:19] + "…"
    return _short_config(cfg), short_plan


def process_tree(rootfs: str) -> list[str]:
    """``podman run -d`` with boxkit-runtime, then the process tree from podman's conmon down to the
    container's command, as /proc tells it (the runtime itself has exited by then: nothing of it stays)."""
    with Podman() as p:
        p.runtime = runtime_path()
        r = p.run("run", "-d", *PODMAN_FLAGS, "--network", "none", "--rootfs", rootfs, "sh", "-c", "sleep 30")
        if r.returncode != 0:
            raise RuntimeError(r.stderr.strip()[-300:])
        cid = r.stdout.strip()
        try:
            pid = int(p.run("inspect", "-f", "{{.State.Pid}}", cid).stdout.strip())
            chain = []
            cur = pid
            while cur > 1:
                with open(f"/proc/{cur}/stat") as f:
                    stat = f.read()
                name = stat[stat.index("(") + 1:stat.rindex(")")]
                ppid = int(stat[stat.rindex(")") + 2:].split()[1])
                chain.append(name)
                if name == "conmon":
                    break
                cur = ppid
            lines = []
            for depth, name in enumerate(reversed(chain)):
                lines.append("  " * depth + ("└─ " if depth else "") + name)
            return lines
        finally:
            p.run("rm", "-f", "-t", "0", cid)


def have_busybox() -> bool:
    return os.path.exists(BUSYBOX)
