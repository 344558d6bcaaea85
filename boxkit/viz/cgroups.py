"""Pictures of cgroup limits at work, drawn from what the sampler read out of the kernel's files.

* :func:`memory_figure` — ``memory.usage_in_bytes`` / ``memory.current`` over time against the limit,
  with the OOM kill marked where ``oom_kill`` went up (or where the container ended, killed).
* :func:`cpu_figure` — cores used (growth of the group's CPU time per wall second) against the quota;
  on a second axis, the time the group spent throttled in each interval.
* :func:`shares_figure` — containers sharing one CPU with different weights: cores over time, and the
  measured split next to the split the weights ask for.
* :func:`pids_figure` — ``pids.current`` under a fork bomb, flat at ``pids.max``.
* :func:`memory_high_figure` — v2 only: memory against ``memory.high`` and ``memory.max``, with the
  memory pressure (PSI ``some avg10``) on a second axis.

:func:`live` runs an experiment from :mod:`boxkit.cgroup_experiments` and redraws its figure while the
container runs, through one IPython display handle (``display(fig, display_id=True)`` then
``handle.update(fig)`` from the sampler's callback, a few times a second — never a ``clear_output``
loop). It blocks until the container ends and returns ``(figure, series, result)``; outside IPython it
just draws once at the end. :func:`panel` is the ipywidgets version with sliders.

Every function takes ``fig=`` to redraw into an existing figure (what :func:`live` does).
"""

from __future__ import annotations

import threading

from ..i18n import _
from . import badge, new_figure

MiB = 1 << 20
LIMIT = "#c0392b"
USE = "#1f6fb2"
THROTTLE = "#e67e22"


def _figure(fig, size):
    if fig is None:
        return new_figure(figsize=size, dpi=100)
    fig.clear()
    return fig


def _title(fig, text: str, series) -> None:
    fig.suptitle(badge(text, getattr(series, "recorded", False)))


def oom_window(series, result=None) -> tuple[float, float] | None:
    """The sampling interval in which the OOM killer acted: from the last sample before ``oom_kill``
    went up to the first after it (the kill, and the kernel freeing the victim's memory, both fall
    inside); for a container OOM-killed after the last sample, that sample twice. None if not killed."""
    before = series.oom_kills[0] if series.oom_kills else 0
    for i, (t, n) in enumerate(zip(series.t, series.oom_kills, strict=False)):
        if n > before:
            return (series.t[i - 1] if i else t), t
    if result is not None and result.oom_killed and series.t:
        return series.t[-1], series.t[-1]
    return None


def oom_time(series, result=None) -> float | None:
    """Where the ✖ goes: the last sample before ``oom_kill`` went up (the highest the hog got, as far
    as the samples show; by the next sample its memory is already being freed), else the last sample
    of a container whose result says it was OOM-killed; None if it was not."""
    w = oom_window(series, result)
    return None if w is None else w[0]


