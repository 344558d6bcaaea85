"""The OCI layout store: digests, verification, tags, sharing, removal — on a temp BOXKIT_ROOT."""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest

from boxkit.errors import BoxkitError, NotFoundError, SpecError
from boxkit.images import ImageConfig
from boxkit.images.store import Store, chain_ids, check_digest, sha256


def _tree(tmp_path, name, files):
    d = tmp_path / name
    d.mkdir()
    for rel, data in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_bytes(data)
    # a layer's tar carries mtimes: trees made a second apart must still be the same content
    for dirpath, dirnames, filenames in os.walk(d, topdown=False):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (1_700_000_000, 1_700_000_000))
    os.utime(d, (1_700_000_000, 1_700_000_000))
    return str(d)


@pytest.mark.parametrize("bad", ["sha256:../../etc/passwd", "sha256:" + "A" * 64, "md5:" + "0" * 32,
                                 "sha256:" + "0" * 63, "/etc/passwd", None, 5])
def test_digests_are_validated_before_becoming_paths(tmp_root, bad):
    with pytest.raises(SpecError):
        Store().blob_path(bad)
    with pytest.raises(SpecError):
        check_digest(bad)


def test_blob_must_match_its_digest(tmp_root):
    s = Store()
    d = s.put_blob(b"hello")
    assert d == sha256(b"hello") and s.read_blob(d) == b"hello"
    with pytest.raises(BoxkitError, match="hash to"):
        s.put_blob(b"evil", expected=d)
    with pytest.raises(BoxkitError, match="hash to"):
        s.put_blob_stream(io.BytesIO(b"evil"), expected=d)
    assert os.listdir(os.path.join(s.root, "tmp")) == []  # the bad stream left nothing
    with open(s.blob_path(d), "wb") as f:  # corrupt it on disk
        f.write(b"jello")
    with pytest.raises(BoxkitError, match="corrupt blob"):
        s.read_blob(d)


def test_chain_ids():
    a, b = sha256(b"a"), sha256(b"b")
    assert chain_ids([a]) == [a]
    assert chain_ids([a, b])[1] == sha256(f"{a} {b}".encode())


def test_layers_are_shared_and_removal_keeps_what_others_use(tmp_root, tmp_path):
    s = Store()
    base1 = s.add_layer_dir(_tree(tmp_path, "b1", {"lib/dep": b"d" * 5000}))
    base2 = s.add_layer_dir(_tree(tmp_path, "b2", {"lib/dep": b"d" * 5000}))
    assert base1 == base2  # identical content, one layer
    app1 = s.add_layer_dir(_tree(tmp_path, "a1", {"app": b"v1"}))
    app2 = s.add_layer_dir(_tree(tmp_path, "a2", {"app": b"v2"}))
    cfg = ImageConfig(env=["A=1"], cmd=["/app"])
    s.write_image([base1, app1], cfg, [{"created_by": "dep"}, {"created_by": "app v1"}], ref="app:v1")
    s.write_image([base2, app2], cfg, [{"created_by": "dep"}, {"created_by": "app v2"}], ref="app:v2")
    df = s.df()
    assert df["shared_bytes"] > 0 and df["without_sharing_bytes"] > df["total_bytes"]
    r = s.resolve("app", "v2")
    assert open(os.path.join(r.layers[1], "app")).read() == "v2" and r.config.cmd == ["/app"]
    assert [h["created_by"] for h in s.history("app:v2")] == ["app v2", "dep"]
    removed = s.remove("app:v1")
    assert any(x.endswith(app1[1][7:]) for x in removed)
    assert s.has_layer(base1[1]) and not s.has_layer(app1[1])
    assert s.resolve("app", "v2") is not None
    with pytest.raises(NotFoundError):
        s.remove("app:v1")


def test_layer_blob_is_recreated_identically(tmp_root, tmp_path):
    s = Store()
    desc, diff = s.add_layer_dir(_tree(tmp_path, "t", {"x/y": b"z"}), keep_blob=False)
    assert not s.has_blob(desc["digest"])
    path = s.ensure_blob(desc, diff)
    assert sha256(open(path, "rb").read()) == diff
    with open(os.path.join(s.layer_dir(diff), "x", "y"), "w") as f:
        f.write("changed")  # an unpacked layer modified behind the store's back
    os.unlink(path)
    with pytest.raises(BoxkitError, match="modified"):
        s.ensure_blob(desc, diff)


def test_wrong_diff_id_is_refused_and_leaves_no_layer(tmp_root, tmp_path):
    s = Store()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        ti = tarfile.TarInfo("f")
        ti.size = 1
        tf.addfile(ti, io.BytesIO(b"x"))
    blob = s.put_blob(raw.getvalue())
    lie = sha256(b"something else")
    with pytest.raises(BoxkitError, match="unpacks to"):
        s.unpack_layer({"digest": blob}, lie)
    assert not s.has_layer(lie) and os.listdir(os.path.join(s.root, "tmp")) == []


def test_index_is_an_oci_layout(tmp_root, tmp_path):
    s = Store()
    layer = s.add_layer_dir(_tree(tmp_path, "t", {"f": b"1"}))
    s.write_image([layer], ImageConfig(), [{}], ref="x:1")
    s.write_image([layer], ImageConfig(cmd=["sh"]), [{}], ref="x:1")  # retag replaces
    idx = json.load(open(os.path.join(s.root, "index.json")))
    assert json.load(open(os.path.join(s.root, "oci-layout"))) == {"imageLayoutVersion": "1.0.0"}
    assert [m["annotations"]["io.boxkit.ref"] for m in idx["manifests"]] == ["x:1"]
