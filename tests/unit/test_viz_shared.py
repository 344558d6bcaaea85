"""Notebook 09's figures and the measurements behind them, without root: a made-up ELF closure laid
out as a tree (each file once, under the first file one link nearer that names it; no two labels
overlap), the stop timeline from made-up stop times, the census of a layer of hard links against a
made-up host tree, and the page-frame comparison."""

from __future__ import annotations

import os
import sys

import matplotlib
import pytest

matplotlib.use("Agg")

from boxkit import sharing  # noqa: E402
from boxkit.viz import shared  # noqa: E402


def made_up_tree() -> sharing.ClosureTree:
    t = sharing.ClosureTree(root="/usr/bin/prog", loaded=["/opt/lib/_ext.so"])
    t.children = {"/usr/bin/prog": ["/lib/ld.so", "/opt/lib/libprog.so", "/lib/libc.so", "/opt/lib/_ext.so"],
                  "/opt/lib/libprog.so": ["/lib/libm.so", "/lib/libc.so"],
                  "/lib/libc.so": ["/lib/ld.so"], "/lib/libm.so": ["/lib/libc.so", "/lib/ld.so"],
                  "/opt/lib/_ext.so": ["/lib/libssl.so", "/lib/libcrypto.so", "/lib/libc.so"],
                  "/lib/libssl.so": ["/lib/libcrypto.so", "/lib/libc.so"], "/lib/libcrypto.so": ["/lib/libc.so"],
                  "/lib/ld.so": []}
    for f in t.files():
        t.names[f] = os.path.basename(f)
        t.sizes[f] = 1 << 20
    return t


def test_each_file_once_under_the_first_file_one_link_nearer_that_names_it():
    t = made_up_tree()
    assert len(t.files()) == 8 and t.files()[0] == t.root
    assert t.depth()["/lib/libm.so"] == 2 and t.depth()["/lib/libc.so"] == 1
    parents = shared.spanning_parents(t)
    assert parents["/lib/libc.so"] == t.root, "named by the program itself: under it, not under libm"
    assert parents["/lib/libcrypto.so"] == "/opt/lib/_ext.so"
    assert set(parents) == set(t.files()) - {t.root}
    pos = shared.tree_layout(t)
    assert len(set(pos.values())) == len(pos), "two files drawn in one place"
    for child, parent in parents.items():
        assert pos[child][0] == pos[parent][0] + 1


def _texts_overlap(fig) -> list[tuple[str, str]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for ax in fig.axes for t in ax.texts if t.get_text()]
    return [(a, b) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1:] if ba.overlaps(bb)]


def test_closure_figure_draws_every_file_with_no_overlapping_label():
    census = sharing.Census(shared=2943, shared_bytes=114 << 20, own=11, own_bytes=604 << 10,
                            host_files=173645, host_bytes=7 << 30, host_roots=("/usr", "/opt/py"))
    fig = shared.closure_figure(made_up_tree(), census)
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    for name in ("prog", "libc.so", "libcrypto.so", "_ext.so"):
        assert name in texts
    assert "named by 6 files" in texts, "libc: named by the program and five libraries"
    assert "2943 of the host's 173645 files" in texts and "604.0 KiB" in texts
    assert fig.get_size_inches()[0] * fig.dpi <= 900
    assert _texts_overlap(fig) == []


def test_stop_timeline_marks_the_sigkill_only_where_it_was_needed():
    fig = shared.stop_timeline_figure([("sleep as PID 1", 3.004, True), ("init=True", 0.004, False)], grace=3)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert sum("SIGKILL at 3 s" in t for t in texts) == 1
    assert any("after 4 ms" in t for t in texts)
    assert _texts_overlap(fig) == []


def test_the_closure_of_this_python_starts_at_it_and_ends_in_its_loader():
    t = sharing.closure_tree(sys.executable)
    assert t.root == os.path.realpath(sys.executable)
    names = {t.names[f] for f in t.files()}
    if len(names) == 1:
        pytest.skip("a static python names no library")
    assert any(n.startswith("libc.so") for n in names) and any(n.startswith("ld-") for n in names)


def test_census_counts_hard_links_as_the_hosts_and_adds_up_only_the_images_own(tmp_path):
    host, layer = tmp_path / "host", tmp_path / "layer"
    (host / "usr/bin").mkdir(parents=True)
    (layer / "usr/bin").mkdir(parents=True)
    (layer / "etc").mkdir()
    (host / "usr/bin/prog").write_bytes(b"x" * 10000)
    (host / "usr/bin/other").write_bytes(b"y" * 500)
    os.link(host / "usr/bin/prog", layer / "usr/bin/prog")            # the host's own inode
    (layer / "usr/bin/other").write_bytes(b"y" * 500)                  # same path, a copy: its own
    (layer / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")   # only the image has it
    c = sharing.census(str(layer), roots=(str(host / "usr"),), host=str(host))
    assert (c.shared, c.own) == (1, 2)
    assert c.shared_bytes == 10000
    assert (c.host_files, c.host_bytes) == (2, 10500)
    own_blocks = sum(os.lstat(p).st_blocks * 512 for p in (layer / "usr/bin/other", layer / "etc/passwd",
                                                             layer / "usr", layer / "usr/bin", layer / "etc"))
    assert c.own_bytes == own_blocks


def test_frames_of_this_process_and_the_comparison():
    m = sharing.text_mapping(os.getpid())
    pages = sharing.frames(os.getpid(), m)
    assert pages, "the code running this test is mapped and present"
    assert sharing.same_frames({1: 10, 2: 11, 3: 12}, {2: 11, 3: 99, 4: 13}) == (2, 1)
