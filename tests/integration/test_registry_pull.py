"""Pulls from a real registry (Debian's docker-registry) on 127.0.0.1 with bearer-token auth issued by
a tiny token server started here; seeded with boxkit's own images through skopeo."""

from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from boxkit.errors import BoxkitError, NotFoundError
from boxkit.images import resolve
from boxkit.images.registry import Client, parse_remote, pull
from boxkit.images.store import Store

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: layers keep owners"),
              pytest.mark.skipif(not shutil.which("docker-registry"), reason="needs docker-registry: apt-get install docker-registry"),
              pytest.mark.skipif(not shutil.which("skopeo"), reason="needs skopeo: apt-get install skopeo"),
              pytest.mark.skipif(not shutil.which("openssl"), reason="needs openssl to sign tokens"),
              pytest.mark.skipif(not os.path.exists("/bin/busybox"), reason="needs busybox-static")]

USER, PASSWORD = "alice", "s3cret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer(http.server.ThreadingHTTPServer):
    """Issues registry JWTs (RS256, certificate in x5c) to alice; records every request it sees."""

    def __init__(self, port, keydir):
        super().__init__(("127.0.0.1", port), _TokenHandler)
        self.keydir = keydir
        self.seen: list[dict] = []
        with open(os.path.join(keydir, "cert.pem")) as f:
            pem = "".join(line for line in f if "CERTIFICATE" not in line)
        self.x5c = pem.replace("\n", "")


class _TokenHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        srv: TokenServer = self.server
        auth = self.headers.get("Authorization", "")
        srv.seen.append({"path": self.path, "auth": auth})
        want = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if auth != want:
            self.send_response(401)
            self.end_headers()
            return
        q = dict(x.split("=", 1) for x in self.path.split("?", 1)[1].split("&"))
        scopes = [urllib.request.unquote(v) for k, v in q.items() if k == "scope"]
        access = []
        for sc in scopes:
            typ, name, actions = sc.split(":")
            access.append({"type": typ, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [srv.x5c]}
        claims = {"iss": "bk-issuer", "sub": USER, "aud": "bk-registry", "exp": now + 300, "nbf": now - 30,
                  "iat": now, "jti": str(now) + self.path[-8:], "access": access}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", os.path.join(srv.keydir, "key.pem")],
                             input=signing_input.encode(), capture_output=True, check=True).stdout
        body = json.dumps({"token": f"{signing_input}.{_b64(sig)}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _wait_port(port, proc=None, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("the registry exited: " + proc.stderr.read().decode()[-500:])
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    d = tmp_path_factory.mktemp("registry")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "key.pem"),
                    "-out", str(d / "cert.pem"), "-days", "1", "-subj", "/CN=bk-token"],
                   check=True, capture_output=True)
    tport, rport = _free_port(), _free_port()
    tokens = TokenServer(tport, str(d))
    threading.Thread(target=tokens.serve_forever, daemon=True).start()
    (d / "config.yml").write_text(f"""version: 0.1
log: {{level: error}}
storage:
  filesystem: {{rootdirectory: {d / 'data'}}}
  delete: {{enabled: true}}
http: {{addr: 127.0.0.1:{rport}}}
auth:
  token:
    realm: http://127.0.0.1:{tport}/token
    service: bk-registry
    issuer: bk-issuer
    rootcertbundle: {d / 'cert.pem'}
""")
    proc = subprocess.Popen(["docker-registry", "serve", str(d / "config.yml")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        _wait_port(rport, proc)
        yield {"host": f"127.0.0.1:{rport}", "tokens": tokens, "dir": d}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        tokens.shutdown()
        tokens.server_close()


@pytest.fixture(scope="module")
def seeded(registry, tmp_path_factory):
    """busybox and a two-layer app from boxkit's own store, pushed with skopeo."""
    from boxkit.build.builder import Build
    from boxkit.images.transfer import save_oci

    ctx = tmp_path_factory.mktemp("ctx")
    (ctx / "app.sh").write_text("echo pulled app\n")
    resolve("busybox")
    Build("busybox").copy("app.sh", "/app/").cmd(["sh", "/app/app.sh"]).build("bk-reg-app:v1", str(ctx), log=None)
    layout = tmp_path_factory.mktemp("layout")
    save_oci(["bk-reg-app:v1"], str(layout))
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"--dest-creds={USER}:{PASSWORD}",
                    f"oci:{layout}:v1", f"docker://{registry['host']}/bk/app:v1"], check=True, capture_output=True)
    Store().remove("bk-reg-app:v1")
    return registry


