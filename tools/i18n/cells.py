"""A percent-format source split into cells *without losing a byte*, so a translation can be spliced in.

``tools/notebooks.py``'s ``parse`` strips what a notebook does not need; here every line is kept, because
a generated edition must be the English file with only its translatable units replaced. A markdown
cell's lines are comments (``# text``, ``#`` for a blank line); :func:`markdown_of` and
:func:`markdown_to_source` convert between that form and the markdown a notebook holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER = re.compile(r"^# %%(?: \[(markdown)\])?[ \t]*$")


@dataclass
class Cell:
    kind: str      # "markdown", "code", or "preamble" (lines before the first cell marker)
    header: str    # the "# %%" line with its newline ("" for the preamble)
    body: str      # every line after it up to the next marker, blank lines included
    line: int      # the 1-based line number of the body's first line in the file

    @property
    def text(self) -> str:
        return self.header + self.body


def split(source: str) -> list[Cell]:
    """The cells of a percent-format source; ``"".join(c.text for c in split(s)) == s``."""
    cells: list[Cell] = []
    lines = source.splitlines(keepends=True)
    current = Cell("preamble", "", "", 1)
    for number, line in enumerate(lines, 1):
        m = _HEADER.match(line.rstrip("\n"))
        if m:
            if current.kind != "preamble" or current.body:
                cells.append(current)
            current = Cell("markdown" if m.group(1) else "code", line, "", number + 1)
        else:
            current.body += line
    if current.kind != "preamble" or current.body:
        cells.append(current)
    return cells


def markdown_of(body: str) -> tuple[str, str]:
    """A markdown cell's body as (markdown, tail): the comment lines made markdown, and the blank lines
    after them, kept as they are. A line that is neither is an error: it would be lost."""
    lines = body.split("\n")
    md: list[str] = []
    i = 0
    while i < len(lines) and lines[i].startswith("#"):
        line = lines[i]
        if line != "#" and not line.startswith("# "):
            raise ValueError(f"markdown cell line {line!r} is neither '#' nor '# text': write it as '# ' + text")
        md.append(line[2:])
        i += 1
    if not md:
        raise ValueError("an empty markdown cell: give it text or remove its marker")
    tail = body[len("\n".join(lines[:i])):]   # from the newline that ends the last markdown line
    if tail.strip():
        raise ValueError(f"markdown cell holds a line that is not a comment ({tail.strip().splitlines()[0]!r}): "
                         "start every line of a markdown cell with '# '")
    return "\n".join(md), tail


def markdown_to_source(md: str, tail: str) -> str:
    """The inverse of :func:`markdown_of`."""
    return "\n".join("# " + line if line else "#" for line in md.split("\n")) + tail


def join(cells: list[Cell]) -> str:
    return "".join(c.text for c in cells)
