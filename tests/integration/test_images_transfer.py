"""save/load round trips, read by the real tools: skopeo and umoci must accept what boxkit writes and
umoci must unpack the same tree boxkit runs. Corrupt and hostile archives leave no image."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess

import pytest
from layer_reference import flatten

from boxkit.errors import BoxkitError, SpecError
from boxkit.images import resolve
from boxkit.images.store import Store
from boxkit.images.transfer import load, save_docker, save_oci

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: layers keep owners"),
              pytest.mark.skipif(not os.path.exists("/bin/busybox"),
                                 reason="needs busybox-static: apt-get install busybox-static")]


def _tree(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_uid)
            else:
                out[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_uid, st.st_size)
    return out


@pytest.fixture
def image(tmp_root, tmp_path):
    """busybox plus a layer that adds a file, deletes one and replaces a directory."""
    from boxkit.build.commit import commit_upper

    resolve("busybox")
    upper = tmp_path / "upper"
    (upper / "etc").mkdir(parents=True)
    (upper / "etc" / "added").write_text("added\n")
    os.mknod(upper / "etc" / "group", stat.S_IFCHR | 0o600, 0)  # delete /etc/group
    (upper / "usr").mkdir()
    os.setxattr(upper / "usr", "trusted.overlay.opaque", b"y")  # /usr replaced: empty but for new
    (upper / "usr" / "new").write_text("n\n")
    commit_upper(str(upper), "busybox:latest", "bk-xfer:v1")
    return "bk-xfer:v1"


def test_oci_layout_read_by_skopeo_and_umoci(image, tmp_path):
    if not shutil.which("skopeo") or not shutil.which("umoci"):
        pytest.skip("needs skopeo and umoci: apt-get install skopeo umoci")
    layout = tmp_path / "layout"
    save_oci([image], str(layout))
    info = json.loads(subprocess.run(["skopeo", "inspect", f"oci:{layout}:v1"], capture_output=True,
                                     text=True, check=True).stdout)
    store = Store()
    _d, _m, config = store.manifest_of(image)
    assert info["Layers"] == [d for d in config["rootfs"]["diff_ids"]]  # uncompressed: digest == DiffID
    bundle = tmp_path / "bundle"
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:v1", str(bundle)], check=True,
                   capture_output=True)
    ref = tmp_path / "ref"
    ref.mkdir()
    flatten(resolve(image).layers, str(ref))
    got, want = _tree(bundle / "rootfs"), _tree(ref)
    assert got == want
    assert "etc/added" in got and "etc/group" not in got and sorted(k for k in got if k.startswith("usr/")) == ["usr/new"]


def test_oci_and_docker_round_trip(image, tmp_path, monkeypatch):
    layout, archive = tmp_path / "layout", tmp_path / "img.tar"
    save_oci([image], str(layout))
    save_docker([image], str(archive))
    if shutil.which("skopeo"):
        subprocess.run(["skopeo", "inspect", f"docker-archive:{archive}"], check=True, capture_output=True)
    want = _tree(_flat(resolve(image).layers, tmp_path / "want"))
    other = tmp_path / "other-root"
    other.mkdir()
    monkeypatch.setenv("BOXKIT_ROOT", str(other))  # a fresh store
    assert load(str(layout)) == [image]
    assert load(str(archive), tag="bk-from-docker:1") == ["bk-from-docker:1"]
    for ref in (image, "bk-from-docker:1"):
        assert _tree(_flat(resolve(ref).layers, tmp_path / ref.replace(":", "_"))) == want


def _flat(layers, dest):
    dest.mkdir()
    flatten(layers, str(dest))
    return str(dest)


def test_corrupt_blob_is_refused_and_leaves_no_image(image, tmp_path, monkeypatch):
    layout = tmp_path / "layout"
    save_oci([image], str(layout))
    _d, manifest, _c = Store().manifest_of(image)
    top = manifest["layers"][-1]["digest"][7:]
    blob = layout / "blobs" / "sha256" / top
    data = bytearray(blob.read_bytes())
    data[600] ^= 0xFF
    os.unlink(blob)  # it is a hard link to the store's blob: replace, do not modify
    blob.write_bytes(bytes(data))
    other = tmp_path / "other-root"
    other.mkdir()
    monkeypatch.setenv("BOXKIT_ROOT", str(other))
    with pytest.raises(BoxkitError, match="hash to"):
        load(str(layout))
    assert Store().tags() == {}


def test_hostile_docker_archive_paths(tmp_root, tmp_path):
    import io
    import tarfile

    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tf:
        data = json.dumps([{"Config": "../../../etc/passwd", "RepoTags": ["x:1"], "Layers": []}]).encode()
        ti = tarfile.TarInfo("manifest.json")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    with pytest.raises(SpecError, match=r"'\.\.'"):
        load(str(bad))
    assert Store().tags() == {}
