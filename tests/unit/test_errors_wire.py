"""Errors cross the helper's socket whole: the class, operation, path, errno, hint and exit code a
caller sees are those the helper raised with (they once all became ContainerError(message))."""

from __future__ import annotations

import errno
import json

import pytest

from boxkit.errors import (
    BoxkitError,
    ContainerError,
    ExecError,
    HostError,
    NotFoundError,
    SpecError,
    from_wire,
    to_wire,
)
from boxkit.images.layer import LayerError
from boxkit.runtime.init import error_of
from boxkit.runtime.plan import Plan


def _across(err: BaseException) -> BoxkitError:
    return from_wire(json.loads(json.dumps(to_wire(err))))


@pytest.mark.parametrize("err", [
    SpecError("memory limit", "-5M", "must be positive", hint="give e.g. 500M"),
    NotFoundError("image", "nosuch", hint="boxkit images lists the local images"),
    HostError("cannot create cgroup", "/sys/fs/cgroup/memory/boxkit/x", errno=errno.EACCES),
    ContainerError("cannot set hostname for container", "abc", errno=errno.EPERM, hint="see boxkit probe"),
    ExecError("/bin/nosuch", errno.ENOENT),
    ExecError("/etc/passwd", errno.EACCES),
])
def test_each_class_arrives_as_itself_with_its_fields(err):
    got = _across(err)
    assert type(got) is type(err)
    assert (got.op, got.path, got.errno, got.hint, got.detail) == (err.op, err.path, err.errno, err.hint, err.detail)
    assert str(got) == str(err) and got.exit_code == err.exit_code
    if isinstance(err, ExecError):
        assert got.exit_code == (127 if err.errno == errno.ENOENT else 126)


def test_a_subclass_the_caller_does_not_know_arrives_as_its_nearest_known_base():
    err = LayerError("sha256:ab", "../etc/passwd", "it leaves the layer's root")
    got = _across(err)
    assert type(got) is BoxkitError and str(got) == str(err)
    assert to_wire(err)["name"] == "LayerError" and got.path == err.path


def test_a_plain_oserror_keeps_its_errno_and_file():
    got = _across(FileNotFoundError(errno.ENOENT, "No such file or directory", "/var/lib/boxkit/x"))
    assert got.errno == errno.ENOENT and got.path == "/var/lib/boxkit/x"
    assert str(got).startswith("cannot start container /var/lib/boxkit/x: no such file or directory")


def test_anything_else_says_its_type():
    got = _across(KeyError("ns"))
    assert "KeyError" in str(got) and got.exit_code == 125


def test_a_stage_failure_reads_as_a_sentence():
    plan = Plan(id="c0ffee", argv=["true"])
    e = error_of(plan, {"error": "stage 1", "detail": "exited early"})
    assert str(e).startswith("cannot create the namespaces for container c0ffee"), str(e)
    e = error_of(plan, {"error": "set hostname", "errno": errno.EPERM})
    assert str(e).startswith("cannot set hostname for container c0ffee: operation not permitted"), str(e)
