"""The Binder route: an environment built from binder/ alone works, for root and for a learner without.

repo2docker ignores the root pyproject.toml when a binder/ folder exists, so binder/requirements.txt
must install boxkit itself. This builds a fresh venv from that file only (as repo2docker does: from the
repository root), then runs the package and the notebooks in it as root and as a new non-root user —
the public mybinder.org case, where boxkit.probe() decides what runs live and the rest is RECORDED.
Slow (a venv install): skipped when BOXKIT_SKIP_SLOW=1.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest
from hosting_util import REPO, make_user, run_as, tiny_notebook

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("BOXKIT_SKIP_SLOW") == "1", reason="slow: BOXKIT_SKIP_SLOW=1"),
]


def _base_python() -> str:
    """A python a non-root user may run too (pyenv's under /root is private), with the venv module."""
    for cand in ("/usr/bin/python3", sys.executable):
        if os.path.exists(cand) and subprocess.run([cand, "-c", "import venv, ensurepip"],
                                                   capture_output=True).returncode == 0:
            return cand
    pytest.skip("needs python3 with the venv module (apt-get install python3-venv)")


@pytest.fixture(scope="module")
def binder_venv():
    d = tempfile.mkdtemp(prefix="boxkit-binder-")
    os.chmod(d, 0o755)
    venv = os.path.join(d, "venv")
    try:
        subprocess.run([_base_python(), "-m", "venv", venv], check=True, capture_output=True)
        r = subprocess.run([f"{venv}/bin/pip", "install", "-q", "-r", "binder/requirements.txt"],
                           cwd=REPO, capture_output=True, text=True, timeout=900)
        if r.returncode != 0 and ("Could not find a version" in r.stderr or "connection" in r.stderr.lower()):
            pytest.skip(f"needs PyPI or a local wheel cache: {r.stderr.strip().splitlines()[-1]}")
        assert r.returncode == 0, r.stderr[-3000:]
        yield venv
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_binder_requirements_install_boxkit_and_the_lab(binder_venv):
    code = ("import boxkit, matplotlib, ipywidgets, pyroute2, ipykernel, jupyterlab, json; "
            "print(json.dumps({'file': boxkit.__file__, 'version': boxkit.__version__}))")
    r = subprocess.run([f"{binder_venv}/bin/python", "-c", code], capture_output=True, text=True, cwd="/")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    # installed into the venv from the repository, not picked up from the checkout on sys.path
    assert info["file"].startswith(binder_venv), info
    assert os.path.exists(f"{binder_venv}/bin/jupyter-lab") and os.path.exists(f"{binder_venv}/bin/boxkit")


def test_binder_env_speaks_portuguese(binder_venv):
    """The wheel carries the compiled pt_BR catalogue (package data), and JupyterLab's pt-BR language
    pack is installed, so the pt-BR edition is Portuguese on Binder too."""
    code = ("import boxkit, json; from boxkit.errors import SpecError; boxkit.set_language('pt_BR'); "
            "import jupyterlab_language_pack_pt_BR as pack; "
            "print(json.dumps({'err': str(SpecError('memory limit', '-5M', 'must be positive')), "
            "'pack': pack.__file__}))")
    r = subprocess.run([f"{binder_venv}/bin/python", "-c", code], capture_output=True, text=True, cwd="/")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["pack"].startswith(binder_venv), info
    # the catalogue's words, not the English id; the value as it was given
    assert not info["err"].startswith("invalid") and "'-5M'" in info["err"], info


def test_boxkit_probe_in_the_binder_env_as_root(binder_venv):
    r = subprocess.run([f"{REPO}/binder/start", f"{binder_venv}/bin/boxkit", "probe", "--json"],
                       capture_output=True, text=True, timeout=120, cwd="/")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout[r.stdout.index("{"):])  # binder/start may print the cgroup-nest line first
    assert d["root"] is True and d["mode"] in ("live", "rootless", "recorded")


def test_pips_boxkit_command_takes_the_fast_way(binder_venv, tmp_path):
    """pip's entry point (boxkit.fastrun:entry), as `pip install` writes it: run --rm goes through a
    warm helper of its own, other verbs run in the same process; both give the container's answer."""
    if os.geteuid() != 0 or not shutil.which("busybox"):
        pytest.skip("needs root and busybox-static to start a container")
    script = f"{binder_venv}/bin/boxkit"
    assert "boxkit.fastrun import entry" in open(script).read(), "pip's script is not the fast entry point"
    env = {**os.environ, "BOXKIT_ROOT": str(tmp_path / "root")}
    try:
        r = subprocess.run([script, "run", "--rm", "busybox", "sh", "-c", "echo hi; exit 3"], env=env,
                           capture_output=True, text=True, timeout=120, cwd="/")
        assert (r.returncode, r.stdout) == (3, "hi\n"), r.stderr
        assert os.path.exists(tmp_path / "root" / "warm.sock"), "run --rm did not take the warm helper"
        r = subprocess.run([script, "ps", "-a"], env=env, capture_output=True, text=True, timeout=60, cwd="/")
        assert r.returncode == 0 and r.stdout.startswith("CONTAINER ID"), r.stderr
    finally:
        subprocess.run([f"{binder_venv}/bin/python", "-c", "from boxkit.cli import warm; warm.stop()"], env=env,
                       capture_output=True, timeout=60)


