"""Applying layers: OCI semantics and hostile archives. Three tests need root (owners, device-node
whiteouts, trusted xattrs); the hostile cases run without, and check that nothing outside the layer
directory changed."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile

import pytest
from layer_reference import flatten

from boxkit.images.layer import OPAQUE_XATTR, LayerError, apply_tar, write_tar

ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: owners, devices, trusted xattrs")


def mktar(*entries, gz=False) -> io.BytesIO:
    """entries: (name, kind, extra) with kind file/dir/sym/link/chr; extra = content or link target."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            name, kind = e[0], e[1]
            extra = e[2] if len(e) > 2 else b""
            ti = tarfile.TarInfo(name)
            ti.mtime = 1_600_000_000
            if kind == "file":
                ti.size = len(extra)
                ti.mode = 0o644
                tf.addfile(ti, io.BytesIO(extra))
                continue
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, extra
            elif kind == "link":
                ti.type, ti.linkname = tarfile.LNKTYPE, extra
            elif kind == "chr":
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 0, 0
            elif kind == "xattr":
                ti.size = 0
                ti.pax_headers = {f"SCHILY.xattr.{extra}": "y"}
            tf.addfile(ti)
    data = raw.getvalue()
    return io.BytesIO(gzip.compress(data) if gz else data)


@pytest.fixture
def box(tmp_path):
    """A layer dir inside a sandbox with a canary file next to it: escapes would touch the canary."""
    (tmp_path / "outside").mkdir()
    canary = tmp_path / "outside" / "canary"
    canary.write_text("safe")
    layer = tmp_path / "layer"
    layer.mkdir()
    yield layer, tmp_path
    assert canary.read_text() == "safe"
    assert sorted(os.listdir(tmp_path / "outside")) == ["canary"]


@ROOT
def test_round_trip_keeps_modes_owners_links_and_digest(tmp_path):
    src = tmp_path / "src"
    (src / "bin").mkdir(parents=True)
    (src / "bin" / "tool").write_bytes(b"\x7fELF...")
    os.chmod(src / "bin" / "tool", 0o4755)
    os.link(src / "bin" / "tool", src / "bin" / "tool2")
    os.symlink("/etc/passwd", src / "abs-link")  # absolute targets are data, kept as is
    os.chown(src / "bin", 1000, 1001)
    os.mknod(src / "gone", stat.S_IFCHR | 0o600, 0)  # an overlay whiteout
    (src / "opq").mkdir()
    os.setxattr(src / "opq", OPAQUE_XATTR, b"y")
    os.setxattr(src / "bin" / "tool", "user.note", b"hello")
    buf = io.BytesIO()
    diff_id, size = write_tar(str(src), buf)
    names = tarfile.open(fileobj=io.BytesIO(buf.getvalue())).getnames()
    assert ".wh.gone" in names and "opq/.wh..wh..opq" in names
    dst = tmp_path / "dst"
    dst.mkdir()
    buf.seek(0)
    applied = apply_tar(buf, str(dst))
    assert applied.diff_id == diff_id and applied.tar_size == size and not applied.gzip
    st = os.stat(dst / "bin" / "tool")
    assert stat.S_IMODE(st.st_mode) == 0o4755  # setuid survives (chown comes before chmod)
    assert os.stat(dst / "bin" / "tool2").st_ino == st.st_ino
    assert os.readlink(dst / "abs-link") == "/etc/passwd"
    assert (os.stat(dst / "bin").st_uid, os.stat(dst / "bin").st_gid) == (1000, 1001)
    g = os.lstat(dst / "gone")
    assert stat.S_ISCHR(g.st_mode) and g.st_rdev == 0
    assert os.getxattr(dst / "opq", OPAQUE_XATTR) == b"y"
    assert os.getxattr(dst / "bin" / "tool", "user.note") == b"hello"
    assert write_tar(str(dst))[0] == diff_id  # the same tree hashes the same


def test_gzip_layer_reports_both_digests(box):
    layer, _ = box
    applied = apply_tar(mktar(("a", "file", b"x" * 1000), gz=True), str(layer))
    assert applied.gzip and applied.blob_digest != applied.diff_id and applied.tar_size > applied.blob_size


@ROOT
def test_whiteout_and_opaque_from_markers(box):
    layer, _ = box
    apply_tar(mktar(("d", "dir"), ("d/.wh..wh..opq", "file"), ("d/keep", "file", b"k"),
                    (".wh.old", "file")), str(layer))
    assert os.getxattr(layer / "d", OPAQUE_XATTR) == b"y"
    assert (layer / "d" / "keep").read_bytes() == b"k"  # opaque never deletes its own layer's entries
    assert stat.S_ISCHR(os.lstat(layer / "old").st_mode)
    assert not (layer / "d" / ".wh..wh..opq").exists() and not (layer / ".wh.old").exists()


