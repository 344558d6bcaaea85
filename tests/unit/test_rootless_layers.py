"""Layers and rootless overlays: ``user.overlay.opaque`` (what an overlay mounted with ``userxattr`` in a
user namespace writes) becomes ``.wh..wh..opq`` in a layer tar, is never exported as an xattr, and a
layer that tries to set ``user.overlay.*`` itself is refused. No root needed: the owner of a file may
set its ``user.`` xattrs."""

from __future__ import annotations

import io
import os
import tarfile

import pytest
from layer_reference import flatten

from boxkit.images.layer import USER_OPAQUE_XATTR, LayerError, apply_tar, write_tar
from boxkit.images.overlay import overlay_options


def _user_xattrs_work(path) -> bool:
    try:
        os.setxattr(path, "user.boxkit-test", b"1")
        return True
    except OSError:
        return False


@pytest.fixture
def upper(tmp_path):
    up = tmp_path / "upper"
    (up / "etc").mkdir(parents=True)
    (up / "etc" / "x").write_text("new\n")
    if not _user_xattrs_work(up / "etc"):
        pytest.skip(f"needs user xattrs on the file system of {tmp_path}")
    os.removexattr(up / "etc", "user.boxkit-test")
    os.setxattr(up / "etc", USER_OPAQUE_XATTR, b"y")
    return up


def test_a_userxattr_opaque_dir_becomes_an_opaque_marker(upper):
    buf = io.BytesIO()
    write_tar(str(upper), buf)
    tf = tarfile.open(fileobj=io.BytesIO(buf.getvalue()))
    assert "etc/.wh..wh..opq" in tf.getnames()
    headers = [k for m in tf.getmembers() for k in m.pax_headers]
    assert not any("overlay" in k for k in headers), headers


def test_flatten_honours_a_userxattr_opaque_dir(upper, tmp_path):
    lower = tmp_path / "lower"
    (lower / "etc").mkdir(parents=True)
    (lower / "etc" / "passwd").write_text("root\n")
    flatten([str(lower), str(upper)], str(tmp_path / "out"))
    assert os.listdir(tmp_path / "out" / "etc") == ["x"]


def test_a_layer_may_not_set_overlay_xattrs_of_the_user_namespace(tmp_path):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo("d")
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755
        ti.pax_headers = {f"SCHILY.xattr.{USER_OPAQUE_XATTR}": "y"}
        tf.addfile(ti)
    raw.seek(0)
    (tmp_path / "layer").mkdir()
    with pytest.raises(LayerError, match="user.overlay.opaque"):
        apply_tar(raw, str(tmp_path / "layer"))


def test_overlay_options_carry_userxattr():
    assert overlay_options(["/b", "/a"], "/u", "/w", "userxattr") == \
        "lowerdir=/b:/a,upperdir=/u,workdir=/w,userxattr"
    assert overlay_options(["/b", "/a"], None, None) == "lowerdir=/b:/a"
