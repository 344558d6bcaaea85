"""The class hub on Kubernetes (issue 24 §3), rendered and validated without a cluster.

Each variant of ``deploy/jupyterhub/`` (``values.yaml`` plus one ``values-<variant>.yaml``) becomes the
pod a learner would get: the chart's defaults and the files merged as helm merges them, KubeSpawner
configured as z2jh's ``jupyterhub_config.py`` configures it, and the pod built by KubeSpawner itself
(:mod:`k8s_render`). Each pod is checked against the Kubernetes OpenAPI schemas (PyPI
``kubernetes-validate``, strict: an unknown field fails too) for every Kubernetes version
``deploy/README.md`` names for that variant, and for what the variant promises. A deliberately broken
pod must fail the same check. One test runs the pods' postStart hook in a real cgroup v2 group, as
root, to show it nests the container's own group and not the tree's root.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import time
import uuid

import pytest
import yaml
from hosting_util import REPO

kv = pytest.importorskip("kubernetes_validate", reason="pip install -e '.[test]' installs kubernetes-validate")
pytest.importorskip("kubespawner", reason="pip install -e '.[test]' installs jupyterhub-kubespawner")
import k8s_render  # noqa: E402  (imports kubespawner's dependencies lazily, after the skips above)

VARIANTS = ("sysbox", "kata", "privileged")
README = os.path.join(REPO, "deploy", "README.md")
# Sysbox v0.7.0 supports Kubernetes 1.32 to 1.35 (nestybox/sysbox docs/user-guide/install-k8s.md,
# "Kubernetes Version Requirements"); z2jh 4.4.0's Chart.yaml asks kubeVersion >= 1.28.0-0
SYSBOX_K8S = {"1.32", "1.33", "1.34", "1.35"}
Z2JH_MIN = (1, 28)


def readme_versions() -> dict[str, list[str]]:
    """variant -> the Kubernetes versions deploy/README.md's variant table says are validated (its
    rows name ``values-<variant>.yaml``; the last column lists the versions)."""
    out: dict[str, list[str]] = {}
    with open(README) as f:
        for line in f:
            m = re.search(r"values-([a-z]+)\.yaml", line)
            if line.startswith("|") and m:
                out[m.group(1)] = re.findall(r"\b1\.\d+\b", line.rstrip().rstrip("|").split("|")[-1])
    return out


VERSIONS = readme_versions()
CASES = [(v, k) for v in VARIANTS for k in VERSIONS.get(v, [])]
SCHEMAS = {kv.utils.major_minor(v) for v in kv.utils.all_versions()}   # what the package ships


def _yaml(name: str) -> dict:
    with open(os.path.join(k8s_render.VALUES_DIR, name)) as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def pods() -> dict[str, dict]:
    return {v: k8s_render.render_pod("values.yaml", f"values-{v}.yaml") for v in VARIANTS}


def _containers(pod: dict) -> list[dict]:
    return pod["spec"]["containers"] + pod["spec"].get("initContainers", [])


def _notebook(pod: dict) -> dict:
    (nb,) = [c for c in pod["spec"]["containers"] if c["name"] == "notebook"]
    return nb


def test_readme_names_the_validated_versions_of_every_variant():
    assert set(VERSIONS) == set(VARIANTS), f"deploy/README.md's variant table names {sorted(VERSIONS)}"
    for variant, versions in VERSIONS.items():
        assert versions, f"deploy/README.md names no Kubernetes version for {variant}"
        assert all(tuple(map(int, v.split("."))) >= Z2JH_MIN for v in versions), (variant, versions)
        assert set(versions) <= SCHEMAS, f"kubernetes-validate has schemas for {sorted(SCHEMAS)} only"
    assert set(VERSIONS["sysbox"]) <= SYSBOX_K8S, "Sysbox v0.7.0 supports Kubernetes 1.32 to 1.35 only"


@pytest.mark.parametrize("variant,version", CASES)
def test_learner_pod_validates_against_the_kubernetes_schema(pods, variant, version):
    pod = pods[variant]
    assert pod["apiVersion"] == "v1" and pod["kind"] == "Pod"
    assert kv.validate(pod, version, strict=True) == version


@pytest.mark.parametrize("break_it", [
    pytest.param(lambda p: p["spec"].__setitem__("hostUsers", "false"), id="hostUsers-a-string"),
    pytest.param(lambda p: p["spec"].__setitem__("runtimeClass", p["spec"].pop("runtimeClassName")),
                 id="runtimeClass-misspelled"),
    pytest.param(lambda p: p["spec"]["containers"][0].pop("name"), id="container-without-name"),
    pytest.param(lambda p: p["spec"]["containers"][0]["securityContext"].__setitem__("privileged", "no"),
                 id="privileged-a-string"),
])
def test_a_broken_pod_fails_validation(pods, break_it):
    pod = copy.deepcopy(pods["sysbox"])
    break_it(pod)
    for version in VERSIONS["sysbox"]:
        with pytest.raises(kv.ValidationError):
            kv.validate(pod, version, strict=True)


def test_the_schemas_differ_by_version(pods):
    """The versions are not one schema under many names: pod-level resources (KEP-2837) are in the
    schema from 1.32 on, and an older one refuses them."""
    pod = copy.deepcopy(pods["sysbox"])
    pod["spec"]["resources"] = {"limits": {"memory": "3G"}}
    with pytest.raises(kv.ValidationError):
        kv.validate(pod, "1.31", strict=True)
    assert kv.validate(pod, "1.32", strict=True) == "1.32"


def test_sysbox_pod_is_user_namespaced_and_not_privileged(pods):
    pod = pods["sysbox"]
    spec = pod["spec"]
    assert spec["runtimeClassName"] == "sysbox-runc"
    assert spec["hostUsers"] is False
    # Sysbox refuses privileged pods (its docs/user-guide/limitations.md): none of its containers,
    # init containers included (the chart's default metadata blocker is one), may ask for it
    for c in _containers(pod):
        assert not (c.get("securityContext") or {}).get("privileged"), c["name"]
    assert [c["name"] for c in _containers(pod)] == ["notebook"]
    assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
    assert _notebook(pod)["securityContext"]["runAsUser"] == 0   # root of the pod's user namespace


def test_kata_pod_runs_in_a_kata_vm(pods):
    pod = pods["kata"]
    assert pod["spec"]["runtimeClassName"].startswith("kata-")
    assert "hostUsers" not in pod["spec"]
    # privileged inside the guest, which kata-deploy gives no host devices
    assert _notebook(pod)["securityContext"]["privileged"] is True


def test_privileged_pod_lands_only_on_the_class_pool(pods):
    pod = pods["privileged"]
    spec = pod["spec"]
    assert _notebook(pod)["securityContext"]["privileged"] is True
    assert "runtimeClassName" not in spec and "hostUsers" not in spec
    taint = {"key": "boxkit.example.org/privileged", "operator": "Equal", "value": "true",
             "effect": "NoSchedule"}
    assert taint in spec["tolerations"]
    assert spec["nodeSelector"] == {"boxkit.example.org/privileged": "true"}
    # the other variants neither tolerate the class pool's taint nor select it
    for other in ("sysbox", "kata"):
        assert taint not in pods[other]["spec"]["tolerations"]
        assert "boxkit.example.org/privileged" not in (pods[other]["spec"].get("nodeSelector") or {})


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_gets_the_shared_part(pods, variant):
    pod = pods[variant]
    nb = _notebook(pod)
    env = {e["name"]: e.get("value") for e in nb["env"]}
    assert env["BOXKIT_CGROUP_PARENT"] == "self" and env["BOXKIT_ROOT"] == "/var/lib/boxkit"
    assert nb["args"] == ["jupyterhub-singleuser", "--allow-root"]
    assert nb["securityContext"]["runAsUser"] == 0
    assert nb["securityContext"]["allowPrivilegeEscalation"] is True
    assert nb["resources"]["limits"]["memory"] == 3 * 1024**3
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert "emptyDir" in volumes["boxkit-data"]   # overlay upper dirs cannot live on the pod's overlay root
    assert {"mountPath": "/var/lib/boxkit", "name": "boxkit-data"} in nb["volumeMounts"]
    hook = nb["lifecycle"]["postStart"]["exec"]["command"]
    assert hook[:2] == ["/bin/sh", "-c"] and "cgroup-nest.sh" in hook[2]
    r = subprocess.run(["sh", "-n", "-c", hook[2]], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    values = k8s_render.load_values("values.yaml", f"values-{variant}.yaml")
    policy = values["singleuser"]["networkPolicy"]   # rendered by the chart, outside the pod
    assert policy["enabled"] is True and policy["egressAllowRules"]["cloudMetadataServer"] is False


def _keys(d: dict, prefix: str = "") -> set[str]:
    out = set()
    for k, v in d.items():
        path = f"{prefix}{k}"
        out |= _keys(v, path + ".") if isinstance(v, dict) and v else {path}
    return out


def test_variants_set_only_their_own_keys():
    """What the variants share lives in values.yaml alone: no variant file sets a key the base sets
    (except the privileged pool's shorter idle time), so the shared part cannot drift apart."""
    base = _keys(_yaml("values.yaml"))
    for variant in VARIANTS:
        own = _keys(_yaml(f"values-{variant}.yaml"))
        overlap = {k for k in own if any(k == b or k.startswith(b + ".") or b.startswith(k + ".")
                                         for b in base)}
        assert overlap <= {"cull.timeout"}, f"values-{variant}.yaml repeats {sorted(overlap)}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_hub_config_names_only_kubespawner_traits(variant):
    from kubespawner import KubeSpawner

    cfg = (_yaml(f"values-{variant}.yaml").get("hub") or {}).get("config", {})
    traits = KubeSpawner.class_traits(config=True)
    for key in cfg.get("KubeSpawner", {}):
        assert key in traits, f"values-{variant}.yaml: KubeSpawner has no setting {key}"


def test_a_mistyped_singleuser_key_is_refused():
    values = k8s_render.load_values("values.yaml", "values-sysbox.yaml")
    values["singleuser"]["extraPodConfg"] = values["singleuser"].pop("extraPodConfig")
    with pytest.raises(ValueError, match="extraPodConfg"):
        k8s_render.spawner_config(values)


def test_helm_merge_replaces_lists_and_null_deletes():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert k8s_render.merge(base, {"a": {"c": [3]}, "d": None}) == {"a": {"b": 1, "c": [3]}}


def _cgroup2_root() -> str | None:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[:1] == ["cgroup2"]:
                return left.split()[4]
    return None


def _procs(path: str) -> list[int]:
    with open(os.path.join(path, "cgroup.procs")) as f:
        return [int(x) for x in f.read().split()]


def test_poststart_hook_nests_the_containers_own_group_not_the_root(pods):
    """In a privileged pod /sys/fs/cgroup is the node's tree and the container's group is deep inside
    it. The hook, run by a process in such a group, must move that group's processes to its leaf and
    leave the tree's root alone; run again from the leaf (where runc puts an exec once the group has
    children), it changes nothing."""
    if os.geteuid() != 0:
        pytest.skip("needs root: creates cgroup2 groups")
    top = _cgroup2_root()
    if not top:
        pytest.skip("needs a cgroup2 mount (v2 or hybrid)")
    hook = pods["privileged"]["spec"]["containers"][0]["lifecycle"]["postStart"]["exec"]["command"]
    # this host's cgroup2 tree may be mounted elsewhere (hybrid: /sys/fs/cgroup/unified); $HOME finds
    # the repository's cgroup-nest.sh, as it finds a repo2docker image's
    script = hook[2].replace("/sys/fs/cgroup", top)
    grp = os.path.join(top, f"boxkit-hooktest-{uuid.uuid4().hex[:8]}")
    had_init = os.path.exists(os.path.join(top, "init"))
    os.mkdir(grp)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        with open(os.path.join(grp, "cgroup.procs"), "w") as f:
            f.write(str(sleeper.pid))
        env = dict(os.environ, HOME=REPO)
        r = subprocess.run([hook[0], hook[1], f'echo $$ > {grp}/cgroup.procs && exec /bin/sh -c "$0"', script],
                           capture_output=True, text=True, timeout=30, env=env)
        assert r.returncode == 0, r.stderr
        # the sleeper, the hook's shell and cgroup-nest.sh's own (forks while it moves count again)
        assert re.search(rf"moved [3-9]\d* processes to {re.escape(grp)}/init;", r.stdout), r.stdout
        # the group's own processes and nothing from the root: the hook's shell has exited
        assert _procs(grp) == [] and _procs(os.path.join(grp, "init")) == [sleeper.pid]
        assert os.path.exists(os.path.join(top, "init")) == had_init   # nothing made at the root
        again = subprocess.run([hook[0], hook[1], f'echo $$ > {grp}/init/cgroup.procs && exec /bin/sh -c "$0"',
                                script], capture_output=True, text=True, timeout=30, env=env)
        assert again.returncode == 0 and "moved 0 processes" in again.stdout, again.stdout + again.stderr
    finally:
        sleeper.kill()
        sleeper.wait()
        for _ in range(50):   # a killed process leaves its cgroup asynchronously
            try:
                for d in ("init", ""):
                    p = os.path.join(grp, d)
                    if os.path.isdir(p):
                        os.rmdir(p)
                break
            except OSError:
                time.sleep(0.1)
    assert not os.path.exists(grp)
