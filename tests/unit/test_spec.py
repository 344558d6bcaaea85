"""Spec parsing: every value a person types is checked once, with one sentence for bad input."""

from __future__ import annotations

import pytest

from boxkit.errors import SpecError
from boxkit.spec import (
    ContainerSpec,
    Limits,
    Mount,
    parse_cpus,
    parse_env,
    parse_hostname,
    parse_size,
    parse_user,
)


@pytest.mark.parametrize("text,expected", [
    ("500M", 500 << 20), ("1.5G", int(1.5 * (1 << 30))), ("512m", 512 << 20), ("1048576", 1 << 20),
    ("64k", 64 << 10), ("2g", 2 << 30), ("500MB", 500 << 20), ("1GiB", 1 << 30), (4096, 4096),
])
def test_sizes(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["-5M", "500MB?", "0", "lots", "", "1.2.3G", "M"])
def test_bad_sizes_say_what_is_expected(bad):
    with pytest.raises(SpecError) as e:
        parse_size(bad, "memory limit")
    assert "invalid memory limit" in str(e.value)
    assert e.value.exit_code == 125


def test_max_means_no_limit():
    assert parse_size("max") is None


def test_cpus():
    assert parse_cpus("0.5", ncpu=2) == 0.5
    assert parse_cpus("max") is None
    for bad in ("0", "-1", "abc", "nan"):
        with pytest.raises(SpecError):
            parse_cpus(bad, ncpu=2)
    with pytest.raises(SpecError, match="this host has 2 cpus"):
        parse_cpus("3", ncpu=2)


def test_env():
    assert parse_env(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(SpecError, match="expected KEY=VALUE"):
        parse_env(["NOPE_NOT_SET_ANYWHERE_123"])
    with pytest.raises(SpecError, match="environment variable name"):
        parse_env(["1A=2"])


def test_user():
    assert parse_user("1000") == (1000, 1000)
    assert parse_user("1000:50") == (1000, 50)
    assert parse_user(None) is None
    for bad in ("bob", "1000:", ":5", "-1", "1:2:3"):
        with pytest.raises(SpecError, match="invalid user"):
            parse_user(bad)


def test_hostname():
    assert parse_hostname("web-1.local") == "web-1.local"
    with pytest.raises(SpecError, match="longer than 64"):
        parse_hostname("a" * 65)
    with pytest.raises(SpecError):
        parse_hostname("bad_name!")


def test_volume(tmp_path):
    m = Mount.parse(f"{tmp_path}:/data:ro")
    assert (m.source, m.target, m.readonly) == (str(tmp_path), "/data", True)
    for bad in ("relative:/x", f"{tmp_path}:rel", f"{tmp_path}:/x:rx", f"{tmp_path}", "/nonexistent-boxkit:/x",
                f"{tmp_path}:/a/../../b"):
        with pytest.raises(SpecError):
            Mount.parse(bad)


def test_limits():
    lim = Limits.parse(memory="500M", cpus="0.5", pids=20, memory_swap="1G")
    assert lim.memory == 500 << 20 and lim.cpus == 0.5 and lim.pids == 20
    with pytest.raises(SpecError, match="minimum is 6M"):
        Limits.parse(memory="1M")
    with pytest.raises(SpecError, match="at least the memory limit"):
        Limits.parse(memory="500M", memory_swap="100M")
    with pytest.raises(SpecError, match="set --memory too"):
        Limits.parse(memory_swap="1G")
    with pytest.raises(SpecError, match="between 2 and 262144"):
        Limits.parse(cpu_shares=1)


def test_spec_defaults_and_rules(tmp_path):
    s = ContainerSpec.create(rootfs=str(tmp_path), argv="echo hi")
    assert s.argv == ["/bin/sh", "-c", "echo hi"]
    assert set(s.namespaces) >= {"pid", "mount", "uts", "ipc", "net"}
    assert "user" not in s.namespaces
    u = ContainerSpec.create(rootfs=str(tmp_path), argv=["id"], userns=True)
    assert "user" in u.namespaces and u.uid_map == (0, 100000, 65536)
    h = ContainerSpec.create(rootfs=str(tmp_path), argv=["id"], network="host")
    assert "net" not in h.namespaces
    with pytest.raises(SpecError, match="exactly one of image or rootfs"):
        ContainerSpec.create()
    with pytest.raises(SpecError, match="not a directory"):
        ContainerSpec.create(rootfs=str(tmp_path / "missing"), argv=["true"])
    with pytest.raises(SpecError, match="own mount namespace"):
        ContainerSpec.create(rootfs=str(tmp_path), argv=["true"], namespaces=["pid"])
    with pytest.raises(SpecError, match="working directory"):
        ContainerSpec.create(rootfs=str(tmp_path), argv=["true"], cwd="relative")
    with pytest.raises(SpecError, match="unknown|known"):
        ContainerSpec.create(rootfs=str(tmp_path), argv=["true"], namespaces=["mount", "bogus"])
