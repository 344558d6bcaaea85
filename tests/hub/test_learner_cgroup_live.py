"""deploy/onevm/learner_cgroup.py on the real kernel, without a hub: a learner's group bounds memory and
tasks, and nothing is left after. It runs on this host's cgroup v1 (hybrid) and, through
``python -m tools.v2vm tests/hub/test_learner_cgroup_live.py``, on a cgroup v2 kernel, where the
spawner makes one unified group instead of a memory and a pids one."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "deploy", "onevm"))
from learner_cgroup import LearnerGroup, groups_left  # noqa: E402

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: makes cgroups")]

MEMORY = 64 * 1024**2
TASKS = 32

FORK = """
import os, time
kids, err = [], None
for _ in range(10000):
    try:
        pid = os.fork()
    except OSError as e:
        err = e.strerror
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    kids.append(pid)
for k in kids:
    os.kill(k, 9)
    os.waitpid(k, 0)
print(len(kids), err)
"""


def test_a_learners_group_bounds_memory_and_tasks_and_leaves_nothing():
    if groups_left():
        pytest.skip(f"learner groups exist already (a hub is running?): {groups_left()}")
    g = LearnerGroup("bkcg" + uuid.uuid4().hex[:8])
    sleepers = []
    try:
        g.create(MEMORY, TASKS)
        print(f"layout {g.layout}: {g.dirs}")
        # a hog of twice the limit: OOM-killed in the group, whose peak stops at the limit
        hog = subprocess.run([sys.executable, "-c", f"b = b'x' * {2 * MEMORY}"], preexec_fn=g.join,
                             capture_output=True)
        use = g.usage()
        print(f"hog: exit {hog.returncode}; {use}")
        assert hog.returncode == -9 and use.oom_kills == 1, (hog, use)
        assert use.memory_peak_bytes is None or use.memory_peak_bytes <= MEMORY, use
        # forks without end: refused at pids.max (EAGAIN), counted in pids.events
        bomb = subprocess.run([sys.executable, "-c", FORK], preexec_fn=g.join, capture_output=True, text=True,
                              timeout=60)
        made, err = bomb.stdout.split(None, 1)
        assert err.strip() == "Resource temporarily unavailable" and 0 < int(made) < TASKS, bomb
        assert g.usage().tasks_limit_hits >= 1, g.usage()
        # what a learner leaves running is killed with the group, and the group goes
        sleepers = [subprocess.Popen(["sleep", "300"], preexec_fn=g.join) for _ in range(3)]
        assert {s.pid for s in sleepers} <= g.pids()
        g.kill_all()
        assert [s.wait(10) for s in sleepers] == [-9, -9, -9]
        g.remove()
        assert not g.exists() and groups_left() == [], groups_left()
    finally:
        for s in sleepers:
            if s.poll() is None:
                s.kill()
                s.wait()
        if g.exists():
            g.kill_all()
            g.remove()