def test_pull_with_token_auth_and_run(seeded):
    # the session's BOXKIT_ROOT: the runtime's helper process keeps the root it started with
    import boxkit

    seen = []
    ref = f"{seeded['host']}/bk/app:v1"
    try:
        assert pull(ref, username=USER, password=PASSWORD, progress=lambda d, n, t: seen.append((d, n, t))) == ref
        assert any(n == t and t > 0 for _d, n, t in seen)  # progress reached the end of a layer
        img = resolve(ref)
        assert len(img.layers) == 2 and img.config.cmd == ["sh", "/app/app.sh"]
        auths = [s["auth"] for s in seeded["tokens"].seen]
        assert any(a.startswith("Basic ") for a in auths)  # the credentials went to the token realm
        r = boxkit.run(ref)
        assert r.exit_code == 0 and r.stdout.strip() == "pulled app"
        # pulling again fetches no blob: every one is already in the store (restartable)
        fetched = []
        assert pull(ref, tag="bk-again:1", username=USER, password=PASSWORD,
                    progress=lambda d, n, t: fetched.append(n == t)) == "bk-again:1"
        assert fetched and all(fetched)  # each blob reported complete at once, nothing streamed
    finally:
        s = Store()
        for t in (ref, "bk-again:1"):
            if t in s.tags():
                s.remove(t)


def test_wrong_password_and_unknown_tag(seeded, tmp_root):
    with pytest.raises(BoxkitError, match="token request refused"):
        pull(f"{seeded['host']}/bk/app:v1", username=USER, password="wrong")
    with pytest.raises(BoxkitError, match="token request refused"):
        pull(f"{seeded['host']}/bk/app:v1")  # no credentials at all
    with pytest.raises(NotFoundError):
        pull(f"{seeded['host']}/bk/app:nope", username=USER, password=PASSWORD)
    assert Store().tags() == {}


def test_index_picks_this_platform_and_skips_attestations(seeded, tmp_root):
    cl = Client(seeded["host"], "bk/app", username=USER, password=PASSWORD)
    manifest, raw, ctype = cl.get_json("manifests/v1", "application/vnd.oci.image.manifest.v1+json, "
                                                       "application/vnd.docker.distribution.manifest.v2+json")
    from boxkit.images.store import _arch, sha256

    digest = sha256(raw)
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": ctype, "digest": digest, "size": len(raw),
         "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
         "platform": {"os": "unknown", "architecture": "unknown"}},
        {"mediaType": ctype, "digest": digest, "size": len(raw), "platform": {"os": "linux", "architecture": _arch()}},
    ]}
    body = json.dumps(index).encode()
    cl.auth = None
    cl.request("manifests/v1")  # gets a pull token; push needs a push scope: ask for one
    cl._authenticate(f'Bearer realm="http://{_token_host(seeded)}/token",service="bk-registry",'
                     f'scope="repository:bk/app:pull,push"')
    req = urllib.request.Request(cl.url("manifests/multi"), data=body, method="PUT",
                                 headers={"Content-Type": index["mediaType"], "Authorization": cl.auth})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 201
    ref = pull(f"{seeded['host']}/bk/app:multi", tag="bk-multi:1", username=USER, password=PASSWORD)
    assert resolve(ref).digest == digest


def _token_host(seeded):
    return f"127.0.0.1:{seeded['tokens'].server_address[1]}"


def test_registry_down_is_one_sentence(tmp_root):
    with pytest.raises(BoxkitError, match=r"^cannot reach registry 127\.0\.0\.1:1: .* — check the address"):
        pull("127.0.0.1:1/x:1")


def test_credentials_never_follow_a_redirect_to_another_host(tmp_root):
    """A registry that redirects blob downloads elsewhere: the other host sees no Authorization."""
    seen_by_storage: list[str] = []

    class Storage(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            seen_by_storage.append(self.headers.get("Authorization", ""))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    storage = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Storage)
    sport = storage.server_address[1]

    class Registry(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"alice:s3cret").decode():
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="r"')
                self.end_headers()
                return
            self.send_response(307)
            self.send_header("Location", f"http://localhost:{sport}/blob")  # another host name
            self.end_headers()

    reg = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    for s in (storage, reg):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    try:
        cl = Client(f"127.0.0.1:{reg.server_address[1]}", "x", username=USER, password=PASSWORD)
        resp = cl.request("blobs/sha256:" + "0" * 64)
        assert resp.status == 200 and resp.read() == b"ok"
        assert seen_by_storage == [""]
    finally:
        for s in (storage, reg):
            s.shutdown()
            s.server_close()


def test_parse_remote():
    assert parse_remote("busybox") == ("registry-1.docker.io", "library/busybox", "latest")
    assert parse_remote("localhost:5000/a/b:v2") == ("localhost:5000", "a/b", "v2")
    assert parse_remote("127.0.0.1:5000/app@sha256:" + "a" * 64)[2] == "sha256:" + "a" * 64
