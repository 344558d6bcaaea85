"""The by-hand overlay figure, fed a made-up scan: every marker is drawn in its row and column."""

from __future__ import annotations

import os

import matplotlib

from boxkit.images.upper import overlay_kinds
from boxkit.viz.overlay import overlay_figure

matplotlib.use("Agg")

SCAN = {
    "lower": {"etc": "dir", "etc/config": "file", "etc/old": "file", "docs": "dir", "docs/a.txt": "file"},
    "upper": {"etc": "dir", "etc/config": "file", "etc/old": "whiteout", "docs": "opaque", "docs/new.txt": "file"},
    "work": {"work": "dir"},
    "merged": {"etc": "dir", "etc/config": "file", "docs": "dir", "docs/new.txt": "file"},
}


def _drawn(fig):
    return {p.get_gid() for p in fig.axes[0].patches if p.get_gid()}


def test_each_entry_is_a_box_in_its_row():
    gids = _drawn(overlay_figure(SCAN))
    assert "upper:etc/old:whiteout" in gids and "upper:docs:opaque" in gids
    assert "lower:etc/old:file" in gids and "merged:etc/old:file" not in gids   # the whiteout hid it
    assert "merged:docs/a.txt:file" not in gids and "lower:docs/a.txt:file" in gids
    assert "work" in gids
    assert sum(1 for g in gids if g != "work") == sum(len(SCAN[r]) for r in ("lower", "upper", "merged"))


def test_markers_and_reasons_are_written():
    texts = [t.get_text() for t in overlay_figure(SCAN).axes[0].texts]
    assert "whiteout\nchar dev 0/0" in texts and "opaque\n(xattr =y)" in texts
    assert "hidden by\nwhiteout" in texts and "hidden by\nopaque" in texts
    assert "copy-up" in texts and "new" in texts


def test_overlay_kinds_reads_a_plain_tree(tmp_path):
    os.makedirs(tmp_path / "etc")
    (tmp_path / "etc" / "f").write_text("x")
    assert overlay_kinds(str(tmp_path)) == {"etc": "dir", "etc/f": "file"}


def test_readable_at_notebook_width_and_work_explained():
    """At most MAX_COLUMNS paths side by side (the figure fits a notebook column at 100 px an inch,
    labels at 8.5 pt or more), and each entry of the work dir is said in words."""
    from boxkit.viz.overlay import MAX_COLUMNS

    scan = dict(SCAN, work={"work": "dir", "work/#33a": "whiteout"},
                lower=dict(SCAN["lower"], **{f"docs/x{i}": "file" for i in range(7)}))
    fig = overlay_figure(scan)
    assert fig.get_figwidth() * fig.dpi <= 1000
    texts = fig.axes[0].texts
    assert min(t.get_fontsize() for t in texts) >= 8.5
    lines = [t.get_text() for t in texts]
    assert any(t.startswith("work/#33a: a whiteout") and "hard link" in t for t in lines)
    assert any(t.startswith("work/: scratch space") for t in lines)
    # 7 + 3 paths under docs/ cut into panels of at most MAX_COLUMNS
    heads = [t for t in lines if t.startswith("under ")]
    assert heads.count("under docs/") == -(-10 // MAX_COLUMNS) and heads.count("under etc/") == 1
