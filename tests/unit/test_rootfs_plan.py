"""The mount plan, checked without root against a recording fake of the kernel seam."""

from __future__ import annotations

import os

import pytest
from fakesys import FakeSys

from boxkit import _sys
from boxkit.runtime import rootfs
from boxkit.runtime.inroot import secure_join
from boxkit.runtime.plan import Plan


def _plan(root, **kw):
    return Plan(**{"merged": str(root), "ns": ["pid", "mount", "uts", "ipc", "net"], **kw})


@pytest.fixture
def keep_cwd():
    cwd = os.getcwd()
    yield
    os.chdir(cwd)


def test_private_first_pivot_last(tmp_path, keep_cwd):
    fake = FakeSys()
    seen = []
    rootfs.setup_rootfs(_plan(tmp_path), lambda t: seen.append(t), sys=fake)
    first = fake.calls[0]
    assert first == ("mount", None, "/", None, _sys.MS_REC | _sys.MS_PRIVATE, None)
    assert seen == [str(tmp_path)], "the image is mounted after / is private and before anything else"
    kinds = [c[0] for c in fake.calls]
    assert kinds[-2:] == ["pivot_root", "umount2"]
    assert fake.calls[-1] == ("umount2", ".", _sys.MNT_DETACH)
    fstypes = [c[3] for c in fake.calls if c[0] == "mount"]
    for fs in ("proc", "sysfs", "tmpfs", "devpts"):
        assert fs in fstypes


def test_dev_is_nodev_and_devices_are_binds(tmp_path, keep_cwd):
    fake = FakeSys()
    rootfs.setup_rootfs(_plan(tmp_path), lambda t: None, sys=fake)
    dev = [c for c in fake.calls if c[0] == "mount" and c[2] == str(tmp_path / "dev")][0]
    assert dev[4] & _sys.MS_NODEV
    binds = {c[1] for c in fake.calls if c[0] == "mount" and c[4] == _sys.MS_BIND and c[1].startswith("/dev/")}
    assert binds == {f"/dev/{n}" for n in rootfs.SAFE_DEVICES}
    assert os.readlink(tmp_path / "dev" / "ptmx") == "pts/ptmx"
    sysfs = [c for c in fake.calls if c[0] == "mount" and c[3] == "sysfs"][0]
    assert sysfs[4] & _sys.MS_RDONLY


def test_masked_and_readonly_paths(tmp_path, keep_cwd):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "kcore").write_text("")
    (tmp_path / "proc" / "acpi").mkdir()
    (tmp_path / "proc" / "sys").mkdir()
    fake = FakeSys()
    rootfs.setup_rootfs(_plan(tmp_path), lambda t: None, sys=fake)
    calls = fake.calls
    assert ("mount", "/dev/null", str(tmp_path / "proc/kcore"), None, _sys.MS_BIND, None) in calls
    acpi = [c for c in calls if c[2] == str(tmp_path / "proc/acpi")]
    assert acpi and acpi[0][3] == "tmpfs" and acpi[0][4] & _sys.MS_RDONLY
    psys = [c for c in calls if c[2] == str(tmp_path / "proc/sys")]
    assert any(c[4] & _sys.MS_REMOUNT and c[4] & _sys.MS_RDONLY for c in psys)


def test_userns_devpts_has_no_gid(tmp_path, keep_cwd):
    fake = FakeSys()
    rootfs.setup_rootfs(_plan(tmp_path, ns=["mount", "user", "pid"]), lambda t: None, sys=fake)
    pts = [c for c in fake.calls if c[0] == "mount" and c[3] == "devpts"][0]
    assert "gid=" not in pts[5]
    assert not any(c[0] == "mount" and c[3] == "mqueue" for c in fake.calls), "no IPC namespace, no mqueue mount"


def test_volume_targets_resolve_inside_root(tmp_path, keep_cwd):
    root = tmp_path / "root"
    root.mkdir()
    # a hostile image: /data is a symlink to the host's /etc
    os.symlink("/etc", root / "data")
    src = tmp_path / "src"
    src.mkdir()
    fake = FakeSys()
    rootfs.setup_rootfs(_plan(root, mounts=[[str(src), "/data/x", True]]), lambda t: None, sys=fake)
    vol = [c for c in fake.calls if c[1] == str(src)][0]
    assert vol[2] == str(root / "etc" / "x")
    assert (root / "etc" / "x").is_dir()
    assert any(c[2] == vol[2] and c[4] & _sys.MS_RDONLY for c in fake.calls)


def test_files_written_inside_root_even_through_symlinks(tmp_path, keep_cwd):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/../../../../tmp/escaped-hosts", root / "etc" / "hosts")
    rootfs.setup_rootfs(_plan(root, files={"/etc/hosts": "127.0.0.1 localhost\n"}), lambda t: None,
                        sys=FakeSys())
    assert (root / "tmp" / "escaped-hosts").read_text() == "127.0.0.1 localhost\n"


@pytest.mark.parametrize("link,path,expected", [
    ("/", "proc", ""),
    ("../../../..", "proc", ""),
    ("/etc", "proc/x", "etc/x"),
    ("sub/../..", "proc", ""),
])
def test_secure_join_never_leaves_root(tmp_path, link, path, expected):
    os.symlink(link, tmp_path / "proc")
    got = secure_join(str(tmp_path), path)
    assert got == os.path.join(str(tmp_path), expected).rstrip("/")
    assert got.startswith(str(tmp_path))


def test_secure_join_loop(tmp_path):
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    with pytest.raises(OSError, match="symlinks"):
        secure_join(str(tmp_path), "a/x")


def test_files_later_leaves_files_and_read_only_for_after_go(tmp_path, keep_cwd):
    """A spare builds its root before the supervisor's "go" (which carries the network's /etc/hosts):
    nothing is written and / stays writable until finish_rootfs, after "go"."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    fake = FakeSys()
    plan = _plan(root, files={"/etc/hostname": "box\n"}, readonly=True)
    rootfs.setup_rootfs(plan, lambda t: None, sys=fake, staged=str(tmp_path / "staged"), files_later=True)
    assert not (root / "etc" / "hostname").exists()
    assert not any(c[0] == "mount" and c[2] == "/" and c[4] & _sys.MS_RDONLY for c in fake.calls)
    fake2 = FakeSys()
    rootfs.setup_rootfs(_plan(root, files={"/etc/hostname": "box\n"}, readonly=True), lambda t: None, sys=fake2)
    assert (root / "etc" / "hostname").read_text() == "box\n"
    assert any(c[0] == "mount" and c[2] == "/" and c[4] & _sys.MS_RDONLY for c in fake2.calls)
