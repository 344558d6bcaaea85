"""Pictures of what boxkit measured: matplotlib Figures and ipywidgets panels.

Nothing here is imported by ``import boxkit``; matplotlib loads when a figure is asked for. Every
function returns a :class:`matplotlib.figure.Figure` (a notebook shows it; ``tools/figures.py`` saves
it under ``docs/img/``). Figures drawn from a recording say RECORDED in their title.

Figures are made with :func:`new_figure`, not ``pyplot``: a pyplot figure is also shown by the inline
backend at the end of the cell (twice on screen) and stays in pyplot's registry (memory grows with every
run). A plain Figure needs IPython to know how to render it, which :func:`new_figure` arranges.
"""

from __future__ import annotations

from ..i18n import _


def _register_png_formatter() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is None:
        return
    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    png = ip.display_formatter.formatters["image/png"]
    png.for_type(Figure, lambda fig: print_figure(fig, "png", bbox_inches="tight"))


def new_figure(**kwargs):
    """A :class:`matplotlib.figure.Figure` that a notebook displays as a PNG."""
    from matplotlib.figure import Figure

    _register_png_formatter()
    return Figure(**kwargs)


def badge(title: str, recorded: bool) -> str:
    """``title`` with the RECORDED badge when the figure is drawn from a recording (translated when
    drawn, as every text of a figure: :func:`boxkit.i18n.set_language` may change between figures)."""
    # i18n: the badge of a figure drawn from a recorded run; {title} is the figure's title
    return _("{title} (RECORDED)").format(title=title) if recorded else title
