"""Images: what a container's root file system is made of.

An image is a stack of *layers* — directory trees, each holding what one build step added, changed or
deleted — plus a small *config* (environment, command, working directory, user). The runtime asks
:func:`resolve` for an image by name, gets the unpacked layer directories bottom first, and mounts them
with overlayfs (:mod:`boxkit.images.overlay`) under a per-container writable upper dir.

Importing this package is cheap: the store and the registry client load on first use. Building and
committing run containers, so they live a layer up, in :mod:`boxkit.build`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import NotFoundError, SpecError
from ..i18n import N_

__all__ = ["ImageConfig", "ResolvedImage", "resolve", "parse_ref"]


@dataclass
class ImageConfig:
    """The part of an OCI image config that decides how a container starts."""

    env: list[str] = field(default_factory=list)
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    workdir: str = ""
    user: str = ""

    @classmethod
    def from_dict(cls, d: dict) -> ImageConfig:
        """From boxkit's own keys or the OCI ``config`` object (``Env``, ``Cmd``, ...)."""
        def get(k: str, oci: str):
            return d.get(k, d.get(oci))

        def strlist(v: object, what: str) -> list[str] | None:
            if v is None:
                return None
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise SpecError(what, v, N_("must be a list of strings"))
            return list(v)

        workdir = get("workdir", "WorkingDir") or ""
        user = get("user", "User") or ""
        if not isinstance(workdir, str) or not isinstance(user, str):
            raise SpecError(N_("image config"), d, N_("WorkingDir and User must be strings"))
        return cls(env=strlist(get("env", "Env"), N_("image config Env")) or [],
                   cmd=strlist(get("cmd", "Cmd"), N_("image config Cmd")),
                   entrypoint=strlist(get("entrypoint", "Entrypoint"), N_("image config Entrypoint")),
                   workdir=workdir, user=user)

    def to_oci(self) -> dict:
        out: dict = {"Env": list(self.env)}
        if self.cmd is not None:
            out["Cmd"] = list(self.cmd)
        if self.entrypoint is not None:
            out["Entrypoint"] = list(self.entrypoint)
        if self.workdir:
            out["WorkingDir"] = self.workdir
        if self.user:
            out["User"] = self.user
        return out


@dataclass
class ResolvedImage:
    """An image ready to mount: ``layers`` are unpacked layer directories, BOTTOM first."""

    ref: str
    layers: list[str]
    config: ImageConfig
    digest: str | None = None  # the manifest digest, when the image is in the store


def parse_ref(ref: str) -> tuple[str, str]:
    """``name[:tag]`` → ``(name, tag)``; the tag defaults to ``latest`` (docker's rule: a ``:`` after
    the last ``/`` starts the tag, so ``localhost:5000/app`` has no tag)."""
    if not isinstance(ref, str) or not ref or len(ref) > 255 or any(c.isspace() for c in ref):
        raise SpecError(N_("image reference"), ref, N_("expected NAME[:TAG]"))
    name, tag = ref, "latest"
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        name, tag = ref[:colon], ref[colon + 1:]
    if not name or not tag:
        raise SpecError(N_("image reference"), ref, N_("expected NAME[:TAG]"))
    return name, tag


def resolve(ref: str) -> ResolvedImage:
    """Find image ``ref`` and return its layer directories (bottom first) and config.

    Images in the local store win; ``busybox`` and ``host`` are built offline from the host on first
    use (:mod:`boxkit.images.base`)."""
    name, tag = parse_ref(ref)
    # lazy: the store is not needed by the zygote, which imports this package for the overlay
    from .store import Store

    store = Store()
    found = store.resolve(name, tag)
    if found is not None:
        return found
    # lazy: base (ELF reading) only for a base image, not for the zygote's import of this package
    from . import base

    if name in base.BASE_IMAGES and tag == "latest":
        base.ensure(name)
        found = store.resolve(name, tag)
        if found is not None:
            return found
    raise NotFoundError(N_("image"), ref, hint=N_("boxkit images lists the local images; boxkit pull or boxkit "
                                                  "build makes one"))
