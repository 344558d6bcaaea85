"""The cgroup figures hold the data measured on real containers; the live plot runs without IPython.

The first tests start real limited containers (root); the last ones check the drawing logic on
hand-made series (no root)."""

from __future__ import annotations

import os

import pytest

from boxkit import cgroup_experiments as experiments
from boxkit import cgroups
from boxkit.cgroups.sampler import Series
from boxkit.viz import cgroups as viz

MiB = 1 << 20

live = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: creates cgroups and containers")
has_cgroups = pytest.mark.skipif(cgroups.detect().mode == "none", reason="no cgroup file system mounted")


@pytest.fixture(autouse=True)
def _agg():
    import matplotlib

    matplotlib.use("Agg")


@pytest.mark.integration
@live
@has_cgroups
def test_live_memory_outside_ipython_returns_the_oom_figure_and_data():
    from matplotlib.figure import Figure

    assert viz._ipython() is None, "this test is about running without IPython"
    fig, series, result = viz.live_memory(memory="200M", target_mb=400)
    assert isinstance(fig, Figure)
    assert result.oom_killed and result.exit_code == 137, result
    ax = fig.axes[0]
    used, limit_line, marker = ax.lines[0], ax.lines[1], ax.lines[-1]
    assert list(used.get_xdata()) == series.t
    assert list(used.get_ydata()) == [m / MiB for m in series.memory_current]
    assert list(limit_line.get_ydata()) == [200, 200]
    assert marker.get_marker() == "X" and list(marker.get_xdata()) == [viz.oom_time(series, result)]
    assert max(used.get_ydata()) <= 200 and result.stats["memory_peak"] > 150 * MiB


@pytest.mark.integration
@live
@has_cgroups
def test_cpu_figure_draws_cores_and_throttling():
    fig, series, result = viz.live_cpu(cpus=0.5, seconds=3)
    ax, ax2 = fig.axes
    assert list(ax.lines[0].get_ydata()) == series.cores()
    assert list(ax.lines[1].get_ydata()) == [0.5, 0.5]
    heights = [p.get_height() for p in ax2.patches]
    assert heights == viz.throttled_ms(series) and sum(heights) > 0, "throttling was drawn and happened"
    assert 0.4 <= series.mean_cores(skip=1.0) <= 0.6


@pytest.mark.integration
@live
@has_cgroups
def test_shares_figure_shows_the_measured_split_of_one_cpu():
    results, pair = experiments.cpu_weights(shares=(256, 768), seconds=3, cpuset="0")
    assert all(r.signal for r in results), "both were still burning when the window closed"
    fig = viz.shares_figure(pair, [256, 768])
    ax, bx = fig.axes
    assert [list(line.get_ydata()) for line in ax.lines[:2]] == [s.cores() for s in pair]
    measured = [p.get_height() for p in bx.patches[2:]]
    assert measured == [100 * x for x in experiments.measured_shares(pair)]
    assert 65 <= measured[1] <= 85, f"the 768 container got {measured[1]:.0f}% of CPU 0"


@pytest.mark.integration
@live
@has_cgroups
def test_pids_figure_flat_at_pids_max():
    import subprocess

    fig, series, result = viz.live_pids(pids_limit=20, seconds=2)
    assert subprocess.run(["true"]).returncode == 0, "the host can still fork"
    line = fig.axes[0].lines[0]
    assert list(line.get_ydata()) == series.pids_current
    assert 15 <= max(series.pids_current) <= 20
    assert list(fig.axes[0].lines[1].get_ydata()) == [20, 20]


# --- logic on hand-made series (no root) -----------------------------------------------------------

def _series(n: int = 5, **kw) -> Series:
    s = Series(t=[i * 0.1 for i in range(n)], memory_current=[i * MiB for i in range(n)],
               cpu_usage_usec=[i * 50_000 for i in range(n)], nr_throttled=[0] * n,
               throttled_usec=[i * 10_000 for i in range(n)], pids_current=[1] * n, oom_kills=[0] * n)
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def test_oom_time_is_the_last_sample_before_oom_kill_rose():
    # the sample that sees the counter rise already sees the victim's memory freed: the ✖ goes before it
    assert viz.oom_time(_series(oom_kills=[0, 0, 0, 1, 1])) == pytest.approx(0.2)
    assert viz.oom_window(_series(oom_kills=[0, 0, 0, 1, 1])) == (pytest.approx(0.2), pytest.approx(0.3))
    assert viz.oom_time(_series()) is None


