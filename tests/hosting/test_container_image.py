"""The privileged-container route: deploy/Containerfile builds with podman and its image runs the course.

No base image can be pulled here (no registry access), so the test makes one: mmdebstrap builds a
minimal Debian 12 root from the Debian mirror — what debian:bookworm-slim is — and podman imports it as
BASE. The build's RUN steps use the Debian mirror and this host's pip configuration (its CA bundle and
wheel cache are mounted into the build, never into the image). Then the image must work as a container
root: podman run --privileged when this host lets podman set rlimits, and in any case the exported root
file system in a hand-made privileged container (private mount and PID namespaces, /proc, /sys, /dev,
a real directory for /var/lib/boxkit, pivot_root) where the image's entrypoint runs boxkit probe.
(pivot_root, not chroot: the kernel refuses CLONE_NEWUSER to a chrooted process, see unshare(2).)
Slow (about two minutes): skipped when BOXKIT_SKIP_SLOW=1.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import uuid

import pytest
from hosting_util import REPO

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("BOXKIT_SKIP_SLOW") == "1", reason="slow: BOXKIT_SKIP_SLOW=1"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: podman build and a privileged container"),
    pytest.mark.skipif(not shutil.which("podman"), reason="needs podman (apt-get install podman)"),
]

CACHE = os.environ.get("BOXKIT_TEST_CACHE", "/var/tmp/boxkit-test-cache")
# this host's pip set-up (local wheels and indexes, the CA bundle of an intercepting proxy); mounted
# into the RUN steps only. The CA bundle goes to a side path: the image's own ca-certificates package
# must be free to write /etc/ssl/certs/ca-certificates.crt while apt installs it.
PIP_PATHS = ("/etc/xdg/pip", "/opt/wheels", "/opt/pypi", "/opt/pypi-more")
HOST_CA = "/etc/ssl/certs/ca-certificates.crt"
SIDE_CA = "/run/boxkit-host-ca.crt"


def _pip_mounts(workdir: str) -> list[str]:
    vols = [a for p in PIP_PATHS if os.path.exists(p) for a in ("-v", f"{p}:{p}:ro")]
    if os.path.exists("/etc/pip.conf"):
        with open("/etc/pip.conf") as f:
            conf = f.read().replace(HOST_CA, SIDE_CA)
        path = os.path.join(workdir, "pip.conf")
        with open(path, "w") as f:
            f.write(conf)
        vols += ["-v", f"{path}:/etc/pip.conf:ro"]
        if os.path.exists(HOST_CA):
            vols += ["-v", f"{HOST_CA}:{SIDE_CA}:ro"]
    return vols


@pytest.fixture(scope="module")
def podman():
    """podman on a store of its own (overlay: the build shares layers), removed with everything podman
    left in it — its mount, cgroups, late cleanup processes (boxkit/podman.py). The host's default store
    is not touched."""
    from boxkit.podman import Podman

    with Podman(driver="overlay") as store:
        yield store


def _is_tar(path: str) -> bool:
    """A cached base must be what its name says: a regular file that tar can read (a directory or a
    truncated file left by an earlier run is rebuilt, never trusted)."""
    if not os.path.isfile(path) or os.path.islink(path):
        return False
    try:
        with tarfile.open(path) as t:
            return t.next() is not None
    except (OSError, tarfile.TarError):
        return False


def _base_tar() -> str:
    """A minimal Debian 12 root as a tar, made once and kept in CACHE (CI points CACHE at a new empty
    directory, so this path is what a fresh machine runs)."""
    tar = os.path.join(CACHE, "bookworm-minbase.tar")
    if _is_tar(tar):
        return tar
    if os.path.lexists(tar):
        (shutil.rmtree if os.path.isdir(tar) and not os.path.islink(tar) else os.unlink)(tar)
    if not shutil.which("mmdebstrap"):
        pytest.skip("needs mmdebstrap to make a base image offline (apt-get install mmdebstrap)")
    os.makedirs(CACHE, exist_ok=True)
    # mmdebstrap picks its output format from the target's name unless told: "x.tar.part" is not a name
    # it knows, so it wrote a directory there, which the rename then put where the tar belongs
    part = tar + ".part"
    if os.path.lexists(part):
        (shutil.rmtree if os.path.isdir(part) and not os.path.islink(part) else os.unlink)(part)
    r = subprocess.run(["mmdebstrap", "--variant=minbase", "--format=tar", "--quiet", "bookworm", part],
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        pytest.skip(f"needs the Debian mirror for mmdebstrap: {r.stderr.strip()[-300:]}")
    assert _is_tar(part), f"mmdebstrap --format=tar did not write a tar at {part}"
    os.rename(part, tar)
    return tar


@pytest.fixture(scope="module")
def image(podman):
    for need in ("pyproject.toml", "README.md", "boxkit", "deploy", "notebooks", "docs"):
        if not os.path.exists(os.path.join(REPO, need)):
            pytest.skip(f"needs {need} in the repository: the Containerfile copies it")
    tag = uuid.uuid4().hex[:8]
    base, img = f"localhost/boxkit-test-base:{tag}", f"localhost/boxkit-test-course:{tag}"
    ctx = tempfile.mkdtemp(prefix="boxkit-ctx-")
    pipdir = None
    try:
        r = podman.run("import", "-q", _base_tar(), base, timeout=900)
        assert r.returncode == 0, r.stderr
        # the build context: the repository without its venv, git data and caches
        subprocess.run(f"tar cf - --exclude=.venv --exclude=.git --exclude=__pycache__ --exclude=build "
                       f"--exclude='*.egg-info' pyproject.toml README.md boxkit deploy notebooks docs "
                       f"| tar xf - -C {ctx}", shell=True, cwd=REPO, check=True)
        pipdir = tempfile.mkdtemp(prefix="boxkit-pip-", dir=os.path.dirname(ctx))
        vols = _pip_mounts(pipdir)
        r = podman.run("build", "--network", "host", *vols, "--build-arg", f"BASE={base}", "-t", img,
                       "-f", "deploy/Containerfile", ctx, timeout=1800)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        yield img
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
        if pipdir:
            shutil.rmtree(pipdir, ignore_errors=True)
        podman.run("rmi", "-f", img, timeout=120)
        podman.run("rmi", "-f", base, timeout=120)


def _probe_json(out: str) -> dict:
    """The JSON report at the end of the output (the entrypoint prints cgroup-nest and text first)."""
    start = out.rfind("\n{\n")
    return json.loads(out[start + 1 if start >= 0 else out.index("{"):])


def test_image_has_the_course(image, podman):
    r = podman.run("image", "inspect", image, "--format", "{{json .Config}}", timeout=60)
    assert r.returncode == 0, r.stderr
    cfg = json.loads(r.stdout)
    assert "8888/tcp" in (cfg.get("ExposedPorts") or {})
    assert "/var/lib/boxkit" in (cfg.get("Volumes") or {})
    assert cfg["Entrypoint"][-1] == "/opt/boxkit/deploy/entrypoint.sh"
    assert any(e.startswith("BOXKIT_ROOT=") for e in cfg.get("Env", []))


def test_image_root_runs_boxkit_probe_privileged(image, podman):
    """The exported image as the root of a hand-made privileged container: live, like --privileged."""
    work = tempfile.mkdtemp(prefix="boxkit-img-")
    name = f"boxkit-test-{uuid.uuid4().hex[:8]}"
    try:
        r = podman.run("create", "--name", name, image, "true", timeout=120)
        assert r.returncode == 0, r.stderr
        root, data = os.path.join(work, "root"), os.path.join(work, "data")
        os.makedirs(root)
        os.makedirs(data)
        exp = subprocess.run(f"{shlex.join(podman.argv('export', name))} | tar xf - -C {root}", shell=True,
                             capture_output=True,
                             text=True, timeout=300)
        assert exp.returncode == 0, exp.stderr
        script = f"""set -e
