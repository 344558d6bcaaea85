"""The package's layering, checked: imports go down the layers named in pyproject.toml, and no two
sibling modules import each other, even inside a function (import-linter's contracts).

The contract is only worth something if it can fail: the second test copies the package, adds one
upward import of the kind the redesign removed (a cgroup module reaching up into the runtime), and
sees import-linter refuse the copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINT = os.path.join(os.path.dirname(sys.executable), "lint-imports")


def _lint(root: str) -> subprocess.CompletedProcess:
    if not os.path.exists(LINT):
        pytest.fail(f"needs import-linter beside {sys.executable} (the test extra: pip install -e '.[test]')")
    env = {**os.environ, "PYTHONPATH": root}
    return subprocess.run([LINT, "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_import_contracts_are_kept():
    r = _lint(REPO)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "2 kept, 0 broken" in r.stdout, r.stdout[-2000:]


@pytest.mark.parametrize("module, line, broken", [
    ("cgroups/files.py", "from ..runtime import state", "boxkit's layers"),          # upward
    ("runtime/inroot.py", "from . import rootfs", "no import cycles"),                 # a cycle
])
def test_the_contracts_fail_on_an_upward_import_or_a_cycle(tmp_path, module, line, broken):
    shutil.copytree(os.path.join(REPO, "boxkit"), tmp_path / "boxkit",
                    ignore=shutil.ignore_patterns("__pycache__", "recordings", "examples"))
    os.makedirs(tmp_path / "boxkit" / "examples")
    (tmp_path / "boxkit" / "examples" / "__init__.py").write_text("")
    shutil.copy(os.path.join(REPO, "pyproject.toml"), tmp_path / "pyproject.toml")
    with open(tmp_path / "boxkit" / module, "a") as f:
        f.write(f"\n\ndef _scratch():\n    {line}  # inside a function: still an import\n")
    r = _lint(str(tmp_path))
    assert r.returncode != 0, r.stdout[-2000:]
    verdicts = [ln for ln in r.stdout.splitlines() if ln.startswith(broken) and ln.endswith(("KEPT", "BROKEN"))]
    assert verdicts and verdicts[0].endswith("BROKEN"), r.stdout[-2000:]
