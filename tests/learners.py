"""A throw-away non-root user for the tests that play a learner without root (hosting, rootless)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from dataclasses import dataclass

import pytest


@dataclass
class User:
    name: str
    uid: int
    home: str


def pids_of(uid: int) -> list[int]:
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{p}").st_uid == uid:
                    out.append(int(p))
    return out


@contextlib.contextmanager
def make_user(prefix: str = "bkh"):
    """A fresh system user with a private home in /tmp, removed afterwards with its processes."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a non-root test user")
    if not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("needs useradd and runuser to create a non-root user")
    name = prefix + uuid.uuid4().hex[:8]
    home = tempfile.mkdtemp(prefix=f"boxkit-{name}-")
    r = subprocess.run(["useradd", "--system", "--home-dir", home, "--shell", "/bin/sh", name],
                       capture_output=True, text=True)
    if r.returncode != 0:
        shutil.rmtree(home, ignore_errors=True)
        pytest.skip(f"needs a non-root user: useradd failed: {r.stderr.strip()}")
    uid = int(subprocess.run(["id", "-u", name], capture_output=True, text=True).stdout)
    os.chown(home, uid, uid)
    try:
        yield User(name, uid, home)
    finally:
        for pid in pids_of(uid):   # what the user left: processes this test started, by PID
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        subprocess.run(["userdel", name], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def run_as(user: User, argv: list[str], timeout: float = 120, env: dict | None = None,
           **kw) -> subprocess.CompletedProcess:
    """``argv`` as ``user`` in a clean environment (HOME, USER, PATH, LANG and ``env``)."""
    clean = ["env", "-i", f"HOME={user.home}", f"USER={user.name}", "PATH=/usr/local/bin:/usr/bin:/bin",
             "LANG=C.UTF-8"] + [f"{k}={v}" for k, v in (env or {}).items()]
    return subprocess.run(["runuser", "-u", user.name, "--", *clean, *argv], capture_output=True, text=True,
                          timeout=timeout, cwd=user.home, **kw)
