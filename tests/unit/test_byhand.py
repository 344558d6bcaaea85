"""The by-hand container's pure logic: step order and prerequisites, mountinfo parsing, the diff of
two views. No process is started here; tests/integration/test_byhand.py runs the real steps."""

from __future__ import annotations

import pytest

from boxkit import byhand
from boxkit.errors import SpecError

MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:5 / /proc rw,nosuid shared:12 - proc proc rw
24 22 0:6 / /mnt/with\\040space rw - tmpfs none rw
"""


def test_parse_mountinfo_reads_point_type_source_and_peer_group():
    m = byhand.parse_mountinfo(MOUNTINFO)
    assert [x["point"] for x in m] == ["/", "/proc", "/mnt/with space"]
    assert [x["fstype"] for x in m] == ["ext4", "proc", "tmpfs"]
    assert m[0]["source"] == "/dev/vda"
    assert [x["shared"] for x in m] == ["1", "12", None]


def test_status_field():
    text = "Name:\tx\nCapEff:\t00000000a80425fb\nNoNewPrivs:\t1\n"
    assert byhand.status_field(text, "CapEff") == "00000000a80425fb"
    assert byhand.status_field(text, "NoNewPrivs") == "1"
    assert byhand.status_field(text, "Seccomp") == ""


def test_the_steps_in_order_pass():
    done: list[str] = []
    ns: list[str] = []
    args = {"unshare": ["mount", "uts", "pid"], "hostname": "h"}
    for name in byhand.STEPS:
        byhand.check_step(done, ns, name, args.get(name))
        done.append(name)
        if name == "unshare":
            ns = args[name]


def test_unknown_step_is_named():
    with pytest.raises(SpecError, match="'mount_everything'.*no such step.*unshare, private"):
        byhand.check_step([], [], "mount_everything")


def test_missing_prerequisite_is_named():
    with pytest.raises(SpecError, match="'detach'.*needs pivot_root first"):
        byhand.check_step(["unshare", "private", "overlay"], ["mount"], "detach")


def test_wrong_order_is_named():
    with pytest.raises(SpecError, match="'proc'.*comes before pivot_root"):
        byhand.check_step(["unshare", "private", "overlay", "pivot_root"], ["mount"], "proc")


def test_a_step_twice_is_refused():
    with pytest.raises(SpecError, match="'private'.*done already"):
        byhand.check_step(["unshare", "private"], ["mount"], "private")


def test_unshare_needs_a_mount_namespace_and_known_names():
    with pytest.raises(SpecError, match="mounts would be the host's"):
        byhand.check_step([], [], "unshare", ["uts", "pid"])
    with pytest.raises(SpecError, match="'bogus'"):
        byhand.check_step([], [], "unshare", ["mount", "bogus"])


def test_hostname_without_uts_namespace_is_refused():
    with pytest.raises(SpecError, match="rename the host"):
        byhand.check_step(["unshare"], ["mount", "pid"], "hostname", "x")
    with pytest.raises(SpecError, match="1 to 64"):
        byhand.check_step(["unshare"], ["mount", "uts"], "hostname", "")


def test_change_lists_what_a_step_changed():
    before = {"pid": 40, "hostname": "vm", "ls": ["a"], "ns": {"mount": "mnt:[1]"},
              "mounts": byhand.parse_mountinfo(MOUNTINFO)}
    after = {"pid": 1, "hostname": "vm", "ls": ["b"], "ns": {"mount": "mnt:[2]"},
             "mounts": byhand.parse_mountinfo(MOUNTINFO)[:1]}
    ch = byhand.Change.of("x", before, after)
    assert ch.new_namespaces == ["mount"]
    assert ch.mounts_added == [] and ch.mounts_removed == ["/proc (proc)", "/mnt/with space (tmpfs)"]
    text = str(ch)
    assert "pid: 40 -> 1" in text and "ls /: b" in text and "mount table: 3 -> 1 lines" in text
    assert "hostname" not in text
