"""What this host allows: the check every notebook runs first.

A container is a bundle of kernel features, and hosts hand them out differently. Before a notebook
starts a container it asks :func:`probe`, which *tries* each feature instead of guessing from version
numbers, because the answer depends on more than the kernel:

* **Root.** ``unshare(CLONE_NEWNS)``, ``mount`` and ``pivot_root`` need ``CAP_SYS_ADMIN`` in the user
  namespace that owns the mount namespace. Root in the host's first user namespace has it, unless a
  surrounding container dropped it (``docker run`` without ``--privileged`` keeps root but drops
  ``CAP_SYS_ADMIN`` and adds a seccomp filter that refuses ``unshare``).
* **User namespaces** let anyone be "root" inside a namespace of their own: ``unshare(CLONE_NEWUSER)``
  gives the caller every capability *over the namespaces that user namespace owns*, not over the host.
  Distributions gate this with sysctls: ``user.max_user_namespaces`` (0 disables it), Debian's old
  ``kernel.unprivileged_userns_clone``, and Ubuntu 23.10+'s
  ``kernel.apparmor_restrict_unprivileged_userns``. Inside one, an unprivileged learner can still make
  mount, PID, UTS, IPC, network and cgroup namespaces — most of the course runs rootless.
* **overlayfs** stacks read-only image layers under a writable upper directory. Root could always mount
  it; inside a user namespace only since Linux 5.11. The probe mounts a real one on a private tmpfs,
  writes through it and deletes a lower file to see the whiteout (a character device 0/0) appear.
* **cgroups** come in three shapes, told apart as runc does: ``/sys/fs/cgroup`` is a ``cgroup2`` mount
  (v2, one tree), a tmpfs full of per-controller ``cgroup`` mounts (v1), or v1 plus a ``cgroup2`` at
  ``/sys/fs/cgroup/unified`` that carries no controllers (hybrid). The probe reads the mount table and
  then really creates (and removes) a group, since a read-only ``/sys/fs/cgroup`` or a missing
  delegation only shows up when you try.
* **pivot_root** needs the new root to be a mount point in a mount namespace whose ``/`` is not shared;
  it fails on an initramfs root (docker's ``--rootfs`` on a ramdisk) where only ``chroot`` is left.

Every trial runs in a throw-away process: :func:`probe` starts a fresh, single-threaded
``python -m boxkit.probe_trials`` (never forking a multi-threaded Jupyter kernel), and that child forks
once per trial, so a namespace entered or a mount made in a trial dies with its process. The result is
cached per process. Each check is *ok*, *missing* or *info*, with one sentence on why and one on what
it means for the course: which demos run **live** and which replay a **RECORDED** real run.

    >>> import boxkit
    >>> report = boxkit.probe()          # a table in a notebook
    >>> report.mode                      # 'live', 'rootless' or 'recorded'
    >>> report.live_for("cgroups")       # can the cgroups notebook run live here?
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import sys
from dataclasses import dataclass, field

from .cgroups.host import delegation, detect
from .i18n import N_, _
from .probe_host import (
    Said,
    _cap_sys_admin,
    _read,
    _read_int,
    _seccomp,
    cgroup_access,
    cgroup_mode,
    chrooted,
    container_hints,
    find_busybox,
    is_static_elf,
    kernel_version,
    mode_word,
    parse_mountinfo,
    say,
    v1_enabled,
    v1_hierarchies,
)
from .probe_trials import NAMESPACES, _spawn_trials

__all__ = ["Check", "HostReport", "probe", "assemble", "NAMESPACES", "cgroup_mode", "cgroup_access",
           "chrooted", "container_hints", "find_busybox", "is_static_elf", "kernel_version", "parse_mountinfo",
           "v1_enabled", "v1_hierarchies"]


_NS_MEANS = {
    "mount": N_("containers get their own mount table (the root file system, /proc, /dev)"),
    "uts": N_("containers get their own hostname"),
    "ipc": N_("containers get their own shared memory and message queues (System V IPC, POSIX mqueues)"),
    "pid": N_("the container's command is PID 1 and sees only its own processes"),
    "net": N_("containers start with an empty network (only loopback) and, as root, get virtual cables and "
              "switches (veth pairs and bridges)"),
    "user": N_("root inside a container can be an unprivileged uid outside"),
    "cgroup": N_("the container sees its own group as the top of the tree (/)"),
    "time": N_("the time-namespace demo (a different uptime) runs live"),
}
_NS_MIN_KERNEL = {"cgroup": "4.6", "time": "5.6"}


@dataclass(frozen=True)
class Check:
    """One probed feature: ``ok`` is True, False, or None for plain information. ``name``, ``why`` and
    ``means`` read in English (``boxkit probe --json``, the tests); each is a message id or a
    :class:`~boxkit.probe_host.Said` that :meth:`HostReport.text` and the plain table say in the
    learner's language."""

    key: str
    name: str
    ok: bool | None
    why: str
    means: str

    @property
    def status(self) -> str:
        return "info" if self.ok is None else ("ok" if self.ok else "missing")


