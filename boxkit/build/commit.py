"""Commit: what a container changed becomes a new layer, and the image plus that layer a new image.

A container's root is an overlay whose upper dir received every change it made: new and modified files
(copied up whole), whiteouts (character devices 0/0) for deletions, opaque directories for replaced
ones. That directory *is* a layer already — in overlayfs's notation. :func:`layer_from_upper` writes it
as an OCI tar (whiteouts become ``.wh.`` entries), stores the tar, and unpacks it again through the
same checked path as a pulled layer, so a committed layer is verified like any other.

The files the runtime writes into every container (``/etc/hostname``, ``/etc/hosts``,
``/etc/resolv.conf``) are left out, as docker leaves out its bind-mounted copies of them.
"""

from __future__ import annotations

import contextlib
import os
import time

from .. import paths
from ..errors import BoxkitError, NotFoundError
from ..images import ImageConfig, resolve
from ..images.layer import write_tar
from ..images.store import MT_LAYER, Store
from ..runtime import state

RUNTIME_FILES = frozenset({"etc/hostname", "etc/hosts", "etc/resolv.conf"})


def layer_from_upper(upper: str, store: Store | None = None) -> tuple[dict, str]:
    """Store ``upper`` (an overlay upper dir) as a layer; returns ``(descriptor, diff_id)``."""

    store = store or Store()
    if not os.path.isdir(upper):
        raise NotFoundError("directory", upper, hint="the container's upper dir is gone; was it removed?")
    store._init()
    tmp = os.path.join(store.root, "tmp", f"commit-{os.getpid()}-{time.monotonic_ns()}")
    try:
        with open(tmp, "wb") as f:
            diff_id, size = write_tar(upper, f, skip=RUNTIME_FILES)
        os.replace(tmp, store.blob_path(diff_id))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    desc = {"mediaType": MT_LAYER, "digest": diff_id, "size": size}
    store.unpack_layer(desc, diff_id)
    return desc, diff_id


def commit_upper(upper: str, base_ref: str, ref: str | None, *, comment: str = "",
                 config: ImageConfig | None = None, store: Store | None = None) -> str:
    """A new image: ``base_ref``'s layers plus ``upper`` on top. Returns the manifest digest."""
    store = store or Store()
    _d, manifest, base_cfg = store.manifest_of(base_ref)
    layers = list(zip(manifest["layers"], base_cfg["rootfs"]["diff_ids"], strict=True))
    layers.append(layer_from_upper(upper, store))
    history = list(base_cfg.get("history") or [])
    history.append({"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "created_by": comment or f"boxkit commit of a container of {base_ref}"})
    cfg = config or ImageConfig.from_dict(base_cfg.get("config") or {})
    return store.write_image(layers, cfg, history, ref=ref)


def commit_container(container: str, ref: str, *, comment: str = "") -> str:
    """``boxkit commit CONTAINER NAME[:TAG]``: find the container by name or id and commit it."""

    st = state.find_by_name(container) or state.read(container)
    if st is None:
        raise NotFoundError("container", container, hint="boxkit ps lists the running containers")
    cid = st.get("id", container)
    image = st.get("image")
    if not image or image.startswith("/"):
        raise BoxkitError("cannot commit container", cid, detail="it runs a root directory, not an image",
                          hint="start it from an image (boxkit run IMAGE ...) to commit it")

    resolve(image)  # base images are built on demand: make sure the base is in the store
    return commit_upper(os.path.join(paths.container_dir(cid), "upper"), image, ref, comment=comment)
