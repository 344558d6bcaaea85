"""What Zero to JupyterHub would run for one learner, built here without a cluster.

z2jh turns a teacher's values into a learner's pod in three steps, and this module repeats each with
the code that does it there, except the one step that needs helm:

1. **helm merges the values**: the chart's defaults, then each ``-f`` file in order; a later file wins,
   maps merge key by key, lists and scalars are replaced whole, and a ``null`` deletes a default.
   :func:`merge` does that over ``z2jh_defaults.yaml`` (the chart's defaults for the keys below,
   copied from chart 4.4.0).
2. **the hub's ``jupyterhub_config.py`` configures KubeSpawner from those values** (chart 4.4.0,
   commit 5c5f5df7, ``jupyterhub/files/hub/jupyterhub_config.py``, :data:`Z2JH_CONFIG`): a table of
   ``singleuser.*`` keys to KubeSpawner traits (camelCase to snake_case), then by hand the image, the
   privilege escalation flag, the tolerations, the node-purpose affinity, the storage volumes, the
   command, the cloud-metadata init container and the ``hub.config`` pass-through.
   :func:`spawner_config` follows that file line for line for every key it reads, and refuses a
   ``singleuser`` key it does not map (a typo would otherwise vanish silently, as it does in z2jh
   only after its schema check).
3. **KubeSpawner builds the pod**: the real ``kubespawner.KubeSpawner`` (PyPI
   ``jupyterhub-kubespawner``), made with that config the way KubeSpawner's own tests make it
   (``_mock=True`` supplies a stand-in hub and user), and its ``get_pod_manifest()``. The object is
   serialised by the same Kubernetes API client that would send it (``sanitize_for_serialization``,
   camelCase JSON). KubeSpawner's constructor loads a Kubernetes client configuration; a kubeconfig
   naming an address nothing listens on is enough, since building a pod contacts no API server.

The merged values also drive what the chart renders outside the pod (the NetworkPolicy); the tests
assert those values, since rendering the chart's templates needs helm.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile

import yaml
from hosting_util import REPO

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULTS = os.path.join(HERE, "z2jh_defaults.yaml")
VALUES_DIR = os.path.join(REPO, "deploy", "jupyterhub")
Z2JH_VERSION = "4.4.0"
Z2JH_CONFIG = ("https://github.com/jupyterhub/zero-to-jupyterhub-k8s/blob/"
               "5c5f5df751588a68a7781ead01d0f62e88e2e72f/jupyterhub/files/hub/jupyterhub_config.py")
RELEASE = "boxkit-hub"
NAMESPACE = "boxkit"

# jupyterhub_config.py's table: (KubeSpawner trait, singleuser key or None for camelCase of the trait)
TRAIT_TABLE = (
    ("pod_name_template", None), ("start_timeout", None), ("image_pull_policy", "image.pullPolicy"),
    ("events_enabled", "events"), ("extra_labels", None), ("extra_annotations", None), ("uid", None),
    ("fs_gid", None), ("service_account", "serviceAccountName"),
    ("storage_extra_labels", "storage.extraLabels"), ("node_selector", None),
    ("node_affinity_required", "extraNodeAffinity.required"),
    ("node_affinity_preferred", "extraNodeAffinity.preferred"),
    ("pod_affinity_required", "extraPodAffinity.required"),
    ("pod_affinity_preferred", "extraPodAffinity.preferred"),
    ("pod_anti_affinity_required", "extraPodAntiAffinity.required"),
    ("pod_anti_affinity_preferred", "extraPodAntiAffinity.preferred"),
    ("lifecycle_hooks", None), ("init_containers", None), ("extra_containers", None),
    ("mem_limit", "memory.limit"), ("mem_guarantee", "memory.guarantee"), ("cpu_limit", "cpu.limit"),
    ("cpu_guarantee", "cpu.guarantee"), ("extra_resource_limits", "extraResource.limits"),
    ("extra_resource_guarantees", "extraResource.guarantees"), ("environment", "extraEnv"),
    ("profile_list", None), ("extra_pod_config", None),
)

# singleuser keys the file reads outside the table (or the chart reads for objects other than the pod)
MAPPED_BY_HAND = {"image", "allowPrivilegeEscalation", "extraTolerations", "storage", "cmd", "defaultUrl",
                  "cloudMetadata", "networkTools", "networkPolicy", "extraFiles"}


def camel(s: str) -> str:
    """snake_case to camelCase, as jupyterhub_config.py's camelCaseify."""
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), s)


def mapped_singleuser_keys() -> set[str]:
    """The first-level ``singleuser`` keys this module (and jupyterhub_config.py) gives a meaning."""
    return {(key or camel(trait)).split(".")[0] for trait, key in TRAIT_TABLE} | MAPPED_BY_HAND


