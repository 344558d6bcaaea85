"""Numbers for the overlay notebook: copy-up cost, what N containers cost, the seed's v1/v2 story.

* **Copy-up.** A lower layer is read-only; the first *open for writing* of one of its files makes
  overlayfs copy the *whole* file into the upper dir before ``open`` returns (with ``metacopy=on`` a
  chmod/chown copies only the metadata, and the data follows at that same first open for writing).
  Appending one byte to a 100 MB lower file therefore costs a 100 MB copy once; later writes go to the
  upper copy. :func:`copy_up_latency` measures that first append against file size on a real overlay;
  :func:`copy_up_at_open` shows *when* the copy happens (bytes in upper after a read-only open, then
  after an open for writing that writes nothing).
* **Containers are cheap on disk.** N containers of one image share its layers; each only has an upper
  dir holding what it changed. :func:`containers_cost` starts N, lets each write a little, and counts
  the bytes of the upper dirs against the image's.
* **A registry** (:func:`registry_roundtrip`): Debian's ``docker-registry`` started on 127.0.0.1, an
  image pushed the way ``docker push`` does it (each layer gzip'd, so the manifest names the
  *compressed* digests; the config, unchanged, keeps the *diff ids*), pulled back with
  :func:`boxkit.images.registry.pull` into an empty store and into the store that built it, run, and
  everything removed.
* **The seed's example** (``docs/img/overlay1.png``/``overlay2.png``): an app with two dependencies
  built as 1.0, then 2.0 changing only the app. :func:`build_seed_app` builds both with the real
  builder; the images share every layer but the app's.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

from . import _sys
from .build import build_file
from .i18n import _
from .images import resolve
from .images.overlay import escape, mount_overlay
from .images.registry import ACCEPT, Client, pull
from .images.store import MT_LAYER_GZIP, MT_MANIFEST, Store, canonical, dir_size, sha256
from .runtime import run


def copy_up_latency(sizes: list[int], workdir: str | None = None, repeat: int = 3) -> list[tuple[int, float]]:
    """Seconds of the first one-byte append to a lower file of each size (median of ``repeat``)."""

    base = tempfile.mkdtemp(prefix="bk-copyup-", dir=workdir or "/var/tmp")
    out = []
    try:
        lower = os.path.join(base, "lower")
        os.mkdir(lower)
        for size in sizes:
            with open(os.path.join(lower, f"f{size}"), "wb") as f:
                f.truncate(0)
                chunk = os.urandom(min(size, 1 << 20))
                left = size
                while left > 0:
                    f.write(chunk[:left])
                    left -= len(chunk)
        for size in sizes:
            times = []
            for _try in range(repeat):
                upper, work, merged = (os.path.join(base, d) for d in ("upper", "work", "merged"))
                for d in (upper, work, merged):
                    shutil.rmtree(d, ignore_errors=True)
                    os.mkdir(d)
                mount_overlay([lower], upper, work, merged)
                try:
                    t = time.perf_counter()
                    with open(os.path.join(merged, f"f{size}"), "ab") as f:
                        f.write(b"x")
                    times.append(time.perf_counter() - t)
                finally:
                    _sys.SYS.umount2(merged, _sys.MNT_DETACH)
            times.sort()
            out.append((size, times[len(times) // 2]))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return out


def fs_type(path: str) -> str:
    """The type of the file system holding ``path`` (the longest mount point above it in
    /proc/self/mountinfo): whether copy-up can clone blocks (xfs, btrfs) or must copy them."""
    path, best, kind = os.path.realpath(path), "", "?"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = fields[4].replace("\\040", " ")
            inside = path == point or path.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best):
                best, kind = point, line.split(" - ", 1)[1].split()[0]
    return kind


def copy_up_at_open(size: int = 32 << 20, workdir: str | None = None) -> dict:
    """*When* copy-up happens. A lower file of ``size`` bytes is opened read-only (and read), then
    opened for writing with nothing written; after each, the bytes its upper copy holds on disk
    (allocated blocks, 0 while there is no copy). Then one byte is appended and the file opened for
    writing once more: ``same_inode`` says the second open used the copy already in upper."""
    base = tempfile.mkdtemp(prefix="bk-copyup-open-", dir=workdir or "/var/tmp")
    try:
        lower, upper, work, merged = (os.path.join(base, d) for d in ("lower", "upper", "work", "merged"))
        for d in (lower, upper, work, merged):
            os.mkdir(d)
        with open(os.path.join(lower, "big"), "wb") as f:
            chunk = os.urandom(1 << 20)
            for left in range(size, 0, -len(chunk)):
                f.write(chunk[:left])
        copy = os.path.join(upper, "big")

        def held() -> int:
            return os.stat(copy).st_blocks * 512 if os.path.exists(copy) else 0

        mount_overlay([lower], upper, work, merged)
        try:
            fd = os.open(os.path.join(merged, "big"), os.O_RDONLY)
            try:
                os.read(fd, 4096)
                after_read = held()
            finally:
                os.close(fd)
            fd = os.open(os.path.join(merged, "big"), os.O_WRONLY | os.O_APPEND)
            try:
                after_open = held()   # nothing written yet
                first_ino = os.stat(copy).st_ino if os.path.exists(copy) else 0
                os.write(fd, b"x")
            finally:
                os.close(fd)
            fd = os.open(os.path.join(merged, "big"), os.O_WRONLY | os.O_APPEND)
            try:
                second_ino = os.stat(copy).st_ino if os.path.exists(copy) else -1
            finally:
                os.close(fd)
        finally:
            _sys.SYS.umount2(merged, _sys.MNT_DETACH)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return {"size": size, "fs": fs_type(workdir or "/var/tmp"),
            "after_read_open": after_read, "after_write_open": after_open,
            "upper_inode": first_ino, "same_inode": first_ino != 0 and first_ino == second_ino}


def _disk(path: str) -> int:

    return dir_size(path)


def _root_overlay(pid: int) -> dict[str, str]:
    """``lowerdir`` and ``upperdir`` of the overlay mounted at ``/`` for process ``pid``, as the kernel
    shows them in ``/proc/PID/mountinfo`` (the super options after `` - overlay overlay``)."""
    with open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            head, _sep, tail = line.partition(" - ")
            fields = tail.split()
            if head.split()[4] == "/" and fields and fields[0] == "overlay":
                opts = dict(o.split("=", 1) for o in fields[2].split(",") if "=" in o)
                return {"lower": opts.get("lowerdir", ""), "upper": opts.get("upperdir", "")}
    return {"lower": "", "upper": ""}


def containers_cost(ref: str, n: int = 10, write_bytes: int = 4096) -> dict:
    """Start ``n`` containers of ``ref``, each writing ``write_bytes`` to a new file; measure the upper
    dirs (what the containers cost) against the image's layers (paid once). ``lowerdirs``/``upperdirs``:
    what each container's root overlay stacks, read from its mount table; ``image_lowerdir``: the
    image's layer dirs as a ``lowerdir`` option; ``wrote``: the upper dirs holding their container's
    file of ``write_bytes``; ``upper_paths``: what the first upper dir holds."""
    image = resolve(ref)
    image_bytes = sum(r["disk"] for r in Store().layers_of(image.ref))
    cs = []
    try:
        for i in range(n):
            cs.append(run(ref, ["sh", "-c", f"head -c {write_bytes} /dev/zero > /tmp/out{i}; sleep 60"],
                                 detach=True))
        # the shell makes the file (its redirect) before head writes into it: wait for every byte
        deadline = time.monotonic() + 10
        for i, c in enumerate(cs):
            out = os.path.join(c.upper_dir, "tmp", f"out{i}")
            while not (os.path.isfile(out) and os.path.getsize(out) == write_bytes) \
                    and time.monotonic() < deadline:
                time.sleep(0.02)
        uppers = [_disk(c.upper_dir) for c in cs]
        mounts = [_root_overlay(c.pid) for c in cs]
        outs = [os.path.join(c.upper_dir, "tmp", f"out{i}") for i, c in enumerate(cs)]
        wrote = sum(1 for p in outs if os.path.isfile(p) and os.path.getsize(p) == write_bytes)
        first = cs[0].upper_dir if cs else ""
        paths = sorted(os.path.relpath(os.path.join(d, x), first)
                       for d, ds, fs in os.walk(first) for x in ds + fs) if first else []
    finally:
        for c in cs:
            c.remove()
    return {"containers": n, "image_bytes": image_bytes, "upper_bytes": uppers,
            "total_bytes": image_bytes + sum(uppers), "without_sharing_bytes": n * image_bytes + sum(uppers),
            "lowerdirs": [m["lower"] for m in mounts], "upperdirs": [m["upper"] for m in mounts],
            "image_lowerdir": ":".join(escape(p) for p in reversed(image.layers)),
            "write_bytes": write_bytes, "wrote": wrote, "upper_paths": paths}


def _data(seed: int, size: int) -> bytes:
    rnd = random.Random(seed)  # deterministic bytes: the same layers, the same digests, every run
    return bytes(rnd.getrandbits(8) for _byte in range(size))


SEED_MTIME = 1767225600   # 2026-01-01T00:00:00Z: the context's files carry it, so the layers are the same every run


def _pin_mtimes(root: str) -> None:
    """Give every file and directory under ``root`` the same mtime: a layer's tar records mtimes, so
    files rewritten with the same bytes then pack into the same tar, the same diff id, the same layer
    (content addressing dedupes it in the store, run after run)."""
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            os.utime(os.path.join(d, n), (SEED_MTIME, SEED_MTIME), follow_symlinks=False)
    os.utime(root, (SEED_MTIME, SEED_MTIME))


def build_seed_app(workdir: str, name: str = "seed-app", log=None, *, cache_scope: str = "",
                   results: list | None = None) -> tuple[str, str]:
    """Build ``NAME:1.0`` and ``NAME:2.0``: busybox + dependency A + dependency B + the app. Only the
    app differs between the versions. Returns the two refs; each build's BuildResult is appended to
    ``results``. A new ``cache_scope`` makes 1.0 a first build (every step built) whatever the store
    built before."""

    ctx = os.path.join(workdir, "seed-app")
    for dep, size, seed in (("dep-a", 96 * 1024, 1), ("dep-b", 160 * 1024, 2)):
        os.makedirs(os.path.join(ctx, dep), exist_ok=True)
        with open(os.path.join(ctx, dep, "lib.bin"), "wb") as f:
            f.write(_data(seed, size))
    with open(os.path.join(ctx, "Boxfile"), "w") as f:
        f.write("FROM busybox\nCOPY dep-a /deps/a\nCOPY dep-b /deps/b\nCOPY app.sh /app/\n"
                'CMD ["sh", "/app/app.sh"]\n')
    refs = []
    for version in ("1.0", "2.0"):
        with open(os.path.join(ctx, "app.sh"), "w") as f:
            f.write(f'echo "app {version} using $(ls /deps | tr "\\n" " ")"\n')
            if version == "2.0":
                f.write('echo "new feature: $(date -u +%Y)"\n')
        _pin_mtimes(ctx)
        ref = f"{name}:{version}"
        r = build_file(os.path.join(ctx, "Boxfile"), ref, ctx, log=log, cache_scope=cache_scope)
        if results is not None:
            results.append(r)
        refs.append(ref)
    return refs[0], refs[1]


def shared_layers(a: str, b: str) -> dict:
    """Which layers two images share and how many bytes the second adds."""

    la, lb = Store().layers_of(a), Store().layers_of(b)
    ids_a = {r["diff_id"] for r in la}
    shared = [r for r in lb if r["diff_id"] in ids_a]
    added = [r for r in lb if r["diff_id"] not in ids_a]
    return {"shared": len(shared), "shared_bytes": sum(r["size"] for r in shared),
            "added": len(added), "added_bytes": sum(r["size"] for r in added)}


# --- a registry on 127.0.0.1 -------------------------------------------------------------------------

REGISTRY = "docker-registry"   # Debian's package of the CNCF distribution registry (what Docker Hub runs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def local_registry(workdir: str | None = None):
    """Debian's ``docker-registry`` on 127.0.0.1 (a free port, no authentication), its storage in a
    new directory. Yields ``{"host", "dir", "storage"}``; on exit the registry is stopped and the
    directory removed, and ``"exit_code"`` and ``"dir_left"`` say how that went."""
    exe = shutil.which(REGISTRY)
    if exe is None:
        raise FileNotFoundError(REGISTRY)
    d = tempfile.mkdtemp(prefix="bk-registry-", dir=workdir or "/var/tmp")
    port = _free_port()
    storage = os.path.join(d, "data")
    with open(os.path.join(d, "config.yml"), "w") as f:
        f.write(f"version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {storage}}}\n"
                f"http: {{addr: 127.0.0.1:{port}}}\n")
    info: dict = {"host": f"127.0.0.1:{port}", "dir": d, "storage": storage}
    with open(os.path.join(d, "log"), "wb") as log:
        proc = subprocess.Popen([exe, "serve", os.path.join(d, "config.yml")], stdout=log, stderr=log)
    try:
        for _poll in range(300):   # up to about 15 s, polled by count
            if proc.poll() is not None:
                with open(os.path.join(d, "log"), errors="replace") as f:
                    raise RuntimeError(f"{REGISTRY} exited: {f.read()[-300:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"{REGISTRY} does not listen on 127.0.0.1:{port}")
        yield info
    finally:
        proc.terminate()
        try:
            info["exit_code"] = proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            info["exit_code"] = proc.wait()
        shutil.rmtree(d, ignore_errors=True)
        info["dir_left"] = os.path.exists(d)


def _send(url: str, data: bytes | None, method: str, ctype: str = "application/octet-stream"):
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, resp.headers


def _upload(base: str, data: bytes) -> str:
    """One blob, the distribution API's two requests: POST opens an upload, PUT ?digest= ends it."""
    digest = sha256(data)
    _status, headers = _send(f"{base}/blobs/uploads/", b"", "POST")
    loc = urllib.parse.urljoin(base, headers["Location"])
    status, _h = _send(loc + ("&" if "?" in loc else "?") + "digest=" + digest, data, "PUT")
    if status != 201:
        raise RuntimeError(f"upload of {digest} answered {status}")
    return digest