def test_measured_shares_split_cpu_time():
    a = _series(cpu_usage_usec=[0, 25_000, 50_000, 75_000, 100_000])
    b = _series(cpu_usage_usec=[0, 75_000, 150_000, 225_000, 300_000])
    assert experiments.measured_shares([a, b], skip=0) == pytest.approx([0.25, 0.75])


def test_snapshot_cuts_a_series_caught_mid_append():
    s = _series(4)
    s.t.append(0.4)   # the sampler appended t, not yet the other fields
    snap = viz._snapshot(s)
    assert len(snap.t) == 4 and all(len(getattr(snap, f)) == 4 for f in ("memory_current", "oom_kills"))
    assert len(s.t) == 5, "the live series is left alone"


def test_file_map_highlights_the_driver_in_use():
    assert "boxkit drives v1" in repr(viz.file_map("hybrid"))
    html = viz.file_map("v2")._repr_html_()
    assert "boxkit drives <b>v2</b>" in html and html.count("<tr>") == len(cgroups.FILE_MAP) + 1


@pytest.mark.integration
@live
@has_cgroups
def test_panel_run_uses_the_slider_values():
    p = viz.panel(hog_mb=300, seconds=2)
    mem, cpu, _ = p.children[0].children
    mem.value, cpu.value = 200, 0.5
    p.run()
    status = p.children[1].value
    assert status.startswith("limit 200 MiB") and "OOM killed: True" in status, status
    assert "quota 0.5:" in status


@pytest.mark.integration
@live
@has_cgroups
def test_a_panel_run_at_once_carries_its_plot_for_static_views():
    p = viz.panel(hog_mb=150, seconds=1)
    assert "image/png" not in p._repr_mimebundle_()          # nothing ran: nothing to show
    p = viz.panel(hog_mb=150, seconds=1, run_now=True)
    bundle = p._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and bundle.get("image/png"), bundle.keys()


@pytest.mark.integration
@live
@has_cgroups
def test_the_host_forks_while_the_bomb_holds_pids_max():
    result, series = experiments.fork_bomb(pids_limit=10, seconds=2, host_forks=5)
    hf = result.stats["host_forks"]
    assert hf["pids_before"] == hf["pids_after"] == 10, hf   # both reads at the limit: during the bomb
    assert hf["started"] == hf["asked"] == 5, hf
    assert max(series.pids_current) <= 10


@pytest.mark.integration
@live
@has_cgroups
def test_the_file_tables_column_is_in_a_real_containers_group():
    import boxkit

    host = cgroups.detect()
    with boxkit.run("busybox", ["sleep", "30"], detach=True, memory="64M", cpus=0.5, pids_limit=50) as c:
        found = experiments.group_files(c.pid, cgroups.FILE_MAP, host.mode)
        limit = next(p for what, _f, p in found if what == "memory limit")
        assert int(open(limit).read().split()[0]) == 64 * MiB
    core = {"memory limit", "memory in use", "OOM kills", "CPU quota", "process limit", "processes"}
    assert all(p for what, _f, p in found if what in core), found


@pytest.mark.integration
@live
@pytest.mark.skipif(cgroups.detect().version != 2, reason="needs cgroup v2: memory.high and PSI (runs in the v2 VM)")
def test_memory_high_holds_the_hog_under_max_with_pressure_drawn():
    result, series, psi = experiments.memory_high(high="100M", memory="300M", target_mb=150)
    assert not result.oom_killed, "memory.high throttles, it does not kill"
    assert series.peak_memory <= 300 * MiB
    fig = viz.memory_high_figure(series, psi, 100 * MiB)
    assert [100, 100] in [list(line.get_ydata()) for line in fig.axes[0].lines]
    if not psi:
        pytest.skip("needs PSI: this v2 kernel has no memory.pressure (psi=0)")
    assert [p[1] for p in psi] == list(fig.axes[1].lines[0].get_ydata())
