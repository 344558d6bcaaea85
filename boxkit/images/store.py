"""The local image store: an OCI image layout plus unpacked layers.

An OCI image is three kinds of JSON and some tars, all *content-addressed* — named by the SHA-256 of
their bytes, so a name proves the content and the same layer is stored once however many images use it:

* the **manifest** lists a config and the layers (each a *descriptor*: media type, digest, size);
* the **config** holds the run settings (``Env``, ``Cmd``, ...), the history, and ``rootfs.diff_ids``:
  the digests of the *uncompressed* layer tars (a registry stores them gzip'd; the DiffID names the
  content whatever the compression);
* the **index** (``index.json``) maps tags to manifests.

On disk (``$BOXKIT_ROOT/images``)::

    oci-layout, index.json      the OCI image layout (tags in io.boxkit.ref annotations)
    blobs/sha256/<hex>          manifests, configs, layer tars
    layers/<diffid hex>/diff/   each layer unpacked once, whiteouts prepared for overlayfs

A layer directory holds only that layer's changes, so it does not depend on the layers below it and is
shared by every image that has the same DiffID. The *ChainID* (``sha256(parent_chain + " " + diff_id)``)
names a layer *with* everything below it; it is what a build cache and ``history`` compare.

Digests are checked (``sha256:`` and 64 lowercase hex digits) before they are ever used as a file name,
and blob bytes are hashed as they are written: a blob whose bytes do not match its name never becomes
visible. Every write goes to a temporary name first and is ``rename(2)``'d into place, under an ``flock``
for ``index.json``, so a crash or a concurrent writer leaves the store consistent.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator

from .. import files, paths
from ..errors import BoxkitError, NotFoundError, SpecError
from ..i18n import N_
from . import ImageConfig, ResolvedImage, parse_ref

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"
MT_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
LAYER_TYPES = (MT_LAYER, MT_LAYER_GZIP, DOCKER_LAYER_GZIP, DOCKER_LAYER,
               "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip")
REF_ANNOTATION = "io.boxkit.ref"
OCI_REF = "org.opencontainers.image.ref.name"
MAX_JSON = 4 << 20

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def check_digest(digest: object) -> str:
    """``digest`` if it is ``sha256:`` + 64 lowercase hex digits — the only form ever turned into a path."""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise SpecError(N_("digest"), digest if isinstance(digest, str) else repr(digest),
                        N_("expected sha256: and 64 lowercase hex digits"))
    return digest


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def chain_ids(diff_ids: list[str]) -> list[str]:
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else sha256(f"{out[-1]} {d}".encode()))
    return out


def canonical(obj: dict) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def dir_size(path: str) -> int:
    """Bytes a tree occupies on disk (allocated blocks, each inode once)."""
    total, seen = 0, set()
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


class Store:
    def __init__(self, root: str | None = None):
        self.root = root or paths.images_dir()

    # --- plumbing ----------------------------------------------------------------------------------
    def _init(self) -> None:
        if os.path.exists(os.path.join(self.root, "oci-layout")):
            return
        for d in ("blobs/sha256", "layers", "tmp"):
            os.makedirs(os.path.join(self.root, d), 0o700, exist_ok=True)
        self._write_atomic("oci-layout", canonical({"imageLayoutVersion": "1.0.0"}))

    def _write_atomic(self, rel: str, data: bytes) -> None:
        files.write_atomic(os.path.join(self.root, rel), data)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Serialise index writes and garbage collection between processes."""
        with files.locked(os.path.join(paths.ensure(paths.locks_dir()), "images.lock")):
            yield

    def tmpdir(self, prefix: str) -> str:
        import tempfile

        self._init()
        return tempfile.mkdtemp(prefix=prefix, dir=os.path.join(self.root, "tmp"))

    # --- blobs -------------------------------------------------------------------------------------
    def blob_path(self, digest: str) -> str:
        return os.path.join(self.root, "blobs", "sha256", check_digest(digest)[7:])

    def has_blob(self, digest: str) -> bool:
        return os.path.exists(self.blob_path(digest))

    def put_blob(self, data: bytes, expected: str | None = None) -> str:
        digest = sha256(data)
        if expected is not None and check_digest(expected) != digest:
            raise BoxkitError(N_("cannot store blob"), expected, detail=N_("its bytes hash to {digest}"),
                              hint=N_("the source is corrupt or was tampered with"), params={"digest": digest})
        self._init()
        path = self.blob_path(digest)
        if not os.path.exists(path):
            files.write_atomic(path, data)
        return digest

    def put_blob_stream(self, src, expected: str | None = None,
                        progress: Callable[[int], None] | None = None) -> tuple[str, int]:
        """Copy a stream into the store, hashing as it goes; the blob appears only if it verifies."""
        self._init()
        h = hashlib.sha256()
        n = 0
        tmp = os.path.join(self.root, "tmp", f"blob-{os.getpid()}-{time.monotonic_ns()}")
        try:
            with open(tmp, "wb") as f:
                while chunk := src.read(1 << 20):
                    h.update(chunk)
                    f.write(chunk)
                    n += len(chunk)
                    if progress:
                        progress(n)
            digest = "sha256:" + h.hexdigest()
            if expected is not None and check_digest(expected) != digest:
                raise BoxkitError(N_("cannot store blob"), expected, detail=N_("its bytes hash to {digest}"),
                                  hint=N_("the source is corrupt or was tampered with"), params={"digest": digest})
            os.replace(tmp, self.blob_path(digest))
            return digest, n
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def read_blob(self, digest: str, limit: int = MAX_JSON) -> bytes:
        path = self.blob_path(digest)
        try:
            with open(path, "rb") as f:
                data = f.read(limit + 1)
        except FileNotFoundError:
            raise NotFoundError(N_("blob"), digest,
                                hint=N_("the store is incomplete; pull or load the image again")) from None
        if len(data) > limit:
            raise BoxkitError(N_("cannot read blob"), digest, detail=N_("larger than {limit} bytes"), params={"limit": limit})
        if sha256(data) != digest:
            raise BoxkitError(N_("corrupt blob"), path, detail=N_("its bytes do not match its digest"),
                              hint=N_("remove it and pull or load the image again (boxkit rmi, then pull)"))
        return data

    def read_json(self, digest: str) -> dict:
        try:
            obj = json.loads(self.read_blob(digest))
        except ValueError:
            raise BoxkitError(N_("corrupt blob"), digest, detail=N_("not valid json")) from None
        if not isinstance(obj, dict):
            raise BoxkitError(N_("corrupt blob"), digest, detail=N_("not a json object"))
        return obj

    # --- layers ------------------------------------------------------------------------------------
    def layer_dir(self, diff_id: str) -> str:
        return os.path.join(self.root, "layers", check_digest(diff_id)[7:], "diff")

    def has_layer(self, diff_id: str) -> bool:
        return os.path.isdir(self.layer_dir(diff_id))

    def _commit_layer(self, tmp_parent: str, diff_id: str) -> str:
        """Move ``tmp_parent`` (holding ``diff/``) into place as layer ``diff_id``; first one wins."""
        final = os.path.dirname(self.layer_dir(diff_id))
        with open(os.path.join(tmp_parent, "size"), "w") as f:
            f.write(str(dir_size(os.path.join(tmp_parent, "diff"))))
        try:
            os.rename(tmp_parent, final)
        except OSError:
            if not os.path.isdir(final):
                raise
            shutil.rmtree(tmp_parent, ignore_errors=True)  # an identical layer arrived meanwhile
        return self.layer_dir(diff_id)

    def unpack_layer(self, desc: dict, diff_id: str, *, budget: int | None = None,
                     progress: Callable[[int], None] | None = None) -> str:
        """Unpack layer blob ``desc`` (already in the store) and check it yields ``diff_id``."""
        # lazy: layer loads tarfile (~20 ms); listing and reading the store needs no tar
        from .layer import DEFAULT_BUDGET, LayerError, apply_tar

        if self.has_layer(diff_id):
            return self.layer_dir(diff_id)
        digest = check_digest(desc.get("digest"))
        tmp = self.tmpdir("layer-")
        try:
            os.mkdir(os.path.join(tmp, "diff"), 0o755)
            try:
                with open(self.blob_path(digest), "rb") as f:
                    got = apply_tar(f, os.path.join(tmp, "diff"), budget=budget or DEFAULT_BUDGET,
                                    progress=progress)
            except FileNotFoundError:
                raise NotFoundError(N_("blob"), digest, hint=N_("pull or load the image again")) from None
            if got.blob_digest != digest:
                raise BoxkitError(N_("corrupt blob"), self.blob_path(digest), detail=N_("its bytes do not match its digest"),
                                  hint=N_("remove the image (boxkit rmi) and pull or load it again"))
            if got.diff_id != diff_id:
                raise LayerError("diff id", digest, f"the layer unpacks to {got.diff_id}, the config says {diff_id}")
            return self._commit_layer(tmp, diff_id)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def add_layer_dir(self, tree: str, *, keep_blob: bool = True) -> tuple[dict, str]:
        """Turn directory ``tree`` (overlay-prepared: whiteouts as 0/0 devices) into a stored layer.
        The tree is *moved* into the store. Returns the layer descriptor and its DiffID. With
        ``keep_blob=False`` the tar is only hashed; :meth:`ensure_blob` recreates it when needed."""
        # lazy: layer loads tarfile (~20 ms); only a commit or save writes one
        from .layer import write_tar

        self._init()
        tmp_blob = os.path.join(self.root, "tmp", f"tar-{os.getpid()}-{time.monotonic_ns()}")
        try:
            if keep_blob:
                with open(tmp_blob, "wb") as f:
                    diff_id, size = write_tar(tree, f)
                os.replace(tmp_blob, self.blob_path(diff_id))
            else:
                diff_id, size = write_tar(tree, None)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_blob)
        if not self.has_layer(diff_id):
            holder = self.tmpdir("layer-")
            os.rename(tree, os.path.join(holder, "diff"))
            self._commit_layer(holder, diff_id)
        else:
            shutil.rmtree(tree, ignore_errors=True)
        return {"mediaType": MT_LAYER, "digest": diff_id, "size": size}, diff_id

    def ensure_blob(self, desc: dict, diff_id: str) -> str:
        """The path of a layer blob, recreating an uncompressed one from its unpacked directory (the
        tar writer is deterministic, and the result must hash to the recorded digest)."""
        # lazy: layer loads tarfile (~20 ms); only a commit or save writes one
        from .layer import write_tar

        digest = check_digest(desc.get("digest"))
        path = self.blob_path(digest)
        if os.path.exists(path):
            return path
        if digest != diff_id or not self.has_layer(diff_id):
            raise NotFoundError(N_("blob"), digest, hint=N_("pull or load the image again"))
        tmp = os.path.join(self.root, "tmp", f"tar-{os.getpid()}-{time.monotonic_ns()}")
        try:
            with open(tmp, "wb") as f:
                got, _ = write_tar(self.layer_dir(diff_id), f)
            if got != digest:
                raise BoxkitError(N_("cannot recreate layer blob"), digest, detail=N_("the directory now hashes to {digest}"),
                                  hint=N_("the unpacked layer was modified; remove the image and rebuild it"),
                                  params={"digest": got})
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return path

    # --- images ------------------------------------------------------------------------------------
    def index(self) -> dict:
        try:
            with open(os.path.join(self.root, "index.json"), "rb") as f:
                idx = json.loads(f.read(MAX_JSON))
        except FileNotFoundError:
            return {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": []}
        except ValueError:
            raise BoxkitError(N_("corrupt image index"), os.path.join(self.root, "index.json"),
                              hint=N_("restore it or remove the images directory")) from None
        return idx

    def tags(self) -> dict[str, dict]:
        out = {}
        for m in self.index().get("manifests", []):
            ref = (m.get("annotations") or {}).get(REF_ANNOTATION)
            if ref:
                out[ref] = m
        return out

    def set_tag(self, ref: str, manifest_digest: str, size: int, media_type: str = MT_MANIFEST) -> None:
        name, tag = parse_ref(ref)
        ref = f"{name}:{tag}"
        with self.lock():
            self._init()
            idx = self.index()
            mans = [m for m in idx.get("manifests", []) if (m.get("annotations") or {}).get(REF_ANNOTATION) != ref]
            mans.append({"mediaType": media_type, "digest": check_digest(manifest_digest), "size": size,
                         "annotations": {REF_ANNOTATION: ref, OCI_REF: tag}})
            idx["manifests"] = mans
            self._write_atomic("index.json", canonical(idx))

    def untag(self, ref: str) -> None:
        """Drop a tag and nothing else (its layers stay, e.g. as build cache)."""
        with self.lock():
            idx = self.index()
            idx["manifests"] = [m for m in idx.get("manifests", [])
                                if (m.get("annotations") or {}).get(REF_ANNOTATION) != ref]
            self._write_atomic("index.json", canonical(idx))

    def write_image(self, layers: list[tuple[dict, str]], config: ImageConfig, history: list[dict],
                    ref: str | None = None, base_config: dict | None = None) -> str:
        """Store config + manifest for ``layers`` ([(descriptor, diff_id)] bottom first); tag it."""
        cfg = dict(base_config or {})
        cfg.update({
            "architecture": _arch(), "os": "linux",
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "config": config.to_oci(),
            "rootfs": {"type": "layers", "diff_ids": [d for _, d in layers]},
            "history": history,
        })
        cfg_bytes = canonical(cfg)
        cfg_digest = self.put_blob(cfg_bytes)
        manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
                    "config": {"mediaType": MT_CONFIG, "digest": cfg_digest, "size": len(cfg_bytes)},
                    "layers": [dict(desc) for desc, _ in layers]}
        mbytes = canonical(manifest)
        mdigest = self.put_blob(mbytes)
        if ref:
            self.set_tag(ref, mdigest, len(mbytes))
        return mdigest

    def manifest_of(self, ref_or_digest: str) -> tuple[str, dict, dict]:
        """``(manifest digest, manifest, config)`` for a tag or a manifest digest; NotFoundError else."""
        if ref_or_digest.startswith("sha256:"):
            mdigest = check_digest(ref_or_digest)
        else:
            name, tag = parse_ref(ref_or_digest)
            m = self.tags().get(f"{name}:{tag}")
            if m is None:
                raise NotFoundError(N_("image"), ref_or_digest, hint=N_("boxkit images lists the local images"))
            mdigest = check_digest(m.get("digest"))
        manifest = self.read_json(mdigest)
        cfg_desc = manifest.get("config") or {}
        config = self.read_json(check_digest(cfg_desc.get("digest")))
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if not isinstance(diff_ids, list) or len(diff_ids) != len(manifest.get("layers") or []):
            raise BoxkitError(N_("corrupt image"), ref_or_digest, detail=N_("config and manifest disagree on the layers"))
        for d in diff_ids:
            check_digest(d)
        return mdigest, manifest, config

    def resolve(self, name: str, tag: str) -> ResolvedImage | None:
        ref = f"{name}:{tag}"
        if ref not in self.tags():
            return None
        mdigest, manifest, config = self.manifest_of(ref)
        dirs = [self.unpack_layer(desc, diff)
                for desc, diff in zip(manifest["layers"], config["rootfs"]["diff_ids"], strict=True)]
        return ResolvedImage(ref=ref, layers=dirs, config=ImageConfig.from_dict(config.get("config") or {}),
                             digest=mdigest)

    def images(self) -> list[dict]:
        """One row per tag: ref, manifest digest, created, layer count, unpacked bytes."""
        rows = []
        for ref, m in sorted(self.tags().items()):
            try:
                mdigest, manifest, config = self.manifest_of(ref)
            except BoxkitError:
                rows.append({"ref": ref, "digest": m.get("digest"), "created": "?", "layers": 0, "size": 0})
                continue
            diffs = config["rootfs"]["diff_ids"]
            rows.append({"ref": ref, "digest": mdigest, "created": config.get("created", ""),
                         "layers": len(diffs), "size": sum(self.layer_size(d) for d in diffs),
                         "diff_ids": diffs})
        return rows

    def layer_size(self, diff_id: str) -> int:
        try:
            with open(os.path.join(os.path.dirname(self.layer_dir(diff_id)), "size")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return 0

    def history(self, ref: str) -> list[dict]:
        """The build steps of an image, top first, with the layer each made and its size."""
        _m, _man, config = self.manifest_of(ref)
        diffs = list(config["rootfs"]["diff_ids"])
        chains = chain_ids(diffs)
        rows = []
        i = 0
        for h in config.get("history") or [{}] * len(diffs):
            empty = bool(h.get("empty_layer"))
            row = {"created": h.get("created", ""), "created_by": h.get("created_by", ""),
                   "comment": h.get("comment", ""), "diff_id": None, "chain_id": None, "size": 0}
            if not empty and i < len(diffs):
                row.update(diff_id=diffs[i], chain_id=chains[i], size=self.layer_size(diffs[i]))
                i += 1
            rows.append(row)
        return list(reversed(rows))

    def layers_of(self, ref: str) -> list[dict]:
        """The layers of an image, bottom first: DiffID, tar bytes (from the manifest), bytes on disk
        and the step that made each."""
        _m, manifest, config = self.manifest_of(ref)
        steps = [h.get("created_by", "") for h in config.get("history") or [] if not h.get("empty_layer")]
        rows = []
        for i, (desc, diff) in enumerate(zip(manifest["layers"], config["rootfs"]["diff_ids"], strict=True)):
            rows.append({"diff_id": diff, "size": int(desc.get("size") or 0), "disk": self.layer_size(diff),
                         "created_by": steps[i] if i < len(steps) else ""})
        return rows

    def remove(self, ref: str) -> list[str]:
        """Untag ``ref`` and delete what no remaining image uses. Returns the removed digests."""
        name, tag = parse_ref(ref)
        ref = f"{name}:{tag}"
        with self.lock():
            idx = self.index()
            mans = idx.get("manifests", [])
            keep = [m for m in mans if (m.get("annotations") or {}).get(REF_ANNOTATION) != ref]
            if len(keep) == len(mans):
                raise NotFoundError(N_("image"), ref, hint=N_("boxkit images lists the local images"))
            idx["manifests"] = keep
            self._write_atomic("index.json", canonical(idx))
            return self._gc(keep)

    def _gc(self, manifests: list[dict]) -> list[str]:
        blobs: set[str] = set()
        diffs: set[str] = set()
        for m in manifests:
            try:
                _d, manifest, config = self.manifest_of(m["digest"])
            except (BoxkitError, KeyError):
                continue
            blobs.add(m["digest"])
            blobs.add(manifest["config"]["digest"])
            blobs.update(layer["digest"] for layer in manifest["layers"])
            diffs.update(config["rootfs"]["diff_ids"])
        removed = []
        bdir = os.path.join(self.root, "blobs", "sha256")
        for hexname in os.listdir(bdir) if os.path.isdir(bdir) else []:
            if "sha256:" + hexname not in blobs:
                os.unlink(os.path.join(bdir, hexname))
                removed.append("sha256:" + hexname)
        ldir = os.path.join(self.root, "layers")
        for hexname in os.listdir(ldir) if os.path.isdir(ldir) else []:
            if "sha256:" + hexname not in diffs:
                shutil.rmtree(os.path.join(ldir, hexname), ignore_errors=True)
                removed.append("layer sha256:" + hexname)
        return removed

    def df(self) -> dict:
        """Disk use: each layer once, how many images share it; shared vs unique bytes."""
        users: dict[str, set[str]] = {}
        for row in self.images():
            for d in row.get("diff_ids", []):
                users.setdefault(d, set()).add(row["ref"])
        layers = [{"diff_id": d, "size": self.layer_size(d), "images": sorted(refs)} for d, refs in users.items()]
        shared = sum(x["size"] for x in layers if len(x["images"]) > 1)
        unique = sum(x["size"] for x in layers if len(x["images"]) == 1)
        naive = sum(x["size"] * len(x["images"]) for x in layers)
        return {"layers": layers, "shared_bytes": shared, "unique_bytes": unique, "total_bytes": shared + unique,
                "without_sharing_bytes": naive}


def _arch() -> str:
    m = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(m, m)