def push_gzip(ref: str, host: str, repo: str, tag: str, store: Store | None = None) -> dict:
    """Push local image ``ref`` to ``host`` as ``repo:tag`` the way ``docker push`` does: each layer's
    tar gzip'd (the store keeps them uncompressed), uploaded under the digest of the *compressed*
    bytes; the config uploaded unchanged (its ``rootfs.diff_ids`` still name the uncompressed tars);
    then a manifest naming both. Returns the manifest sent and, per layer, both digests and sizes."""
    store = store or Store()
    local_digest, manifest, config = store.manifest_of(ref)
    base = f"http://{host}/v2/{repo}"
    layers = []
    for desc, diff in zip(manifest["layers"], config["rootfs"]["diff_ids"], strict=True):
        with open(store.ensure_blob(desc, diff), "rb") as f:
            tar = f.read()
        gz = gzip.compress(tar, compresslevel=6, mtime=0)   # mtime 0: the same tar, the same blob
        layers.append({"diff_id": diff, "tar_bytes": len(tar), "digest": _upload(base, gz),
                       "gzip_bytes": len(gz)})
    cfg = manifest["config"]
    _upload(base, store.read_blob(cfg["digest"]))
    sent = {"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": cfg,
            "layers": [{"mediaType": MT_LAYER_GZIP, "digest": x["digest"], "size": x["gzip_bytes"]}
                       for x in layers]}
    body = canonical(sent)
    _send(f"{base}/manifests/{tag}", body, "PUT", MT_MANIFEST)
    return {"manifest": sent, "manifest_digest": sha256(body), "local_manifest_digest": local_digest,
            "config_digest": cfg["digest"], "layers": layers}


