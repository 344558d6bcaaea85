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
    # os.path.ismount misses a bind mount of a directory on the same file system: ask mountinfo
    while _mounted(str(target)):
        _sys.SYS.umount2(str(target), _sys.MNT_DETACH)


def _mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


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


def _tree(root: str) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                out[rel] = ("file", stat.S_IMODE(st.st_mode), open(p, "rb").read())
    return out


def test_merged_view_equals_flattened_reference(tmp_path, mnt):
    """Five layers with additions, replacements, whiteouts, opaque dirs and type changes: the overlay
    the kernel builds must show exactly what applying the layers in order into one directory gives."""
    import io
    import tarfile

    from layer_reference import flatten

    from boxkit.images.layer import apply_tar

    def tar(*entries):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tf:
            for name, kind, data in entries:
                ti = tarfile.TarInfo(name)
                if kind == "dir":
                    ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                    tf.addfile(ti)
                elif kind == "sym":
                    ti.type, ti.linkname = tarfile.SYMTYPE, data
                    tf.addfile(ti)
                else:
                    ti.size, ti.mode = len(data), 0o644
                    tf.addfile(ti, io.BytesIO(data))
        raw.seek(0)
        return raw

    steps = [
        tar(("etc", "dir", None), ("etc/a", "f", b"a1"), ("etc/b", "f", b"b1"), ("app", "dir", None),
            ("app/x", "f", b"x1"), ("app/sub", "dir", None), ("app/sub/y", "f", b"y1"), ("lnk", "sym", "etc/a")),
        tar(("etc/a", "f", b"a2"), ("etc/.wh.b", "f", b""), ("new", "f", b"n2")),
        tar(("app", "dir", None), ("app/.wh..wh..opq", "f", b""), ("app/z", "f", b"z3")),
        tar((".wh.lnk", "f", b""), ("etc/b", "f", b"b4"), ("new", "dir", None), ("new/inner", "f", b"i4")),
        tar(("etc", "sym", "app"), ("app/w", "f", b"w5")),
    ]
    layers = []
    for i, t in enumerate(steps):
        d = tmp_path / f"l{i}"
        d.mkdir()
        apply_tar(t, str(d))
        layers.append(str(d))
    ref = tmp_path / "ref"
    ref.mkdir()
    flatten(layers, str(ref))
    mount_overlay(layers, None, None, mnt)
    merged = _tree(mnt)
    assert merged == _tree(str(ref))
    assert merged["app/z"][2] == b"z3" and "app/x" not in merged and merged["etc"] == ("link", "app")
