"""The plan's type: its JSON form, what it refuses, and that both fronts make one."""

from __future__ import annotations

import dataclasses
import json

import pytest

from boxkit.errors import SpecError
from boxkit.oci import bundle
from boxkit.runtime import rootless
from boxkit.runtime.container import build_plan
from boxkit.runtime.plan import Plan
from boxkit.spec import ContainerSpec


def test_a_plan_survives_its_json_form_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(rootless, "wanted", lambda: False)
    spec = ContainerSpec.create(rootfs=str(tmp_path), argv=["sh", "-c", "echo hi"], memory="64M",
                                env={"A": "1"}, volumes=[f"{tmp_path}:/data:ro"], hostname="box")
    plan = build_plan(spec, "abc123")
    back = Plan.from_wire(json.loads(json.dumps(plan.to_wire())))
    assert back == plan
    assert back.limits == {"memory": 64 << 20} and back.mounts == [[str(tmp_path), "/data", True]]
    assert back.files["/etc/hostname"] == "box\n" and back.env["A"] == "1"


def test_an_unknown_field_is_refused_with_its_name():
    wire = Plan(id="x").to_wire()
    wire["nnp"] = False   # the name of no_new_privs before the plan was typed
    with pytest.raises(SpecError) as e:
        Plan.from_wire(wire)
    assert "nnp" in str(e.value) and "another boxkit version" in str(e.value)
    with pytest.raises(SpecError):
        Plan.from_wire(["not", "a", "plan"])


def test_but_changes_a_copy():
    plan = Plan(id="x", files={"/etc/hostname": "a\n"})
    other = plan.but(console_from=5)
    assert other.console_from == 5 and plan.console_from is None and other.files == plan.files


def test_the_defaults_are_boxkit_runs_behaviour():
    plan = Plan()
    assert plan.no_new_privs is True and plan.caps is None and plan.mount_entries is None
    assert plan.network == "none" and plan.cwd == "/" and not plan.privileged and not plan.oci


def test_every_field_is_documented_in_the_class():
    """Each field carries a comment saying what it is (the module is the plan's documentation)."""
    import inspect

    from boxkit.runtime import plan as planmod

    src = inspect.getsource(planmod.Plan)
    undocumented = []
    for f in dataclasses.fields(Plan):
        line = next(ln for ln in src.splitlines() if ln.strip().startswith(f"{f.name}:"))
        if "#" not in line:
            undocumented.append(f.name)
    # the self-explaining ones of an OCI bundle (process.* and linux.* fields of the same name)
    assert set(undocumented) <= {"oci", "env", "cwd", "hostname", "annotations", "additional_gids", "umask",
                                 "oom_score_adj", "console_size"}, undocumented


def test_an_oci_bundle_becomes_the_same_type(tmp_path):
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "config.json").write_text(json.dumps(bundle.example_config(["true"])))
    plan = bundle.to_plan("x", str(tmp_path), bundle.load(str(tmp_path)))
    assert isinstance(plan, Plan) and plan.oci and plan.cap_sets is not None and plan.caps is None
    assert Plan.from_wire(json.loads(json.dumps(plan.to_wire()))) == plan
