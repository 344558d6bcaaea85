"""The RECORDED route, forced: every course notebook passes nbval with ``BOXKIT_MODE=recorded``.

That is what a host with no privileges at all gets (the public mybinder.org): every cell but the
exercises replays the recording that ``tools/record.py`` collected from the committed notebooks, and
the exercises judge the learner's answer against recorded measurements. A cell whose source changed
after the last recording has none, and its replay says so instead of printing its output: nbval then
fails here, which is the point (rebuild with ``tools/notebooks.py``, which records again).
The live route is the suite's own nbval run; the rootless one is test_binder_env's learner run.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest
from hosting_util import REPO

# the English chapters and every translated edition (notebooks/pt_BR/...), each replayed in its own words
NOTEBOOKS = sorted(glob.glob(os.path.join(REPO, "notebooks", "[0-9][0-9]-*.ipynb"))) + \
    sorted(glob.glob(os.path.join(REPO, "notebooks", "*", "[0-9][0-9]-*.ipynb")))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("BOXKIT_SKIP_SLOW") == "1", reason="slow: BOXKIT_SKIP_SLOW=1"),
    pytest.mark.skipif(not NOTEBOOKS, reason="no course notebooks in this checkout"),
]


def test_every_notebook_passes_nbval_recorded(tmp_path):
    env = {**os.environ, "BOXKIT_MODE": "recorded", "BOXKIT_ROOT": str(tmp_path / "root")}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", "/dev/null",
                        "--rootdir", str(tmp_path), "--nbval", "--nbval-cell-timeout", "300",
                        "--nbval-sanitize-with", os.path.join(REPO, "notebooks", "sanitize.cfg"),
                        "-rf", "--color=no", *NOTEBOOKS],
                       cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=1500)
    failed = [line for line in r.stdout.splitlines() if line.startswith("FAILED")]
    assert r.returncode == 0, "notebooks fail when every demo replays:\n" + "\n".join(failed[:40]) \
        + "\n" + r.stdout[-3000:]
    assert " passed" in r.stdout.splitlines()[-1], r.stdout[-2000:]
