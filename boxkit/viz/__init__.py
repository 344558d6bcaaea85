"""Pictures of what boxkit measured: matplotlib Figures and ipywidgets panels.

Nothing here is imported by ``import boxkit``; matplotlib loads when a figure is asked for. Every
function returns a :class:`matplotlib.figure.Figure` (a notebook shows it; ``tools/figures.py`` saves
it under ``docs/img/``). Figures drawn from a recording say RECORDED in their title.
"""
