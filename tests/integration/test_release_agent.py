"""The release_agent escape, attempted: with ``--cap-add SYS_ADMIN`` a container mounts every v1
hierarchy the host has, and none may show a ``release_agent`` it can write (CVE-2022-0492's shape).

boxkit gives each container a group of its own in every mounted v1 hierarchy, named ones included
(boxkit/cgroups/__init__.py, "Why every hierarchy"), so a mount from inside its cgroup namespace shows
its own group, never a hierarchy's root. The attempt writes only the value ``release_agent`` already
holds (tests/cgroup_escape.py), so a broken run changes nothing on the host. The OCI front's half is
in test_oci_runtime.py and test_oci_podman.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest
from cgroup_escape import SCRIPT, parse, v1_hierarchies

import boxkit
from boxkit import cgroups

HIERARCHIES = v1_hierarchies()

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: starts real containers"),
    pytest.mark.skipif(not HIERARCHIES, reason="no cgroup v1 hierarchy on this host: no release_agent to reach"),
    pytest.mark.skipif(not shutil.which("busybox"), reason="needs busybox-static"),
]


def assert_contained(stdout: str, cap_sys_admin: bool) -> None:
    seen = parse(stdout)
    assert set(seen) == set(HIERARCHIES), stdout
    for opts, what in seen.items():
        assert "WRITABLE" not in what, f"{opts}: {what}"
        if cap_sys_admin:
            # the mount must work, or the test proves nothing: what it shows is the container's own group
            assert what == "mounted cgroup=yes release_agent=absent", f"{opts}: {what}"
        else:
            assert what == "refused", f"{opts}: {what}"
    n = len(open("/proc/self/cgroup").read().splitlines())
    assert f"cgroup lines: {n}, at the namespace root: {n}" in stdout, stdout


@pytest.mark.parametrize("cap_sys_admin", [True, False], ids=["cap-add-SYS_ADMIN", "default"])
def test_no_hierarchy_root_is_reachable_from_a_container(cap_sys_admin):
    # three starts: the first builds its container the long way, the next ones may take a spare
    for _ in range(3):
        r = boxkit.run("busybox", ["sh", "-c", SCRIPT, "sh", *HIERARCHIES],
                       cap_add=["SYS_ADMIN"] if cap_sys_admin else None)
        assert r.exit_code == 0, r.stderr
        assert_contained(r.stdout, cap_sys_admin)


def test_the_long_way_and_an_exec_are_contained_too():
    env = {**os.environ, "BOXKIT_NO_SPARE": "1"}
    r = subprocess.run([sys.executable, "-m", "boxkit", "run", "--rm", "--cap-add", "SYS_ADMIN", "busybox",
                        "sh", "-c", SCRIPT, "sh", *HIERARCHIES], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert_contained(r.stdout, True)
    # an exec'd process joins the container's group in every hierarchy, and its cgroup namespace
    with boxkit.run("busybox", ["sleep", "60"], detach=True, cap_add=["SYS_ADMIN"]) as c:
        e = c.exec(["sh", "-c", SCRIPT, "sh", *HIERARCHIES])
        assert e.exit_code == 0, e.stderr
        assert "WRITABLE" not in e.stdout, e.stdout
        n = len(open("/proc/self/cgroup").read().splitlines())
        assert f"cgroup lines: {n}, at the namespace root: {n}" in e.stdout, e.stdout


def test_the_group_spans_every_hierarchy_and_goes_with_the_container():
    host = cgroups.detect()
    with boxkit.run("busybox", ["sleep", "60"], detach=True) as c:
        with open(f"/proc/{c.pid}/cgroup") as f:
            lines = [ln.rstrip("\n").split(":", 2) for ln in f]
        where = {ctrls: path for _n, ctrls, path in lines if ctrls}
        assert where and all(path.endswith("/" + c.id) for path in where.values()), where
        dirs = [os.path.join(host.v1[key.split(",")[0]], path.lstrip("/")) for key, path in where.items()]
        assert all(os.path.isdir(d) for d in dirs), dirs
    # remove() only notifies the zygote, which handles it next: give it a moment
    deadline = time.monotonic() + 5
    while any(os.path.exists(d) for d in dirs) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(os.path.exists(d) for d in dirs), dirs
