"""Where boxkit keeps its state on the host.

Everything lives under one root, ``$BOXKIT_ROOT``, so that one ``rm -r`` removes it and tests can point
it at a temporary directory. The default is ``/var/lib/boxkit`` for root and, for a learner without root
(rootless containers, :mod:`boxkit.runtime.rootless`), ``$XDG_DATA_HOME/boxkit`` — usually
``~/.local/share/boxkit``: their images and containers belong to them, in their home::

    images/          the OCI image layout (blobs/sha256/..., index.json) and unpacked layers
    containers/ID/   one directory per container: state.json, upper/ and work/ (the overlay's
                     writable half), merged/ (the mount point, seen only inside the container)
    locks/           flock files (store writes, base-image builds, one collector at a time;
                     the network leases' lock is host-wide: /run/boxkit/net.lock)
    podman/NAME/     a podman store boxkit compares with, removed after each use (boxkit/podman.py)

The overlay upper dir may not sit on an overlayfs (``docker run --privileged`` gives the container an
overlay root): :func:`container_dir` then moves containers to ``/run/boxkit``, a tmpfs.
"""

from __future__ import annotations

import os

DEFAULT_ROOT = "/var/lib/boxkit"


def root() -> str:
    env = os.environ.get("BOXKIT_ROOT")
    if env:
        return env
    if os.geteuid() == 0:
        return DEFAULT_ROOT
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "boxkit")


def images_dir() -> str:
    return os.path.join(root(), "images")


def containers_dir() -> str:
    return os.path.join(root(), "containers")


def locks_dir() -> str:
    return os.path.join(root(), "locks")


def podman_dir() -> str:
    return os.path.join(root(), "podman")


def container_dir(cid: str) -> str:
    return os.path.join(containers_dir(), cid)


def ensure(path: str, mode: int = 0o711) -> str:
    os.makedirs(path, mode=mode, exist_ok=True)
    return path