@dataclass
class HostReport:
    """What this host allows, as found by :func:`probe`."""

    euid: int
    root: bool
    cap_sys_admin: bool
    kernel: str
    kernel_version: tuple[int, int]
    userns_unprivileged: bool | None
    max_user_namespaces: int | None
    unprivileged_userns_clone: int | None
    apparmor_restrict_userns: int | None
    namespaces: dict[str, str]          # name -> "ok" | "userns" (only inside a user ns) | "missing"
    overlay: bool
    overlay_userns: bool | None
    pivot_root: bool
    netns: bool
    veth: bool | None
    cgroup_mode: str                    # "v1" | "v2" | "hybrid" | "none"
    cgroup_controllers: list[str]
    cgroup_writable: bool
    in_container: bool
    container_hints: list[str]
    seccomp: bool
    busybox: str | None
    checks: list[Check] = field(default_factory=list)
    live: bool = False
    mode: str = "recorded"
    rootless: bool = False              # not root, but containers run in a user namespace of our own

    # --- questions the notebooks ask ------------------------------------------------------------
    def check(self, key: str) -> Check:
        for c in self.checks:
            if c.key == key:
                return c
        raise KeyError(key)

    def live_for(self, topic: str) -> bool:
        """Can the demos of one topic run live here? Topics: ``namespaces``, ``rootless``,
        ``overlay``, ``images``, ``cgroups``, ``network``, ``containers`` (a full container)."""
        ns_ok = all(self.namespaces.get(n) in ("ok", "userns") for n in ("mount", "uts", "ipc", "pid"))
        if topic == "namespaces":
            return ns_ok
        if topic == "rootless":
            return bool(self.userns_unprivileged) and ns_ok
        if topic in ("overlay", "images"):
            return self.overlay if self.root else bool(self.overlay_userns)
        if topic == "cgroups":
            # a delegated subtree is writable without root, but rootless containers do not use one
            return self.cgroup_writable and self.root
        if topic == "network":
            return self.root and self.netns and bool(self.veth)
        if topic == "containers":
            return self.live
        raise ValueError(f"unknown topic {topic!r}; one of namespaces, rootless, overlay, images, "
                         f"cgroups, network, containers")

    # --- renderings -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["checks"] = [dict(dataclasses.asdict(c), status=c.status) for c in self.checks]
        d["kernel_version"] = list(self.kernel_version)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def summary(self) -> str:
        return say(_SUMMARY[self.mode])

    def who(self) -> str:
        """The banner's line after the mode word: the kernel, the cgroup mode, root or not."""
        if self.root:
            return _("linux {kernel}, cgroup {cgroup}, root").format(kernel=self.kernel, cgroup=self.cgroup_mode)
        return _("linux {kernel}, cgroup {cgroup}, not root (uid {uid})").format(
            kernel=self.kernel, cgroup=self.cgroup_mode, uid=self.euid)

    def text(self) -> str:
        """The whole check for a terminal (``boxkit probe``): a row per check, the status word kept in
        English (``ok``, ``missing``, ``info``: what a script reads), the rest in the learner's words."""
        fields = {"kernel": self.kernel, "cgroup": self.cgroup_mode, "uid": self.euid}
        if self.in_container:
            where = (_("kernel {kernel}, cgroup {cgroup}, root, inside a container") if self.root
                     else _("kernel {kernel}, cgroup {cgroup}, uid {uid}, inside a container"))
        else:
            where = (_("kernel {kernel}, cgroup {cgroup}, root") if self.root
                     else _("kernel {kernel}, cgroup {cgroup}, uid {uid}"))
        lines = [_("boxkit probe: mode {mode} — {summary}").format(mode=mode_word(self.mode),
                                                                     summary=self.summary()),
                 where.format(**fields), ""]
        rows = [(c.status, say(c.name), say(c.why), say(c.means)) for c in self.checks]
        width = max(len(name) for _status, name, _why, _means in rows) if rows else 10
        for status, name, why, means in rows:
            lines.append(f"  {status:<7} {name:<{width}}  {why}")
            lines.append(f"  {'':<7} {'':<{width}}  → {means}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def banner(self) -> str:
        """One line: the mode, the kernel, the cgroup mode, root or not (what 01-09 show first)."""
        return f"{mode_word(self.mode)}: {self.who()}"

    def plain_rows(self) -> list[tuple[str, str, str, str, str]]:
        """The checks in plain words, one row each: (what boxkit asked, status, the answer, how it
        found out, what it means for the course). The kernel's own words stay in :meth:`text`.
        ``status`` is the check's identifier (ok, missing, info); the rest is in the learner's language."""
        rows = []
        for c in self.checks:
            label, how = plain(c.key)
            if c.status == "info":
                answer = _plain_info(self, c)
            else:
                answer = _("yes") if c.ok else _("no")
            if c.key == "root" and not c.ok:
                label = N_("run containers as root")   # the rootless row below says what runs without it
            label, how = _(label), _(how)
            if c.key == "cgroup.mode" and self.cgroup_mode in _CGROUP_MODES:
                how = f"{how} {_(_CGROUP_MODES[self.cgroup_mode])}"
            if c.key == "container" and self.container_hints:
                found = _("It found: {hints}.").format(hints="; ".join(say(h) for h in self.container_hints))
                how = f"{how} {found}"
            if c.status == "missing":
                answered = _("The kernel answered: {why}.").format(why=say(c.why))
                how = f"{how} {answered}"
            rows.append((label, c.status, answer, how, say(c.means)))
        return rows

    def plain_text(self) -> str:
        """:meth:`plain_rows` as text: a question, its answer, how boxkit found out, what it means."""
        lines = []
        how_says, so_says = _("how: {how}"), _("so: {means}")
        for label, _status, answer, how, means in self.plain_rows():
            lines += [f"  {label}: {answer}", f"      {how_says.format(how=how)}", f"      {so_says.format(means=means)}"]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.plain_html()

    def plain_html(self, banner: bool = True) -> str:
        """The whole check as a table in plain words, under the one-line banner (``banner=False``:
        the table alone, for a page that shows the banner already)."""
        colors = {"ok": "#1a7f37", "missing": "#cf222e", "info": "#57606a"}
        marks = {"ok": "✔", "missing": "✘", "info": "ℹ"}
        rows = []
        for label, status, answer, how, means in self.plain_rows():
            rows.append(
                f"<tr><td style='text-align:left'>{html.escape(label)}</td>"
                f"<td style='text-align:left;color:{colors[status]};white-space:nowrap'>"
                f"<b>{marks[status]} {html.escape(answer)}</b></td>"
                f"<td style='text-align:left'>{html.escape(how)}</td>"
                f"<td style='text-align:left'>{html.escape(means)}</td></tr>")
        heads = (_("can this host …"), _("answer"), _("how boxkit found out"), _("what it means for the course"))
        return (
            "<div class='boxkit-probe'>"
            + (f"<p>{self.banner_html()}</p>" if banner else "")
            + "<table><thead><tr>"
            + "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in heads)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>")

    def banner_html(self) -> str:
        mode_color = {"live": "#1a7f37", "rootless": "#9a6700", "recorded": "#cf222e"}[self.mode]
        return (f"<b style='color:{mode_color}'>{html.escape(mode_word(self.mode))}</b>: "
                f"{html.escape(self.who())} — {html.escape(self.summary())}")


_SUMMARY = {
    "live": N_("every demo runs live on this host"),
    "rootless": N_("no root, but user namespaces: most demos run live in a user namespace of your own; "
                   "the rest replay RECORDED runs from a real kernel"),
    "recorded": N_("nothing can run live here: every demo replays a RECORDED run from a real kernel"),
}


# what each check asks, in a learner's words, and how boxkit found the answer
_PLAIN_NS = {
    "mount": (N_("give a container its own list of mounted file systems (a mount namespace)"),
              N_("it made a new mount namespace in a throw-away process.")),
    "uts": (N_("give a container its own hostname (a UTS namespace)"),
            N_("it made a new UTS namespace and set a hostname there.")),
    "ipc": (N_("give a container its own shared memory and message queues (an IPC namespace)"),
            N_("it made a new IPC namespace.")),
    "pid": (N_("give a container its own process numbers, starting at 1 (a PID namespace)"),
            N_("it made a new PID namespace and checked that its first child is process 1.")),
    "net": (N_("give a container a network of its own (a network namespace)"),
            N_("it made a new network namespace and brought its loopback up.")),
    "user": (N_("give a container user ids of its own: root inside, an ordinary user outside "
             "(a user namespace)"), N_("it made a new user namespace.")),
    "cgroup": (N_("show a container its own resource group as the top one (a cgroup namespace)"),
               N_("it made a new cgroup namespace.")),
    "time": (N_("give a container clocks of its own since boot (a time namespace)"),
             N_("it made a new time namespace.")),
}
_PLAIN = {
    "probe": (N_("run the host check at all"), N_("it started a child process to try each feature.")),
    "root": (N_("run containers"), N_("it read the user id this notebook runs as, and whether that user may make "
                      "mounts and namespaces (CAP_SYS_ADMIN).")),
    "userns.unprivileged": (N_("let a user without root make a private root of their own (a user namespace)"),
                            N_("it tried, as an ordinary user, in a throw-away process.")),
    "overlay": (N_("stack an image's layers under a writable layer (overlayfs)"),
                N_("it mounted a small overlay, wrote a file through it and deleted one.")),
    "overlay.userns": (N_("do the same without root"),
                       N_("it mounted the same overlay as an ordinary user, in a user namespace.")),
    "pivot_root": (N_("swap a container's root directory and cut the host's files off (pivot_root)"),
                   N_("it swapped the root of a throw-away process and detached the old one.")),
    "veth": (N_("wire containers to each other and to the host with virtual cables (veth pairs)"),
             N_("it made a pair in a throw-away network namespace.")),
    "cgroup.mode": (N_("group processes to limit them: in which layout (cgroup mode)"),
                    N_("it read the kernel's list of mounted file systems and the type of /sys/fs/cgroup.")),
    "cgroup.create": (N_("limit a container's memory, CPU and number of processes (cgroups)"),
                      N_("it made an empty group and removed it again.")),
    "cgroup.parent": (N_("put a container's group below the group this notebook runs in, so its limits hold"),
                      N_("it read this process's groups in /proc/self/cgroup and the BOXKIT_CGROUP_PARENT "
                      "setting.")),
    "rootless": (N_("run containers without root"), N_("it put the answers above together.")),
    "seccomp": (N_("filter the system calls a container may make (seccomp)"),
                N_("it loaded boxkit's default filter in a throw-away process and made a call the "
                "filter must refuse.")),
    "kernel": (N_("tell which kernel this is"), N_("it asked the kernel for its release.")),
    "container": (N_("show the marks a container engine leaves (is this machine itself a container?)"),
                  N_("it looked for the marks container engines leave: /.dockerenv, /run/.containerenv, "
                  "$container, a kubernetes variable, an engine's name in /proc/1/cgroup, an overlay /.")),
    "busybox": (N_("build the course's small test image offline (busybox-static)"),
                N_("it looked for a static busybox program on this machine.")),
}

# what the cgroup mode's one word means, for the plain table
_CGROUP_MODES = {
    "v1": N_("A v1 host has one tree of groups for each controller (memory, cpu, pids and the others)."),
    "v2": N_("A v2 host has one tree of groups for every controller."),
    "hybrid": N_("A hybrid host has v1's trees, one for each controller, plus a v2 tree at "
              "/sys/fs/cgroup/unified that has no controller and so limits nothing."),
    "none": N_("No cgroup file system is mounted."),
}


def plain(key: str) -> tuple[str, str]:
    """What the check ``key`` asks, in a learner's words, and how boxkit found the answer."""
    if key.startswith("ns."):
        return _PLAIN_NS[key[3:]]
    return _PLAIN[key]


def _plain_info(report: HostReport, c: Check) -> str:
    if c.key == "cgroup.mode":
        return report.cgroup_mode
    if c.key == "kernel":
        return report.kernel
    if c.key == "container":
        return _("yes") if report.in_container else _("no")
    return say(c.why)


# ==================================================================================================
# assembling the report
# ==================================================================================================

def _parent_check() -> Check:
    """Where boxkit's groups go on this host (:func:`boxkit.cgroups.host.parents`), and whether that
    subtree was handed to this process (delegated) or is a tree boxkit writes into as root."""
    host = detect()
    key = "" if host.version == 2 else next((k for k in ("memory", "pids", "cpu") if k in host.v1),
                                             next(iter(host.v1), ""))
    if host.parent_rule.startswith("invalid"):
        return Check("cgroup.parent", N_("boxkit's cgroup parent"), False,
                     Said.raw(host.parent_rule.split(": ", 1)[1]),
                     N_("every container start fails until the setting is fixed or unset"))
    base = host.base(key)
    parent = os.path.dirname(base)
    how = {"root": N_("the hierarchy's root, where this process's group is"),
           "own cgroup": N_("the group this process runs in, so its limits bound every container"),
           "configured": N_("the group BOXKIT_CGROUP_PARENT names")}.get(
        host.parent_rule, N_("the hierarchy's root: this process's group is a systemd unit not delegated to it"))
    return Check("cgroup.parent", N_("boxkit's cgroup parent"), None,
                 Said("{base}: {how}; {delegation}", {"base": parent, "how": how, "delegation": delegation(parent)},
                      ("how", "delegation")),
                 N_("containers' memory and process counts also count against the parent's limits"))


def _listed(items: list, sep: str) -> Said:
    """Phrases joined by ``sep`` (a list, not a sentence), each said in the learner's language."""
    names = [f"item{i}" for i in range(len(items))]
    return Said(sep.join("{" + n + "}" for n in names), dict(zip(names, items, strict=True)), tuple(names))


def _why(res: dict | None, fallback: str) -> str:
    """A trial's detail (a message id, or one with its fields as ``said``), or ``fallback``."""
    if not res:
        return Said(fallback)
    if res.get("said"):
        template, params, *terms = res["said"]
        return Said(template, params, tuple(terms[0]) if terms else ())
    return Said.raw(res["detail"]) if res.get("detail") else Said(fallback)


def assemble(trials: dict[str, dict], *, root_dir: str = "/", euid: int | None = None,
             release: str | None = None, busybox: str | None | bool = False,
             cgroup: tuple[list[str], bool, str] | None = None) -> HostReport:
    """Turn trial results plus what the files under ``root_dir`` say into a :class:`HostReport`.
    Pure apart from reading files (and creating a cgroup unless ``cgroup`` is given)."""
    euid = os.geteuid() if euid is None else euid
    root = euid == 0
    release = release or os.uname().release
    kv = kernel_version(release)
    status = _read(root_dir, "proc/self/status")
    capadm = _cap_sys_admin(status)
    seccomp = _seccomp(status)
    max_userns = _read_int(root_dir, "proc/sys/user/max_user_namespaces")
    clone = _read_int(root_dir, "proc/sys/kernel/unprivileged_userns_clone")
    aa = _read_int(root_dir, "proc/sys/kernel/apparmor_restrict_unprivileged_userns")
    mountinfo = _read(root_dir, "proc/self/mountinfo") or ""
    mode = cgroup_mode(mountinfo)
    if root_dir == "/":
        # on the real host, the same answer the cgroup driver acts on (statfs magic, as runc does)
        try:
            mode = detect().mode
        except OSError:
            pass
    ctrls, cg_ok, cg_why = cgroup if cgroup is not None else cgroup_access(mode, mountinfo, root_dir, euid=euid)
    hints = container_hints(root_dir)
    bb = find_busybox() if busybox is False else (busybox or None)
    t = trials
    checks: list[Check] = []
    not_tried = N_("not tried")

    # root
    if root and capadm:
        checks.append(Check("root", "root", True, Said(N_("running as root (euid 0) with CAP_SYS_ADMIN")),
                            N_("containers, cgroups and networks can run live")))
    elif root:
        checks.append(Check("root", "root", False,
                            Said(N_("running as root but without CAP_SYS_ADMIN (an unprivileged container?)")),
                            N_("start it with --privileged, or use the VM route; until then demos replay "
                               "RECORDED runs")))
    else:
        checks.append(Check("root", "root", False, Said(N_("running as uid {uid}, not root"), {"uid": euid}),
                            N_("only what user namespaces allow runs live; the rest replays RECORDED runs")))

    # user namespaces
    unpriv_res = t.get("userns.unprivileged")
    userns_unpriv: bool | None = bool(unpriv_res and unpriv_res.get("ok")) if unpriv_res else None
    gates = []
    if max_userns is not None:
        gates.append(f"user.max_user_namespaces={max_userns}")
    if clone is not None:
        gates.append(f"kernel.unprivileged_userns_clone={clone}")
    if aa is not None:
        gates.append(f"kernel.apparmor_restrict_unprivileged_userns={aa}")
    if userns_unpriv:
        why = (Said(N_("an unprivileged user can create a user namespace ({sysctls})"), {"sysctls": ", ".join(gates)})
               if gates else Said(N_("an unprivileged user can create a user namespace")))
        means = N_("a learner without root runs the namespace demos live (rootless)")
    else:
        reason = _why(unpriv_res, not_tried)
        if max_userns == 0:
            reason = Said(N_("user.max_user_namespaces is 0"))
        elif clone == 0:
            reason = Said(N_("kernel.unprivileged_userns_clone is 0 (sysctl -w kernel.unprivileged_userns_clone=1)"))
        elif aa == 1:
            reason = Said(N_("AppArmor restricts unprivileged user namespaces (Ubuntu 23.10+)"))
        why = Said(N_("an unprivileged user cannot create a user namespace: {reason}"), {"reason": reason})
        means = (N_("without root nothing runs live here") if not root
                 else N_("fine as root; learners without root get RECORDED runs"))
    checks.append(Check("userns.unprivileged", N_("user namespaces (unprivileged)"), userns_unpriv, why, means))

    # each namespace
    namespaces: dict[str, str] = {}
    for ns in NAMESPACES:
        direct = t.get(f"ns.{ns}") or {}
        via = t.get(f"userns.{ns}") or {}
        min_k = _NS_MIN_KERNEL.get(ns)
        # i18n: {ns} is the namespace type as /proc/PID/ns names it: mount, uts, ipc, pid, net, user, cgroup, time
        name = Said(N_("{ns} namespace"), {"ns": ns})
        if direct.get("ok"):
            namespaces[ns] = "ok"
            checks.append(Check(f"ns.{ns}", name, True, _why(direct, N_("works")), _NS_MEANS[ns]))
        elif via.get("ok"):
            namespaces[ns] = "userns"
            checks.append(Check(f"ns.{ns}", name, True,
                                Said(N_("works inside a user namespace only: {detail}"),
                                     {"detail": _why(via, "None")}),
                                # i18n: {means} is what the namespace gives a container (a whole clause)
                                Said(N_("{means} (rootless)"), {"means": _NS_MEANS[ns]}, ("means",))))
        else:
            namespaces[ns] = "missing"
            if min_k and kv < kernel_version(min_k):
                why = Said(N_("unshare failed: needs linux {version}+, this is {release}"),
                           {"version": min_k, "release": release})
            elif ns == "user" and chrooted(root_dir):
                why = Said(N_("unshare failed: {why} (this process runs in a chroot, where the kernel refuses "
                              "user namespaces)"), {"why": _why(via or direct, not_tried)})
            else:
                why = Said(N_("unshare failed: {why}"), {"why": _why(via or direct, not_tried)})
            checks.append(Check(f"ns.{ns}", name, False, why,
                                Said(N_("the {ns}-namespace demos replay RECORDED runs"), {"ns": ns})))

    # overlay
    ov = t.get("overlay") or {}
    ovu = t.get("overlay.userns")
    overlay = bool(ov.get("ok"))
    checks.append(Check("overlay", "overlayfs" if root else N_("overlayfs (in a user namespace)"), overlay,
                        _why(ov, not_tried) if overlay
                        else Said(N_("cannot mount overlay: {why}"), {"why": _why(ov, not_tried)}),
                        N_("images and container roots are layered live") if overlay
                        else N_("the image and layer demos replay RECORDED runs")))
    overlay_userns = None if ovu is None else bool(ovu.get("ok"))
    if root and ovu is not None:
        if overlay_userns:
            why = Said(N_("uid 65534 in a user namespace mounted an overlay"))
        elif kv < (5, 11):
            why = Said(N_("cannot mount overlay in a user namespace: {why} (needs linux 5.11+, this is {release})"),
                       {"why": _why(ovu, not_tried), "release": release})
        else:
            why = Said(N_("cannot mount overlay in a user namespace: {why}"), {"why": _why(ovu, not_tried)})
        checks.append(Check("overlay.userns", N_("overlayfs in a user namespace"), overlay_userns, why,
                            N_("rootless learners get live image demos") if overlay_userns
                            else N_("fine as root; rootless learners get RECORDED image demos")))

    # pivot_root
    pr = t.get("pivot_root") or {}
    pivot = bool(pr.get("ok"))
    checks.append(Check("pivot_root", "pivot_root", pivot,
                        _why(pr, "") if pivot else Said(N_("pivot_root failed: {why}"), {"why": _why(pr, not_tried)}),
                        N_("containers leave the host's files behind (the chroot-escape demo runs live)")
                        if pivot else N_("containers cannot detach the host's tree; the chroot-escape demo "
                                         "replays a RECORDED run")))

    # network
    netns = namespaces.get("net") in ("ok", "userns")
    vr = t.get("veth") or {}
    veth = vr.get("ok")
    if root:
        if veth:
            why = _why(vr, "")
        elif veth is False:
            why = Said(N_("cannot create a veth pair: {why}"), {"why": _why(vr, "")})
        else:
            why = Said(N_("no ip(8) to try it with"))
        checks.append(Check("veth", N_("veth pairs"), veth, why,
                            N_("containers get bridged networks and published ports live") if veth
                            else N_("the bridge and port demos replay RECORDED runs")))

    # cgroups
    layout = {"v1": N_("cgroup v1: one hierarchy per controller"),
              "v2": N_("cgroup v2: one unified tree"),
              "hybrid": N_("hybrid: v1 controllers, plus a cgroup2 tree at unified/ that boxkit leaves alone"),
              "none": N_("no cgroup file system is mounted")}[mode]
    checks.append(Check("cgroup.mode", N_("cgroup mode"), None,
                        # i18n: {layout} is one of the cgroup layouts above (a whole clause)
                        Said(N_("{layout}; controllers {controllers}"), {"layout": layout,
                             "controllers": ", ".join(ctrls)}, ("layout",)) if ctrls else Said(layout),
                        N_("the cgroup notebook reads and writes limits in this layout's files")))
    checks.append(Check("cgroup.create", N_("cgroup groups"), cg_ok, Said.raw(cg_why),
                        N_("memory and CPU limits are enforced and plotted live") if cg_ok and root
                        else N_("the memory/CPU limit demos replay RECORDED runs")))
    if root_dir == "/" and mode != "none":
        checks.append(_parent_check())

    # rootless containers: what boxkit.runtime.rootless does when the caller is not root
    rootless = (not root and bool(userns_unpriv) and overlay and pivot
                and all(namespaces.get(n) in ("ok", "userns") for n in ("mount", "uts", "ipc", "pid", "net")))
    if not root:
        if rootless:
            cg_note = (N_("a delegated cgroup v2 subtree is writable, but rootless containers do not use it yet")
                       if cg_ok else N_("no delegated cgroup v2 subtree is writable"))
            checks.append(Check(
                "rootless", N_("rootless containers"), True,
                # i18n: {cgroups} says whether a delegated cgroup v2 subtree is writable (a whole clause)
                Said(N_("each container gets a user namespace mapping uid {uid} to root inside (one-line "
                        "map, no newuidmap); cgroups skipped: {cgroups}; network none only"),
                     {"uid": euid, "cgroups": cg_note}, ("cgroups",)),
                N_("namespace, overlay and pivot_root demos run live; memory/CPU limits and networks "
                   "replay RECORDED runs")))
        else:
            missing = [what for what, ok in ((N_("no unprivileged user namespaces"), userns_unpriv),
                                             (N_("no overlayfs in a user namespace"), overlay),
                                             (N_("no pivot_root in a user namespace"), pivot)) if not ok]
            # i18n: {missing} lists what the host lacks ("no overlayfs in a user namespace, no ..."), joined by ", "
            why = Said(N_("cannot run containers without root: {missing}"),
                       {"missing": _listed(missing or [N_("no namespaces")], ", ")})
            checks.append(Check("rootless", N_("rootless containers"), False, why,
                                N_("run as root to start containers; every demo replays a RECORDED run")))

    sc = t.get("seccomp") or {}
    checks.append(Check("seccomp", N_("seccomp filters"), bool(sc.get("ok")),
                        _why(sc, "") if sc.get("ok")
                        else Said(N_("seccomp filter failed: {why}"), {"why": _why(sc, not_tried)}),
                        N_("every container gets boxkit's default filter (docker's decisions)") if sc.get("ok")
                        else N_("containers start only with --security-opt seccomp=unconfined")))

    # kernel, container, busybox
    checks.append(Check("kernel", N_("kernel"), None, Said("linux {release}", {"release": release}),
                        N_("overlay in user namespaces needs 5.11+, time namespaces 5.6+")))
    joined = _listed(hints, "; ")
    if hints and seccomp:
        where = Said(N_("yes: {hints}; a seccomp filter is active"), {"hints": joined})
    elif hints:
        where = Said(N_("yes: {hints}"), {"hints": joined})
    elif seccomp:
        where = Said(N_("no sign of a surrounding container; a seccomp filter is active"))
    else:
        where = Said(N_("no sign of a surrounding container"))
    checks.append(Check("container", N_("inside a container"), None, where,
                        N_("if this machine is a container, it must be privileged for the demos to run live")
                        if hints else N_("nothing in the way")))
    checks.append(Check("busybox", "busybox-static", bool(bb),
                        Said(N_("a static busybox at {path}"), {"path": bb}) if bb
                        else Said(N_("no static busybox found")),
                        N_("the busybox image is built offline from it") if bb
                        else N_("install busybox-static, or use the 'host' image built from host binaries")))
    if "error" in t:
        checks.insert(0, Check("probe", N_("probe process"), False, _why(t["error"], ""),
                               N_("the live checks could not run; everything is treated as RECORDED")))

    core = all(namespaces.get(n) == "ok" for n in ("mount", "uts", "ipc", "pid", "net"))
    live = root and capadm and core and overlay and pivot and cg_ok
    if live:
        run_mode = "live"
    elif all(namespaces.get(n) in ("ok", "userns") for n in ("mount", "pid", "uts")):
        run_mode = "rootless"
    else:
        run_mode = "recorded"
    return HostReport(
        euid=euid, root=root, cap_sys_admin=capadm, kernel=release, kernel_version=kv,
        userns_unprivileged=userns_unpriv, max_user_namespaces=max_userns, unprivileged_userns_clone=clone,
        apparmor_restrict_userns=aa, namespaces=namespaces, overlay=overlay, overlay_userns=overlay_userns,
        pivot_root=pivot, netns=netns, veth=veth, cgroup_mode=mode, cgroup_controllers=ctrls,
        cgroup_writable=cg_ok, in_container=bool(hints), container_hints=hints, seccomp=seccomp,
        busybox=bb, checks=checks, live=live, mode=run_mode, rootless=rootless)


_CACHE: HostReport | None = None


def probe(refresh: bool = False) -> HostReport:
    """What this host allows; probed once per process (trials cost a few forks), then cached."""
    global _CACHE
    if _CACHE is None or refresh:
        _CACHE = assemble(_spawn_trials())
    return _CACHE


class _CallableModule(type(sys)):
    """``boxkit.probe()`` must work whether ``boxkit.probe`` names this function (boxkit's lazy
    ``__getattr__``) or this module: importing ``boxkit.probe`` anywhere (the CLI does) makes the
    import system set the package attribute to the module, which would shadow the function."""

    def __call__(self, refresh: bool = False) -> HostReport:
        return probe(refresh)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    print(probe().text())

