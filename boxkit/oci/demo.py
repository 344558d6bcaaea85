"""What notebook 07 shows of the OCI chain, measured: a bundle made by hand and walked through the
runtime's state machine (with what holds the container between create and start), the bundle podman
writes and how its capabilities and seccomp filter differ from docker's defaults, the process tree
while podman runs a container, the cgroup files each runtime writes for the same flags, and an image
opened hop by hop as the OCI image spec lays it out.

Course side: it drives the ``boxkit-runtime`` command and podman as a learner would, in a temporary
directory and a podman store of boxkit's own (:class:`boxkit.podman.Podman`), and removes both.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from .. import _sys
from ..i18n import _, ngettext
from ..images.base import BUSYBOX, _build_busybox
from ..images.base import ensure as ensure_image
from ..images.store import Store, check_digest
from ..podman import Podman
from ..security import seccomp
from ..security.capabilities import DEFAULT_CAPS
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


def walk_state_machine(directory: str) -> tuple[list[tuple[str, str, str]], dict]:
    """create → start → kill → delete by hand on a ``sleep`` container; after each verb the status
    ``state`` reports and what was true of PID 1. Returns (command, status, note) rows, and what was
    there between create and start: PID 1's name (``comm``) and command line, its parent's PID, its
    PID in its own namespace (``NSpid``), whether it holds ``exec.fifo`` open, the files of the state
    directory, the ``create`` command's exit code; and PID 1's host PID after ``start``."""
    bundle = make_bundle(os.path.join(directory, "bundle"), ["sleep", "60"])
    root = os.path.join(directory, "state")
    rows = []
    created: dict = {}

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
        create = subprocess.Popen([runtime_path(), "--root", root, "create", "--bundle", bundle, "demo"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        create.wait(timeout=60)   # the create command returns once PID 1 waits at the fifo
        s, pid = status()
        with open(f"/proc/{pid}/comm") as f:
            name = f.read().strip()
        with open(f"/proc/{pid}/cmdline") as f:
            argv = f.read().rstrip("\0").split("\0")
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/status") as f:
            nspid = [line.split()[1:] for line in f if line.startswith("NSpid:")][0]
        fds = []
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                fds.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                pass
        created = {"comm": name, "argv": argv, "ppid": int(stat[stat.rindex(")") + 2:].split()[1]),
                   "nspid": [int(n) for n in nspid],
                   "holds_fifo": any(os.path.basename(t) == "exec.fifo" for t in fds),
                   "files": sorted(os.listdir(os.path.join(root, "demo"))),
                   "create_exit": create.returncode, "create_pid": create.pid, "pid": pid}
        # i18n: a note beside a runtime command's status: {name} is the process's name (comm)
        rows.append(("create --bundle DIR demo", s, _("PID 1 is {name}").format(name=name)))
        runtime(root, "start", "demo")
        s, pid = status()
        created["pid_after_start"] = pid
        created["comm_after_start"] = comm(pid)
        # i18n: a note beside a runtime command's status: {command} is the program PID 1 now runs
        rows.append(("start demo", s, _("PID 1 runs {command}").format(command=created["comm_after_start"])))
        runtime(root, "kill", "demo", "KILL")
        deadline = time.monotonic() + 5
        while status()[0] != "stopped" and time.monotonic() < deadline:
            time.sleep(0.02)
        rows.append(("kill demo KILL", status()[0], _("PID 1 ended")))
        runtime(root, "delete", "demo")
        # i18n: a note beside "delete demo": the container's state directory was removed
        rows.append(("delete demo", status()[0], _("its state directory is gone")))
    finally:
        runtime(root, "delete", "--force", "demo")
    return rows, created


def _short_config(cfg: dict) -> dict:
    linux = cfg.get("linux", {})
    # i18n: a config.json field that is not there, so the runtime takes false
    unset = _("absent (false)")
    n_rules = len(linux.get("seccomp", {}).get("syscalls", []))
    return {
        "process.args": cfg["process"]["args"],
        "process.user": cfg["process"].get("user"),
        "process.capabilities.bounding": len(cfg["process"].get("capabilities", {}).get("bounding", [])),
        "process.noNewPrivileges": cfg["process"].get("noNewPrivileges", unset),
        "root.readonly": cfg["root"].get("readonly", unset),
        "mounts": sorted(m["destination"] for m in cfg.get("mounts", [])),   # podman's order varies
        "linux.namespaces": [_joined(n["type"]) if n.get("path") else n["type"]
                             for n in linux.get("namespaces", [])],
        "linux.resources.memory": linux.get("resources", {}).get("memory"),
        "linux.resources.pids": linux.get("resources", {}).get("pids"),
        "linux.cgroupsPath": "/…/" + linux.get("cgroupsPath", "").rsplit("/", 1)[-1][:19] + "…",
        # i18n: config.json has no linux.seccomp: no filter at all
        "linux.seccomp": _("absent") if "seccomp" not in linux else
        # i18n: how many rules the seccomp filter of a config.json has
        ngettext("{n} rule", "{n} rules", n_rules).format(n=n_rules),
    }


def _joined(kind: str) -> str:
    """A namespace a config.json joins (it names a path) rather than makes: ``network (joined)``."""
    # i18n: a namespace type (pid, network...) that the container joins, an existing one, not a new one
    return _("{type} (joined)").format(type=kind)


def podman_bundle(rootfs: str, *flags: str) -> tuple[dict, dict, dict]:
    """The config.json podman writes for ``podman run FLAGS --rootfs ROOTFS sh`` (podman init makes
    the bundle and calls the runtime's create): shortened to what the notebook reads, boxkit's plan
    for it, and the whole of it."""
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
    return _short_config(cfg), short_plan, cfg


def _calls_of(arches: list[str], names: set[str]) -> set[str]:
    """The ``names`` libseccomp knows as a system call of this machine's own architecture or of one
    of ``arches`` (SCMP_ARCH_ names; libseccomp spells them x86, x32 ...)."""
    lib = _sys.libseccomp()
    by_arch = lib.seccomp_syscall_resolve_name_arch
    by_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
    tokens = {lib.seccomp_arch_native()}
    tokens |= {lib.seccomp_arch_resolve_name(a.removeprefix("SCMP_ARCH_").lower().encode()) for a in arches}
    tokens.discard(0)   # a name this libseccomp does not know
    return {n for n in names if any(by_arch(t, n.encode()) >= 0 for t in tokens)}


def against_docker(cfg: dict) -> dict:
    """What a bundle's capabilities and seccomp filter allow, next to docker's defaults as boxkit
    keeps them (:data:`~boxkit.security.capabilities.DEFAULT_CAPS`, the default seccomp profile):
    the capabilities in one and not the other, the rules of each, and the system calls each allows
    a container with the bundle's capabilities (an engine writes its profile into the bundle already
    resolved for the container's capabilities; docker's keeps ``includes``/``excludes`` by capability).
    A name counts when it is a system call of one of the architectures the profile covers on this
    machine (``arches``: its own and, from the profile, the 32-bit ones its kernel also runs, so
    i386's ``readdir`` counts on x86_64); ``foreign`` lists the names that are none of them."""
    caps = set(cfg["process"].get("capabilities", {}).get("bounding", []))
    linux = cfg.get("linux", {})
    profile = seccomp.default_profile()
    docker_allows = set()
    for rule in profile.rules:
        if rule.action == "SCMP_ACT_ALLOW" and profile.applies(rule, caps):
            docker_allows.update(rule.names)
    bundle_rules = linux.get("seccomp", {}).get("syscalls", [])
    bundle_allows = {n for r in bundle_rules if r.get("action") == "SCMP_ACT_ALLOW" for n in r.get("names", [])}
    arches = {"bundle": seccomp.Profile(linux.get("seccomp", {}), "the bundle").arch_map,
              "docker": profile.arch_map}
    known = {"bundle": _calls_of(arches["bundle"], bundle_allows), "docker": _calls_of(arches["docker"], docker_allows)}
    foreign = {"bundle": sorted(bundle_allows - known["bundle"]), "docker": sorted(docker_allows - known["docker"])}
    bundle_allows, docker_allows = known["bundle"], known["docker"]
    return {"foreign": foreign, "arches": arches, "caps": sorted(caps), "docker_caps": sorted(DEFAULT_CAPS),
            "docker_only_caps": sorted(set(DEFAULT_CAPS) - caps), "bundle_only_caps": sorted(caps - set(DEFAULT_CAPS)),
            "bundle_rules": len(bundle_rules), "docker_rules": len(profile.rules),
            "bundle_allows": len(bundle_allows), "docker_allows": len(docker_allows),
            "docker_only_calls": sorted(docker_allows - bundle_allows),
            "bundle_only_calls": sorted(bundle_allows - docker_allows)}


def podman_can(rootfs: str, commands: dict[str, str]) -> dict[str, tuple[bool, str]]:
    """``podman run --rm`` with boxkit-runtime and podman's defaults, once per shell line of
    ``commands``: label → (exited 0, the last line it printed on stdout or stderr)."""
    out = {}
    with Podman() as p:
        p.runtime = runtime_path()
        for label, line in commands.items():
            r = p.run("run", "--rm", *PODMAN_FLAGS, "--network", "none", "--rootfs", rootfs, "sh", "-c", line)
            said = (r.stdout.strip() or r.stderr.strip()).splitlines()
            out[label] = (r.returncode == 0, said[-1] if said else "")
    return out


def image_chain(ref: str = "busybox") -> dict:
    """The OCI image layout behind a local image, one hop at a time: ``index.json`` names a manifest
    by digest, the manifest names a config and the layers (compressed tars) by digest, and the config
    lists each layer's uncompressed digest (``rootfs.diff_ids``) and the command to run."""
    ensure_image(ref)
    store = Store()
    tag = store.tags()[f"{ref}:latest" if ":" not in ref else ref]
    mdigest, manifest, config = store.manifest_of(ref)
    return {"index": {"mediaType": tag.get("mediaType"), "digest": mdigest},
            "manifest": {"mediaType": manifest.get("mediaType"), "config": manifest["config"]["digest"],
                         "layers": [(d.get("mediaType"), d.get("size"), d.get("digest"))
                                    for d in manifest["layers"]]},
            "config": {"os": config.get("os"), "architecture": config.get("architecture"),
                       "cmd": (config.get("config") or {}).get("Cmd"),
                       "diff_ids": config["rootfs"]["diff_ids"]},
            "root": store.root}


def blob_sha256(root: str, digest: str) -> str:
    """``sha256:HEX`` of the bytes of blob ``digest`` in the image layout at ``root``, computed anew."""
    h = hashlib.sha256()
    with open(os.path.join(root, "blobs", "sha256", check_digest(digest).split(":", 1)[1]), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _stat(pid: int) -> tuple[str, int]:
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    return stat[stat.index("(") + 1:stat.rindex(")")], int(stat[stat.rindex(")") + 2:].split()[1])


def process_tree(rootfs: str) -> dict:
    """``podman run -d ... sleep 30`` with boxkit-runtime, then, as /proc tells it: ``chain``, the
    names from podman's conmon down to the container's PID 1 (walked up through each parent);
    ``children``, the names of every child conmon has (the runtime commands, had one stayed, would be
    there); ``lines``, the tree drawn."""
    with Podman() as p:
        p.runtime = runtime_path()
        r = p.run("run", "-d", *PODMAN_FLAGS, "--network", "none", "--rootfs", rootfs, "sleep", "30")
        if r.returncode != 0:
            raise RuntimeError(r.stderr.strip()[-300:])
        cid = r.stdout.strip()
        try:
            pid = int(p.run("inspect", "-f", "{{.State.Pid}}", cid).stdout.strip())
            chain = []
            cur, conmon = pid, 0   # 0: no conmon above it, so no children listed
            while cur > 1:
                name, ppid = _stat(cur)
                chain.append(name)
                if name == "conmon":
                    conmon = cur
                    break
                cur = ppid
            chain.reverse()
            children = []
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        name, ppid = _stat(int(entry))
                    except OSError:
                        continue
                    if ppid == conmon:
                        children.append(name)
            lines = [("  " * depth + ("└─ " if depth else "") + name) for depth, name in enumerate(chain)]
            return {"chain": chain, "children": sorted(children), "lines": lines}
        finally:
            p.run("rm", "-f", "-t", "0", cid)


def have_busybox() -> bool:
    return os.path.exists(BUSYBOX)