mount --make-rprivate /
mount --bind {root} {root}
mount -t proc proc {root}/proc
mount --rbind /sys {root}/sys
mount --rbind /dev {root}/dev
mount -t tmpfs tmpfs {root}/tmp
mkdir -p {root}/var/lib/boxkit {root}/.oldroot
mount --bind {data} {root}/var/lib/boxkit
cd {root}
pivot_root . .oldroot
exec /usr/bin/sh -c 'umount -l /.oldroot && rmdir /.oldroot &&
  exec /opt/boxkit/deploy/entrypoint.sh /opt/boxkit/.venv/bin/boxkit probe --json'
"""
        r = subprocess.run(["unshare", "--mount", "--pid", "--fork", "sh", "-c", script], capture_output=True,
                           text=True, timeout=180, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
        d = _probe_json(r.stdout)
        assert d["root"] is True and d["cap_sys_admin"] is True
        assert all(v == "ok" for v in d["namespaces"].values()), d["namespaces"]
        assert d["overlay"] and d["pivot_root"], [c for c in d["checks"] if c["status"] == "missing"]
        assert d["busybox"], "busybox-static must be in the image"
        assert d["mode"] == "live", [c for c in d["checks"] if c["status"] == "missing"]
    finally:
        podman.run("rm", "-f", name, timeout=120)
        shutil.rmtree(work, ignore_errors=True)


def test_podman_run_privileged(image, podman, tmp_path):
    """The route as a learner types it: podman run --privileged, the course's volume, the entrypoint.
    Low rlimits are passed because podman's defaults RAISE them, which a host without CAP_SYS_RESOURCE
    (this one) refuses; lowering is always allowed."""
    r = podman.run("run", "--rm", "--privileged", "--network", "none", "--ulimit", "nofile=1024:1024",
                   "--ulimit", "nproc=4096:4096", "-v", f"{tmp_path}:/var/lib/boxkit", image,
                   "/opt/boxkit/.venv/bin/boxkit", "probe", "--json", timeout=300)
    if r.returncode != 0 and ("setting rlimit" in r.stderr or "setrlimit" in r.stderr):
        pytest.skip(f"podman cannot start containers on this host: {r.stderr.strip()[-200:]}")
    assert r.returncode == 0, r.stderr[-3000:]
    d = _probe_json(r.stdout)
    assert d["root"] is True and d["cap_sys_admin"] is True and d["in_container"] is True
    assert all(v == "ok" for v in d["namespaces"].values()), d["namespaces"]
    assert d["overlay"] and d["pivot_root"], [c for c in d["checks"] if c["status"] == "missing"]
    assert d["mode"] == "live", [c for c in d["checks"] if c["status"] == "missing"]
