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
25 22 0:7 / /mnt/slave rw master:3 - tmpfs none rw
"""


def test_parse_mountinfo_reads_point_type_source_and_peer_group():
    m = byhand.parse_mountinfo(MOUNTINFO)
    assert [x["point"] for x in m] == ["/", "/proc", "/mnt/with space", "/mnt/slave"]
    assert [x["fstype"] for x in m] == ["ext4", "proc", "tmpfs", "tmpfs"]
    assert m[0]["source"] == "/dev/vda"
    assert [x["shared"] for x in m] == ["1", "12", None, None]
    assert [x["master"] for x in m] == [None, None, None, "3"]


def test_status_field():
    text = "Name:\tx\nCapEff:\t00000000a80425fb\nNoNewPrivs:\t1\n"
    assert byhand.status_field(text, "CapEff") == "00000000a80425fb"
    assert byhand.status_field(text, "NoNewPrivs") == "1"
    assert byhand.status_field(text, "Seccomp") == ""


def test_the_steps_in_order_pass():
    done: list[str] = []
    ns: list[str] = []
    args = {"cgroup": 64 << 20, "unshare": ["mount", "uts", "pid", "user"], "uid_map": (100000, 65536),
            "hostname": "h"}
    for name in byhand.STEPS:
        byhand.check_step(done, ns, name, args.get(name))
        done.append(name)
        if name == "unshare":
            ns = args[name]


def test_unknown_step_is_named():
    with pytest.raises(SpecError, match="'mount_everything'.*no such step.*cgroup, unshare, uid_map, private"):
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
    assert ch.mounts_added == []
    assert ch.mounts_removed == ["/proc (proc)", "/mnt/with space (tmpfs)", "/mnt/slave (tmpfs)"]
    text = str(ch)
    assert "pid: 40 -> 1" in text and "ls /: b" in text and "mount table: 4 -> 1 lines" in text
    assert "hostname" not in text


def test_cgroup_comes_first_and_takes_a_limit_in_bytes():
    byhand.check_step([], [], "cgroup", 64 << 20)
    with pytest.raises(SpecError, match="'cgroup'.*comes before unshare"):
        byhand.check_step(["unshare"], ["mount"], "cgroup", 64 << 20)
    for bad in (None, "64M", 1000, True):
        with pytest.raises(SpecError, match="at least 1 MiB"):
            byhand.check_step([], [], "cgroup", bad)


def test_uid_map_needs_a_user_namespace_and_a_range():
    byhand.check_step(["unshare"], ["user", "mount"], "uid_map", (100000, 65536))
    with pytest.raises(SpecError, match="'uid_map'.*new user namespace"):
        byhand.check_step(["unshare"], ["mount"], "uid_map", (100000, 65536))
    for bad in (None, (100000,), (-1, 10), (100000, 0), ("0", 1), (1 << 32, 1)):
        with pytest.raises(SpecError, match="first id outside"):
            byhand.check_step(["unshare"], ["user", "mount"], "uid_map", bad)


def test_not_strict_lets_the_kernel_judge_the_order_but_keeps_the_host_safe():
    # out of order: refused by name when strict, passed to the kernel when not
    with pytest.raises(SpecError, match="'detach'.*needs pivot_root"):
        byhand.check_step(["unshare", "private", "overlay"], ["mount"], "detach")
    byhand.check_step(["unshare", "private", "overlay"], ["mount"], "detach", strict=False)
    byhand.check_step(["unshare", "private", "overlay", "caps"], ["mount"], "pivot_root", strict=False)
    # what would touch the host stays refused
    with pytest.raises(SpecError, match="host's namespaces"):
        byhand.check_step([], [], "private", strict=False)
    with pytest.raises(SpecError, match="propagate to the host"):
        byhand.check_step(["unshare"], ["mount"], "overlay", strict=False)
    with pytest.raises(SpecError, match="rename the host"):
        byhand.check_step(["unshare"], ["mount"], "hostname", "x", strict=False)
    with pytest.raises(SpecError, match="done already"):
        byhand.check_step(["unshare", "private"], ["mount"], "private", strict=False)


def test_every_step_has_code_to_show_and_show_prints_it(capsys):
    for name in byhand.STEPS:
        code = byhand.source(name)
        assert code.startswith("# the ") and "def _" in code, name
        assert all(len(line) <= 100 for line in code.splitlines()), name
    byhand.show("cgroup")
    out = capsys.readouterr().out
    assert "cgroup.procs" in out and "the notebook's process, on the host" in out
    assert "setresuid" in byhand.source("uid_map") and "uid_map" in byhand.source("uid_map")
    assert "SYS.pivot_root(" in byhand.source("pivot_root")
    with pytest.raises(SpecError, match="no such step"):
        byhand.source("teleport")


def test_memory_controller_prefers_v1_memory_then_a_v2_root_with_memory(tmp_path, monkeypatch):
    import builtins

    v1 = "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    v2_point = tmp_path / "unified"
    v2_point.mkdir()
    v2 = f"41 31 0:38 / {v2_point} rw,relatime - cgroup2 cgroup2 rw\n"
    real_open = builtins.open

    def fake(text):
        def opener(path, *a, **k):
            if path == "/proc/self/mountinfo":
                import io
                return io.StringIO(text)
            return real_open(path, *a, **k)
        return opener

    monkeypatch.setattr(builtins, "open", fake(v2 + v1))
    assert byhand.memory_controller() == ("/sys/fs/cgroup/memory", "memory.limit_in_bytes")
    (v2_point / "cgroup.subtree_control").write_text("cpu io memory pids\n")
    monkeypatch.setattr(builtins, "open", fake(v2))
    assert byhand.memory_controller() == (str(v2_point), "memory.max")
    (v2_point / "cgroup.subtree_control").write_text("cpu pids\n")
    with pytest.raises(byhand.BoxkitError, match="memory cgroup"):
        byhand.memory_controller()
