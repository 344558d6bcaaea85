"""The hosting definitions: the cgroup v2 nesting script on a real cgroup2 tree, and the files each
route's tool reads (repo2docker, helm, Lima, cloud-init, podman) checked for what the route needs."""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid

import pytest
import yaml
from hosting_util import REPO

NEST = os.path.join(REPO, "deploy", "cgroup-nest.sh")


def _cgroup2_root() -> str | None:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[:1] == ["cgroup2"]:
                return left.split()[4]
    return None


@pytest.fixture
def fake_container_cgroup():
    """A cgroup2 group standing in for a privileged container's namespace root, holding a process."""
    if os.geteuid() != 0:
        pytest.skip("needs root: creates cgroup2 groups")
    top = _cgroup2_root()
    if not top:
        pytest.skip("needs a cgroup2 mount (v2 or hybrid)")
    grp = os.path.join(top, f"boxkit-nesttest-{uuid.uuid4().hex[:8]}")
    try:
        os.mkdir(grp)
    except OSError as e:
        pytest.skip(f"needs a writable cgroup2 tree: mkdir {grp}: {e.strerror}")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        with open(os.path.join(grp, "cgroup.procs"), "w") as f:
            f.write(str(sleeper.pid))
        yield grp, sleeper.pid
    finally:
        sleeper.kill()
        sleeper.wait()
        for _ in range(50):  # a killed process leaves its cgroup asynchronously
            try:
                for d in ("init", ""):
                    p = os.path.join(grp, d)
                    if os.path.isdir(p):
                        os.rmdir(p)
                break
            except OSError:
                time.sleep(0.1)


def _procs(path: str) -> list[int]:
    with open(os.path.join(path, "cgroup.procs")) as f:
        return [int(x) for x in f.read().split()]


def test_cgroup_nest_moves_every_process_to_a_leaf(fake_container_cgroup):
    grp, pid = fake_container_cgroup
    # the script runs inside the group, as an entrypoint would: it must move itself too
    r = subprocess.run(["sh", "-c", f'echo $$ > {grp}/cgroup.procs && exec {NEST} {grp}'],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert _procs(grp) == []
    assert pid in _procs(os.path.join(grp, "init"))
    assert re.search(r"moved [2-9]\d* processes", r.stdout), r.stdout
    with open(os.path.join(grp, "cgroup.controllers")) as f:
        available = set(f.read().split())
    with open(os.path.join(grp, "cgroup.subtree_control")) as f:
        assert set(f.read().split()) == available   # every controller handed down (none on hybrid)
    again = subprocess.run([NEST, grp], capture_output=True, text=True, timeout=30)
    assert again.returncode == 0 and "moved 0 processes" in again.stdout   # idempotent


def test_cgroup_nest_leaves_v1_alone(tmp_path):
    r = subprocess.run([NEST, str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "nothing to do" in r.stdout
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("script", ["deploy/cgroup-nest.sh", "deploy/entrypoint.sh", "deploy/vm-setup.sh",
                                    "binder/start", "binder/postBuild"])
def test_scripts_parse_and_are_executable(script):
    path = os.path.join(REPO, script)
    assert os.access(path, os.X_OK), f"{script} must be executable (repo2docker and the images run it)"
    shell = "bash" if open(path).readline().strip().endswith("bash") else "sh"
    r = subprocess.run([shell, "-n", path], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_binder_folder_is_what_repo2docker_needs():
    files = set(os.listdir(os.path.join(REPO, "binder")))
    # a binder/Dockerfile would make repo2docker ignore every other file here
    assert "Dockerfile" not in files
    assert {"requirements.txt", "apt.txt", "postBuild", "start"} <= files
    reqs = [line.strip() for line in open(os.path.join(REPO, "binder", "requirements.txt"))
            if line.strip() and not line.startswith("#")]
    assert "." in reqs, "binder/ hides the root pyproject.toml: requirements.txt must install the repository"
    apt = open(os.path.join(REPO, "binder", "apt.txt")).read().split()
    assert "busybox-static" in apt


def _yaml(rel: str) -> dict:
    with open(os.path.join(REPO, rel)) as f:
        return yaml.safe_load(f)


# deploy/jupyterhub/*.yaml: tests/hosting/test_k8s_manifests.py builds and validates each variant's pod


def test_binderhub_config_is_privileged_and_pinned_to_this_repo():
    v = _yaml("deploy/binderhub/config.yaml")
    ks = v["jupyterhub"]["hub"]["config"]["KubeSpawner"]
    assert ks["privileged"] is True and ks["uid"] == 0
    assert v["config"]["BinderHub"]["banned_specs"], "a privileged BinderHub must not build any repository"


def test_vm_definitions_forward_jupyterlab_and_run_the_setup():
    lima = _yaml("deploy/lima.yaml")
    assert {"guestPort": 8888, "hostPort": 8888, "hostIP": "127.0.0.1"} in lima["portForwards"]
    assert {i["arch"] for i in lima["images"]} == {"x86_64", "aarch64"}
    script = lima["provision"][0]["script"]
    assert "vm-setup.sh" in script
    for key in lima["param"]:
        assert f"PARAM_{key}" in script, f"lima param {key} unused"
    ci = _yaml("deploy/cloud-init.yaml")
    assert any("vm-setup.sh" in " ".join(c) for c in ci["runcmd"])
    vagrant = open(os.path.join(REPO, "deploy", "Vagrantfile")).read()
    assert "vm-setup.sh" in vagrant and "guest: 8888" in vagrant


def test_containerfile_copies_only_what_exists_and_exposes_the_lab():
    text = open(os.path.join(REPO, "deploy", "Containerfile")).read()
    for line in text.splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                # README.md (pyproject's readme) is written with the README; until then the build test skips
                assert os.path.exists(os.path.join(REPO, src)) or src == "README.md", f"COPY {src}: missing"
    assert "EXPOSE 8888" in text and "VOLUME /var/lib/boxkit" in text
    assert "ENTRYPOINT" in text and "entrypoint.sh" in text
