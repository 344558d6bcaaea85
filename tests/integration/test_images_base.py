"""The offline base images, built from the host on first use and run as real containers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from boxkit.errors import NotFoundError
from boxkit.images import base, resolve

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: starts real containers")]

needs_busybox = pytest.mark.skipif(not os.path.exists("/bin/busybox"),
                                   reason="needs busybox-static: apt-get install busybox-static")


@needs_busybox
def test_busybox_tree(tmp_root):
    img = resolve("busybox")
    assert img.ref == "busybox:latest" and len(img.layers) == 1 and img.config.cmd == ["sh"]
    root = img.layers[0]
    assert os.path.samefile(os.path.realpath(os.path.join(root, "bin/busybox")), os.path.join(root, "bin/busybox"))
    assert os.readlink(os.path.join(root, "bin/ls")) == "/bin/busybox"
    assert oct(os.stat(os.path.join(root, "tmp")).st_mode & 0o7777) == "0o1777"
    assert oct(os.stat(os.path.join(root, "proc")).st_mode & 0o777) == "0o555"
    assert open(os.path.join(root, "etc/passwd")).read().startswith("root:x:0:0:")
    assert resolve("busybox:latest").layers == img.layers  # built once, then reused


# containers run under the session's BOXKIT_ROOT: the runtime's helper process outlives one test's root

@needs_busybox
def test_busybox_runs_in_a_container():
    import boxkit

    r = boxkit.run("busybox", ["sh", "-c", "id -un; ls /bin/cat; echo $PATH"])
    assert r.exit_code == 0, r.stderr
    out = r.stdout.decode() if isinstance(r.stdout, bytes) else r.stdout
    assert out.splitlines()[0] == "root"
    assert "/bin/cat" in out and "/usr/bin" in out


def test_host_image_runs_python():
    import boxkit

    r = boxkit.run("host", ["python3", "-c", "import json, ssl, sys; print(sys.version_info[:2])"])
    assert r.exit_code == 0, r.stderr
    out = r.stdout.decode() if isinstance(r.stdout, bytes) else r.stdout
    assert out.strip() == str(tuple(sys.version_info[:2]))
    r = boxkit.run("host", ["bash", "-c", "ls / && id -u"], user="1000:1000")
    assert r.exit_code == 0, r.stderr


def test_missing_busybox_says_what_to_install(tmp_root, monkeypatch):
    monkeypatch.setattr(base, "BUSYBOX", "/nonexistent/busybox")
    with pytest.raises(NotFoundError, match="apt-get install -y busybox-static"):
        resolve("busybox")


def test_unknown_image_points_at_boxkit_images(tmp_root):
    with pytest.raises(NotFoundError, match=r"^no such image 'nope:1': not found — boxkit images"):
        resolve("nope:1")


@needs_busybox
def test_concurrent_first_use_builds_once(tmp_root):
    code = "from boxkit.images import resolve; print(resolve('busybox').layers[0])"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env={**os.environ, "BOXKIT_NO_GC": "1"}) for _ in range(4)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert len({o[0] for o in outs}) == 1
    # one layer in the store, nothing half-built left behind
    from boxkit.images.store import Store

    store = Store()
    assert len(os.listdir(os.path.join(store.root, "layers"))) == 1
    assert os.listdir(os.path.join(store.root, "tmp")) == []
