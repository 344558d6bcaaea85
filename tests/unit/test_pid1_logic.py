"""What issue 16 added to the library, checked without root: stop()'s report (SIGTERM was enough, or
the grace period ran out and SIGKILL was sent, and how long it took) against a fake zygote, and the
``cgroupfs=True`` mounts against a recording fake of the kernel seam."""

from __future__ import annotations

import os
import signal
import threading

import pytest
from fakesys import FakeSys

from boxkit import _sys
from boxkit.runtime import client, container, rootfs
from boxkit.runtime.plan import Plan
from boxkit.runtime.spare import SPARE_NS, spare_kind
from boxkit.spec import ContainerSpec


class FakeZygote:
    """Answers kill requests; the container ends on the signals in ``dies_on`` (PID 1 ignores the rest)."""

    def __init__(self, dies_on):
        self.dies_on = set(dies_on)
        self.sent: list[int] = []
        self.events: dict[str, list] = {}
        self.cond = threading.Condition()

    def call(self, msg, fds=None):
        assert msg["op"] == "kill"
        self.sent.append(msg["signal"])
        if msg["signal"] in self.dies_on:
            with self.cond:
                self.events.setdefault(msg["id"], []).append(
                    {"pid": 42, "info": {"exit_code": 128 + msg["signal"], "signal": msg["signal"]}})
                self.cond.notify_all()
        return {"ok": True}

    wait_event = client._Client.wait_event

    alive = True


@pytest.fixture
def started(monkeypatch):
    def make(dies_on):
        fake = FakeZygote(dies_on)
        monkeypatch.setattr(container, "client", lambda: fake)
        c = container.Container(ContainerSpec(image="busybox", argv=["sleep", "30"]))
        c.pid = 42
        return c, fake
    return make


def test_stop_that_sigterm_ends_reports_no_sigkill(started):
    c, fake = started({signal.SIGTERM})
    r = c.stop(timeout=5)
    assert fake.sent == [signal.SIGTERM]
    assert r.signal == signal.SIGTERM and not r.sigkill_after_grace
    assert r.stop_time is not None and r.stop_time < 5


def test_stop_after_the_grace_period_sends_sigkill_and_says_so(started):
    c, fake = started({signal.SIGKILL})   # a PID 1 without a SIGTERM handler
    r = c.stop(timeout=0.3)
    assert fake.sent == [signal.SIGTERM, signal.SIGKILL]
    assert r.signal == signal.SIGKILL and r.sigkill_after_grace
    assert r.stop_time >= 0.3, "SIGKILL only after the whole grace period"
    assert "sigkill_after_grace=True" in repr(r)


def test_a_result_not_from_stop_has_no_stop_report():
    r = container.Result(exit_code=0)
    assert r.stop_time is None and not r.sigkill_after_grace and "stop_time" not in repr(r)


def test_cgroupfs_is_off_by_default_and_reaches_the_plan():
    assert not ContainerSpec.create("busybox", ["true"]).cgroupfs
    assert ContainerSpec.create("busybox", ["true"], cgroupfs=True).cgroupfs


def test_a_cgroupfs_plan_never_takes_a_spare():
    plan = Plan(ns=list(SPARE_NS), layers=["/x"])
    assert spare_kind(plan, SPARE_NS, None)
    assert not spare_kind(plan.but(cgroupfs=True), SPARE_NS, None)


# The host's cgroup mounts as /proc/self/mountinfo lists them: what mount_cgroup reads to know the
# hierarchies. A parameter, not this machine's: the test says the same on a v1, hybrid or v2 host.
HOST_CGROUPS = {
    "v1": [
        "30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755",
        "34 30 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory",
        "35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup "
        "rw,cpu,cpuacct",
    ],
    "v2": ["30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate"],
}
HOST_CGROUPS["hybrid"] = HOST_CGROUPS["v1"] + [
    "31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate"]


@pytest.mark.parametrize("mode", sorted(HOST_CGROUPS))
@pytest.mark.parametrize("asked", [False, True])
def test_cgroupfs_mounts_read_only_before_the_pivot(tmp_path, monkeypatch, asked, mode):
    import io

    from boxkit.runtime import cgroupfs

    real_open = open

    def host_open(path, *a, **kw):
        if path == "/proc/self/mountinfo":
            return io.StringIO("\n".join(HOST_CGROUPS[mode]) + "\n")
        return real_open(path, *a, **kw)

    monkeypatch.setattr(cgroupfs, "open", host_open, raising=False)
    cwd = os.getcwd()
    fake = FakeSys()
    plan = Plan(merged=str(tmp_path), ns=["pid", "mount", "uts", "ipc", "net", "cgroup"], cgroupfs=asked)
    try:
        rootfs.setup_rootfs(plan, lambda t: None, sys=fake)
    finally:
        os.chdir(cwd)
    target = str(tmp_path / "sys" / "fs" / "cgroup")
    under = [c for c in fake.calls if c[0] == "mount" and str(c[2]).startswith(target)]
    if not asked:
        assert under == []
        return
    fresh = [c for c in under if c[3] in ("cgroup", "cgroup2")]
    assert fresh, "a fresh mount of each hierarchy: in a cgroup namespace its root is the container's group"
    v2_only = mode == "v2"
    assert (under[0][3] == "cgroup2") == v2_only
    assert v2_only or (under[0][2], under[0][3]) == (target, "tmpfs")
    # one fresh mount per hierarchy the host has (v1: memory and cpu,cpuacct; hybrid: and the unified)
    want = {"v1": ["cgroup", "cgroup"], "hybrid": ["cgroup", "cgroup", "cgroup2"], "v2": ["cgroup2"]}[mode]
    assert sorted(c[3] for c in fresh) == want
    assert all(c[4] & _sys.MS_RDONLY for c in fresh if c[3] == "cgroup2") or not v2_only
    kinds = [c[0] for c in fake.calls]
    assert max(fake.calls.index(c) for c in under) < kinds.index("pivot_root")
    # read-only: the v1 tmpfs and its hierarchies are remounted with MS_RDONLY
    assert any(c[4] & _sys.MS_RDONLY and c[4] & _sys.MS_REMOUNT for c in under) or v2_only
