"""config.json → plan, without root: fields honoured, fields refused by name, hostile values stopped."""

from __future__ import annotations

import json
import os
import signal

import pytest

from boxkit import _sys
from boxkit.errors import BoxkitError, SpecError
from boxkit.oci import bundle
from boxkit.oci.state import DEFAULT_ROOT, Store, check_id, default_root


@pytest.fixture
def bdir(tmp_path):
    (tmp_path / "rootfs").mkdir()
    return tmp_path


def plan_of(bdir, cfg: dict) -> dict:
    (bdir / "config.json").write_text(json.dumps(cfg))
    return bundle.to_plan("x", str(bdir), bundle.load(str(bdir)))


def test_the_example_config_becomes_a_plan(bdir):
    p = plan_of(bdir, bundle.example_config(["sh", "-c", "echo hi"]))
    assert p.argv == ["sh", "-c", "echo hi"] and p.merged == os.path.realpath(bdir / "rootfs")
    assert set(p.ns) == {"pid", "net", "ipc", "uts", "mount", "cgroup"} and p.join == {}
    assert p.readonly is True and p.hostname == "boxkit" and p.no_new_privs is True
    assert p.cap_sets["bounding"] == _sys.cap_mask(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"])
    proc = next(m for m in p.mount_entries if m["destination"] == "/sys")
    assert proc["flags"] & _sys.MS_RDONLY and proc["type"] == "sysfs" and not proc["bind"]
    dev = next(m for m in p.mount_entries if m["destination"] == "/dev")
    assert dev["data"] == "mode=755,size=65536k" and dev["flags"] & _sys.MS_STRICTATIME


def test_bind_options_and_propagation(bdir, tmp_path):
    cfg = bundle.example_config(["true"])
    cfg["mounts"] = [{"destination": "/data", "type": "none", "source": str(tmp_path),
                      "options": ["rbind", "ro", "rslave", "nosuid"]}]
    m = plan_of(bdir, cfg).mount_entries[0]
    assert m["bind"] and m["flags"] & _sys.MS_REC and m["flags"] & _sys.MS_RDONLY and m["flags"] & _sys.MS_NOSUID
    assert m["propagation"] == _sys.MS_SLAVE | _sys.MS_REC


@pytest.mark.parametrize("field,change", [
    ("linux.intelRdt", lambda c: c["linux"].update(intelRdt={"closID": "x"})),
    ("process.selinuxLabel", lambda c: c["process"].update(selinuxLabel="x")),
    ("mounts[0].options", lambda c: c["mounts"][0].update(options=["size=1,mode=7"])),
    ("mounts[0].type", lambda c: c["mounts"][0].update(type="nfs")),
    ("mounts[0].destination", lambda c: c["mounts"][0].update(destination="/a\0b")),
    ("process.capabilities.bounding", lambda c: c["process"]["capabilities"].update(bounding=["CAP_NOPE"])),
    ("process.user.uid", lambda c: c["process"]["user"].update(uid="0")),
    ("process.oomScoreAdj", lambda c: c["process"].update(oomScoreAdj=5000)),
    ("linux.uidMappings", lambda c: c["linux"].update(uidMappings=[{"containerID": 0, "hostID": 1, "size": 1}])),
    ("linux.namespaces[6]", lambda c: c["linux"]["namespaces"].append({"type": "pid"})),
    ("linux.cgroupsPath", lambda c: c["linux"].update(cgroupsPath="/a/../../etc")),
    ("linux.sysctl", lambda c: c["linux"].update(sysctl={"net/../../x": "1"})),
    ("hooks.prestart[0].path", lambda c: c.update(hooks={"prestart": [{"path": "relative"}]})),
    ("ociVersion", lambda c: c.update(ociVersion="2")),
    ("linux.timeOffsets", lambda c: c["linux"].update(timeOffsets={"monotonic": {"secs": 1}})),
    ("linux.resources.unified", lambda c: c["linux"]["resources"].update(unified={"memory.high": "1"})),
    ("domainname", lambda c: c.update(domainname="example")),
    # the runtime's mount namespace may be inherited, but not from inside a user namespace
    ("linux.namespaces", lambda c: c["linux"].update(namespaces=[{"type": "user"}])),
])
def test_refused_fields_are_named(bdir, field, change):
    cfg = bundle.example_config(["true"])
    change(cfg)
    with pytest.raises(SpecError) as e:
        plan_of(bdir, cfg)
    assert field in str(e.value)


def test_root_outside_the_bundle_must_still_be_a_directory(bdir):
    cfg = bundle.example_config(["true"])
    cfg["root"]["path"] = "../nowhere"
    with pytest.raises(SpecError, match="root.path"):
        plan_of(bdir, cfg)


def test_a_huge_or_broken_config_is_refused(bdir):
    (bdir / "config.json").write_text("{" * 10)
    with pytest.raises(SpecError, match="not JSON"):
        bundle.load(str(bdir))
    (bdir / "config.json").write_bytes(b" " * (bundle.CONFIG_MAX + 1))
    with pytest.raises(SpecError, match="larger than"):
        bundle.load(str(bdir))
    os.unlink(bdir / "config.json")
    os.symlink("/etc/passwd", bdir / "config.json")
    with pytest.raises(SpecError, match="cannot open config.json"):
        bundle.load(str(bdir))


@pytest.mark.parametrize("text,num", [("KILL", 9), ("SIGKILL", 9), ("9", 9), ("term", 15), ("SIGUSR1", 10),
                                      ("RTMIN+2", int(signal.SIGRTMIN) + 2)])
def test_signals_by_name_or_number(text, num):
    assert bundle.parse_signal(text) == num


@pytest.mark.parametrize("text", ["NOPE", "0", "99", "SIG", "-1"])
def test_bad_signals(text):
    with pytest.raises(SpecError):
        bundle.parse_signal(text)


@pytest.mark.parametrize("cid", ["../x", "a/b", "", ".hidden", "x" * 2000])
def test_container_ids_cannot_leave_the_root(cid, tmp_path):
    with pytest.raises(SpecError):
        Store(str(tmp_path)).dir(cid)
    assert check_id("ok-id_1.2") == "ok-id_1.2"


def test_the_default_state_root_is_runcs(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert default_root() == DEFAULT_ROOT
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert default_root() == str(tmp_path / "boxkit-runtime")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert default_root() == "/tmp/boxkit-runtime-4242"


def test_a_state_root_of_someone_else_or_a_symlink_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(BoxkitError, match="state directory"):
        Store(str(tmp_path / "link")).make("c1")
    assert Store(str(tmp_path / "mine")).make("c1") == str(tmp_path / "mine" / "c1")
    if os.geteuid() != 0:
        pytest.skip("giving a directory to another uid needs root")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, 4242, 4242)
    with pytest.raises(BoxkitError, match="not a directory of this user's"):
        Store(str(theirs)).make("c1")


def test_a_config_without_process_is_created_but_marked(bdir):
    cfg = bundle.example_config(["true"])
    del cfg["process"]
    assert plan_of(bdir, cfg).no_process is True


def test_linux_seccomp_is_compiled_into_the_plan_and_a_bad_one_is_named(bdir):
    """linux.seccomp goes through boxkit's own profile checks and compiler (boxkit/security)."""
    cfg = bundle.example_config(["true"])
    cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                               "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}]}
    try:
        plan = plan_of(bdir, cfg)
    except OSError as e:   # no libseccomp here: the one sentence says so
        pytest.skip(f"needs libseccomp: {e}")
    assert plan.seccomp and isinstance(plan.seccomp, str)
    cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_NOPE"}
    with pytest.raises(SpecError, match="linux.seccomp"):
        plan_of(bdir, cfg)


def test_a_config_without_a_mount_namespace_inherits_the_runtimes(bdir):
    cfg = bundle.example_config(["true"])
    cfg["linux"]["namespaces"] = [{"type": "pid"}, {"type": "uts"}]
    p = plan_of(bdir, cfg)
    assert "mount" not in p.ns and "mount" not in p.join
    cfg["root"]["path"] = "/"   # its mounts would go over the host's own root
    with pytest.raises(SpecError, match="root.path"):
        plan_of(bdir, cfg)


def test_mounts_under_a_root_come_deepest_first_with_escapes_decoded():
    from boxkit.oci.verbs import mounts_under

    info = ("22 1 0:21 / / rw - ext4 /dev/vda rw\n"
            "40 22 0:30 / /var/b\\040x rw - none none rw\n"
            "41 40 0:31 / /var/b\\040x/proc rw - proc proc rw\n"
            "42 22 0:32 / /var/b\\040xy rw - tmpfs tmpfs rw\n"
            "43 40 0:33 / /var/b\\040x/dev\\012n rw - tmpfs tmpfs rw\n")
    assert mounts_under("/var/b x", info) == [
        (43, "/var/b x/dev\nn"), (41, "/var/b x/proc"), (40, "/var/b x")]
