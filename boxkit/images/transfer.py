"""Moving images in and out: an OCI layout directory, or a ``docker save`` archive.

Both formats carry the same three things — manifest, config, layer tars — arranged differently:

* an **OCI image layout** is a directory (or a tar of one): ``oci-layout``, ``index.json`` and
  ``blobs/sha256/<hex>``; the index's ``org.opencontainers.image.ref.name`` annotation names the tag.
  ``skopeo inspect oci:DIR:TAG`` and ``umoci unpack --image DIR:TAG`` read it;
* a **docker save** archive is a tar with ``manifest.json`` (``Config``, ``RepoTags``, ``Layers`` as
  paths inside the archive) and uncompressed layer tars; ``docker load`` and ``skopeo`` read it.

Loading treats the input as hostile: only the files the manifest names are read, by name, from the
archive (nothing is extracted to disk), each blob is hashed as it is copied into the store and refused
if it does not match, and each layer is checked against its DiffID when it is unpacked. The tag is set
last, so a failed load leaves no image behind (unreferenced blobs go at the next ``rmi``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tarfile
import zlib

from .. import files
from ..errors import BoxkitError, NotFoundError, SpecError
from . import parse_ref, resolve
from .store import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    LAYER_TYPES,
    MAX_JSON,
    MT_CONFIG,
    MT_INDEX,
    MT_LAYER,
    MT_MANIFEST,
    OCI_REF,
    REF_ANNOTATION,
    Store,
    canonical,
    check_digest,
    sha256,
)

# --- save -------------------------------------------------------------------------------------------

def _link_or_copy(src: str, dst: str) -> None:
    if os.path.exists(dst):
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def save_oci(refs: list[str], dest: str, store: Store | None = None) -> None:
    """Write images ``refs`` as an OCI image layout at directory ``dest`` (created or added to)."""
    store = store or Store()
    _resolve_all(refs)   # an unknown image stops the save before anything is written at dest
    os.makedirs(os.path.join(dest, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(dest, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    index_path = os.path.join(dest, "index.json")
    try:
        with open(index_path) as f:
            index = json.load(f)
    except (OSError, ValueError):
        index = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": []}
    for ref in refs:
        name, tag = parse_ref(ref)
        ref = f"{name}:{tag}"
        mdigest, manifest, config = store.manifest_of(ref)
        blobs = [store.blob_path(mdigest), store.blob_path(manifest["config"]["digest"])]
        for desc, diff in zip(manifest["layers"], config["rootfs"]["diff_ids"], strict=True):
            blobs.append(store.ensure_blob(desc, diff))
        for b in blobs:
            _link_or_copy(b, os.path.join(dest, "blobs", "sha256", os.path.basename(b)))
        index["manifests"] = [m for m in index["manifests"] if (m.get("annotations") or {}).get(OCI_REF) != tag]
        index["manifests"].append({"mediaType": MT_MANIFEST, "digest": mdigest,
                                   "size": os.path.getsize(store.blob_path(mdigest)),
                                   "annotations": {OCI_REF: tag, REF_ANNOTATION: ref}})
    files.write_json(index_path, index)


def save_docker(refs: list[str], dest: str, store: Store | None = None) -> None:
    """Write images ``refs`` as a ``docker save`` archive (uncompressed layers) at file ``dest``."""
    store = store or Store()
    _resolve_all(refs)
    entries = []
    tmp = dest + ".tmp"
    try:
        _write_docker_archive(refs, tmp, store, entries)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    os.replace(tmp, dest)


def _resolve_all(refs: list[str]) -> None:
    for ref in refs:
        name, tag = parse_ref(ref)
        resolve(f"{name}:{tag}")  # base images are built on first use


def _write_docker_archive(refs: list[str], tmp: str, store: Store, entries: list[dict]) -> None:
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tf:
        written: set[str] = set()

        def add_file(arc: str, path: str | None = None, data: bytes | None = None) -> None:
            if arc in written:
                return
            written.add(arc)
            ti = tarfile.TarInfo(arc)
            if data is not None:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            else:
                ti.size = os.path.getsize(path)
                with open(path, "rb") as f:
                    tf.addfile(ti, f)

        for ref in refs:
            name, tag = parse_ref(ref)
            _m, manifest, config = store.manifest_of(f"{name}:{tag}")
            cfg_digest = manifest["config"]["digest"]
            add_file(f"blobs/sha256/{cfg_digest[7:]}", store.blob_path(cfg_digest))
            layers = []
            for desc, diff in zip(manifest["layers"], config["rootfs"]["diff_ids"], strict=True):
                path = store.ensure_blob(desc, diff)
                arc = f"blobs/sha256/{diff[7:]}"
                if desc["digest"] == diff:
                    add_file(arc, path)
                else:  # docker archives carry uncompressed layers: inflate the gzip blob
                    with open(path, "rb") as f:
                        data = _gunzip(f.read())
                    if sha256(data) != diff:
                        raise BoxkitError("cannot save layer", desc["digest"], detail="it does not inflate to its DiffID")
                    add_file(arc, data=data)
                layers.append(arc)
            entries.append({"Config": f"blobs/sha256/{cfg_digest[7:]}", "RepoTags": [f"{name}:{tag}"],
                            "Layers": layers})
        add_file("manifest.json", data=json.dumps(entries).encode())


def _gunzip(data: bytes) -> bytes:
    return zlib.decompress(data, 16 + zlib.MAX_WBITS)


# --- load -------------------------------------------------------------------------------------------

class _Source:
    """Read named files from a directory or a tar archive, never extracting anything."""

    def __init__(self, path: str):
        self.path = path
        self.tar: tarfile.TarFile | None = None
        if os.path.isdir(path):
            return
        if not os.path.exists(path):
            raise NotFoundError("archive", path, hint="give an OCI layout directory or a docker save tar")
        try:
            self.tar = tarfile.open(path, "r:*")
            self.members = {os.path.normpath(m.name).lstrip("/"): m for m in self.tar.getmembers() if m.isreg()}
        except (tarfile.TarError, OSError) as e:
            raise BoxkitError("cannot read archive", path, detail="not a tar archive" if isinstance(e, tarfile.TarError)
                              else os.strerror(e.errno or 0).lower(),
                              hint="give an OCI layout directory or a docker save tar") from None

    def exists(self, name: str) -> bool:
        name = self._clean(name)
        if self.tar is not None:
            return name in self.members
        return os.path.isfile(os.path.join(self.path, name))

    def _clean(self, name: str) -> str:
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise SpecError("archive entry", name, "contains '..'")
        return "/".join(parts)

    def open(self, name: str):
        name = self._clean(name)
        if self.tar is not None:
            m = self.members.get(name)
            f = self.tar.extractfile(m) if m is not None else None
            if f is None:
                raise NotFoundError("archive entry", name, hint="the archive is incomplete")
            return f
        path = os.path.join(self.path, name)
        if os.path.islink(path):
            raise SpecError("archive entry", name, "is a symlink")
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise NotFoundError("archive entry", name, hint="the layout is incomplete") from None

    def read_json(self, name: str):
        with self.open(name) as f:
            data = f.read(MAX_JSON + 1)
        if len(data) > MAX_JSON:
            raise BoxkitError("cannot load", name, detail="json file too large")
        try:
            return json.loads(data), data
        except ValueError:
            raise BoxkitError("cannot load", name, detail="not valid json") from None

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()


def load(path: str, *, tag: str | None = None, store: Store | None = None) -> list[str]:
    """Load every image of an OCI layout (dir or tar) or a docker save archive; returns the refs."""
    store = store or Store()
    src = _Source(path)
    try:
        if src.exists("oci-layout") and src.exists("index.json"):
            return _load_oci(src, tag, store)
        if src.exists("manifest.json"):
            return _load_docker(src, tag, store)
        raise BoxkitError("cannot load", path, detail="neither an OCI layout nor a docker save archive",
                          hint="boxkit save writes both; docker save and skopeo copy make them too")
    finally:
        src.close()


def _copy_blob(src: _Source, store: Store, digest: str, name: str | None = None) -> None:
    check_digest(digest)
    if store.has_blob(digest):
        return
    with src.open(name or f"blobs/sha256/{digest[7:]}") as f:
        store.put_blob_stream(f, expected=digest)


def _import_manifest(src: _Source, store: Store, mdigest: str, ref: str) -> str:
    _copy_blob(src, store, mdigest)
    manifest = store.read_json(mdigest)
    if manifest.get("mediaType", MT_MANIFEST) not in (MT_MANIFEST, DOCKER_MANIFEST):
        raise BoxkitError("cannot load", ref, detail=f"unsupported manifest type {manifest.get('mediaType')}")
    _copy_blob(src, store, manifest["config"]["digest"])
    config = store.read_json(manifest["config"]["digest"])
    diffs = (config.get("rootfs") or {}).get("diff_ids") or []
    if len(diffs) != len(manifest.get("layers") or []):
        raise BoxkitError("cannot load", ref, detail="config and manifest disagree on the layers")
    for desc, diff in zip(manifest["layers"], diffs, strict=True):
        if desc.get("mediaType") not in LAYER_TYPES:
            raise BoxkitError("cannot load", ref, detail=f"unsupported layer type {desc.get('mediaType')}")
        _copy_blob(src, store, desc["digest"])
        store.unpack_layer(desc, check_digest(diff))
    store.set_tag(ref, mdigest, os.path.getsize(store.blob_path(mdigest)))
    return ref


def _load_oci(src: _Source, tag: str | None, store: Store) -> list[str]:
    index, _raw = src.read_json("index.json")
    refs = []
    for desc in index.get("manifests", []):
        mdigest = check_digest(desc.get("digest"))
        if desc.get("mediaType") in (MT_INDEX, DOCKER_LIST):
            raise BoxkitError("cannot load", src.path, detail="nested image indexes are not supported",
                              hint="copy one platform with skopeo copy --override-arch first")
        ann = desc.get("annotations") or {}
        ref = tag or ann.get(REF_ANNOTATION) or ann.get(OCI_REF)
        if not ref:
            continue
        if ":" not in ref.rsplit("/", 1)[-1] and "/" not in ref and ann.get(OCI_REF) == ref and REF_ANNOTATION not in ann:
            # a bare tag ("v1"): name the image after the layout directory, as skopeo's oci:DIR:TAG does
            ref = f"{os.path.basename(os.path.normpath(src.path)).split('.')[0].lower()}:{ref}"
        name, t = parse_ref(ref)
        refs.append(_import_manifest(src, store, mdigest, f"{name}:{t}"))
    if not refs:
        raise BoxkitError("cannot load", src.path, detail="the index names no image", hint="give --tag NAME:TAG")
    return refs


def _load_docker(src: _Source, tag: str | None, store: Store) -> list[str]:
    entries, _raw = src.read_json("manifest.json")
    if not isinstance(entries, list):
        raise BoxkitError("cannot load", src.path, detail="manifest.json is not a list")
    refs = []
    for entry in entries:
        with src.open(entry["Config"]) as f:
            cfg_bytes = f.read(MAX_JSON + 1)
        cfg_digest = store.put_blob(cfg_bytes)
        config = store.read_json(cfg_digest)
        diffs = (config.get("rootfs") or {}).get("diff_ids") or []
        if len(diffs) != len(entry.get("Layers") or []):
            raise BoxkitError("cannot load", src.path, detail="config and manifest.json disagree on the layers")
        layers = []
        for name, diff in zip(entry["Layers"], diffs, strict=True):
            with src.open(name) as f:
                digest, size = store.put_blob_stream(f)
            desc = {"mediaType": MT_LAYER, "digest": digest, "size": size}
            store.unpack_layer(desc, check_digest(diff))
            layers.append(desc)
        manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
                    "config": {"mediaType": MT_CONFIG, "digest": cfg_digest, "size": len(cfg_bytes)},
                    "layers": layers}
        mbytes = canonical(manifest)
        mdigest = store.put_blob(mbytes)
        for ref in ([tag] if tag else (entry.get("RepoTags") or [])):
            name, t = parse_ref(ref)
            store.set_tag(f"{name}:{t}", mdigest, len(mbytes))
            refs.append(f"{name}:{t}")
    if not refs:
        raise BoxkitError("cannot load", src.path, detail="the archive names no tag", hint="give --tag NAME:TAG")
    return refs


__all__ = ["save_oci", "save_docker", "load", "DOCKER_CONFIG", "DOCKER_LAYER"]