def memory_figure(series, result=None, *, title: str | None = None, fig=None):
    if title is None:
        title = _("memory against its limit")
    fig = _figure(fig, (8, 4))
    ax = fig.add_subplot()
    ax.plot(series.t, [m / MiB for m in series.memory_current], color=USE, lw=2, label=_("memory in use"))
    if series.memory_limit:
        ax.axhline(series.memory_limit / MiB, color=LIMIT, ls="--",
                   label=_("limit {mib} MiB").format(mib=series.memory_limit // MiB))
    t_oom = oom_time(series, result)
    window = oom_window(series, result)
    if t_oom is not None and window is not None:
        if window[1] > window[0]:
            ax.axvspan(*window, color=LIMIT, alpha=0.12, lw=0, label=_("the kill falls in this sample interval"))
        ax.axvline(t_oom, color="#333", ls=":", lw=1)
        y = (series.memory_limit or series.peak_memory) / MiB
        ax.plot([t_oom], [y], marker="X", ms=14, color=LIMIT, ls="none", label=_("OOM kill (SIGKILL, exit 137)"))
    ax.set_xlabel(_("seconds"))
    ax.set_ylabel("MiB")
    ax.set_ylim(bottom=0, top=max([series.peak_memory, series.memory_limit or 0]) / MiB * 1.15 + 1)
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    _title(fig, title, series)
    fig.tight_layout()
    return fig


def throttled_ms(series) -> list[float]:
    """Milliseconds spent throttled in each sampling interval (one shorter than ``t``)."""
    u = series.throttled_usec
    return [(u[i] - u[i - 1]) / 1000 for i in range(1, len(u))]


def cpu_figure(series, *, title: str | None = None, fig=None):
    if title is None:
        title = _("CPU against its quota")
    fig = _figure(fig, (8, 4))
    ax = fig.add_subplot()
    t = series.t[1:]
    ax.plot(t, series.cores(), color=USE, lw=2, label=_("CPU used (cores)"))
    if series.cpu_limit:
        ax.axhline(series.cpu_limit, color=LIMIT, ls="--",
                   label=_("quota {cores} cores").format(cores=f"{series.cpu_limit:g}"))
    ax.set_xlabel(_("seconds"))
    ax.set_ylabel(_("cores"))
    # both axes keep their top third free: the legend sits there, over no line and no bar
    ax.set_ylim(0, max([*series.cores(), series.cpu_limit or 0, 0.1]) * 1.5)
    ax.grid(alpha=0.3)
    ax2 = ax.twinx()
    ms = throttled_ms(series)
    ax2.bar(t, ms, width=0.6 * _step(series), color=THROTTLE, alpha=0.35,
            label=_("throttled (ms per sample)"))
    ax2.set_ylim(0, max([*ms, 1.0]) * 1.5)
    ax2.set_ylabel(_("ms throttled per sample"), color=THROTTLE)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper right")
    _title(fig, title, series)
    fig.tight_layout()
    return fig


def _step(series) -> float:
    t = series.t
    return (t[-1] - t[0]) / (len(t) - 1) if len(t) > 1 else 0.1


def shares_figure(series: list, shares: list[int], *, skip: float = 1.0, title: str = "", fig=None):
    # lazy: cgroup_experiments loads the runtime (~50 ms); only this figure runs one
    from ..cgroup_experiments import measured_shares

    fig = _figure(fig, (9, 4))   # 900 px: a notebook column, no scaling
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    colours = ["#7fb3d5", "#1f6fb2", "#82c99a", "#f0b27a"]
    for i, (s, w) in enumerate(zip(series, shares, strict=True)):
        ax.plot(s.t[1:], s.cores(), color=colours[i % 4], lw=2, label=f"cpu.shares {w}")
    ax.axvline(skip, color="#999", ls=":", lw=1)
    ax.set_xlabel(_("seconds"))
    ax.set_ylabel(_("cores (all on CPU 0)"))
    ax.set_ylim(0, 1.2)
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    measured = [100 * x for x in measured_shares(series, skip)]
    asked = [100 * w / sum(shares) for w in shares]
    xs = range(len(shares))
    bx.bar([x - 0.2 for x in xs], asked, width=0.4, color="#ccc", label=_("weights ask"))
    bars = bx.bar([x + 0.2 for x in xs], measured, width=0.4, color=[colours[i % 4] for i in xs], label=_("measured"))
    for b, m in zip(bars, measured, strict=True):
        bx.text(b.get_x() + b.get_width() / 2, m + 2, f"{m:.0f}%", ha="center", fontsize=10)
    bx.set_xticks(list(xs), [f"shares {w}" for w in shares])
    bx.set_ylabel(_("% of the CPU time used after {skip} s").format(skip=f"{skip:g}"))
    bx.set_ylim(0, 100)
    bx.legend(loc="upper left")
    _title(fig, title or _("weights {weights} sharing one CPU").format(weights=":".join(str(w) for w in shares)),
           series[0])
    fig.tight_layout()
    return fig


def pids_figure(series, *, title: str | None = None, fig=None):
    if title is None:
        title = _("a fork bomb against pids.max")
    fig = _figure(fig, (8, 3.6))
    ax = fig.add_subplot()
    ax.step(series.t, series.pids_current, where="post", color=USE, lw=2, label="pids.current")
    if series.pids_max:
        ax.axhline(series.pids_max, color=LIMIT, ls="--", label=f"pids.max {series.pids_max}")
    ax.set_xlabel(_("seconds"))
    ax.set_ylabel(_("processes in the container"))
    ax.set_ylim(0, max([*series.pids_current, series.pids_max or 0, 1]) * 1.25)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    _title(fig, title, series)
    fig.tight_layout()
    return fig


def memory_high_figure(series, psi: list[tuple[float, float]], high: int, *, title: str = "", fig=None):
    """v2 only (``memory.high`` and PSI do not exist on v1)."""
    fig = memory_figure(series, title=title or _("memory.high throttles before memory.max kills"), fig=fig)
    ax = fig.axes[0]
    ax.axhline(high / MiB, color=THROTTLE, ls="--", label=f"memory.high {high // MiB} MiB")
    ax2 = ax.twinx()
    if psi:
        ax2.plot([p[0] for p in psi], [p[1] for p in psi], color="#8e44ad", lw=1.5,
                 label=_("memory pressure (PSI, right axis)"))
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    ax2.legend(h1 + h2, l1 + l2, loc="upper left")   # on the top axes: no curve drawn over it
    ax2.set_ylabel("PSI memory some avg10 (%)", color="#8e44ad")
    ax2.set_ylim(bottom=0)
    fig.tight_layout()
    return fig


# --- the v1 <-> v2 file table --------------------------------------------------------------------



class FileMapTable:
    """:data:`boxkit.cgroups.FILE_MAP` as a table, the column of the driver this host uses highlighted
    (a hybrid host mounts v1 controllers, so boxkit drives v1 there)."""

    def __init__(self, mode: str, rows=None):
        # lazy: viz modules import no kernel-side module until a figure is drawn
        from ..cgroups import FILE_MAP

        self.mode = mode
        self.rows = list(rows if rows is not None else FILE_MAP)
        self.column = "v2" if mode == "v2" else "v1"

    def __repr__(self) -> str:
        w = max(len(r[0]) for r in self.rows)
        v = max(len(r[1]) for r in self.rows)
        mark = {"v1": ("*", " "), "v2": (" ", "*")}[self.column]
        head = f"{'':{w}}  {mark[0]}v1{'':{v - 3}}  {mark[1]}v2"
        lines = [_("host mode: {mode} (boxkit drives {column}, marked *)").format(mode=self.mode, column=self.column),
                 head]
        lines += [f"{a:{w}}  {b:{v}}  {c}" for a, b, c in self.rows]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape

        on = "background:#fff3bf;font-weight:bold"
        st = {c: (on if c == self.column else "") for c in ("v1", "v2")}
        rows = "".join(f"<tr><td>{escape(a)}</td><td style='{st['v1']}'><code>{escape(b)}</code></td>"
                       f"<td style='{st['v2']}'><code>{escape(c)}</code></td></tr>" for a, b, c in self.rows)
        said = _("this host: {mode} — boxkit drives {column} (highlighted)").format(
            mode=f"<b>{escape(self.mode)}</b>", column=f"<b>{self.column}</b>")
        v1 = escape(_("cgroup v1 (under {path})").format(path="/sys/fs/cgroup/<controller>/"))
        v2 = escape(_("cgroup v2 (one tree)"))
        return (f"<p>{said}</p><table><tr><th></th><th style='{st['v1']}'>{v1}</th>"
                f"<th style='{st['v2']}'>{v2}</th></tr>{rows}</table>")


def file_map(mode: str | None = None) -> FileMapTable:
    """The table for ``mode`` (default: this host's, from :func:`boxkit.cgroups.detect`)."""
    if mode is None:
        # lazy: viz modules import no kernel-side module until a figure is drawn
        from ..cgroups import detect

        mode = detect().mode
    return FileMapTable(mode)


# --- live -------------------------------------------------------------------------------------------

def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _snapshot(series):
    """A consistent copy of a series the sampler is still appending to (field by field)."""
    import dataclasses

    # lazy: the sampler (with boxkit.cgroups) only for this figure
    from ..cgroups.sampler import FIELDS

    n = min(len(series.t), *(len(getattr(series, f)) for f in FIELDS))
    return dataclasses.replace(series, t=series.t[:n], **{f: getattr(series, f)[:n] for f in FIELDS})


def live(experiment, draw, *, refresh_hz: float = 4, **kwargs):
    """Run ``experiment(on_sample=..., **kwargs)`` (a function of :mod:`boxkit.cgroup_experiments`
    returning ``(Result, Series)``) and show ``draw(series, fig=fig)`` while it runs.

    The sampler's callback only hands over the series; a drawing thread redraws the figure from a copy
    at most ``refresh_hz`` times a second and updates the one display handle — drawing takes tens of
    milliseconds, and doing it in the sampler's thread would leave gaps in the samples. Blocks until the
    container ends; returns ``(figure, series, result)``. Outside IPython nothing is shown and the figure
    is drawn once, at the end."""
    fig = new_figure(figsize=(8, 4), dpi=100)
    handle = None
    if _ipython() is not None:
        from IPython.display import display

        handle = display(fig, display_id=True)
    lock = threading.Lock()
    latest: list = []
    done = threading.Event()

    def on_sample(series) -> None:
        if not latest:
            latest.append(series)

    def drawer() -> None:
        while not done.wait(1.0 / refresh_hz):
            if not latest:
                continue
            snap = _snapshot(latest[0])
            if len(snap.t) < 2:
                continue
            with lock:
                if done.is_set():
                    return
                draw(snap, fig=fig)
                handle.update(fig)

    thread = None
    if handle is not None:
        thread = threading.Thread(target=drawer, name="boxkit-live-plot", daemon=True)
        thread.start()
    try:
        result, series = experiment(on_sample=on_sample, **kwargs)
    finally:
        done.set()
        if thread is not None:
            thread.join()
    _draw_final(draw, series, result, fig)
    if handle is not None:
        handle.update(fig)
    return fig, series, result


def _draw_final(draw, series, result, fig) -> None:
    if draw is memory_figure:
        memory_figure(series, result, fig=fig)
    else:
        draw(series, fig=fig)


def live_memory(memory: str | int = "500M", target_mb: int = 900, **kwargs):
    """The seed's example, live: a hog climbs past ``memory`` and is OOM-killed."""
    # lazy: cgroup_experiments loads the runtime (~50 ms); only this figure runs one
    from .. import cgroup_experiments as experiments

    return live(experiments.memory_oom, memory_figure, memory=memory, target_mb=target_mb, **kwargs)


def live_cpu(cpus: float | str = 0.5, seconds: float = 4, **kwargs):
    # lazy: cgroup_experiments loads the runtime (~50 ms)
    from .. import cgroup_experiments as experiments

    return live(experiments.cpu_quota, cpu_figure, cpus=cpus, seconds=seconds, **kwargs)


def live_pids(pids_limit: int = 20, seconds: float = 3, **kwargs):
    # lazy: cgroup_experiments loads the runtime (~50 ms)
    from .. import cgroup_experiments as experiments

    return live(experiments.fork_bomb, pids_figure, pids_limit=pids_limit, seconds=seconds, **kwargs)


# --- the widget -------------------------------------------------------------------------------------

def limits_figure(mem_series, mem_result, cpu_series, *, fig=None):
    """Memory and CPU side by side, for the panel."""
    fig = _figure(fig, (9, 3.8))   # 900 px: a notebook column, no scaling
    ax_m, ax_c = fig.subplots(1, 2)
    ax_m.plot(mem_series.t, [m / MiB for m in mem_series.memory_current], color=USE, lw=2,
              label=_("memory in use"))
    if mem_series.memory_limit:
        ax_m.axhline(mem_series.memory_limit / MiB, color=LIMIT, ls="--", label=_("limit"))
    t_oom = oom_time(mem_series, mem_result)
    ax_m.set_title(_("memory: OOM killed") if mem_result.oom_killed else _("memory: finished under the limit"))
    if t_oom is not None:
        ax_m.plot([t_oom], [(mem_series.memory_limit or 0) / MiB], marker="X", ms=12, color=LIMIT, ls="none",
                  label=_("OOM kill"))
    ax_m.set_xlabel(_("seconds"))
    ax_m.set_ylabel("MiB")
    top = max([mem_series.peak_memory, mem_series.memory_limit or 0]) / MiB
    ax_m.set_ylim(0, top * 1.45 + 1)   # room above the limit line for the legend
    ax_m.legend(loc="upper left")
    ax_c.plot(cpu_series.t[1:], cpu_series.cores(), color=USE, lw=2, label=_("CPU used"))
    if cpu_series.cpu_limit:
        ax_c.axhline(cpu_series.cpu_limit, color=LIMIT, ls="--", label=_("quota"))
    ax_c.set_title(_("CPU: {cores} cores measured").format(cores=f"{cpu_series.mean_cores(skip=0.5):.2f}"))
    ax_c.set_xlabel(_("seconds"))
    ax_c.set_ylabel(_("cores"))
    ax_c.set_ylim(0, 2.2)
    ax_c.legend(loc="upper right")
    fig.tight_layout()
    return fig


def panel(hog_mb: int = 600, seconds: float = 3, *, run_now: bool = False):
    """Sliders for the memory limit and the CPU quota and a Run button: each click runs a ``hog_mb``
    hog under the memory limit and two busy loops under the quota for ``seconds``, then redraws.

    ``run_now`` runs once before the panel is shown. The panel's display then carries that run's
    figure as a PNG beside the widget: JupyterLab shows the live widget, while a static view (a
    notebook on GitHub, a saved page) and the course's RECORDED mode, which have no widget to show,
    show the plot of that run instead of empty sliders."""
    import base64
    import io

    import ipywidgets as w
    from IPython.display import display

    # lazy: cgroup_experiments loads the runtime (~50 ms)
    from .. import cgroup_experiments as experiments

    class Panel(w.VBox):
        figure = None   # the last run's figure

        def _repr_mimebundle_(self, **kwargs):
            data = super()._repr_mimebundle_(**kwargs)
            if data is not None and self.figure is not None:
                buf = io.BytesIO()
                self.figure.savefig(buf, format="png", bbox_inches="tight")
                data["image/png"] = base64.b64encode(buf.getvalue()).decode()
            return data

    mem = w.IntSlider(value=400, min=100, max=1000, step=50, description=_("memory MiB"),
                      style={"description_width": "initial"}, continuous_update=False)
    cpu = w.FloatSlider(value=0.5, min=0.1, max=2.0, step=0.1, description=_("CPU quota"),
                        style={"description_width": "initial"}, continuous_update=False)
    button = w.Button(description=_("Run"), button_style="primary", icon="play")
    status = w.HTML(_("a {mib} MiB hog and two busy loops for {seconds} s").format(mib=hog_mb,
                                                                                   seconds=f"{seconds:g}"))
    out = w.Output()
    box = Panel([w.HBox([mem, cpu, button]), status, out])

    def run(_click=None) -> None:
        button.disabled = True
        status.value = _("running …")
        try:
            mr, ms = experiments.memory_oom(memory=f"{mem.value}M", target_mb=hog_mb)
            _cpu_result, cs = experiments.cpu_quota(cpus=cpu.value, seconds=seconds, workers=2)
            fig = limits_figure(ms, mr, cs)
            box.figure = fig
            with out:
                out.clear_output(wait=True)
                display(fig)
            status.value = _("limit {limit} MiB: peak {peak} MiB, OOM killed: {oom}; quota {quota}: "
                             "{cores} cores").format(
                limit=mem.value, peak=f"{ms.peak_memory / MiB:.0f}", oom=mr.oom_killed, quota=f"{cpu.value:g}",
                cores=f"{cs.mean_cores(skip=0.5):.2f}")
        except Exception as e:   # shown in the panel, not lost in a callback's log
            status.value = f"<b style='color:{LIMIT}'>{type(e).__name__}: {e}</b>"
        finally:
            button.disabled = False

    button.on_click(run)
    box.run = run   # tests and notebooks may click it in code
    if run_now:
        run()
    return box
