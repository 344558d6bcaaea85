"""Pulling images over the OCI distribution API (what ``docker pull`` speaks).

A registry is an HTTP server with two kinds of URL under ``/v2/<repository>/``:

* ``manifests/<tag or digest>`` — the manifest, or an *index* (a "manifest list") with one manifest
  per platform (``linux/amd64``, ``linux/arm64``...; build tools also add *attestation* manifests
  with platform ``unknown/unknown``, which are not images). The client says which formats it reads
  with ``Accept``: OCI and Docker media types;
* ``blobs/<digest>`` — configs and layers, often answered with a redirect to a storage server.

Authentication: a request without credentials gets ``401`` with a challenge, e.g.
``WWW-Authenticate: Bearer realm="https://auth.example/token",service="registry",scope="repository:app:pull"``.
The client asks the *realm* for a token (sending the user's credentials there, and only there), then
repeats the request with ``Authorization: Bearer <token>``. Redirects are followed by hand so the
``Authorization`` header is never sent to a different host (a blob storage server).

Everything is checked: a manifest fetched by digest must hash to it, blobs are hashed while they stream
into the store (:mod:`boxkit.images.store`), and each layer must unpack to the DiffID its config names.
Blobs already in the store are not fetched again, so an interrupted pull restarts where it stopped.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from ..errors import BoxkitError, NotFoundError, SpecError
from ..i18n import N_
from .store import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    LAYER_TYPES,
    MAX_JSON,
    MT_INDEX,
    MT_MANIFEST,
    Store,
    _arch,
    check_digest,
    sha256,
)

ACCEPT = ", ".join([MT_INDEX, MT_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])
DEFAULT_REGISTRY = "registry-1.docker.io"


def parse_remote(ref: str) -> tuple[str, str, str]:
    """``[host[:port]/]repo[:tag|@digest]`` → ``(host, repository, tag or digest)``."""
    if not ref or any(c.isspace() for c in ref):
        raise SpecError(N_("image reference"), ref, N_("expected [HOST[:PORT]/]NAME[:TAG]"))
    rest, digest = (ref.split("@", 1) + [""])[:2]
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost"):
        host, repo = first, remainder
    else:
        host, repo = DEFAULT_REGISTRY, rest
        if "/" not in repo.split(":")[0]:
            repo = "library/" + repo
    tag = "latest"
    if ":" in repo.rsplit("/", 1)[-1]:
        repo, tag = repo.rsplit(":", 1)
    if digest:
        tag = check_digest(digest)
    if not re.fullmatch(r"[a-z0-9]+(?:[._\-/][a-z0-9]+)*", repo):
        raise SpecError(N_("repository name"), repo, N_("lowercase letters, digits and . _ - / only"))
    return host, repo, tag


def _local(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0][1:]
    return name in ("localhost", "::1") or name.startswith("127.")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # handled in Client.request, so credentials are never forwarded


class Client:
    """A small registry client: challenges, tokens, redirects, size limits."""

    def __init__(self, host: str, repo: str, *, username: str | None = None, password: str | None = None,
                 insecure: bool | None = None, timeout: float = 30):
        self.host, self.repo = host, repo
        self.scheme = "http" if (insecure if insecure is not None else _local(host)) else "https"
        self.creds = (username, password) if username is not None else None
        self.timeout = timeout
        self.auth: str | None = None  # the Authorization header value once we have one
        self.opener = urllib.request.build_opener(_NoRedirect)

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}/v2/{self.repo}/{path}"

    def _open(self, url: str, headers: dict[str, str]):
        req = urllib.request.Request(url, headers=headers)
        try:
            return self.opener.open(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            return e  # an HTTPError is a response too: status, headers, body
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise BoxkitError(N_("cannot reach registry"), self.host, detail=str(reason).lower(),
                              hint=N_("check the address and that the registry is running")) from None

    def request(self, path: str, accept: str | None = None):
        url = self.url(path)
        origin = urllib.parse.urlsplit(url).netloc
        for attempt in range(2):
            headers = {"User-Agent": "boxkit"}
            if accept:
                headers["Accept"] = accept
            if self.auth:
                headers["Authorization"] = self.auth
            resp = self._open(url, headers)
            if resp.status == 401 and attempt == 0:
                self._authenticate(resp.headers.get("WWW-Authenticate", ""))
                continue
            hops = 0
            while resp.status in (301, 302, 303, 307, 308) and hops < 5:
                loc = urllib.parse.urljoin(url, resp.headers.get("Location", ""))
                same = urllib.parse.urlsplit(loc).netloc == origin
                h = {"User-Agent": "boxkit"}
                if same and self.auth:
                    h["Authorization"] = self.auth  # only to the registry itself, never to a blob store
                resp = self._open(loc, h)
                hops += 1
            return resp
        return resp

    def _authenticate(self, challenge: str) -> None:
        scheme, _, params = challenge.partition(" ")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        if scheme.lower() == "basic":
            if self.creds is None:
                raise BoxkitError(N_("registry needs credentials:"), self.host, hint=N_("give --username and a password"))
            self.auth = "Basic " + base64.b64encode(f"{self.creds[0]}:{self.creds[1]}".encode()).decode()
            return
        if scheme.lower() != "bearer" or "realm" not in fields:
            raise BoxkitError(N_("unsupported registry authentication at"), self.host,
                              detail=challenge[:80] or N_("none given"))
        realm = fields["realm"]
        if urllib.parse.urlsplit(realm).scheme not in ("http", "https"):
            raise BoxkitError(N_("bad token realm from"), self.host, detail=realm[:80])
        q = {k: v for k, v in fields.items() if k in ("service", "scope")}
        q.setdefault("scope", f"repository:{self.repo}:pull")
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(q)
        headers = {"User-Agent": "boxkit"}
        if self.creds is not None:  # credentials go to the realm the registry named, nowhere else
            headers["Authorization"] = "Basic " + base64.b64encode(
                f"{self.creds[0]}:{self.creds[1]}".encode()).decode()
        resp = self._open(url, headers)
        if resp.status != 200:
            raise BoxkitError(N_("token request refused by"), urllib.parse.urlsplit(realm).netloc,
                              detail=f"http {resp.status}", hint=N_("check the username and password"))
        try:
            body = json.loads(resp.read(MAX_JSON))
            token = body.get("token") or body.get("access_token")
        except ValueError:
            token = None
        if not token:
            raise BoxkitError(N_("no token from"), urllib.parse.urlsplit(realm).netloc)
        self.auth = f"Bearer {token}"

    def get_json(self, path: str, accept: str) -> tuple[dict, bytes, str]:
        resp = self.request(path, accept)
        if resp.status == 404:
            raise NotFoundError(N_("image"), f"{self.host}/{self.repo}:{path.rsplit('/', 1)[-1]}",
                                hint=N_("check the name and tag on the registry"))
        if resp.status != 200:
            raise BoxkitError(N_("registry error from"), self.host, detail=N_("http {status} for {path}"),
                              params={"status": resp.status, "path": path})
        data = resp.read(MAX_JSON + 1)
        if len(data) > MAX_JSON:
            raise BoxkitError(N_("manifest too large from"), self.host)
        try:
            obj = json.loads(data)
        except ValueError:
            raise BoxkitError(N_("invalid manifest from"), self.host, detail=N_("not json")) from None
        return obj, data, resp.headers.get("Content-Type", "").split(";")[0]


def _pick_platform(index: dict) -> str:
    arch = _arch()
    for m in index.get("manifests", []):
        p = m.get("platform") or {}
        ann = m.get("annotations") or {}
        if ann.get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        if p.get("os") == "linux" and p.get("architecture") == arch:
            return check_digest(m.get("digest"))
    have = sorted({f"{(m.get('platform') or {}).get('os')}/{(m.get('platform') or {}).get('architecture')}"
                   for m in index.get("manifests", [])})
    raise NotFoundError(N_("platform"), f"linux/{arch}", hint=N_("the image has only {platforms}"),
                        params={"platforms": ", ".join(have)})


def pull(ref: str, *, tag: str | None = None, username: str | None = None, password: str | None = None,
         insecure: bool | None = None, progress: Callable[[str, int, int], None] | None = None,
         store: Store | None = None) -> str:
    """Pull ``ref`` into the store and tag it (``tag`` or the reference itself). Returns the local ref."""
    store = store or Store()
    host, repo, tag_or_digest = parse_remote(ref)
    cl = Client(host, repo, username=username, password=password, insecure=insecure)
    obj, raw, ctype = cl.get_json(f"manifests/{tag_or_digest}", ACCEPT)
    if tag_or_digest.startswith("sha256:") and sha256(raw) != tag_or_digest:
        raise BoxkitError(N_("manifest digest mismatch from"), host, detail=N_("asked for {ref}"),
                          params={"ref": tag_or_digest})
    mtype = obj.get("mediaType") or ctype
    if mtype in (MT_INDEX, DOCKER_LIST) or "manifests" in obj:
        digest = _pick_platform(obj)
        obj, raw, ctype = cl.get_json(f"manifests/{digest}", ACCEPT)
        if sha256(raw) != digest:
            raise BoxkitError(N_("manifest digest mismatch from"), host, detail=N_("asked for {ref}"),
                              params={"ref": digest})
        mtype = obj.get("mediaType") or ctype
    if mtype not in (MT_MANIFEST, DOCKER_MANIFEST) or "layers" not in obj:
        raise BoxkitError(N_("unsupported manifest from"), host, detail=str(mtype)[:80],
                          hint=N_("boxkit pulls OCI and Docker v2 schema 2 images"))
    cfg_desc = obj.get("config") or {}
    _fetch_blob(cl, store, check_digest(cfg_desc.get("digest")), cfg_desc.get("size", 0), progress)
    config = store.read_json(cfg_desc["digest"])
    diffs = (config.get("rootfs") or {}).get("diff_ids") or []
    if len(diffs) != len(obj["layers"]):
        raise BoxkitError(N_("corrupt image from"), host, detail=N_("config and manifest disagree on the layers"))
    for desc, diff in zip(obj["layers"], diffs, strict=True):
        if desc.get("mediaType") not in LAYER_TYPES:
            raise BoxkitError(N_("unsupported layer from"), host, detail=str(desc.get("mediaType"))[:80])
        digest = check_digest(desc.get("digest"))
        if not store.has_layer(check_digest(diff)):
            _fetch_blob(cl, store, digest, int(desc.get("size") or 0), progress)
            store.unpack_layer(desc, diff)
        elif progress:
            progress(digest, int(desc.get("size") or 0), int(desc.get("size") or 0))
    mdigest = store.put_blob(raw)
    local = tag or (f"{host}/{repo}:{tag_or_digest}" if not tag_or_digest.startswith("sha256:")
                    else f"{host}/{repo}:{tag_or_digest[7:19]}")
    if host == DEFAULT_REGISTRY and tag is None:
        local = local.split("/", 1)[1].removeprefix("library/")
    store.set_tag(local, mdigest, len(raw), media_type=mtype)
    return local


def _fetch_blob(cl: Client, store: Store, digest: str, size: int,
                progress: Callable[[str, int, int], None] | None) -> None:
    if store.has_blob(digest):
        if progress:
            progress(digest, size, size)
        return
    resp = cl.request(f"blobs/{digest}")
    if resp.status != 200:
        raise BoxkitError(N_("cannot fetch blob"), digest, detail=N_("http {status} from {host}"),
                      params={"status": resp.status, "host": cl.host})
    cb = (lambda n: progress(digest, n, size)) if progress else None
    store.put_blob_stream(resp, expected=digest, progress=cb)


def progress_printer(stream=None) -> Callable[[str, int, int], None]:
    """A progress callback that prints one line per blob as it completes (and a carriage-return
    counter while it downloads when ``stream`` is a terminal)."""
    import sys

    out = stream or sys.stderr
    tty = hasattr(out, "isatty") and out.isatty()

    def cb(digest: str, done: int, total: int) -> None:
        if done >= total:
            out.write(f"\r{digest[7:19]}: done {total / 1e6:8.2f} MB\n")
        elif tty:
            out.write(f"\r{digest[7:19]}: {done / 1e6:8.2f}/{total / 1e6:.2f} MB")
        out.flush()

    return cb


__all__ = ["pull", "parse_remote", "Client", "progress_printer"]
