"""A chapter's English source -> its translatable units, and the same source with translations put in.

Both walk the source cell by cell (:mod:`.cells`) and hand markdown cells to :mod:`.markdown`, code
cells to :mod:`.code`, so what is extracted and what is replaced can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable

import tomllib

from . import cells, code, markdown
from .units import Unit


def config(path: str) -> dict[str, dict[str, list[str]]]:
    """``locale/notebooks.toml``: per chapter, the extra literals to ``translate`` and those that are ``code``."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}


def extra_literals(conf: dict, name: str) -> frozenset[str]:
    return frozenset(conf.get(name, {}).get("translate", []))


def units(source: str, extra: frozenset[str] = frozenset()) -> list[Unit]:
    """Every translatable unit of a percent-format source, in the order they appear."""
    out: list[Unit] = []
    for c in cells.split(source):
        if c.kind == "markdown":
            md, _ = cells.markdown_of(c.body)
            out += markdown.units(md, c.line)
        elif c.kind == "code":
            out += code.units(c.body, c.line, extra)
    return out


def translate(source: str, lookup: Callable[[Unit], str | None], extra: frozenset[str] = frozenset(),
              anchors: frozenset[str] = frozenset(), first_code_line: str | None = None,
              markdown_filter: Callable[[str], str] | None = None) -> str:
    """``source`` with each unit that ``lookup`` translates replaced; every other byte unchanged.

    ``first_code_line`` is put in the first code cell, after its directive lines (the edition's language);
    ``markdown_filter`` rewrites each markdown cell afterwards (links to chapters not yet translated)."""
    out = cells.split(source)
    first = True
    for c in out:
        if c.kind == "markdown":
            md, tail = cells.markdown_of(c.body)
            md = markdown.translate(md, c.line, lookup, anchors)
            if markdown_filter is not None:
                md = markdown_filter(md)
            c.body = cells.markdown_to_source(md, tail)
        elif c.kind == "code":
            body = code.translate(c.body, c.line, lookup, extra)
            if first and first_code_line is not None:
                lines = body.splitlines(keepends=True)
                at = 0
                while at < len(lines) and code.DIRECTIVE.match(lines[at]):
                    at += 1
                lines.insert(at, first_code_line + "\n")
                body = "".join(lines)
            first = False
            c.body = body
    return cells.join(out)
