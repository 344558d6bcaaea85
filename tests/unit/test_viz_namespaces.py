"""The namespace figures, fed made-up /proc readings: what they drew must be what they were given."""

from __future__ import annotations

import matplotlib

from boxkit.viz.namespaces import OWN, idmap_figure, namespace_figure

matplotlib.use("Agg")

SNAP = {
    "host": [{"host_pid": 1, "comm": "systemd", "ppid": 0}, {"host_pid": 700, "comm": "python3", "ppid": 1}],
    "container": [{"host_pid": 16314, "pids": [16314, 1], "comm": "boxkit-init", "ppid": 700},
                  {"host_pid": 16320, "pids": [16320, 2], "comm": "sleep", "ppid": 16314}],
    "rows": [{"type": "pid", "host": 4026531836, "container": 4026532301},
             {"type": "user", "host": 4026531837, "container": 4026531837}],
    "hostname": "box", "host_hostname": "vm",
}


def _gids(fig, kind):
    return {a.get_gid() for a in getattr(fig.axes[0], kind) if a.get_gid()}


def test_namespace_figure_boxes_the_subtree_and_joins_both_pids():
    fig = namespace_figure(SNAP)
    gids = _gids(fig, "texts")
    assert {"hostpid:1", "hostpid:700", "hostpid:16314", "hostpid:16320"} <= gids
    assert {"innerpid:1", "innerpid:2"} <= gids and "innerpid:700" not in gids   # host-only has no inner PID
    box = next(p for p in fig.axes[0].patches if p.get_gid() == "container-box")
    ys = {t.get_gid(): t.get_position()[1] for t in fig.axes[0].texts if t.get_gid()}
    lo, hi = box.get_y(), box.get_y() + box.get_height()
    assert lo < ys["hostpid:16314"] < hi and lo < ys["hostpid:16320"] < hi
    assert not lo < ys["hostpid:700"] < hi                                      # the parent is outside
    assert ys["innerpid:1"] == ys["hostpid:16314"]                              # joined on one row
    arrows = [a for a in fig.axes[0].texts if isinstance(a, matplotlib.text.Annotation)]
    assert len(arrows) == 2


def test_namespace_figure_writes_both_inodes_and_marks_own():
    fig = namespace_figure(SNAP)
    texts = [t.get_text() for t in fig.axes[0].texts]
    for n in ("4026531836", "4026532301", "4026531837"):
        assert n in texts
    own = [t for t in fig.axes[0].texts if t.get_text() == "own"]
    assert len(own) == 1 and matplotlib.colors.to_hex(own[0].get_color()) == OWN
    assert texts.count("shared") == 1


def test_idmap_bars_span_the_map_ranges():
    fig = idmap_figure([(0, 100000, 65536)])
    bars = {p.get_gid(): p for p in fig.axes[0].patches if p.get_gid()}
    inside, outside = bars["inside:0:65536"], bars["outside:100000:65536"]
    assert (inside.get_x(), inside.get_width()) == (0, 65536)
    assert (outside.get_x(), outside.get_width()) == (100000, 65536)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "0 – 65535" in texts and "100000 – 165535" in texts and "65534 (nobody)" in texts
    assert "host uid 0: in no range" in texts


def test_idmap_draws_every_line_and_no_unmapped_arrow_when_mapped():
    fig = idmap_figure([(0, 1000, 1), (1, 100000, 65535)], unmapped_example=1000)
    gids = _gids(fig, "patches")
    assert {"inside:0:1", "outside:1000:1", "inside:1:65535", "outside:100000:65535"} <= gids
    assert "in no range" not in " ".join(t.get_text() for t in fig.axes[0].texts)


def test_the_host_branch_names_the_kernel_and_the_helper_and_folds_what_started_them():
    host = [{"host_pid": 1, "comm": "process_api", "ppid": 0},
            {"host_pid": 20, "comm": "memfd:sealed-91", "ppid": 1},
            {"host_pid": 21, "comm": "bash", "ppid": 20}, {"host_pid": 22, "comm": "bash", "ppid": 21},
            {"host_pid": 700, "comm": "python", "ppid": 22}, {"host_pid": 710, "comm": "python", "ppid": 700}]
    snap = {**SNAP, "host": host, "viewer_pid": 700,
            "container": [dict(SNAP["container"][0], ppid=710), SNAP["container"][1]]}
    texts = [t.get_text() for t in namespace_figure(snap).axes[0].texts]
    assert "3 more: what started it (memfd:sealed-91, bash ×2)" in texts
    assert any(t.startswith("python: ") and ("kernel" in t or "drawing" in t) for t in texts)
    assert "python: boxkit's helper, it forks the containers" in texts
    assert "bash" not in texts and "memfd:sealed-91" not in texts                 # folded, not drawn


def test_a_snapshot_taken_elsewhere_is_drawn_as_it_is():
    texts = [t.get_text() for t in namespace_figure({**SNAP, "viewer_pid": 99999}).axes[0].texts]
    assert "systemd" in texts and "python3" in texts
