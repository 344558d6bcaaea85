"""Helpers for the hosting-route tests: a throw-away non-root user and tiny notebooks."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass
class User:
    name: str
    uid: int
    home: str


@contextlib.contextmanager
def make_user():
    """A fresh system user with a private home in /tmp, removed afterwards (with its processes)."""
    if not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("needs useradd and runuser to create a non-root user")
    name = "bkh" + uuid.uuid4().hex[:8]
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
        subprocess.run(["pkill", "-KILL", "-u", str(uid)], capture_output=True)  # this user's only
        subprocess.run(["userdel", name], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def run_as(user: User, argv: list[str], timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    env = ["env", "-i", f"HOME={user.home}", f"USER={user.name}", "PATH=/usr/local/bin:/usr/bin:/bin",
           "LANG=C.UTF-8"]
    return subprocess.run(["runuser", "-u", user.name, "--", *env, *argv], capture_output=True, text=True,
                          timeout=timeout, cwd=user.home, **kw)


def tiny_notebook(directory: str, cells: list[tuple[str, str]], name: str = "tiny.ipynb") -> str:
    """A notebook whose code cells carry the stream output nbval should see again."""
    nb = {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": i + 1,
                   "source": src, "outputs": ([{"output_type": "stream", "name": "stdout", "text": out}]
                                              if out else [])}
                  for i, (src, out) in enumerate(cells)],
    }
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        json.dump(nb, f, indent=1)
    os.chmod(path, 0o644)
    return path