def _registry_blobs(storage: str) -> set[str]:
    """The digests a registry's file system storage holds (``.../blobs/sha256/ab/<hex>/data``)."""
    root = os.path.join(storage, "docker", "registry", "v2", "blobs", "sha256")
    out = set()
    for d, _dirs, files in os.walk(root):
        if "data" in files:
            out.add("sha256:" + os.path.basename(d))
    return out


def registry_roundtrip(ref: str, repo: str = "seed-app", tag: str = "2.0",
                       pulled: str = "seed-app:pulled") -> dict:
    """Start a registry on 127.0.0.1, push ``ref`` (:func:`push_gzip`), read back what the registry
    holds (the manifest, the config, the blob names on its disk), pull it with boxkit into an empty
    store and then into this store as ``pulled``, run the pulled image, then remove the tag, the
    empty store, the registry and its directory. ``{"missing": sentence}`` where the host has no
    registry program."""
    if shutil.which(REGISTRY) is None:
        # i18n: {program} and {package} are the same name (docker-registry); "the cells below" are the
        # notebook's cells that would show the registry's contents
        return {"missing": _("This host has no {program} program (Debian package {package}), so no "
                             "registry can be started here: the cells below show nothing.").format(
                                 program=REGISTRY, package=REGISTRY)}
    out: dict = {}
    scratch = tempfile.mkdtemp(prefix="bk-pull-", dir="/var/tmp")
    store = Store()
    try:
        with local_registry() as reg:
            out["pushed"] = push_gzip(ref, reg["host"], repo, tag, store)
            cl = Client(reg["host"], repo)
            manifest, raw, _ctype = cl.get_json(f"manifests/{tag}", ACCEPT)
            out["manifest"], out["manifest_digest"] = manifest, sha256(raw)
            out["config"] = json.loads(cl.request(f"blobs/{manifest['config']['digest']}").read())
            out["registry_blobs"] = sorted(_registry_blobs(reg["storage"]))
            remote = f"{reg['host']}/{repo}:{tag}"
            # 1. a machine that has none of it: every blob comes over the wire
            empty = Store(os.path.join(scratch, "store"))
            got: dict[str, int] = {}
            pull(remote, tag=pulled, store=empty, progress=lambda d, n, t: got.__setitem__(d, n))
            out["empty_fetched"] = got
            out["empty_diff_ids"] = [r["diff_id"] for r in empty.layers_of(pulled)]
            # 2. this store, which built the image: only what it lacks is fetched
            blobs = os.path.join(store.root, "blobs", "sha256")
            before = set(os.listdir(blobs))
            pull(remote, tag=pulled, store=store)
            out["new_blobs"] = sorted("sha256:" + h for h in set(os.listdir(blobs)) - before)
        out["registry_exit"], out["registry_dir_left"] = reg["exit_code"], reg["dir_left"]
        out["run_pulled"] = run(pulled).stdout
    finally:
        if pulled in store.tags():
            store.remove(pulled)
        shutil.rmtree(scratch, ignore_errors=True)
    out["pulled_tag_left"] = pulled in store.tags()
    return out
