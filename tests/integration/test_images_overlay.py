"""Real overlay mounts: 200 layers, copy-up, whiteouts, the read-only single layer. Needs root."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from boxkit import _sys
from boxkit.images.overlay import mount_overlay

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: mounts overlayfs")]


def _overlay_supported() -> bool:
    with open("/proc/filesystems") as f:
        return "overlay" in f.read()


@pytest.fixture
def mnt(tmp_path):
    """A mount point that is unmounted (lazily, whatever happened) when the test ends."""
    if not _overlay_supported():
        pytest.skip("needs overlayfs: modprobe overlay")
    target = tmp_path / "merged"
    target.mkdir()
    yield str(target)
    while os.path.ismount(str(target)):
        _sys.SYS.umount2(str(target), _sys.MNT_DETACH)


def _make_layers(base, n):
    layers = []
    for i in range(n):
        d = base / "layers" / f"{i:064x}"
        d.mkdir(parents=True)
        (d / f"f{i}").write_text(str(i))
        (d / "top").write_text(str(i))  # every layer overwrites it: the top-most must win
        layers.append(str(d))
    return layers


def test_200_layers_stack_in_order(tmp_path, mnt):
    layers = _make_layers(tmp_path, 200)
    mount_overlay(layers, None, None, mnt, flags=_sys.MS_NODEV)
    assert open(os.path.join(mnt, "top")).read() == "199"
    assert sorted(os.listdir(mnt)) == sorted([f"f{i}" for i in range(200)] + ["top"])
    assert open(os.path.join(mnt, "f0")).read() == "0"
    with pytest.raises(OSError) as e:
        open(os.path.join(mnt, "new"), "w")
    assert e.value.errno == errno.EROFS


def test_200_layers_with_upper_are_writable(tmp_path, mnt):
    layers = _make_layers(tmp_path, 200)
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    mount_overlay(layers, str(upper), str(work), mnt)
    with open(os.path.join(mnt, "f5"), "a") as f:  # copy-up of a lower file
        f.write("+")
    os.unlink(os.path.join(mnt, "f7"))  # a whiteout
    assert (upper / "f5").read_text() == "5+"
    assert open(os.path.join(layers[5], "f5")).read() == "5"  # the lower layer is untouched
    st = os.lstat(upper / "f7")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert not os.path.exists(os.path.join(mnt, "f7"))


def test_single_layer_readonly_is_a_bind(tmp_path, mnt):
    layer = _make_layers(tmp_path, 1)[0]
    mount_overlay([layer], None, None, mnt, flags=_sys.MS_NOSUID)
    assert open(os.path.join(mnt, "top")).read() == "0"
    with pytest.raises(OSError) as e:
        open(os.path.join(mnt, "x"), "w")
    assert e.value.errno == errno.EROFS
    with open("/proc/self/mountinfo") as f:
        line = next(ln for ln in f if ln.split()[4] == mnt)
    assert "ro" in line.split()[5].split(",") and "nosuid" in line.split()[5].split(",")


def test_bad_work_dir_fails_with_a_sentence(tmp_path, mnt):
    layers = _make_layers(tmp_path, 2)
    upper = tmp_path / "upper"
    upper.mkdir()
    from boxkit.errors import BoxkitError

    with pytest.raises(BoxkitError, match=r"^cannot mount overlay of 2 layers on .*merged: no such file"):
        mount_overlay(layers, str(upper), str(tmp_path / "missing-work"), mnt)
    assert not os.path.ismount(mnt)
