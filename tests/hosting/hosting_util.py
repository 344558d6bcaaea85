"""Helpers for the hosting-route tests: the repository, tiny notebooks (the learner is in tests/learners.py)."""

from __future__ import annotations

import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from learners import User, make_user, pids_of, run_as  # noqa: E402,F401  (shared with the rootless tests)


def tiny_notebook(directory: str, cells: list[tuple[str, str]], name: str = "tiny.ipynb") -> str:
    """A notebook whose code cells carry the stream output nbval should see again."""
    nb = {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": i + 1,
                   "source": src, "outputs": ([{"output_type": "stream", "name": "stdout", "text": out}]
                                              if out else [])}
                  for i, (src, out) in enumerate(cells)],
    }
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        json.dump(nb, f, indent=1)
    os.chmod(path, 0o644)
    return path
