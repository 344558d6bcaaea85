"""boxkit.proc: a process named by PID and start time, as the leftovers a collector looks for name it."""

from __future__ import annotations

import os
import subprocess

from boxkit import proc


def test_a_named_owner_is_alive_only_with_its_own_start_time():
    me, start = os.getpid(), proc.starttime(os.getpid())
    assert start is not None
    assert not proc.named_owner_gone(f"{me}-{start}-3")
    assert proc.named_owner_gone(f"{me}-{start + 1}-3"), "the PID was reused by another process"
    assert proc.named_owner_gone(f"{me}"), "no start time: nothing proves it is the same process"
    assert proc.named_owner_gone("junk") and proc.named_owner_gone("")
    p = subprocess.Popen(["true"])
    name = f"{p.pid}-{proc.starttime(p.pid) or 0}"
    p.wait()
    assert proc.named_owner_gone(name)
