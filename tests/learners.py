"""A throw-away non-root user for the tests that play a learner without root (hosting, rootless), and
the checkout as such a user may read it.

Where the checkout lives must not decide a test: a clone in ``/root`` (mode 0700, as a root user on a
fresh VM makes it) cannot be read by any other user, and neither can files a restrictive umask made
0600. So every test that runs boxkit as a learner imports it from :func:`learner_checkout`: a copy of
what a learner's process reads (the package, the Binder route's files, the notebooks), open to all,
made once per session (the ``learner_repo`` fixture in conftest.py) and removed afterwards."""

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

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# what a learner's process reads of the checkout: the package, the Binder route's files, the notebooks
LEARNER_PATHS = ("boxkit", "binder", "deploy", "notebooks", "pyproject.toml", "README.md")


@dataclass
class User:
    name: str
    uid: int
    home: str
    repo: str = REPO   # where this user imports boxkit from: a learner_checkout() for a learner


@contextlib.contextmanager
def learner_checkout():
    """A copy of :data:`LEARNER_PATHS` that every user may read (directories 0755, files 0644, or 0755
    where the owner may execute), in a new directory under the system's temporary directory."""
    d = tempfile.mkdtemp(prefix="boxkit-learner-checkout-")
    try:
        for rel in LEARNER_PATHS:
            src = os.path.join(REPO, rel)
            if os.path.isdir(src):
                shutil.copytree(src, os.path.join(d, rel), symlinks=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif os.path.exists(src):
                shutil.copy2(src, os.path.join(d, rel))
        for top, _dirs, files in os.walk(d):
            os.chmod(top, 0o755)
            for f in files:
                p = os.path.join(top, f)
                if not os.path.islink(p):
                    os.chmod(p, 0o755 if os.stat(p).st_mode & 0o100 else 0o644)
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


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