@pytest.fixture
def learner(learner_repo):
    if os.geteuid() != 0:
        pytest.skip("needs root to create a non-root test user")
    with make_user() as user:
        user.repo = learner_repo
        yield user


def test_binder_start_gives_a_learner_a_private_boxkit_root(binder_venv, learner):
    r = run_as(learner, [f"{learner.repo}/binder/start", "/usr/bin/env"])
    assert r.returncode == 0, r.stderr
    env = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    assert env["BOXKIT_ROOT"] == f"{learner.home}/.local/share/boxkit"
    r = run_as(learner, [f"{learner.repo}/binder/start", f"{binder_venv}/bin/boxkit", "probe", "--json"])
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["root"] is False and d["live"] is False and d["mode"] in ("rootless", "recorded")


def _notebooks(repo: str) -> list[str]:
    """The English chapters and every translated edition's (notebooks/pt_BR/...)."""
    return sorted(glob.glob(os.path.join(repo, "notebooks", "*.ipynb"))) + \
        sorted(glob.glob(os.path.join(repo, "notebooks", "*", "*.ipynb")))


def test_notebooks_pass_nbval_as_a_learner_without_root(binder_venv, learner):
    """mybinder.org: no root. Every notebook must still run top to bottom (live where user namespaces
    allow, RECORDED elsewhere). Until the course notebooks exist, a tiny notebook stands in."""
    r = subprocess.run([f"{binder_venv}/bin/pip", "install", "-q", "nbval", "pytest"], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    nbs = _notebooks(learner.repo)
    if not nbs:
        nb = tiny_notebook(learner.home, [
            ("import boxkit\nr = boxkit.probe()\nprint(r.root, r.mode in ('rootless', 'recorded'))",
             "False True\n")])
        nbs = [nb]
    args = [f"{learner.repo}/binder/start", f"{binder_venv}/bin/python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "-c", "/dev/null", "--rootdir", "/", "--nbval", "--nbval-cell-timeout", "300"]
    sanitize = os.path.join(learner.repo, "notebooks", "sanitize.cfg")
    if os.path.exists(sanitize):
        args += ["--nbval-sanitize-with", sanitize]
    r = run_as(learner, args + ["-rf", "--color=no"] + nbs, timeout=900)
    if r.returncode != 0:
        out = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout + r.stderr)  # kernels colour their tracebacks
        errors = sorted({m.group(0) for m in re.finditer(r"\b\w+(?:Error|Exception): [^\n]{0,160}", out)})
        errors += sorted({m.group(0) for m in re.finditer(r"Cell \d+: [^\n]{0,160}", out)})  # nbval's reasons
        failed = [line for line in out.splitlines() if line.startswith("FAILED")]
        pytest.fail("notebooks fail as a learner without root:\n" + "\n".join(failed[:30])
                    + "\nfirst errors:\n" + "\n".join(errors[:25]))
    summary = [line for line in r.stdout.splitlines() if " passed" in line]
    assert summary, r.stdout[-2000:]
    print(f"nbval as {learner.name} (uid {learner.uid}) over {len(nbs)} notebooks: {summary[-1]}")


def _unprivileged_userns() -> bool:
    try:
        with open("/proc/sys/user/max_user_namespaces") as f:
            if int(f.read()) == 0:
                return False
        with open("/proc/sys/kernel/unprivileged_userns_clone") as f:
            return f.read().strip() == "1"
    except FileNotFoundError:
        return True   # no Debian switch: allowed unless max_user_namespaces is 0


def test_a_learner_with_user_namespaces_gets_live_rootless_containers(binder_venv, learner):
    """A learner's own Linux box: the course runs what it can live, in a user namespace of their own."""
    if not _unprivileged_userns():
        pytest.skip("needs unprivileged user namespaces (kernel.unprivileged_userns_clone / max_user_namespaces)")
    code = ("import boxkit; from boxkit import course\n"
            "print(course.decide(boxkit.probe()).name)\n"
            "r = boxkit.run('busybox', ['sh', '-c', 'id -u; hostname'], hostname='learnerbox')\n"
            "print(r.exit_code, r.stdout.split())\n")
    r = run_as(learner, [f"{learner.repo}/binder/start", f"{binder_venv}/bin/python", "-c", code], timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert lines[0] == "rootless", r.stdout
    assert lines[1] == "0 ['0', 'learnerbox']", "root inside a container the learner started: " + r.stdout
