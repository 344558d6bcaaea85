#!/usr/bin/env python3
"""Build the course notebooks from their reviewable sources and execute them top to bottom.

    sudo .venv/bin/python tools/notebooks.py                 # every notebooks/src/*.py
    sudo .venv/bin/python tools/notebooks.py 01-namespaces   # one

A source is a Python file in the "percent" format (as jupytext reads it): ``# %%`` starts a code cell,
``# %% [markdown]`` a markdown cell whose lines are comments. The tool writes ``notebooks/NAME.ipynb``
and runs it with nbclient in a fresh kernel, so the committed notebook always carries the outputs and
execution counts of one real top-to-bottom run — which is what nbval later compares against.
"""

from __future__ import annotations

import glob
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(HERE, "notebooks", "src")
OUT = os.path.join(HERE, "notebooks")

_CELL = re.compile(r"^# %%(?: \[(markdown)\])?[ \t]*$", re.M)

# This machine's sandbox keeps each session in a memory cgroup of its own (/process_api/<id>) that is not
# ours to write into: boxkit, which nests its groups below its own process's group, is told to use the
# hierarchies' roots there (tests/conftest.py does the same for the suite).
try:
    with open("/proc/self/cgroup") as _f:
        if "/process_api/" in _f.read():
            os.environ.setdefault("BOXKIT_CGROUP_PARENT", "/")
except OSError:
    pass


def parse(text: str) -> list[tuple[str, str]]:
    cells: list[tuple[str, str]] = []
    marks = list(_CELL.finditer(text))
    for i, m in enumerate(marks):
        body = text[m.end():marks[i + 1].start() if i + 1 < len(marks) else len(text)].strip("\n")
        if m.group(1) == "markdown":
            body = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines())
            cells.append(("markdown", body))
        elif body.strip():
            cells.append(("code", body))
    return cells


def build(name: str, execute: bool = True, lang: str | None = None) -> str:
    """Write (and execute) notebooks/NAME.ipynb; with ``lang``, the generated translation
    notebooks/src/LANG/NAME.py into notebooks/LANG/NAME.ipynb (see tools/i18n), run from that folder."""
    import nbformat
    from nbclient import NotebookClient

    src, out = (os.path.join(SRC, lang), os.path.join(OUT, lang)) if lang else (SRC, OUT)
    with open(os.path.join(src, name + ".py")) as f:
        cells = parse(f.read())
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, body in cells:
        nb.cells.append(nbformat.v4.new_markdown_cell(body) if kind == "markdown" else nbformat.v4.new_code_cell(body))
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, name + ".ipynb")
    if execute:
        t = time.monotonic()
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": out}}).execute()
        print(f"{name}{' (' + lang + ')' if lang else ''}: executed in {time.monotonic() - t:.1f}s")
    for c in nb.cells:  # stable ids keep diffs small between runs
        c.pop("id", None)
    nb.nbformat_minor = 4
    nbformat.write(nb, path)
    return path


def main(argv: list[str]) -> int:
    names = argv or sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(SRC, "*.py")))
    for n in names:
        build(n)
    import subprocess

    # keep the RECORDED fallback in step with the live runs just made
    subprocess.run([sys.executable, os.path.join(HERE, "tools", "record.py")], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