def test_whiteout_never_deletes_an_entry_of_the_same_layer(box):
    layer, _ = box
    apply_tar(mktar(("f", "file", b"mine"), (".wh.f", "file")), str(layer))
    assert (layer / "f").read_bytes() == b"mine"
    apply_tar(mktar((".wh.g", "file"), ("g", "file", b"later")), str(layer))
    assert (layer / "g").read_bytes() == b"later"


@pytest.mark.parametrize("entries,match", [
    ([("../outside/canary", "file", b"pwned")], "traversal"),
    ([("a/../../outside/canary", "file", b"pwned")], "traversal"),
    ([("esc", "sym", "../outside"), ("esc/canary", "file", b"pwned")], "symlink"),
    ([("esc", "sym", "/"), ("esc/tmp/x", "file", b"pwned")], "symlink"),
    ([("hl", "link", "../outside/canary")], "traversal"),
    ([("esc", "sym", "../outside"), ("hl", "link", "esc/canary")], "symlink"),
    ([("hl", "link", "nothere")], "not in this layer"),
    ([("d", "dir"), ("hl", "link", "d")], "directory"),
    ([(".wh.", "file")], "whiteout must name"),
    ([("a/.wh...", "file")], "whiteout must name"),
    ([("x", "xattr", "trusted.overlay.redirect")], "trusted.overlay.redirect"),
    ([("x", "chr")], "whiteout"),
])
def test_hostile_layers_fail_and_touch_nothing_outside(box, entries, match):
    layer, _ = box
    with pytest.raises(LayerError, match=match) as e:
        apply_tar(mktar(*entries), str(layer))
    assert str(e.value).startswith("cannot apply layer")


def test_absolute_names_land_inside(box):
    layer, tmp = box
    apply_tar(mktar(("/abs/file", "file", b"in")), str(layer))
    assert (layer / "abs" / "file").read_bytes() == b"in"


def test_symlink_across_layers_is_not_followed(box):
    """Layer 1 makes etc a link to the host; layer 2's etc/passwd lands in layer 2's own dir."""
    layer, tmp = box
    apply_tar(mktar(("etc", "sym", str(tmp / "outside"))), str(layer))
    upper = tmp / "layer2"
    upper.mkdir()
    apply_tar(mktar(("etc/canary", "file", b"pwned")), str(upper))
    assert (upper / "etc" / "canary").read_bytes() == b"pwned"


def test_gzip_bomb_stops_at_the_budget(box):
    layer, _ = box
    bomb = io.BytesIO(gzip.compress(b"\0" * (64 << 20), 9))  # 64 MiB of zeros, ~64 KB compressed
    assert len(bomb.getvalue()) < 200_000
    with pytest.raises(LayerError, match="compression bomb"):
        apply_tar(bomb, str(layer), budget=8 << 20)


def test_corrupt_gzip_and_garbage_fail_with_a_sentence(box):
    layer, _ = box
    good = mktar(("a", "file", b"x" * 5000), gz=True).getvalue()
    bad = good[:20] + bytes(b ^ 0xFF for b in good[20:60]) + good[60:]
    with pytest.raises(LayerError, match="corrupt|not a valid tar"):
        apply_tar(io.BytesIO(bad), str(layer))
    with pytest.raises(LayerError, match="not a valid tar"):
        apply_tar(io.BytesIO(b"this is not a tar" * 100), str(layer))


@ROOT
def test_flatten_applies_whiteouts_and_opaque(tmp_path):
    l1, l2, out = tmp_path / "l1", tmp_path / "l2", tmp_path / "out"
    for d in (l1, l2):
        d.mkdir()
    apply_tar(mktar(("a", "file", b"1"), ("b", "file", b"1"), ("d", "dir"), ("d/x", "file", b"1")), str(l1))
    apply_tar(mktar((".wh.a", "file"), ("d", "dir"), ("d/.wh..wh..opq", "file"), ("d/y", "file", b"2")), str(l2))
    flatten([str(l1), str(l2)], str(out))
    assert sorted(os.listdir(out)) == ["b", "d"] and os.listdir(out / "d") == ["y"]


def test_write_tar_never_follows_a_symlink_swapped_in(tmp_path, monkeypatch):
    """A running container swaps a file for a link to a host secret between lstat and open."""
    import boxkit.images.layer as layer

    secret = tmp_path / "host-secret"
    secret.write_text("host secret")
    upper = tmp_path / "upper"
    upper.mkdir()
    (upper / "f").write_text("innocent")
    real_stat = os.stat

    def racing_stat(name, *a, **kw):
        st = real_stat(name, *a, **kw)
        if name == "f" and kw.get("dir_fd") is not None:
            os.unlink(upper / "f")
            os.symlink(str(secret), upper / "f")  # the swap, right after our stat
        return st

    monkeypatch.setattr(layer.os, "stat", racing_stat)
    buf = io.BytesIO()
    with pytest.raises(OSError) as e:
        write_tar(str(upper), buf)
    assert b"host secret" not in buf.getvalue()
    assert "changed while being read" in str(e.value) or e.value.errno in (40, 20)  # ELOOP / ENOTDIR
