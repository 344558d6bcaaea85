"""``boxkit stats`` and the run flags, through the real CLI against real containers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import boxkit
from boxkit import cgroups, workloads

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: creates cgroups"),
              pytest.mark.skipif(cgroups.detect().mode == "none", reason="no cgroup file system mounted")]

CLI = [sys.executable, "-m", "boxkit"]


def test_stats_reads_a_running_containers_cgroup():
    # burns until the with-block kills it: a CLI's start-up takes 20 s and more in the emulated v2 VM
    with boxkit.run("busybox", workloads.cpuburn(600), name="bk-stats-t", memory="64M", cpus=0.5,
                    pids_limit=10, detach=True) as c:
        r = subprocess.run(CLI + ["stats", "--json", "bk-stats-t"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        (s,) = json.loads(r.stdout)
        assert s["id"] == c.id and s["memory_limit"] == 64 << 20 and s["pids_max"] == 10
        assert 10 <= s["cpu_percent"] <= 65, f"a 0.5 CPU quota shows as ~50%: {s['cpu_percent']}"
        t = subprocess.run(CLI + ["stats", "--no-stream", c.id[:6]], capture_output=True, text=True, timeout=120)
        assert t.returncode == 0 and c.id in t.stdout and "64.0MiB" in t.stdout, t.stdout + t.stderr


def test_stats_of_an_unknown_container_is_one_sentence():
    r = subprocess.run(CLI + ["stats", "--no-stream", "no-such-box"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 125 and r.stderr.count("\n") == 1 and "no-such-box" in r.stderr, r.stderr


def test_run_memory_flag_oom_is_exit_137_and_said():
    r = subprocess.run(CLI + ["run", "--rm", "--memory", "64M", "host", *workloads.memhog(200, step_mb=16, pause=0.005)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 137, (r.returncode, r.stderr)
    assert "OOM killer" in r.stderr, r.stderr
