"""The layer figure, fed made-up store rows: box widths follow bytes, totals are what the rows add to."""

from __future__ import annotations

import matplotlib
import pytest

from boxkit.viz.layers import MAX_W, MIN_W, disk_totals, layers_figure

matplotlib.use("Agg")

BASE = {"diff_id": "sha256:" + "a" * 64, "size": 2_200_000, "disk": 2_000_000, "created_by": "boxkit base image busybox"}
DEP = {"diff_id": "sha256:" + "b" * 64, "size": 110_000, "disk": 500_000, "created_by": 'COPY ["dep-a","/deps/a"]'}
APP1 = {"diff_id": "sha256:" + "c" * 64, "size": 10_000, "disk": 8_000, "created_by": 'COPY ["app.sh","/app/"]'}
APP2 = {"diff_id": "sha256:" + "d" * 64, "size": 10_000, "disk": 8_000, "created_by": 'COPY ["app.sh","/app/"]'}
IMAGES = {"app:1.0": [BASE, DEP, APP1], "app:2.0": [BASE, DEP, APP2]}


def _boxes(fig):
    return {p.get_gid(): p for p in fig.axes[0].patches if (p.get_gid() or "").startswith("layer:")}


def test_box_widths_are_in_proportion_to_bytes_on_disk():
    boxes = _boxes(layers_figure(IMAGES))
    base, dep = boxes[f"layer:0:{BASE['diff_id']}"], boxes[f"layer:0:{DEP['diff_id']}"]
    assert base.get_width() == pytest.approx(MAX_W)
    assert dep.get_width() / base.get_width() == pytest.approx(DEP["disk"] / BASE["disk"])
    assert boxes[f"layer:1:{APP2['diff_id']}"].get_width() == MIN_W          # too small: the floor
    assert len(boxes) == 6


def test_totals_count_a_shared_layer_once():
    t = disk_totals(IMAGES)
    assert t == {"stored": 2_516_000, "summed": 5_016_000, "layers": 4}
    fig = layers_figure(IMAGES)
    totals = next(x.get_text() for x in fig.axes[0].texts if x.get_gid() == "totals")
    assert "2.5 MB for both images" in totals and "not the 5.0 MB" in totals and "4 distinct" in totals


def test_new_layer_is_marked_and_ids_explained():
    fig = layers_figure(IMAGES)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("new") == 1
    assert any("content digest" in t for t in texts)
    assert any(APP2["diff_id"][:19] in t for t in texts)
    assert "app:1.0  (2.5 MB)" in texts
    one = layers_figure({"app:1.0": IMAGES["app:1.0"]})
    assert not any(t.get_gid() == "totals" for t in one.axes[0].texts)       # one image: nothing shared
