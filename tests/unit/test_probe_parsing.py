"""The probe's reading of the host, checked against fake /proc and cgroup trees in a temp dir."""

from __future__ import annotations

import json
import os
import struct

import pytest

from boxkit import probe as P

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
"""
V1 = "\n".join(line for line in HYBRID.splitlines() if "unified" not in line)
V2 = "30 23 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
ROOT_OVERLAY = "600 500 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/a,upperdir=/b,workdir=/c\n"

ALL_OK = {f"ns.{n}": {"ok": True, "errno": None, "detail": f"{n} works"} for n in P.NAMESPACES}
ALL_OK |= {k: {"ok": True, "errno": None, "detail": f"{k} works"}
           for k in ("overlay", "overlay.userns", "pivot_root", "userns.unprivileged", "veth")}
EPERM = {"ok": False, "errno": 1, "detail": "operation not permitted"}
CAPS_FULL = "Name:\tpython3\nCapEff:\t000001ffffffffff\nSeccomp:\t0\n"
CAPS_DOCKER = "Name:\tpython3\nCapEff:\t00000000a80425fb\nSeccomp:\t2\n"


def fake_root(tmp_path, *, status=CAPS_FULL, mountinfo=HYBRID, sysctl=None, files=None) -> str:
    """A directory laid out like / with just the files the probe reads."""
    def put(rel, text):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)

    put("proc/self/status", status)
    put("proc/self/mountinfo", mountinfo)
    for k, v in (sysctl or {"user/max_user_namespaces": "63000"}).items():
        put(f"proc/sys/{k}", f"{v}\n")
    for rel, text in (files or {}).items():
        put(rel, text)
    return str(tmp_path)


def build(tmp_path, trials=None, *, euid=0, cgroup=(["memory", "cpu"], True, "created a group"), **kw):
    root = fake_root(tmp_path, **kw)
    return P.assemble(ALL_OK if trials is None else trials, root_dir=root, euid=euid,
                      release="6.1.0-18-amd64", busybox="/bin/busybox", cgroup=cgroup)


# --- parsing -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("release,want", [
    ("6.18.44-fc-v782", (6, 18)), ("5.10.0-28-amd64", (5, 10)), ("4.19.0", (4, 19)),
    ("5.15.0-1051-azure", (5, 15)), ("6.8.0-rc3+", (6, 8)), ("garbage", (0, 0)),
])
def test_kernel_version(release, want):
    assert P.kernel_version(release) == want


@pytest.mark.parametrize("text,want", [(HYBRID, "hybrid"), (V1, "v1"), (V2, "v2"), ("", "none"),
                                       ("41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n", "v2")])
def test_cgroup_mode(text, want):
    assert P.cgroup_mode(text) == want


def test_v1_hierarchies_split_comounted_and_skip_named():
    h = P.v1_hierarchies(HYBRID)
    assert h["cpu"] == h["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct"
    assert h["memory"] == "/sys/fs/cgroup/memory"
    assert set(h) == {"cpu", "cpuacct", "memory", "pids"}  # not name=systemd, not the xattr option


def test_parse_mountinfo_unescapes_spaces_and_skips_garbage():
    rows = P.parse_mountinfo("1 2 0:1 / /mnt/a\\040b rw - tmpfs tmpfs rw\nnot a mountinfo line\n")
    assert rows == [("/mnt/a b", "tmpfs", "rw")]


def test_v1_enabled_reads_last_column():
    text = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t1\t1\t1\nmemory\t4\t22\t0\n"
    assert P.v1_enabled(text) == {"cpu"}


# --- container detection -----------------------------------------------------------------------------

def test_container_hints_none(tmp_path, monkeypatch):
    monkeypatch.delenv("container", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    root = fake_root(tmp_path, files={"proc/1/cgroup": "0::/init.scope\n"})
    assert P.container_hints(root) == []


def test_container_hints_docker_podman_k8s(tmp_path):
    root = fake_root(tmp_path, mountinfo=ROOT_OVERLAY, files={
        ".dockerenv": "", "run/.containerenv": "",
        "proc/1/cgroup": "0::/kubepods/besteffort/pod1/docker-abc.scope\n"})
    hints = " | ".join(P.container_hints(root))
    assert "/.dockerenv" in hints and "podman" in hints
    assert "docker, kubepods" in hints
    assert "overlay" in hints


# --- ELF: static or not --------------------------------------------------------------------------------

def _elf64(p_types: list[int]) -> bytes:
    head = bytearray(64)
    head[:4] = b"\x7fELF"
    head[4], head[5] = 2, 1                     # 64-bit, little endian
    struct.pack_into("<Q", head, 32, 64)        # e_phoff right after the header
    struct.pack_into("<HH", head, 54, 56, len(p_types))
    table = b"".join(struct.pack("<I", t) + bytes(52) for t in p_types)
    return bytes(head) + table


def test_is_static_elf(tmp_path):
    static, dynamic, text = tmp_path / "s", tmp_path / "d", tmp_path / "t"
    static.write_bytes(_elf64([1, 1, 4]))       # PT_LOAD, PT_LOAD, PT_NOTE
    dynamic.write_bytes(_elf64([6, 3, 1]))      # PT_PHDR, PT_INTERP, PT_LOAD
    text.write_text("#!/bin/sh\n")
    assert P.is_static_elf(str(static))
    assert not P.is_static_elf(str(dynamic))
    assert not P.is_static_elf(str(text))
    assert not P.is_static_elf(str(tmp_path / "absent"))


def test_is_static_elf_on_real_binaries():
    if not os.path.exists("/bin/sh"):
        pytest.skip("needs /bin/sh: a dynamically linked host binary")
    assert not P.is_static_elf(os.path.realpath("/bin/sh"))


# --- cgroup access against a temp-dir cgroup tree -------------------------------------------------------

def test_cgroup_access_v1_creates_and_removes(tmp_path):
    for d in ("cpu,cpuacct", "memory", "pids"):
        (tmp_path / "sys/fs/cgroup" / d).mkdir(parents=True)
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cgroups").write_text("cpu\t1\t1\t1\ncpuacct\t1\t1\t1\nmemory\t4\t1\t1\npids\t8\t1\t1\n")
    ctrls, ok, why = P.cgroup_access("hybrid", HYBRID, str(tmp_path), euid=0)
    assert ok, why
    assert "memory" in ctrls and "pids" in ctrls and "unified" in why
    for d in ("cpu,cpuacct", "memory", "pids"):
        assert os.listdir(tmp_path / "sys/fs/cgroup" / d) == []   # the trial group is gone again


def test_cgroup_access_v1_reports_the_failing_path(tmp_path):
    (tmp_path / "sys/fs/cgroup/memory").mkdir(parents=True)       # cpu and pids hierarchies absent
    ctrls, ok, why = P.cgroup_access("v1", HYBRID, str(tmp_path), euid=0)
    assert not ok
    assert why.startswith("mkdir ") and "cpu,cpuacct/boxkit-probe-" in why and "no such file" in why


def test_cgroup_access_v2_populated_root_needs_nesting(tmp_path):
    top = tmp_path / "sys/fs/cgroup"
    top.mkdir(parents=True)
    (top / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (top / "cgroup.subtree_control").write_text("\n")
    (top / "cgroup.procs").write_text("1\n7\n")
    ctrls, ok, why = P.cgroup_access("v2", V2, str(tmp_path), euid=0)
    assert ok and ctrls == ["cpuset", "cpu", "io", "memory", "pids"]
    assert "cgroup-nest.sh" in why


def test_cgroup_access_v2_user_without_delegation(tmp_path):
    top = tmp_path / "sys/fs/cgroup"
    top.mkdir(parents=True)
    (top / "cgroup.controllers").write_text("memory pids\n")
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/cgroup").write_text("0::/user.slice/user-1000.slice/session-3.scope\n")
    ctrls, ok, why = P.cgroup_access("v2", V2, str(tmp_path), euid=1000)
    assert not ok and "Delegate=yes" in why and "session-3.scope" in why


def test_cgroup_access_none():
    assert P.cgroup_access("none", "", "/nonexistent", euid=0)[1] is False


# --- assembling: the mode decision --------------------------------------------------------------------

def test_root_with_everything_is_live(tmp_path):
    r = build(tmp_path)
    assert r.root and r.cap_sys_admin and r.live and r.mode == "live"
    assert r.namespaces == {n: "ok" for n in P.NAMESPACES}
    assert r.cgroup_mode == "hybrid" and r.busybox == "/bin/busybox"
    assert all(r.live_for(t) for t in ("namespaces", "rootless", "overlay", "cgroups", "network", "containers"))
    assert r.check("root").status == "ok"


def test_rootless_with_userns_is_partial(tmp_path):
    trials = {f"ns.{n}": EPERM for n in P.NAMESPACES if n != "user"}
    trials |= {f"userns.{n}": {"ok": True, "errno": None, "detail": "ok"} for n in P.NAMESPACES}
    trials |= {"ns.user": ALL_OK["ns.user"], "overlay": ALL_OK["overlay"], "pivot_root": ALL_OK["pivot_root"],
               "userns.unprivileged": ALL_OK["ns.user"], "overlay.userns": ALL_OK["overlay"],
               "veth": {"ok": False, "errno": 1, "detail": "a veth pair to the host needs root"}}
    r = build(tmp_path, trials, euid=1000, cgroup=([], False, "mkdir x: permission denied"))
    assert not r.root and not r.live and r.mode == "rootless"
    assert r.namespaces["pid"] == "userns" and r.namespaces["user"] == "ok"
    assert r.live_for("namespaces") and r.live_for("rootless") and r.live_for("overlay")
    assert not r.live_for("cgroups") and not r.live_for("network")
    assert "works inside a user namespace only" in r.check("ns.pid").why
    assert r.check("cgroup.create").status == "missing"
    assert "RECORDED" in r.check("cgroup.create").means


def test_unprivileged_docker_container_is_recorded(tmp_path):
    trials = {f"ns.{n}": EPERM for n in P.NAMESPACES}
    trials |= {"overlay": EPERM, "pivot_root": EPERM, "userns.unprivileged": EPERM, "overlay.userns": EPERM,
               "veth": EPERM}
    r = build(tmp_path, trials, status=CAPS_DOCKER, cgroup=([], False, "mkdir x: read-only file system"),
              sysctl={"user/max_user_namespaces": "0"}, files={".dockerenv": ""})
    assert r.root and not r.cap_sys_admin and r.seccomp
    assert r.mode == "recorded" and not r.live
    assert "without CAP_SYS_ADMIN" in r.check("root").why and "--privileged" in r.check("root").means
    assert "user.max_user_namespaces is 0" in r.check("userns.unprivileged").why
    assert r.in_container and "seccomp" in r.check("container").why
    assert not any(r.live_for(t) for t in ("namespaces", "overlay", "cgroups", "network"))


def test_userns_gates_are_named(tmp_path):
    bad = {"ok": False, "errno": 1, "detail": "operation not permitted"}
    r = build(tmp_path, dict(ALL_OK, **{"userns.unprivileged": bad}),
              sysctl={"user/max_user_namespaces": "100", "kernel/apparmor_restrict_unprivileged_userns": "1"})
    c = r.check("userns.unprivileged")
    assert c.ok is False and "AppArmor" in c.why
    assert r.apparmor_restrict_userns == 1 and r.unprivileged_userns_clone is None
    r2 = build(tmp_path, dict(ALL_OK, **{"userns.unprivileged": bad}),
               sysctl={"user/max_user_namespaces": "100", "kernel/unprivileged_userns_clone": "0"})
    assert "unprivileged_userns_clone is 0" in r2.check("userns.unprivileged").why


def test_old_kernel_explains_missing_time_namespace(tmp_path):
    r = P.assemble(dict(ALL_OK, **{"ns.time": {"ok": False, "errno": 22, "detail": "invalid argument"}}),
                   root_dir=fake_root(tmp_path), euid=0, release="5.4.0-150-generic", busybox=None,
                   cgroup=([], True, "ok"))
    assert r.namespaces["time"] == "missing"
    assert "needs linux 5.6+" in r.check("ns.time").why
    assert r.check("busybox").status == "missing" and "busybox-static" in r.check("busybox").means
    assert r.mode == "live"  # a time namespace is not needed for the core course


def test_probe_process_failure_is_reported(tmp_path):
    r = build(tmp_path, {"error": {"ok": False, "errno": None, "detail": "the probe process failed: boom"}})
    assert r.checks[0].key == "probe" and r.mode == "recorded"


# --- renderings -----------------------------------------------------------------------------------------

def test_text_names_every_check(tmp_path):
    r = build(tmp_path)
    text = r.text()
    assert text.startswith("boxkit probe: mode LIVE")
    for c in r.checks:
        assert c.name in text and c.why in text
    assert str(r) == text


def test_html_is_a_table_and_escapes(tmp_path):
    r = build(tmp_path, dict(ALL_OK, overlay={"ok": False, "errno": 1, "detail": "<script>x</script>"}))
    h = r._repr_html_()
    assert h.count("<tr>") == len(r.checks) + 1
    assert "<script>" not in h and "&lt;script&gt;" in h
    assert "ROOTLESS" in h and "✘ no" in h
    # the learner's table: plain words, the kernel's answer only where a check failed
    assert "cap_sys_admin" not in h.lower().replace("(cap_sys_admin)", "")
    assert "The kernel answered: cannot mount overlay: &lt;script&gt;" in h


def test_plain_rows_cover_every_check_in_a_learners_words(tmp_path):
    r = build(tmp_path)
    rows = r.plain_rows()
    assert len(rows) == len(r.checks)
    assert rows[0][:3] == ("run containers", "ok", "yes")
    for (label, status, answer, how, _means), c in zip(rows, r.checks, strict=True):
        assert status == c.status and label and how.endswith(".")
        assert "unshare(" not in label + how and "CLONE_" not in label + how
        if status != "info":
            assert answer == ("yes" if c.ok else "no")
    info = {c.key: row[2] for c, row in zip(r.checks, rows, strict=True) if c.status == "info"}
    text = r.plain_text()
    assert text.startswith("  run containers: yes\n") and text.count("\n      how: ") == len(rows)
    assert info["cgroup.mode"] == r.cgroup_mode and info["kernel"] == r.kernel


def test_seccomp_size_is_decoded_exactly_not_estimated_from_base64():
    import base64

    from boxkit.probe_trials import bpf_size
    # 328 instructions = 2624 bytes, whose base64 ends in one '=': 3/4 of its length says 2625
    prog = base64.b64encode(bytes(range(256)) * 10 + bytes(64)).decode()
    assert prog.endswith("=") and len(prog) * 3 // 4 == 2625
    assert bpf_size(prog) == (328, 2624)
    assert bpf_size(base64.b64encode(bytes(16)).decode()) == (2, 16)


def test_banner_is_one_line_with_mode_kernel_cgroup_and_user(tmp_path):
    r = build(tmp_path)
    assert r.banner() == f"LIVE: linux {r.kernel}, cgroup {r.cgroup_mode}, root"
    r2 = build(tmp_path, euid=1000)
    assert r2.banner().endswith("not root (uid 1000)") and "\n" not in r2.banner()


def test_json_round_trip(tmp_path):
    r = build(tmp_path)
    d = json.loads(r.to_json())
    assert d["mode"] == "live" and d["root"] is True and d["kernel_version"] == [6, 1]
    assert {c["key"] for c in d["checks"]} >= {"root", "overlay", "pivot_root", "cgroup.create"}
    assert all(c["status"] in ("ok", "missing", "info") for c in d["checks"])


def test_live_for_unknown_topic(tmp_path):
    with pytest.raises(ValueError, match="unknown topic"):
        build(tmp_path).live_for("quantum")


def test_chrooted_compares_our_root_with_pid1s(tmp_path):
    (tmp_path / "proc/1").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "proc/1/root").symlink_to(tmp_path)
    assert P.chrooted(str(tmp_path)) is False
    (tmp_path / "proc/1/root").unlink()
    (tmp_path / "proc/1/root").symlink_to(tmp_path / "elsewhere")
    assert P.chrooted(str(tmp_path)) is True
    assert P.chrooted(str(tmp_path / "elsewhere")) is None      # no /proc to ask


def test_user_namespace_failure_in_a_chroot_says_so(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "proc/1").mkdir(parents=True)
    (tmp_path / "proc/1/root").symlink_to(tmp_path / "elsewhere")
    r = build(tmp_path, dict(ALL_OK, **{"ns.user": EPERM}))
    assert r.namespaces["user"] == "missing" and "chroot" in r.check("ns.user").why
