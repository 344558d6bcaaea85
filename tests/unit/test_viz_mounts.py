"""The propagation figure and the mountinfo reader, fed made-up mount tables."""

from __future__ import annotations

import matplotlib

from boxkit import nsinfo
from boxkit.viz.mounts import propagation_figure

matplotlib.use("Agg")


def _m(i, parent, target, shared=None, master=None):
    return {"id": i, "parent": parent, "target": target, "fstype": "tmpfs", "shared": shared, "master": master}


HOST = [_m(1, 0, "/", shared=1), _m(2, 1, "/proc"), _m(3, 1, "/data", shared=7)]
COPY = [_m(11, 10, "/", shared=1), _m(12, 11, "/proc"), _m(13, 11, "/data", shared=7)]
BOX = [_m(21, 20, "/"), _m(22, 21, "/proc"), _m(23, 21, "/data", master=7)]


def test_peer_groups_are_joined_across_namespaces_and_private_ones_not():
    fig = propagation_figure({"host": HOST, "copy": COPY, "box": BOX})
    gids = {p.get_gid() for p in fig.axes[0].patches if p.get_gid()}
    assert {"host:1:shared:1", "copy:13:shared:7", "box:21:private", "box:23:master:7", "host:2:private"} <= gids
    arrows = [t for t in fig.axes[0].texts if isinstance(t, matplotlib.text.Annotation)]
    peers = [t for t in arrows if t.get_gid().startswith("peer:")]
    slaves = [t for t in arrows if t.get_gid().startswith("slave:")]
    assert sorted(t.get_gid() for t in peers) == ["peer:1", "peer:7"]   # host <-> copy
    assert [t.get_gid() for t in slaves] == ["slave:7"]                  # the box's /data receives only
    assert all(t.xy[0] < 22 for t in peers)                # both end in the copy's panel, beside the host's
    links = next(t.get_text() for t in fig.axes[0].texts if t.get_gid() == "links")
    assert "2 peer link(s)" in links and "1 slave link(s)" in links
    legend = next(t.get_text() for t in fig.axes[0].texts if t.get_gid() == "legend")
    assert "yellow: slave" in legend and "green: shared" in legend


def test_the_legend_names_only_what_is_drawn():
    fig = propagation_figure({"host": HOST, "copy": COPY})
    legend = next(t.get_text() for t in fig.axes[0].texts if t.get_gid() == "legend")
    assert "yellow" not in legend and "green: shared" in legend and "grey: private" in legend


def test_long_paths_under_demo_are_written_relative_and_not_cut():
    demo = "/var/tmp/boxkit-prop-wyia_98c"
    tree = [_m(1, 0, "/"), _m(2, 1, demo, shared=2), _m(3, 2, demo + "/later", shared=3)]
    fig = propagation_figure({"host": tree}, demo=demo)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "demo/later" in texts and not any(t.startswith("…") for t in texts)
    assert any(demo in t for t in texts)                   # the caption says where demo is


def test_no_links_when_everything_is_private():
    fig = propagation_figure({"host": BOX, "box": [dict(m, id=m["id"] + 100, parent=m["parent"] + 100) for m in BOX]})
    assert not [t for t in fig.axes[0].texts if isinstance(t, matplotlib.text.Annotation)]


def test_mountinfo_optional_fields_are_read(tmp_path, monkeypatch):
    line = ("36 35 98:0 /mnt1 /mnt\\040x rw,noatime master:1 shared:4 - ext3 /dev/root rw\n"
            "37 36 0:5 / /p rw - proc proc rw\n")
    real = open
    monkeypatch.setattr("builtins.open", lambda p, *a, **k: real(tmp_path / "mi", *a, **k)
                        if str(p).endswith("mountinfo") else real(p, *a, **k))
    (tmp_path / "mi").write_text(line)
    a, b = nsinfo.mounts(1)
    assert (a["target"], a["shared"], a["master"], a["fstype"]) == ("/mnt x", 4, 1, "ext3")
    assert (b["shared"], b["master"]) == (None, None)
