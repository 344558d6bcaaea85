"""Capabilities: what root inside the container may still do.

Root's power is split into ~41 capabilities. A container keeps Docker's default 14 (chown, kill,
setuid, net_bind_service, ...) and loses the rest — ``CAP_SYS_ADMIN`` (mount, most namespace tricks),
``CAP_SYS_MODULE``, ``CAP_SYS_PTRACE``, ``CAP_NET_ADMIN`` among them. Each process has five sets:

* *bounding*: the ceiling; dropped with ``prctl(PR_CAPBSET_DROP)`` and never regained, even by setuid
  binaries;
* *permitted* / *effective*: what it may use / uses now (``capset``);
* *inheritable* and *ambient*: what crosses ``execve`` for non-root programs — both emptied, so a
  program run as a non-root user inside gets no capabilities at all.

``no_new_privs`` (set separately) stops setuid binaries and file capabilities from adding any back.
"""

from __future__ import annotations

from .. import _sys
from ..security import seccomp
from ..security.capabilities import DEFAULT_CAPS, DEFAULT_MASK

__all__ = ["DEFAULT_CAPS", "DEFAULT_MASK", "drop_to", "plan_security"]


def drop_to(mask: int, sys: _sys.Sys | None = None, bounding_done: bool = False) -> None:
    """Bounding set first (needs CAP_SETPCAP, which capset may remove), then the three sets. A spare
    container drops its bounding set ahead of time (``bounding_done``)."""
    sys = sys or _sys.SYS
    if not bounding_done:
        sys.drop_bounding(mask)
    sys.clear_ambient()
    sys.capset(effective=mask, permitted=mask, inheritable=0)


def plan_security(spec) -> dict:
    """The plan's security fields, only those that differ from the defaults (a spare fits a plan
    without ``caps`` or ``privileged``): the capability mask, the compiled seccomp program (None
    when unconfined), no_new_privs off, ``--privileged`` (keyword arguments of :class:`.plan.Plan`)."""
    mask = _sys.cap_mask(spec.caps)
    out: dict = {"seccomp": seccomp.program(spec.seccomp, mask) if spec.seccomp is not None else None}
    if mask != DEFAULT_MASK:
        out["caps"] = mask
    if not spec.no_new_privileges:
        out["no_new_privs"] = False
    if spec.privileged:
        out["privileged"] = True
    return out
