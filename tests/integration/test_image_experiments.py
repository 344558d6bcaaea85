"""Notebook 03's measurements run for real: when copy-up happens, and a push to and a pull from a
local registry (Debian's docker-registry on 127.0.0.1), everything removed afterwards."""

from __future__ import annotations

import glob
import os
import shutil

import pytest

from boxkit import image_experiments
from boxkit.image_experiments import copy_up_at_open, registry_roundtrip
from boxkit.images import resolve
from boxkit.images.store import Store

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: overlay mounts, layers keep owners")]


def _leftovers() -> set[str]:
    return set(glob.glob("/var/tmp/bk-registry-*") + glob.glob("/var/tmp/bk-pull-*")
               + glob.glob("/var/tmp/bk-copyup-open-*"))


def test_copy_up_happens_at_the_first_open_for_writing():
    before = _leftovers()
    got = copy_up_at_open(1 << 20)
    assert got["after_read_open"] == 0                  # reading copies nothing
    assert got["after_write_open"] >= got["size"]       # opening for writing copied it all, no write
    assert got["same_inode"] and got["upper_inode"] > 0  # the next open for writing used that copy
    assert _leftovers() == before


@pytest.mark.skipif(not shutil.which("docker-registry"), reason="needs docker-registry: apt-get install docker-registry")
@pytest.mark.skipif(not os.path.exists("/bin/busybox"), reason="needs busybox-static")
def test_push_gzip_and_pull_back(tmp_path):
    from boxkit.build.builder import Build

    (tmp_path / "app.sh").write_text("echo round trip\n")
    resolve("busybox")
    ref, pulled = "bk-rt-app:v1", "bk-rt-app:pulled"
    Build("busybox").copy("app.sh", "/app/").cmd(["sh", "/app/app.sh"]).build(ref, str(tmp_path), log=None)
    store = Store()
    before = _leftovers()
    try:
        trip = registry_roundtrip(ref, repo="bk/rt", tag="v1", pulled=pulled)
        diffs = [r["diff_id"] for r in store.layers_of(ref)]
        digests = [d["digest"] for d in trip["manifest"]["layers"]]
        assert trip["config"]["rootfs"]["diff_ids"] == diffs
        assert not set(digests) & set(diffs)            # the manifest names the gzip'd bytes
        assert all(d["mediaType"].endswith("+gzip") for d in trip["manifest"]["layers"])
        assert set(trip["registry_blobs"]) == set(digests) | {trip["manifest"]["config"]["digest"],
                                                             trip["manifest_digest"]}
        assert set(trip["empty_fetched"]) >= set(digests) and trip["empty_diff_ids"] == diffs
        assert trip["new_blobs"] == [trip["manifest_digest"]]   # this store had every layer already
        assert trip["manifest_digest"] != trip["pushed"]["local_manifest_digest"]
        assert trip["run_pulled"].strip() == "round trip"
        assert trip["registry_exit"] is not None and not trip["registry_dir_left"]
        assert not trip["pulled_tag_left"] and pulled not in store.tags()
        assert _leftovers() == before
    finally:
        for t in (ref, pulled):
            if t in store.tags():
                store.remove(t)


def test_no_registry_program_is_one_sentence(monkeypatch):
    monkeypatch.setattr(image_experiments.shutil, "which", lambda name: None)
    got = registry_roundtrip("busybox")
    assert set(got) == {"missing"} and "docker-registry" in got["missing"]
