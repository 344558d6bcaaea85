"""What every integration test shares: the root marker applied by directory, one busybox root and one CLI
runner.

* Every test under ``tests/integration`` starts real containers, so every one is marked ``integration``
  and skipped, with the reason, when the suite does not run as root. A module whose tests run without
  root (they skip their root-only tests themselves) says ``NEEDS_ROOT = False``.
* ``busybox_root``: a minimal root directory, a static busybox and its applet links, made once per module.
* ``bk``: a fixture, the runner ``bk(*args)`` of the ``boxkit`` command as a user types it, output captured.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
ROOT_REASON = "needs root: tests under tests/integration start real containers"


def pytest_collection_modifyitems(config, items):
    root = os.geteuid() == 0
    for item in items:
        if not str(item.path).startswith(HERE + os.sep):
            continue
        item.add_marker(pytest.mark.integration)
        if not root and getattr(item.module, "NEEDS_ROOT", True):
            item.add_marker(pytest.mark.skip(reason=ROOT_REASON))


def make_busybox_root(root: str) -> str:
    """``root`` made a minimal root directory: /bin/busybox, a link per applet, the usual empty
    directories (/tmp world-writable) and /etc/secret-in-image, a file only the image has."""
    os.makedirs(os.path.join(root, "bin"), exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(root, "bin", "busybox"))
    out = subprocess.run([os.path.join(root, "bin", "busybox"), "--list"], capture_output=True,
                         text=True).stdout
    for applet in out.split():
        if applet != "busybox":
            os.symlink("busybox", os.path.join(root, "bin", applet))
    for d in ("proc", "sys", "dev", "etc", "tmp", "root", "mnt"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    with open(os.path.join(root, "etc", "secret-in-image"), "w") as f:
        f.write("image\n")
    return root


@pytest.fixture(scope="module")
def busybox_root(tmp_path_factory) -> str:
    """A minimal busybox root directory (see :func:`make_busybox_root`), one per module."""
    if not os.path.exists(BUSYBOX):
        pytest.skip("needs a static busybox (Debian: apt-get install busybox-static)")
    return make_busybox_root(str(tmp_path_factory.mktemp("bbroot")))


def run_bk(*args: str, timeout: float = 120, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    """``boxkit *args`` through ``python -m boxkit``, text output captured; ``env`` adds to the
    environment. Keyword arguments go to :func:`subprocess.run` (``input=``, ``cwd=``)."""
    return subprocess.run([sys.executable, "-m", "boxkit", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, **kw)


@pytest.fixture(scope="session")
def bk():
    """The CLI runner :func:`run_bk`: ``bk("run", "--rm", "--rootfs", root, "true").returncode``."""
    return run_bk
