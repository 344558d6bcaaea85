"""`./course lab` as a normal user: the README's "Linux machine without root" route. The script must look
at the host (rootless where the kernel allows user namespaces, RECORDED otherwise) instead of refusing
non-root, make its venv, and serve JupyterLab without --allow-root, with one kernel in the launcher.
A new non-root user runs it on a fresh clone of this checkout. Slow (a venv install): skipped when
BOXKIT_SKIP_SLOW=1."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest
from hosting_util import REPO, make_user, pids_of

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("BOXKIT_SKIP_SLOW") == "1", reason="slow: BOXKIT_SKIP_SLOW=1"),
    pytest.mark.skipif(not shutil.which("git"), reason="needs git to clone the checkout"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_course_lab_runs_for_a_normal_user():
    missing = [p for p in ("python3-venv", "busybox-static")
               if subprocess.run(["dpkg-query", "-W", p], capture_output=True).returncode != 0]
    if missing:
        pytest.skip(f"the lab route as a normal user needs {', '.join(missing)} installed by root")
    with make_user("bkl") as user:
        clone = os.path.join(user.home, "boxkit")
        subprocess.run(["git", "clone", "-q", REPO, clone], check=True)
        subprocess.run(["chown", "-R", f"{user.uid}:{user.uid}", clone], check=True)
        port = _free_port()
        log = os.path.join(user.home, "lab.log")
        with open(log, "w") as out:
            proc = subprocess.Popen(
                ["runuser", "-u", user.name, "--", "env", "-i", f"HOME={user.home}", f"USER={user.name}",
                 "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", f"PORT={port}", "./course", "lab"],
                cwd=clone, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline, up = time.monotonic() + 600, False
            while not up and time.monotonic() < deadline and proc.poll() is None:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2).read()
                    up = True
                except OSError:
                    time.sleep(1)
            text = open(log).read()
            if not up and ("Could not find a version" in text or "connection" in text.lower()):
                pytest.skip("needs PyPI or a local wheel cache for the venv")
            assert up, text[-3000:]
            assert "run as root" not in text
            assert "course runs rootless" in text or "replays a RECORDED run" in text, text[-2000:]
            kernels = os.listdir(os.path.join(clone, ".venv", "share", "jupyter", "kernels"))
            assert kernels == ["python3"], kernels      # one kernel in the launcher
        finally:
            os.killpg(proc.pid, signal.SIGTERM)     # the lab this test started, and its kernels
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            assert proc.returncode is not None
            for pid in pids_of(user.uid):
                os.kill(pid, signal.SIGKILL)
