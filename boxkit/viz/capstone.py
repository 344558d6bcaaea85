"""The capstone's picture: one container's memory and CPU over time, against its limits.

Each panel's legend sits below its axes, never on the curves: a curve may run anywhere between 0
and its limit."""

from __future__ import annotations

from ..i18n import _
from . import badge, new_figure


def usage_figure(series, title: str | None = None):
    if title is None:
        title = _("container usage")
    fig = new_figure(figsize=(9, 4.6), dpi=100)
    ax_m, ax_c = fig.subplots(1, 2)
    t = series.t
    ax_m.plot(t, [m / 2**20 for m in series.memory_current], color="#1f6fb2", label=_("memory in use"))
    if series.memory_limit:
        ax_m.axhline(series.memory_limit / 2**20, color="#c0392b", ls="--",
                     label=_("limit {mib} MiB").format(mib=f"{series.memory_limit / 2**20:.0f}"))
    ax_m.set_ylim(bottom=0)   # from 0: the rise is read against the whole limit, not magnified
    ax_m.set_xlabel(_("seconds since sampling began"))
    ax_m.set_ylabel("MiB")
    ax_m.set_title(_("memory"))
    ax_m.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False, fontsize=9)
    ax_c.plot(t[1:], series.cores(), color="#1a7f37", label=_("CPU used (cores)"))
    if series.cpu_limit:
        ax_c.axhline(series.cpu_limit, color="#c0392b", ls="--",
                     label=_("quota {cores} cores").format(cores=f"{series.cpu_limit:g}"))
    ax_c.set_ylim(bottom=0)
    ax_c.set_xlabel(_("seconds since sampling began"))
    ax_c.set_ylabel(_("cores"))
    ax_c.set_title("CPU")
    ax_c.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False, fontsize=9)
    fig.suptitle(badge(title, getattr(series, "recorded", False)))
    fig.tight_layout()
    return fig
