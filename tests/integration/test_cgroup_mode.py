"""Which cgroup driver boxkit really uses on this kernel — asserted when the caller says what to expect.

The v2 VM runner (``python -m tools.v2vm``) sets ``BOXKIT_EXPECT_CGROUP=v2``: inside the guest, a run
that silently fell back to v1 (or found no cgroups) would otherwise pass the enforcement tests for the
wrong reason. On the host nothing is expected and the test skips.
"""

from __future__ import annotations

import os
import time

import pytest

from boxkit import cgroups
from boxkit.cgroups.host import CGROUP2_SUPER_MAGIC

EXPECT = os.environ.get("BOXKIT_EXPECT_CGROUP")

pytestmark = pytest.mark.skipif(not EXPECT, reason="set BOXKIT_EXPECT_CGROUP=v1|v2|hybrid to assert the mode")


def test_detected_mode_is_the_expected_one():
    host = cgroups.detect(refresh=True)
    assert host.mode == EXPECT, f"expected cgroup {EXPECT}, detected {host.mode} ({host})"
    if EXPECT == "v2":
        assert host.version == 2
        assert host.v1 == {}, "no v1 hierarchy may be mounted on a v2-only kernel"
        for c in ("memory", "cpu", "pids"):
            assert c in host.v2_controllers, f"controller {c} missing from cgroup.controllers"


def test_v2_statfs_magic_is_cgroup2():
    if EXPECT != "v2":
        pytest.skip(f"asserted only when BOXKIT_EXPECT_CGROUP=v2 (it is {EXPECT})")
    from boxkit._sys import SYS
    assert SYS.statfs_type("/sys/fs/cgroup") == CGROUP2_SUPER_MAGIC


def test_container_group_uses_the_expected_driver():
    """A real container's group lives where the expected driver puts it, and is gone afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root: starts a container")
    import boxkit

    with boxkit.run("busybox", ["sleep", "30"], memory="64M", pids_limit=10, detach=True) as c:
        g = c.cgroup
        assert g is not None
        assert g.host.version == (2 if EXPECT == "v2" else 1)
        paths = g.paths
        if EXPECT == "v2":
            assert paths == [os.path.join("/sys/fs/cgroup/boxkit", g.cid)]
            assert open(os.path.join(paths[0], "memory.max")).read().strip() == str(64 << 20)
            assert open(os.path.join(paths[0], "pids.max")).read().strip() == "10"
            assert c.pid in g.pids()
    deadline = time.monotonic() + 5   # the supervisor removes the group right after the exit
    while any(os.path.exists(p) for p in paths) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(os.path.exists(p) for p in paths)
