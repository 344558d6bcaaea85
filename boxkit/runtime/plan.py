"""The plan: everything a container's own processes need to know, decided before the first fork.

A container is set up by processes that cannot ask questions: stage 1 runs between ``fork`` and
``unshare``, stage 2 is PID 1 of namespaces that see nothing of the caller, and after ``pivot_root``
the host's files (the image store, the spec's Python objects) are out of reach. So the caller
resolves everything first — the image's layer directories, the command after ``ENTRYPOINT``/``CMD``,
the environment, the namespace set, the capability mask, the compiled seccomp program — into one
:class:`Plan`, and hands it down: from :func:`boxkit.run` (or the CLI, or the OCI front's bundle) to
the zygote as JSON over its socket, from the supervisor to a spare the same way, and by ``fork`` into
stage 1 and 2. A keeper writes it next to the container (``plan.json``) for ``boxkit start``,
``exec`` and ``inspect``.

Two fronts fill it: ``boxkit run`` (:func:`.container.build_plan`) and an OCI bundle
(:func:`boxkit.oci.bundle.to_plan`), which adds its own mounts, devices, capability sets and hooks.
Every field has a default that means "what ``boxkit run`` does", so one plan type serves both, an
``exec`` (which needs only the id, the namespaces and the command) and a spare's guess (a plan
without a command: only the directories its overlay is mounted on).

:meth:`Plan.to_wire` / :meth:`Plan.from_wire` are the JSON form; ``from_wire`` refuses a field it
does not know, so a plan from another boxkit version fails loudly instead of losing a setting.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import SpecError

if TYPE_CHECKING:
    from ..cgroups.resources import Resources


@dataclass
class Plan:
    """One container's decided set-up. Lists rather than tuples: the JSON form gives lists back."""

    # --- identity ----------------------------------------------------------------------------
    id: str = ""                               # 12 hex digits; the directory, cgroup and state name
    name: str | None = None                    # --name
    image: str | None = None                   # the image reference or rootfs path, for ps/inspect

    # --- the root file system ------------------------------------------------------------------
    layers: list[str] = field(default_factory=list)   # overlay lower dirs, bottom first
    upper: str = ""                            # the container's own overlay upper dir
    work: str = ""                             # overlayfs's work dir (same file system as upper)
    merged: str = ""                           # where the root is mounted; an OCI bundle's root path
    readonly: bool = False                     # --read-only: the root remounted read-only
    mounts: list[list] = field(default_factory=list)   # volumes: [host path, container path, read-only]
    files: dict[str, str] = field(default_factory=dict)   # /etc/hostname, /etc/hosts ... written in
    cgroupfs: bool = False                     # mount the container's cgroup at /sys/fs/cgroup
    restart: bool = False                      # boxkit start: reuse a stopped container's upper dir

    # --- the process -----------------------------------------------------------------------------
    argv: list[str] = field(default_factory=list)   # after the image's ENTRYPOINT and CMD
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = "/"
    user: list[int] | None = None              # [uid, gid] inside; None: root
    hostname: str | None = None
    init: bool = False                         # boxkit-init as PID 1: forwards signals, reaps zombies
    tty: bool = False                          # boxkit run -t: the caller's pty bound at /dev/console
    console_from: int | None = None            # stage 2's copy of that pty's fd (set in the container)

    # --- namespaces and ids ------------------------------------------------------------------------
    ns: list[str] = field(default_factory=list)   # new namespaces: "user", "pid", "mount", "net" ...
    join_net: str | None = None                # --network container:NAME → that one's /proc/PID/ns/net
    uid_map: list[int] | None = None           # [inside, outside, count] for a user namespace as root
    rootless: list[int] | None = None          # [uid, gid] of a caller without root (rootless.adapt)
    time_offset: float | None = None           # seconds added to CLOCK_MONOTONIC/BOOTTIME (time ns)

    # --- network and limits -------------------------------------------------------------------------
    network: str = "none"                      # "none", "host", or a bridge network's name
    publish: list[str] = field(default_factory=list)   # -p HOST:CONTAINER[/proto]
    limits: dict[str, object] = field(default_factory=dict)   # the spec.Limits fields that are set

    # --- security --------------------------------------------------------------------------------------
    caps: int | None = None                    # the capability mask; None: docker's default 14
    no_new_privs: bool = True                  # PR_SET_NO_NEW_PRIVS before execve
    seccomp: str | None = None                 # the compiled filter (security.seccomp.program); None: none
    privileged: bool = False                   # --privileged: all caps, host devices, writable /proc/sys

    # --- an OCI bundle's own (boxkit.oci.bundle); their defaults are boxkit run's behaviour ------------
    oci: bool = False
    bundle: str | None = None                  # the bundle directory
    annotations: dict[str, str] = field(default_factory=dict)
    join: dict[str, str] = field(default_factory=dict)   # namespaces joined by path: name → /proc/…/ns/…
    id_maps: dict[str, list[list[int]]] = field(default_factory=dict)   # uidMappings/gidMappings rows
    no_process: bool = False                   # a config without "process": create only, start refuses
    mount_entries: list[dict] | None = None    # the bundle's mounts in order; None: boxkit's /proc /dev /sys
    masked: list[str] = field(default_factory=list)          # linux.maskedPaths
    readonly_paths: list[str] = field(default_factory=list)  # linux.readonlyPaths
    devices: list[dict] = field(default_factory=list)        # linux.devices, checked (bundle._device)
    sysctl: dict[str, str] = field(default_factory=dict)   # linux.sysctl, written after the pivot
    rootfs_propagation: int = 0                # MS_* propagation flags for / after the pivot
    cgroups_path: str = ""                     # linux.cgroupsPath (podman: a systemd-style slice path)
    resources: Resources | None = None         # linux.resources, typed (oci.resources); cgroups writes it
    hooks: dict[str, list[dict]] = field(default_factory=dict)   # kind → [{path, args, env, timeout}]
    cap_sets: dict[str, int] | None = None     # process.capabilities: the five sets as masks
    ids: list[int] = field(default_factory=lambda: [0, 0])  # process.user uid, gid (kept for caps)
    additional_gids: list[int] = field(default_factory=list)
    umask: int | None = None
    rlimits: list[list[int]] = field(default_factory=list)   # [RLIMIT_*, soft, hard]
    oom_score_adj: int | None = None
    terminal: bool = False                     # process.terminal: a pty made inside, master sent out
    console_size: dict[str, int] | None = None
    exec_caps: int | None = None               # an exec's permitted set (the bundle's), for confine
    # set by the runtime command for this one create, not by the bundle
    gate_fd: int | None = None                 # the fifo `start` opens (created → running)
    no_pivot: bool = False                     # --no-pivot: MS_MOVE and chroot instead of pivot_root
    keep_fds: list[int] = field(default_factory=list)   # --preserve-fds, the gate, the console socket
    console_fd: int | None = None              # the --console-socket connection
    hook_state: str | None = None              # the state JSON the createContainer hooks read

    def to_wire(self) -> dict:
        """The JSON form: a dict of the fields, not copied (json.dumps copies; ``dataclasses.asdict``'s
        deep copy cost 86 µs a plan here, twice on a spare's start path)."""
        wire = {name: getattr(self, name) for name in _NAMES}
        if self.resources is not None:   # the one typed field (an OCI bundle's): its own JSON form
            wire["resources"] = self.resources.to_wire()
        return wire

    @classmethod
    def from_wire(cls, data: dict) -> Plan:
        """A plan back from its JSON form; a field this version does not know is refused."""
        if not isinstance(data, dict):
            raise SpecError("plan", type(data).__name__, "expected a JSON object")
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            raise SpecError("plan", ", ".join(unknown), "not a field of this boxkit's plan",
                            hint="the container was made by another boxkit version; remove it and run it again")
        res = data.get("resources")
        if res == {}:   # the plan.json of a container made before resources were typed
            data = {**data, "resources": None}
        elif res is not None:
            # lazy: only an OCI bundle's plan has one, and cgroups costs ~10 ms to import
            from ..cgroups.resources import Resources

            data = {**data, "resources": Resources.from_wire(res)}
        return cls(**data)

    def but(self, **changes) -> Plan:
        """A copy with ``changes``; the plan given stays as it was."""
        return dataclasses.replace(self, **changes)


_NAMES = tuple(f.name for f in dataclasses.fields(Plan))
_FIELDS = frozenset(_NAMES)