def merge(base: dict, over: dict) -> dict:
    """``over`` merged into ``base`` the way helm merges a values file: maps key by key, anything else
    replaced whole, and ``None`` (YAML null) deletes the key."""
    out = dict(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def load_values(*names: str) -> dict:
    """The chart's defaults, then ``deploy/jupyterhub/<name>`` for each name in order (helm's ``-f``)."""
    with open(DEFAULTS) as f:
        values = yaml.safe_load(f)
    for name in names:
        with open(os.path.join(VALUES_DIR, name)) as f:
            values = merge(values, yaml.safe_load(f) or {})
    # what the chart adds to the values it hands the hub (its Secret's values.yaml)
    values["Chart"] = {"Name": "jupyterhub", "Version": Z2JH_VERSION}
    values["Release"] = {"Name": RELEASE}
    return values


def _get(values: dict, key: str, default=None):
    """z2jh.get_config: ``a.b.c`` in the values, ``default`` when a level is missing or not a map."""
    v = values
    for level in key.split("."):
        if not isinstance(v, dict) or level not in v:
            return default
        v = v[level]
    return v


def spawner_config(values: dict):
    """A traitlets Config for KubeSpawner with what jupyterhub_config.py sets from ``values`` for a
    learner's pod (the hub's own settings, database and services left out). Raises ValueError for a
    ``singleuser`` key it does not map."""
    from kubernetes_asyncio import client
    from traitlets.config import Config

    unknown = set(values.get("singleuser", {})) - mapped_singleuser_keys()
    if unknown:
        raise ValueError(f"singleuser keys z2jh's jupyterhub_config.py does not read: {sorted(unknown)}")
    c = Config()

    def set_if(section, trait, key):   # z2jh.set_config_if_not_none
        v = _get(values, key)
        if v is not None:
            setattr(section, trait, v)

    name = values.get("nameOverride") or _get(values, "Chart.Name", "jupyterhub")
    labels = {"app.kubernetes.io/name": name, "app": name}
    labels["app.kubernetes.io/instance"] = labels["release"] = _get(values, "Release.Name")
    chart = f"{_get(values, 'Chart.Name')}-{_get(values, 'Chart.Version').replace('+', '_')}"
    labels["helm.sh/chart"] = labels["chart"] = chart
    labels["app.kubernetes.io/managed-by"] = "kubespawner"
    c.KubeSpawner.common_labels = labels
    c.KubeSpawner.namespace = NAMESPACE

    for trait, key in TRAIT_TABLE:
        set_if(c.KubeSpawner, trait, "singleuser." + (key or camel(trait)))
    image = _get(values, "singleuser.image.name")
    if image:
        tag = _get(values, "singleuser.image.tag")
        c.KubeSpawner.image = f"{image}:{tag}" if tag else image
    c.KubeSpawner.allow_privilege_escalation = _get(values, "singleuser.allowPrivilegeEscalation")
    pull_secrets = list(_get(values, "imagePullSecrets", []) or []) + \
        list(_get(values, "singleuser.image.pullSecrets", []) or [])
    if pull_secrets:
        c.KubeSpawner.image_pull_secrets = pull_secrets

    # the chart's resource names: fullnameOverride "" (its default) gives unprefixed names
    prefix = "" if isinstance(values.get("fullnameOverride"), str) else f"{RELEASE}-"
    if _get(values, "scheduling.userScheduler.enabled"):
        c.KubeSpawner.scheduler_name = prefix + "user-scheduler"
    if _get(values, "scheduling.podPriority.enabled"):
        c.KubeSpawner.priority_class_name = prefix + "priority"
    purpose = _get(values, "scheduling.userPods.nodeAffinity.matchNodePurpose")
    term = {"matchExpressions": [{"key": "hub.jupyter.org/node-purpose", "operator": "In",
                                  "values": ["user"]}]}
    if purpose == "prefer":   # the table set these lists (or the append is lazy, as in z2jh)
        c.KubeSpawner.node_affinity_preferred.append({"weight": 100, "preference": term})
    elif purpose == "require":
        c.KubeSpawner.node_affinity_required.append(term)
    elif purpose not in ("ignore", None):
        raise ValueError(f"Unrecognized value for matchNodePurpose: {purpose}")
    tolerations = (_get(values, "scheduling.userPods.tolerations", []) or []) + \
        (_get(values, "singleuser.extraTolerations", []) or [])
    if tolerations:
        c.KubeSpawner.tolerations = tolerations

    volumes, mounts = _storage(values, c)
    c.KubeSpawner.volumes = volumes
    c.KubeSpawner.volume_mounts = mounts

    if "cmd" in values.get("singleuser", {}):          # an explicit null command is kept
        c.Spawner.cmd = values["singleuser"]["cmd"]
    set_if(c.Spawner, "default_url", "singleuser.defaultUrl")
    metadata = _get(values, "singleuser.cloudMetadata", {}) or {}
    if metadata.get("blockWithIptables") is True:
        tools = _get(values, "singleuser.networkTools")
        c.KubeSpawner.init_containers.append(client.V1Container(
            name="block-cloud-metadata",
            image=f"{tools['image']['name']}:{tools['image']['tag']}",
            command=["iptables", "--append", "OUTPUT", "--protocol", "tcp", "--destination",
                     metadata["ip"], "--destination-port", "80", "--jump", "DROP"],
            security_context=client.V1SecurityContext(
                privileged=True, run_as_user=0, capabilities=client.V1Capabilities(add=["NET_ADMIN"])),
            resources=tools.get("resources")))
    for section, cfg in (_get(values, "hub.config", {}) or {}).items():   # the pass-through, last
        if not section[:1].isupper():
            raise ValueError(f"hub.config.{section}: sections must be Configurable class names")
        c[section].update(cfg)
    return c


def _storage(values: dict, c) -> tuple[dict, dict]:
    volumes: dict = {}
    mounts: dict = {}
    kind = _get(values, "singleuser.storage.type")
    home = _get(values, "singleuser.storage.homeMountPath")
    if kind == "dynamic":
        template = _get(values, "singleuser.storage.dynamic.pvcNameTemplate")
        if template:
            c.KubeSpawner.pvc_name_template = template
        vname = _get(values, "singleuser.storage.dynamic.volumeNameTemplate")
        c.KubeSpawner.storage_pvc_ensure = True
        for trait, key in (("storage_class", "dynamic.storageClass"),
                           ("storage_access_modes", "dynamic.storageAccessModes"),
                           ("storage_capacity", "capacity")):
            v = _get(values, "singleuser.storage." + key)
            if v is not None:
                setattr(c.KubeSpawner, trait, v)
        volumes = {vname: {"name": vname, "persistentVolumeClaim": {"claimName": "{pvc_name}"}}}
        mounts = {vname: {"mountPath": home, "name": vname,
                          "subPath": _get(values, "singleuser.storage.dynamic.subPath")}}
    elif kind == "static":
        volumes = {"home": {"name": "home", "persistentVolumeClaim": {
            "claimName": _get(values, "singleuser.storage.static.pvcName")}}}
        mounts = {"home": {"mountPath": home, "name": "home",
                           "subPath": _get(values, "singleuser.storage.static.subPath")}}
    if _get(values, "singleuser.extraFiles"):
        raise ValueError("singleuser.extraFiles: not mapped here (the chart makes a Secret for them)")
    extra = _get(values, "singleuser.storage.extraVolumes") or {}
    for v in (extra.values() if isinstance(extra, dict) else extra):
        volumes[v["name"]] = v
    extra_mounts = _get(values, "singleuser.storage.extraVolumeMounts") or {}
    if isinstance(extra_mounts, dict):
        mounts.update(extra_mounts)
    else:
        for i, m in enumerate(extra_mounts):
            mounts[f"{i}-{m['name']}"] = m
    return volumes, mounts


KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: never-sent}}]
contexts: [{name: none, context: {cluster: none, user: none, namespace: boxkit}}]
current-context: none
"""


@contextlib.contextmanager
def _kubeconfig():
    """A kubeconfig naming a cluster nothing serves, for KubeSpawner's constructor only. The client
    reads $KUBECONFIG once, when it is imported, into ``KUBE_CONFIG_DEFAULT_LOCATION``; this sets that
    for the duration, as kubernetes_asyncio's own tests do (``config/incluster_config_test.py``)."""
    from kubernetes_asyncio.config import kube_config

    old = kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    with tempfile.NamedTemporaryFile("w", suffix=".kubeconfig") as f:
        f.write(KUBECONFIG)
        f.flush()
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = f.name
        try:
            yield
        finally:
            kube_config.KUBE_CONFIG_DEFAULT_LOCATION = old


class Learner:
    """The user a hub spawns for (KubeSpawner reads these attributes)."""

    def __init__(self, name: str):
        self.name = self.escaped_name = name
        self.id = 1
        self.url = f"/user/{name}/"


async def _pod(config, learner: str) -> dict:
    from jupyterhub.objects import Hub
    from kubespawner import KubeSpawner

    spawner = KubeSpawner(config=config, hub=Hub(), user=Learner(learner), _mock=True)
    pod = await spawner.get_pod_manifest()
    return spawner.api.api_client.sanitize_for_serialization(pod)


def render_pod(*names: str, learner: str = "learner-a") -> dict:
    """The pod KubeSpawner makes for ``learner`` from values.yaml files ``names`` (in helm's order),
    as the JSON the hub would send to the API server."""
    config = spawner_config(load_values(*names))
    with _kubeconfig():
        return asyncio.run(_pod(config, learner))
