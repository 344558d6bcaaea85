"""Markdown cells: one unit per heading, paragraph, list item and table cell, and their translation.

The blocks are found by markdown-it-py (CommonMark plus tables), whose tokens carry the source lines
each block spans, so a block's translation replaces exactly those lines. A paragraph's msgid is its
text on one line: how the English happens to wrap is layout, not meaning, and a re-wrap must not turn
an entry fuzzy. A translated paragraph is wrapped again (:func:`wrap`) without ever starting a line with
something that would change the markdown's structure (``-``, ``1.``, ``#``, ``>``, ``|``). Table cells
are translated one by one inside their row, so a row's pipes and code cells stay the English ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

from markdown_it import MarkdownIt

from .units import Unit, has_words

WIDTH = 104   # a markdown line of the generated source, like the English ones (+ "# ")

_PARSER = MarkdownIt("commonmark").enable("table")
_PIPE = re.compile(r"(?<!\\)\|")
# a word that, at the start of a line inside a paragraph, would begin another block
_BLOCK_START = re.compile(r"^(?:#{1,6}|[-+*]|>.*|\d{1,9}[.)]|=+|-+|\|.*|`{3,}.*|~{3,}.*|<.*)$")


@dataclass
class _Block:
    kind: str
    text: str            # the msgid
    start: int           # first markdown line (0-based)
    end: int             # one past the last line
    prefix: str = ""     # what stands before the text on the first line ("* ", "## ")
    span: tuple[int, int] = (0, 0)   # table cells: the text's columns in its row's line


def structure(md: str) -> list[str]:
    """The block structure of a markdown text: every token type but the inline ones. A translation
    must leave it exactly as the English has it."""
    return [t.type for t in _PARSER.parse(md) if t.type != "inline"]


def _blocks(md: str) -> list[_Block]:
    lines = md.split("\n")
    tokens = _PARSER.parse(md)
    out: list[_Block] = []
    first_in_item = False
    for i, t in enumerate(tokens):
        if t.type == "list_item_open":
            first_in_item = True
        elif t.type == "heading_open":
            if t.markup not in ("#", "##", "###", "####", "#####", "######"):
                raise ValueError(f"setext heading at markdown line {t.map[0] + 1}: write headings with '#'")
            s, e = t.map
            text = tokens[i + 1].content.strip()
            out.append(_Block("heading", text, s, e, prefix=t.markup + " "))
        elif t.type == "paragraph_open":
            s, e = t.map
            content = tokens[i + 1].content
            first = content.split("\n")[0]
            col = lines[s].find(first)
            if col < 0:
                raise ValueError(f"markdown line {s + 1}: cannot find the paragraph's text in its line")
            kind = "list item" if first_in_item else "paragraph"
            first_in_item = False
            out.append(_Block(kind, " ".join(x.strip() for x in content.split("\n")), s, e, prefix=lines[s][:col]))
        elif t.type == "tr_open":
            s, e = t.map
            row = lines[s]
            bounds = [m.start() for m in _PIPE.finditer(row)]
            edges = ([-1] if not row.lstrip().startswith("|") else []) + bounds + \
                    ([len(row)] if not row.rstrip().endswith("|") else [])
            for a, b in pairwise(edges):
                cell = row[a + 1:b]
                text = cell.strip()
                if text:
                    lead = a + 1 + (len(cell) - len(cell.lstrip()))
                    out.append(_Block("table cell", text, s, e, span=(lead, lead + len(text))))
    return out


def units(md: str, first_line: int) -> list[Unit]:
    """The translatable units of a markdown cell; ``first_line`` is the source line of its first line."""
    return [Unit(b.text, b.kind, first_line + b.start) for b in _blocks(md) if has_words(b.text)]


def wrap(words: list[str], width: int) -> list[str]:
    """Greedy wrapping that never starts a line with a word that would open another block there."""
    lines: list[list[str]] = []
    for w in words:
        if lines and (len(" ".join(lines[-1])) + 1 + len(w) <= width or _BLOCK_START.match(w)):
            lines[-1].append(w)
        else:
            lines.append([w])
    return [" ".join(x) for x in lines]


def anchor_id(heading: str) -> str:
    """The id JupyterLab gives a heading (its text, spaces made dashes): what ``NN.ipynb#id`` links to."""
    return heading.replace(" ", "-")


def translate(md: str, first_line: int, lookup: Callable[[Unit], str | None], anchors: frozenset[str] = frozenset()) -> str:
    """``md`` with every unit that ``lookup`` translates replaced. A translated heading whose English id
    is the target of a link (``anchors``) keeps that id as an explicit ``<a id>``, so links still land."""
    lines = md.split("\n")
    row_edits: dict[int, list[tuple[tuple[int, int], str]]] = {}
    block_edits: list[tuple[int, int, list[str]]] = []
    for b in _blocks(md):
        if not has_words(b.text):
            continue
        tr = lookup(Unit(b.text, b.kind, first_line + b.start))
        if tr is None or tr == b.text:
            continue
        tr = " ".join(tr.split())
        if b.kind == "table cell":
            row_edits.setdefault(b.start, []).append((b.span, tr))
        elif b.kind == "heading":
            keep = anchor_id(b.text)
            mark = f'<a id="{keep}"></a>' if keep in anchors and anchor_id(tr) != keep else ""
            block_edits.append((b.start, b.end, [b.prefix + mark + tr]))
        else:
            cont = "".join(ch if ch == ">" else " " for ch in b.prefix)
            body = wrap(tr.split(), max(40, WIDTH - len(b.prefix)))
            block_edits.append((b.start, b.end, [b.prefix + body[0]] + [cont + x for x in body[1:]]))
    for row, edits in row_edits.items():
        line = lines[row]
        for (a, z), tr in sorted(edits, reverse=True):
            line = line[:a] + tr + line[z:]
        lines[row] = line
    for s, e, new in sorted(block_edits, reverse=True):
        lines[s:e] = new
    return "\n".join(lines)
