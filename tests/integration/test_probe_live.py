"""The probe on this real host: as root, and as a fresh non-root user made for the test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading

import pytest
from learners import make_user

import boxkit
from boxkit import probe as P

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: compares root and non-root probes")]


def _statfs_type(path: str) -> str | None:
    """The file system type by statfs(2) magic, through coreutils' stat -f (independent of the
    mount-table reading the probe does)."""
    r = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def test_root_report_on_this_host():
    r = boxkit.probe(refresh=True)
    assert r.root and r.euid == 0
    assert r.namespaces == {n: "ok" for n in P.NAMESPACES}, r.text()
    assert r.overlay and r.pivot_root and r.netns, r.text()
    top, unified = _statfs_type("/sys/fs/cgroup"), _statfs_type("/sys/fs/cgroup/unified")
    want = ("v2" if top == "cgroup2fs" else
            "hybrid" if top == "tmpfs" and unified == "cgroup2fs" else "v1" if top == "tmpfs" else "none")
    assert r.cgroup_mode == want
    assert r.kernel == os.uname().release
    assert r.busybox == (shutil.which("busybox") if P.find_busybox() else None)
    assert r.in_container == (os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv")
                              or bool(r.container_hints))
    if r.cap_sys_admin and r.cgroup_writable:
        assert r.mode == "live" and r.live


def test_the_seccomp_line_counts_the_filter_the_containers_load():
    """The probe's size of the default filter is the program boxkit loads into a container, decoded:
    whole 8-byte instructions (notebook 06 counts the same program)."""
    import base64

    from boxkit.security import seccomp
    from boxkit.security.capabilities import DEFAULT_MASK

    raw = base64.b64decode(seccomp.program(seccomp.default_profile(), DEFAULT_MASK))
    why = boxkit.probe(refresh=True).check("seccomp").why
    assert f"into {len(raw) // 8} BPF instructions ({len(raw)} bytes)" in why, why
    assert len(raw) % 8 == 0


def test_probe_is_cached_and_safe_from_threads():
    """A Jupyter kernel runs threads; the probe must not fork it (it runs a separate process)."""
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)
    t.start()
    try:
        first = boxkit.probe()
        assert boxkit.probe() is first
        fresh = boxkit.probe(refresh=True)
        assert fresh is not first and fresh.mode == first.mode
    finally:
        stop.set()
        t.join()


def test_cli_json_as_root():
    r = subprocess.run([sys.executable, "-m", "boxkit", "probe", "--json"], capture_output=True, text=True,
                       timeout=60, cwd=REPO)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["root"] is True and d["euid"] == 0
    assert d["mode"] in ("live", "rootless", "recorded")
    assert {c["key"] for c in d["checks"]} >= {"root", "ns.pid", "overlay", "pivot_root", "cgroup.create"}


def test_cli_text_as_root():
    r = subprocess.run([sys.executable, "-m", "boxkit", "probe"], capture_output=True, text=True, timeout=60,
                       cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("boxkit probe: mode ") and "pivot_root" in r.stdout


def _python_for(user: str) -> str | None:
    """An interpreter the user may execute: ours unless it lives under a private home (pyenv in /root)."""
    for cand in (sys.executable, "/usr/bin/python3"):
        if subprocess.run(["runuser", "-u", user, "--", "test", "-x", cand]).returncode == 0:
            return cand
    return None


@pytest.fixture
def unprivileged_user():
    with make_user("bkt") as u:   # the one non-root test user of the suite (tests/learners.py)
        yield u.name


def test_cli_json_as_a_non_root_user(unprivileged_user, learner_repo):
    py = _python_for(unprivileged_user)
    if py is None:
        pytest.skip("needs a python the test user may execute (the venv's lives under a private home)")
    uid = int(subprocess.run(["id", "-u", unprivileged_user], capture_output=True, text=True).stdout)
    env = ["env", f"PYTHONPATH={learner_repo}", "BOXKIT_ROOT=/nonexistent"]
    r = subprocess.run(["runuser", "-u", unprivileged_user, "--", *env, py, "-m", "boxkit", "probe", "--json"],
                       capture_output=True, text=True, timeout=60, cwd="/")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["root"] is False and d["euid"] == uid and d["live"] is False
    assert d["mode"] in ("rootless", "recorded")
    assert {c["key"]: c["status"] for c in d["checks"]}["root"] == "missing"
    host = boxkit.probe()
    if host.userns_unprivileged:
        # what root saw nobody do in a user namespace, this user can do too
        assert d["userns_unprivileged"] is True and d["mode"] == "rootless"
        assert all(v in ("ok", "userns") for k, v in d["namespaces"].items()), d["namespaces"]
        assert d["overlay"] == bool(host.overlay_userns)
    if host.cgroup_mode != "v2":
        assert d["cgroup_writable"] is False  # v1 hierarchies belong to root
