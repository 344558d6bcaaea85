"""Rootless plans: what :func:`boxkit.runtime.rootless.adapt` makes of a container plan without root.

Plans are plain data; these tests build them from a directory rootfs (no image store, no root) and
pretend to be uid 1000. The kernel side is tested for real in tests/integration/test_rootless.py.
"""

from __future__ import annotations

import pytest

from boxkit.errors import SpecError
from boxkit.runtime import rootless
from boxkit.runtime.container import build_plan
from boxkit.spec import ContainerSpec


@pytest.fixture
def as_learner(monkeypatch):
    """Plans are built as whoever runs the tests; adapt() then runs as uid 1000."""
    def become() -> None:
        monkeypatch.setattr(rootless.os, "geteuid", lambda: 1000)   # os itself: restored after the test
        monkeypatch.setattr(rootless.os, "getegid", lambda: 1000)
    return become


def _plan(tmp_path, become, **options):
    spec = ContainerSpec.create(None, ["true"], rootfs=str(tmp_path), **options)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rootless, "wanted", lambda: False)   # the plan as root would have it
        plan = build_plan(spec, "abc123")
    become()
    return spec, plan


def test_a_rootless_plan_gets_a_user_namespace_mapped_onto_the_caller(tmp_path, as_learner):
    spec, plan = _plan(tmp_path, as_learner)
    out = rootless.adapt(plan, spec)
    assert out.ns[0] == "user" and set(plan.ns) < set(out.ns)
    assert out.rootless == [1000, 1000] and out.uid_map is None
    assert plan.rootless is None, "the plan given is left as it was"


def test_userns_true_is_the_rootless_user_namespace(tmp_path, as_learner):
    spec, plan = _plan(tmp_path, as_learner, userns=True)
    out = rootless.adapt(plan, spec)
    assert out.ns.count("user") == 1 and out.uid_map is None


@pytest.mark.parametrize("options, what, says", [
    ({"network": "bridge"}, "network", "--network none"),
    ({"network": "host"}, "network", "--network none"),
    ({"memory": "64M"}, "limits", "cgroups"),
    ({"cpus": 0.5, "pids_limit": 20}, "limits", "cgroups"),
    ({"userns": True, "uid_map": (0, 200000, 1000)}, "uid map", "your own uid"),
    ({"user": "1000:1000"}, "user", "only uid 0"),
    ({"cgroupfs": True}, "cgroupfs", "no cgroup of its own"),
])
def test_what_a_rootless_container_cannot_have_is_one_clear_sentence(tmp_path, as_learner, options, what, says):
    spec, plan = _plan(tmp_path, as_learner, **options)
    with pytest.raises(SpecError) as err:
        rootless.adapt(plan, spec)
    msg = str(err.value)
    assert what in msg and says in msg and "rootless" in msg and "boxkit probe" in msg
    assert msg == msg.rstrip(".")


def test_root_inside_is_allowed(tmp_path, as_learner):
    spec, plan = _plan(tmp_path, as_learner, user="0:0")
    assert rootless.adapt(plan, spec).user is None


def test_default_root_for_a_learner_is_in_their_home(monkeypatch, tmp_path):
    from boxkit import paths

    monkeypatch.delenv("BOXKIT_ROOT", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(paths.os, "geteuid", lambda: 1000)
    assert paths.root() == f"{tmp_path}/.local/share/boxkit"
    monkeypatch.setenv("XDG_DATA_HOME", "/data")
    assert paths.root() == "/data/boxkit"
    monkeypatch.setattr(paths.os, "geteuid", lambda: 0)
    assert paths.root() == "/var/lib/boxkit"
    monkeypatch.setenv("BOXKIT_ROOT", "/elsewhere")
    assert paths.root() == "/elsewhere"


def test_neither_root_nor_rootless_points_at_boxkit_probe(monkeypatch, as_learner):
    from boxkit import probe as probe_mod
    from boxkit.errors import HostError
    from boxkit.probe import Check

    class Report:
        rootless = False

        def check(self, key):
            assert key == "rootless"
            return Check("rootless", "rootless containers", False,
                         "cannot run containers without root: no unprivileged user namespaces", "")

    as_learner()
    monkeypatch.setattr(probe_mod, "probe", lambda refresh=False: Report())
    with pytest.raises(HostError) as err:
        rootless.require()
    msg = str(err.value)
    assert msg.startswith("cannot start a container as uid 1000") and "no unprivileged user namespaces" in msg
    assert "boxkit probe" in msg
    Report.rootless = True
    rootless.require()   # rootless works: no error
