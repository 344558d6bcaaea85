"""The capability set a container keeps: docker's default 14.

Root's power is split into ~41 capabilities (``capabilities(7)``); a container keeps the 14 that moby
grants by default (``oci/caps/defaults.go``) — enough to chown, bind low ports, setuid inside — and
loses ``CAP_SYS_ADMIN``, ``CAP_SYS_MODULE``, ``CAP_SYS_PTRACE``, ``CAP_NET_ADMIN`` and the rest. The set
is a value, not a step: :mod:`boxkit.spec` parses ``--cap-add``/``--cap-drop`` against it, the seccomp
compiler (:mod:`.seccomp`) keys docker's capability-dependent rules on it, the probe compiles with it,
and :mod:`boxkit.runtime.caps` drops to it. So it lives down here, below all of them.
"""

from __future__ import annotations

from .._sys import cap_mask

# moby/oci/caps/defaults.go
DEFAULT_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)
DEFAULT_MASK = cap_mask(DEFAULT_CAPS)
