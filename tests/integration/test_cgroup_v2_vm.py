"""cgroup v2 for real: boot a v2-only kernel in qemu and run the cgroup and container tests inside.

The host is cgroup v1 (hybrid), so the v2 driver can only be proven on another kernel: ``python -m
tools.v2vm`` boots Debian's 6.1 kernel with ``cgroup_no_v1=all`` under plain TCG emulation on this
machine's own read-only root and runs the enforcement tests (OOM at the limit, quota 0.5, pids.max,
groups removed), the runtime tests and the driver unit tests there, plus test_cgroup_mode.py, which
asserts that boxkit really picked the v2 driver. Slow (minutes): skipped with BOXKIT_SKIP_VM=1.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tools.v2vm import runner

REPO = runner.REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]
NEEDS_ROOT = False   # runs without root (tests/integration/conftest.py); root-only tests skip themselves


def _skip_reason() -> str | None:
    if os.environ.get("BOXKIT_SKIP_VM") == "1":
        return "BOXKIT_SKIP_VM=1"
    return runner.why_not(runner.VMConfig())


def test_cgroup_v2_suite_passes_in_a_vm():
    reason = _skip_reason()
    if reason:
        pytest.skip(f"cgroup v2 VM: {reason}")
    try:
        r = subprocess.run([sys.executable, "-m", "tools.v2vm", "--strict", "--timeout", "1500"],
                           cwd=REPO, capture_output=True, text=True, timeout=1600)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the VM run did not end in 1600 s; output so far:\n{e.stdout}")
    out = r.stdout + r.stderr
    tail = "\n".join(out.splitlines()[-60:])
    assert r.returncode == 0, f"inner run failed (exit {r.returncode}):\n{tail}"
    assert "/sys/fs/cgroup is cgroup2fs" in out, tail
    assert re.search(r"v2vm: boot \d+\.\d s", out), tail
    m = re.search(r"v2vm: inner result: (\d+) passed(.*); exit status 0", out)
    assert m, f"no inner pass line:\n{tail}"
    assert int(m.group(1)) >= 20 and "failed" not in m.group(2) and "error" not in m.group(2), m.group(0)
