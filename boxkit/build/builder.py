"""Building images: one layer per step, and a cache that skips steps whose inputs did not change.

A build file is a recipe in Dockerfile syntax (boxkit supports the subset that teaches the idea)::

    FROM busybox
    COPY app.py /app/            # a layer holding the copied files
    RUN echo built > /app/stamp  # a layer holding what the command changed (a container's upper dir)
    ENV MODE=prod                # config only: no layer
    WORKDIR /app
    CMD ["python3", "app.py"]

Each ``COPY`` and ``RUN`` produces a layer; ``ENV``, ``WORKDIR``, ``CMD`` and ``ENTRYPOINT`` only change
the image config. The **cache** is what makes a rebuild cheap: every step gets a key, the hash of the
previous step's key, the instruction text and — for ``COPY`` — the names, modes and contents of the
copied files. When a step's key was seen before and its layer is still in the store, the layer is
reused and the output says ``CACHED``, as docker's does. Change one file and its ``COPY`` gets a new
key, and so does every step after it (their parent changed), while the steps before stay cached: put
what changes least first.

``RUN`` executes in a real boxkit container started from the image built so far; its upper dir
becomes the layer (:mod:`boxkit.build.commit`).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shlex
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass

from .. import files
from ..errors import BoxkitError, NotFoundError, SpecError
from ..images import ImageConfig, parse_ref, resolve
from ..images.store import Store, canonical
from ..runtime import Container
from ..spec import ContainerSpec
from .commit import layer_from_upper

CACHE_VERSION = "boxkit-build-1"  # bump when a step's meaning changes: old cache entries then miss
INSTRUCTIONS = ("FROM", "COPY", "RUN", "ENV", "WORKDIR", "CMD", "ENTRYPOINT")


@dataclass
class Instruction:
    op: str
    args: list[str]
    line: int = 0
    json_form: bool = False

    def text(self) -> str:
        return f"{self.op} {json.dumps(self.args) if self.json_form else ' '.join(self.args)}"


def _argv(rest: str, line: int, op: str) -> tuple[list[str], bool]:
    """The exec form ``["a", "b"]`` or the shell form ``a b`` of RUN/CMD/ENTRYPOINT/COPY."""
    s = rest.strip()
    if s.startswith("["):
        try:
            v = json.loads(s)
        except ValueError:
            v = None
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return v, True
        raise SpecError("build file", f"line {line}", f"{op} has a malformed JSON array")
    return [s], False


def parse(text: str) -> list[Instruction]:
    """Parse build-file text; comments, blank lines and ``\\`` continuations as in a Dockerfile."""
    out: list[Instruction] = []
    logical, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if not logical:
            start = n
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        out.append(_instruction(logical, start))
        logical = ""
    if logical:
        out.append(_instruction(logical, start))
    if not out or out[0].op != "FROM":
        raise SpecError("build file", "line 1", "the first instruction must be FROM")
    return out


def _instruction(logical: str, line: int) -> Instruction:
    word, _, rest = logical.partition(" ")
    op = word.upper()
    if op not in INSTRUCTIONS:
        raise SpecError("build file instruction", word, f"line {line}: boxkit builds know "
                        + ", ".join(INSTRUCTIONS))
    rest = rest.strip()
    if not rest:
        raise SpecError("build file", f"line {line}", f"{op} needs an argument")
    if op in ("RUN", "CMD", "ENTRYPOINT"):
        args, js = _argv(rest, line, op)
        return Instruction(op, args, line, js)
    if op == "COPY":
        if rest.startswith("["):
            args, _ = _argv(rest, line, op)
        else:
            args = shlex.split(rest)
        if any(a.startswith("--") for a in args):
            raise SpecError("build file", f"line {line}", "COPY options (--from, --chown) are not supported")
        if len(args) < 2:
            raise SpecError("build file", f"line {line}", "COPY needs a source and a destination")
        return Instruction(op, args, line, True)
    if op == "ENV":
        if "=" in rest.split()[0]:
            pairs = shlex.split(rest)
            if not all("=" in p and p.split("=", 1)[0] for p in pairs):
                raise SpecError("build file", f"line {line}", "ENV expects KEY=VALUE pairs")
            return Instruction(op, pairs, line)
        key, _, value = rest.partition(" ")
        return Instruction(op, [f"{key}={value.strip()}"], line)
    return Instruction(op, [rest], line)  # FROM, WORKDIR


class Build:
    """The Python form of a build file: ``Build("busybox").copy("app.py", "/app/").run("...")``."""

    def __init__(self, base: str):
        self.steps: list[Instruction] = [Instruction("FROM", [base])]

    def copy(self, *src_and_dest: str) -> Build:
        self.steps.append(Instruction("COPY", list(src_and_dest), json_form=True))
        return self

    def run(self, command: str | list[str]) -> Build:
        is_list = isinstance(command, list)
        self.steps.append(Instruction("RUN", list(command) if is_list else [command], json_form=is_list))
        return self

    def env(self, **values: str) -> Build:
        self.steps.append(Instruction("ENV", [f"{k}={v}" for k, v in values.items()]))
        return self

    def workdir(self, path: str) -> Build:
        self.steps.append(Instruction("WORKDIR", [path]))
        return self

    def cmd(self, argv: str | list[str]) -> Build:
        self.steps.append(Instruction("CMD", argv if isinstance(argv, list) else [argv], json_form=isinstance(argv, list)))
        return self

    def entrypoint(self, argv: str | list[str]) -> Build:
        self.steps.append(Instruction("ENTRYPOINT", argv if isinstance(argv, list) else [argv],
                                      json_form=isinstance(argv, list)))
        return self

    def build(self, tag: str | None = None, context: str = ".", **kw) -> BuildResult:
        return build(self.steps, tag, context, **kw)


@dataclass
class BuildResult:
    digest: str
    ref: str | None
    cached_steps: int
    built_steps: int
    seconds: float
    log: list[str]


def build_file(path: str, tag: str | None, context: str, **kw) -> BuildResult:
    try:
        with open(path) as f:
            text = f.read(1 << 20)
    except FileNotFoundError:
        raise NotFoundError("build file", path, hint="give -f FILE or put a Boxfile/Dockerfile in the context") from None
    return build(parse(text), tag, context, **kw)


# --- the engine ------------------------------------------------------------------------------------

def _cache_path(store: Store, key: str) -> str:
    return os.path.join(store.root, "cache", key)


def _cache_get(store: Store, key: str) -> dict | None:
    try:
        with open(_cache_path(store, key)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _cache_put(store: Store, key: str, value: dict) -> None:
    d = os.path.join(store.root, "cache")
    os.makedirs(d, 0o700, exist_ok=True)
    files.write_json(_cache_path(store, key), value)


def _inside(context: str, rel: str) -> str:
    """``rel`` resolved inside the build context; symlinks may not lead out of it."""
    ctx = os.path.realpath(context)
    full = os.path.realpath(os.path.join(ctx, rel.lstrip("/")))
    if full != ctx and not full.startswith(ctx + os.sep):
        raise SpecError("COPY source", rel, "leads outside the build context")
    if not os.path.lexists(full):
        raise NotFoundError("file", rel, hint=f"COPY sources are relative to the build context {context}")
    return full


def _hash_sources(sources: list[str]) -> str:
    h = hashlib.sha256()
    for src in sources:
        paths = [src]
        if os.path.isdir(src):
            paths = []
            for dirpath, dirnames, filenames in os.walk(src):
                dirnames.sort()
                paths.append(dirpath)
                paths += [os.path.join(dirpath, f) for f in sorted(filenames)]
                paths += [os.path.join(dirpath, d) for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        for p in paths:
            st = os.lstat(p)
            h.update(f"{os.path.relpath(p, os.path.dirname(src))}\0{st.st_mode:o}\0".encode())
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(p).encode())
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
    return h.hexdigest()


def _copy_layer(store: Store, sources: list[str], dest: str, workdir: str) -> tuple[dict, str]:
    tree = os.path.join(store.tmpdir("copy-"), "diff")
    os.mkdir(tree, 0o755)
    as_dir = dest.endswith(("/", "/.")) or dest == "." or len(sources) > 1 or os.path.isdir(sources[0])
    if not dest.startswith("/"):
        dest = os.path.join(workdir or "/", dest)
    parts = [p for p in os.path.normpath(dest).split("/") if p]
    if ".." in parts:
        raise SpecError("COPY destination", dest, "may not contain '..'")
    target = os.path.join(tree, *parts) if parts else tree
    os.makedirs(target if as_dir else os.path.dirname(target), 0o755, exist_ok=True)
    for src in sources:
        if os.path.isdir(src) and not os.path.islink(src):
            shutil.copytree(src, target, symlinks=True, dirs_exist_ok=True)  # a dir's *contents*, as docker
        else:
            dst = os.path.join(target, os.path.basename(src)) if as_dir else target
            shutil.copy2(src, dst, follow_symlinks=True)
    # the directories made to hold the copy (/app of "COPY app.sh /app/") take the newest source's mtime,
    # not the clock's: the same sources then pack into the same tar, hence the same layer (content
    # addressing dedupes it), build after build
    stamp = max(os.lstat(src).st_mtime_ns for src in sources)
    made = [os.path.join(tree, *parts[:i]) for i in range(len(parts) + (1 if as_dir else 0))]
    for d in reversed(made):
        os.utime(d, ns=(stamp, stamp))
    try:
        return store.add_layer_dir(tree)
    finally:
        shutil.rmtree(os.path.dirname(tree), ignore_errors=True)


def run_step(store: Store, layers: list[tuple[dict, str]], config: ImageConfig, history: list[dict],
             argv: list[str], log: Callable[[str], None]) -> tuple[dict, str]:
    """Run ``argv`` in a container of the image built so far; its upper dir becomes the layer."""

    tmp_ref = f"boxkit-build-{secrets.token_hex(4)}:step"
    store.write_image(layers, config, history, ref=tmp_ref)
    try:
        env = dict(e.split("=", 1) for e in config.env if "=" in e)
        spec = ContainerSpec.create(tmp_ref, argv, env=env, cwd=config.workdir or "/")
        c = Container(spec)
        try:
            c.start()
            log(f" ---> Running in {c.id}")
            r = c.wait()
            for line in (r.stdout + r.stderr).splitlines():
                log(line)
            if r.exit_code != 0:
                raise BoxkitError("build step failed:", " ".join(argv)[:120],
                                  detail=f"the command exited with {r.exit_code}",
                                  hint="fix the command; the steps before it stay cached")
            return layer_from_upper(c.upper_dir, store)
        finally:
            c.remove()
    finally:
        store.untag(tmp_ref)


def build(steps: list[Instruction], tag: str | None = None, context: str = ".", *,
          log: Callable[[str], None] | None = print, no_cache: bool = False,
          cache_scope: str = "") -> BuildResult:
    """Run the steps; ``no_cache`` builds every step (and refreshes the cache, like ``docker build
    --no-cache``). ``cache_scope`` starts a cache of its own: its keys share nothing with other scopes,
    so the first build in a new scope builds every step and later builds in it hit what that one made
    (the course gives each run of a lesson a fresh scope, so a learner sees layers being built)."""
    t0 = time.monotonic()
    lines: list[str] = []

    def say(s: str) -> None:
        lines.append(s)
        if log is not None:
            log(s)

    if tag is not None:
        name, t = parse_ref(tag)
        tag = f"{name}:{t}"
    if not os.path.isdir(context):
        raise NotFoundError("build context", context, hint="give the directory COPY reads from")
    store = Store()

    base_ref = steps[0].args[0]
    say(f"Step 1/{len(steps)} : FROM {base_ref}")
    base = resolve(base_ref)
    _d, manifest, base_cfg = store.manifest_of(base.digest or base.ref)
    layers = list(zip(manifest["layers"], base_cfg["rootfs"]["diff_ids"], strict=True))
    config = ImageConfig.from_dict(base_cfg.get("config") or {})
    history = list(base_cfg.get("history") or [])
    say(f" ---> {base.digest[7:19] if base.digest else base.ref}")
    scope = f"\nscope {cache_scope}" if cache_scope else ""
    key = hashlib.sha256(f"{CACHE_VERSION}{scope}\nFROM {base.digest}".encode()).hexdigest()
    cached = built = 0
    for i, ins in enumerate(steps[1:], 2):
        say(f"Step {i}/{len(steps)} : {ins.text()}")
        if ins.op == "FROM":
            raise SpecError("build file", f"line {ins.line}", "multi-stage builds (a second FROM) are not supported")
        inputs = ""
        if ins.op == "COPY":
            sources = [_inside(context, s) for s in ins.args[:-1]]
            inputs = _hash_sources(sources)
        key = hashlib.sha256(f"{key}\n{ins.text()}\n{inputs}".encode()).hexdigest()
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if ins.op in ("ENV", "WORKDIR", "CMD", "ENTRYPOINT"):
            _apply_config(config, ins)
            history.append({"created": when, "created_by": ins.text(), "empty_layer": True})
            continue
        hit = None if no_cache else _cache_get(store, key)
        if hit and store.has_layer(hit["diff_id"]) and (store.has_blob(hit["desc"]["digest"])
                                                        or hit["desc"]["digest"] == hit["diff_id"]):
            layers.append((hit["desc"], hit["diff_id"]))
            history.append(hit["history"])
            say(" ---> CACHED")
            cached += 1
            continue
        t1 = time.monotonic()
        if ins.op == "COPY":
            layer = _copy_layer(store, sources, ins.args[-1], config.workdir)
        else:
            argv = ins.args if ins.json_form else ["/bin/sh", "-c", ins.args[0]]
            layer = run_step(store, layers, config, history, argv, say)
        h = {"created": when, "created_by": ins.text()}
        _cache_put(store, key, {"desc": layer[0], "diff_id": layer[1], "history": h})
        layers.append(layer)
        history.append(h)
        built += 1
        say(f" ---> {layer[1][7:19]} ({time.monotonic() - t1:.2f}s)")
    # the final image is cached too: an unchanged build yields the very same image digest
    final_key = hashlib.sha256(f"{key}\nIMAGE\n{canonical(config.to_oci()).decode()}".encode()).hexdigest()
    hit = None if no_cache else _cache_get(store, final_key)
    if hit and store.has_blob(hit["manifest"]):
        digest = hit["manifest"]
        if tag:
            store.set_tag(tag, digest, hit["size"])
    else:
        digest = store.write_image(layers, config, history, ref=tag)
        _cache_put(store, final_key, {"manifest": digest, "size": os.path.getsize(store.blob_path(digest))})
    say(f"Successfully built {digest[7:19]}")
    if tag:
        say(f"Successfully tagged {tag}")
    return BuildResult(digest, tag, cached, built, time.monotonic() - t0, lines)


def _apply_config(config: ImageConfig, ins: Instruction) -> None:
    if ins.op == "ENV":
        env = dict(e.split("=", 1) for e in config.env if "=" in e)
        for pair in ins.args:
            k, v = pair.split("=", 1)
            env[k] = v
        config.env = [f"{k}={v}" for k, v in env.items()]
    elif ins.op == "WORKDIR":
        config.workdir = os.path.normpath(os.path.join(config.workdir or "/", ins.args[0]))
    elif ins.op == "CMD":
        config.cmd = ins.args if ins.json_form else ["/bin/sh", "-c", ins.args[0]]
    elif ins.op == "ENTRYPOINT":
        config.entrypoint = ins.args if ins.json_form else ["/bin/sh", "-c", ins.args[0]]
