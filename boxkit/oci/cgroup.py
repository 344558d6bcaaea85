"""``linux.cgroupsPath``: where a bundle's cgroup goes, made there, and gone with its last container.

``boxkit run`` names its groups itself (``boxkit/<id>`` in each hierarchy, :mod:`boxkit.cgroups`). A
bundle names the path: absolute (podman: ``/libpod_parent/libpod-<id>``) is below each hierarchy's
root; relative is below the caller's own group, as runc takes it; none is ``boxkit-runtime/<id>`` below
the caller's group, as ``boxkit run`` nests (:func:`boxkit.cgroups.host.parents`). On v1 the group is
made in *every* mounted hierarchy, whatever the path says (see :mod:`boxkit.cgroups`, "Why every
hierarchy"). That is all this module decides. The group is a :class:`boxkit.cgroups.Group`: the bundle's
``linux.resources``, typed and checked when the bundle was read (:mod:`boxkit.oci.resources`), are
written by :meth:`~boxkit.cgroups.Group.apply` — the same controller modules as ``boxkit run``'s limits —
and killing and removing the group is boxkit's code too.
"""

from __future__ import annotations

import errno
import os

from ..cgroups import Group, cpuset
from ..cgroups.host import detect, own_groups
from ..cgroups.resources import Resources
from ..errors import HostError

DEFAULT_PARENT = "boxkit-runtime"


def group_dirs(cid: str, cgroups_path: str) -> tuple[Group, list[str]]:
    """The group's directories (not made yet) and the list of those to create, outermost first."""
    host = detect()
    if host.mode == "none":
        raise HostError("cannot create cgroup for", cid, errno=errno.ENOENT,
                        detail="no cgroup file system is mounted at /sys/fs/cgroup")
    own: dict[str, str] = {}
    if cgroups_path and not cgroups_path.startswith("/"):   # relative: below the caller's own group
        with open("/proc/self/cgroup") as f:
            own = own_groups(f.read())

    def where(key: str) -> str:
        if not cgroups_path:   # boxkit-runtime/<id> below the caller's group, as boxkit run nests
            return os.path.join(host.parents.get(key, "/"), DEFAULT_PARENT, cid)
        return cgroups_path if cgroups_path.startswith("/") else os.path.join(own.get(key, "/"), cgroups_path)

    if host.version == 2:
        d = os.path.join(host.v2_root or "/sys/fs/cgroup", where("").lstrip("/"))
        dirs = {c: d for c in host.v2_controllers} or {"unified": d}
    else:
        dirs = {ctrl: os.path.join(mnt, where(ctrl).lstrip("/")) for ctrl, mnt in host.v1.items()}
    return Group(cid, host, dirs), sorted(set(dirs.values()))


def create(cid: str, cgroups_path: str, resources: Resources, pid: int) -> Group:
    """Make the group where ``cgroups_path`` says, write ``resources`` and move ``pid`` in; a failure
    removes what was made (and an emptied ``boxkit-runtime/``)."""
    group, todo = group_dirs(cid, cgroups_path)
    for d in todo:
        _makedirs(d, group)
    try:
        group.apply(resources)
        group.add(pid)
    except BaseException:
        try:
            group.remove()
        except OSError:
            pass
        remove_default_parent(group.dirs)
        raise
    return group


def _makedirs(d: str, group: Group) -> None:
    # cpuset v1 groups start with no cpus and refuse tasks: each new level copies its parent's
    parts = []
    p = d
    while not os.path.isdir(p):
        parts.append(p)
        p = os.path.dirname(p)
    for p in reversed(parts):
        try:
            os.mkdir(p, 0o755)
        except FileExistsError:
            pass
        except OSError as e:
            raise HostError("cannot create cgroup", p, errno=e.errno) from e
        if group.host.version == 1 and group.dirs.get("cpuset") and d == group.dirs["cpuset"]:
            cpuset.v1_prepare(p)


def open_dirs(cid: str, dirs: dict[str, str]) -> Group:
    return Group(cid, detect(), dirs)


def remove_default_parent(dirs: dict[str, str]) -> None:
    """The last container in ``boxkit-runtime/`` takes the directory with it (the host's cgroup
    tree holds nothing of ours after delete); another container still in it keeps it (EBUSY)."""
    for d in set(dirs.values()):
        parent = os.path.dirname(d)
        if os.path.basename(parent) == DEFAULT_PARENT:
            try:
                os.rmdir(parent)
            except OSError:
                pass
