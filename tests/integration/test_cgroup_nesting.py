"""boxkit's groups nest below the group of the process that starts containers, and that group's limits
bound them (issue 24 §1): what a pod's limit or a hub's per-learner group needs.

The test makes a starter group of its own at the top of every v1 hierarchy (never under the sandbox's
/process_api group, which tests/conftest.py keeps boxkit away from), with a memory limit and a pids
limit, and starts a Python process inside it that runs containers through boxkit's API with
``BOXKIT_CGROUP_PARENT`` unset (the default rule). The containers land in ``<starter>/boxkit/<id>`` in
every hierarchy; a container with no limit of its own that allocates more than the starter's memory
limit is killed by the kernel; and nothing of boxkit's is left below the starter afterwards. The same
test runs in the cgroup v2 VM (tools/v2vm's default set), where the populated starter group first has
its processes moved to a leaf, ``<starter>/init`` (v2's no-internal-processes rule).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from boxkit import cgroups
from boxkit.cgroups import cpuset

HOST = cgroups.detect()

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: makes cgroups and starts real containers"),
    pytest.mark.skipif(HOST.mode == "none", reason="no cgroup file system"),
    pytest.mark.skipif(not shutil.which("busybox"), reason="needs busybox-static"),
]

LIMIT = 96 << 20     # the starter's memory limit: a container asking for twice that is killed
PIDS = 200

STARTER = r"""
import json, sys
import boxkit
from boxkit import cgroups
out = {"parent_rule": cgroups.detect().parent_rule}
with boxkit.run("busybox", ["sleep", "60"], detach=True) as c:
    with open(f"/proc/{c.pid}/cgroup") as f:
        out["where"] = {k: p for _n, ks, p in (ln.rstrip("\n").split(":", 2) for ln in f) for k in ks.split(",")}
# no limit of its own: only the starter's group bounds it. dd's buffer is one block of this size.
hog = boxkit.run("busybox", ["dd", "if=/dev/zero", "of=/dev/null", "bs=%dM" % (2 * %(limit)d >> 20), "count=1"])
out["hog_exit"], out["hog_oom"] = hog.exit_code, getattr(hog, "oom_killed", None)
small = boxkit.run("busybox", ["dd", "if=/dev/zero", "of=/dev/null", "bs=%dM" % (%(limit)d >> 22), "count=1"])
out["small_exit"] = small.exit_code
print(json.dumps(out))
""".replace("%(limit)d", str(LIMIT))


def _write(path: str, value) -> None:
    with open(path, "w") as f:
        f.write(str(value))


@pytest.fixture
def starter_group():
    """A group named for this test at the top of every hierarchy (v1: each one; v2: the one tree), with
    a memory and a pids limit; removed after, which fails if anything of boxkit's stayed below it. On v2
    the ``init`` leaf, where boxkit moved the starter's own processes, is the starter's to remove."""
    name = f"bxnest-{os.getpid()}"
    if HOST.version == 2:
        root = HOST.v2_root or "/sys/fs/cgroup"
        dirs = [os.path.join(root, name)]
        _write(os.path.join(root, "cgroup.subtree_control"), "+memory +pids")
    else:
        dirs = sorted({os.path.join(m, name) for m in HOST.v1.values()})
    made = []
    try:
        for d in dirs:
            os.mkdir(d)
            made.append(d)
            if HOST.version == 1 and os.path.exists(os.path.join(d, "cpuset.cpus")):
                cpuset.v1_prepare(d)
        if HOST.version == 2:
            _write(os.path.join(dirs[0], "memory.max"), LIMIT)
            if os.path.exists(os.path.join(dirs[0], "memory.swap.max")):   # the VM has no swap; a host may
                _write(os.path.join(dirs[0], "memory.swap.max"), 0)
            _write(os.path.join(dirs[0], "pids.max"), PIDS)
        else:
            _write(os.path.join(HOST.v1["memory"], name, "memory.limit_in_bytes"), LIMIT)
            if "pids" in HOST.v1:
                _write(os.path.join(HOST.v1["pids"], name, "pids.max"), PIDS)
        yield name, dirs
    finally:
        left = []
        for d in reversed(made):
            for sub, _dirs, _files in os.walk(d, topdown=False):
                if sub != d:
                    if sub != os.path.join(d, "init"):
                        left.append(sub)
                    os.rmdir(sub)
            os.rmdir(d)
        assert not left, f"boxkit left groups below the starter: {left}"


def test_containers_nest_under_the_starters_group_and_its_memory_limit_bounds_them(starter_group):
    name, dirs = starter_group
    env = {k: v for k, v in os.environ.items() if k != "BOXKIT_CGROUP_PARENT"}

    def join():
        for d in dirs:
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

    r = subprocess.run([sys.executable, "-c", STARTER], env=env, preexec_fn=join, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["parent_rule"] == "own cgroup", out
    for key in HOST.v1 if HOST.version == 1 else [""]:
        assert out["where"][key].startswith(f"/{name}/boxkit/"), (key, out["where"])
    if HOST.version == 2:   # the no-internal-processes rule: the starter moved to a leaf first
        assert os.path.isdir(os.path.join(dirs[0], "init")), os.listdir(dirs[0])
    # the starter's 96 MiB bound a container that had no limit of its own; half of it passed
    assert out["hog_exit"] == 137 and out["hog_oom"] is True, out
    assert out["small_exit"] == 0, out
    # the supervisor removed its base below the starter when it ended
    assert not any(os.path.exists(os.path.join(d, "boxkit")) for d in dirs), [os.listdir(d) for d in dirs]


@pytest.mark.skipif(HOST.version != 1, reason="the v1 layout")
def test_the_default_at_a_hierarchy_root_is_unchanged():
    """A starter whose group is the root in every hierarchy (tests/conftest.py's setting here) keeps
    today's place: /boxkit/<id> at each hierarchy's top."""
    h = cgroups.host.CgroupHost(HOST.mode, HOST.v1, HOST.v2_root, HOST.v2_controllers)
    h.parents, h.parent_rule = cgroups.host.parents(h, {k: "/" for k in HOST.v1}, None)
    assert h.parent_rule == "root"
    assert h.base("memory") == os.path.join(HOST.v1["memory"], "boxkit")
