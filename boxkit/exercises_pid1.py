"""Notebook 09's exercise: PID 1 and signals (what PID 1 does with a signal, and what happens when it exits).

A stub the chapter's exercise fills: it follows :mod:`boxkit.exercises` (you predict, a checker
measures on the kernel, a hint says why, never the answer) and keeps to this interface, which
``tools/record.py`` and the tests use:

* ``NAME`` — the key of this exercise's measurements in the course recording;
* ``measure()`` — a dict of what the kernel did, recorded for hosts that cannot measure;
* ``check(predicted)`` — prints and returns a :class:`boxkit.exercises.Verdict` (None while a ``...`` is left);
* ``solution()`` — shows the reference answer and why, for after the learner tried.
"""

from __future__ import annotations

NAME = "pid1"
