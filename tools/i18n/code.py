"""Code cells: their comments and the literal text they print are units; the code itself never is.

What is translated, and only that:

* **comments** (``tokenize``): a run of comment-only lines at one indentation is one unit; a comment
  after code is one unit. Directive lines (``# boxkit: ...``, ``# NBVAL_...``) are for the tools and are
  never touched.
* **printed literals** (``ast``): a ``str`` or f-string literal that is an argument of ``print`` — or a
  branch of a conditional expression that is one — is what a learner reads. An f-string's fields stay
  in the msgid verbatim (``{inside_pid}``, ``{apart / 86400:.2f}``): they are code, the translator
  moves them but never changes them. Implicit concatenations across lines are one unit.
* **labels**: a literal passed as ``title=`` (a figure's title), and the literals a chapter lists under
  ``translate`` in ``locale/notebooks.toml``.

Everything else — identifiers, image names, paths, shell commands, strings a check compares with kernel
output — stays English; :func:`select` is also what the AST test uses to set the translated strings
aside, so "the same code" is checked by the same rule that decided what to translate.

Positions: ``ast`` gives columns in UTF-8 bytes, ``tokenize`` in characters; both are turned into
character offsets of the cell's text before anything is replaced.
"""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

from .units import Unit, has_words

DIRECTIVE = re.compile(r"^#\s*(?:boxkit:|NBVAL_)")
LABEL_KEYWORDS = frozenset({"title"})
COMMENT_WIDTH = 100   # a translated comment block wraps at this column (or the English's, if wider)


@dataclass
class _Edit:
    start: int                          # character offsets in the cell's code
    end: int
    unit: Unit
    render: Callable[[str], str]        # translation -> the text that replaces [start, end)


def _line_starts(code: str) -> list[int]:
    starts = [0]
    for line in code.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


# --- comments -----------------------------------------------------------------------------------------

def _comment_edits(code: str, first_line: int) -> list[_Edit]:
    starts = _line_starts(code)
    lines = code.splitlines()
    runs: list[list[tokenize.TokenInfo]] = []
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type != tokenize.COMMENT or DIRECTIVE.match(tok.string):
            continue
        row, col = tok.start
        alone = not lines[row - 1][:col].strip()
        prev = runs[-1][-1] if runs else None
        if alone and prev is not None and prev.start[0] == row - 1 and prev.start[1] == col \
                and not lines[prev.start[0] - 1][:col].strip():
            runs[-1].append(tok)
        else:
            runs.append([tok])
    edits = []
    for run in runs:
        text = " ".join(t.string[1:].strip() for t in run)
        if not has_words(text):
            continue
        (row, col), (end_row, end_col) = run[0].start, run[-1].end
        unit = Unit(text, "comment", first_line + row - 1)
        alone = not lines[row - 1][:col].strip()
        width = max([COMMENT_WIDTH] + [len(lines[t.start[0] - 1]) for t in run])

        def render(tr: str, col=col, alone=alone, width=width) -> str:
            if not alone:
                return "# " + " ".join(tr.split())
            body = textwrap.wrap(" ".join(tr.split()), width - col - 2, break_long_words=False,
                                 break_on_hyphens=False) or [""]
            return ("\n" + " " * col).join("# " + x for x in body)

        edits.append(_Edit(starts[row - 1] + col, starts[end_row - 1] + end_col, unit, render))
    return edits


# --- string literals ----------------------------------------------------------------------------------

def literal_key(node: ast.expr) -> str | None:
    """How ``locale/notebooks.toml`` names a literal: a string's value; an f-string's text with each field
    as ``{expression}`` (conversions and format specs left out)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{" + ast.unparse(v.value) + "}"
                       for v in node.values)
    return None


def literals(tree: ast.AST) -> list[ast.expr]:
    """Every whole string literal of a tree: the parts of an f-string are not literals of their own."""
    parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    return [n for n in ast.walk(tree) if id(n) not in parts and literal_key(n) is not None]


def select(tree: ast.AST, extra: frozenset[str] = frozenset()) -> list[tuple[ast.expr, str]]:
    """The literal nodes a learner reads, with their kind: ``print`` arguments (and the branches of a
    conditional expression that is one), ``title=`` keywords, and literals whose :func:`literal_key` is
    in ``extra``."""
    found: dict[int, tuple[ast.expr, str]] = {}

    def take(node: ast.expr, kind: str) -> None:
        if isinstance(node, ast.IfExp):
            take(node.body, kind)
            take(node.orelse, kind)
        elif literal_key(node) is not None:
            found.setdefault(id(node), (node, kind))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id == "print":
                for arg in node.args:
                    take(arg, "printed")
            for kw in node.keywords:
                if kw.arg in LABEL_KEYWORDS:
                    take(kw.value, "label")
    if extra:
        for node in literals(tree):
            if literal_key(node) in extra:
                found.setdefault(id(node), (node, "label"))
    return sorted(found.values(), key=lambda x: (x[0].lineno, x[0].col_offset))


@dataclass
class _Piece:
    prefix: str    # lower-cased string prefix ("", "f", "r", "rf")
    quote: str     # ', ", ''' or """
    body: str      # the source between the quotes
    start: int     # offsets in the node's source segment
    end: int


_PREFIX = re.compile(r"([rRuUfFbB]{0,2})('''|\"\"\"|'|\")")


def _pieces(segment: str) -> list[_Piece]:
    """The string tokens of a literal (several when implicitly concatenated)."""
    out = []
    i = 0
    while i < len(segment):
        if segment[i] in " \t\n\\":
            i += 1
            continue
        m = _PREFIX.match(segment, i)
        if not m:
            raise ValueError(f"a comment or code inside a translated literal ({segment!r}): keep one sentence "
                             "in one literal or implicit concatenation")
        q = m.group(2)
        j = m.end()
        while True:
            if segment.startswith(q, j):
                break
            j += 2 if segment[j] == "\\" else 1
        out.append(_Piece(m.group(1).lower(), q, segment[m.end():j], i, j + len(q)))
        i = j + len(q)
    return out


def fields(fbody: str) -> list[tuple[str, str]]:
    """An f-string body split into ("text", ...) and ("field", "{expr...}") parts; ``{{`` and ``}}``
    stay doubled in the text parts."""
    parts: list[tuple[str, str]] = []
    text = ""
    i = 0
    while i < len(fbody):
        c = fbody[i]
        if c in "{}" and fbody[i:i + 2] in ("{{", "}}"):
            text += fbody[i:i + 2]
            i += 2
        elif c == "{":
            depth, j, quote = 0, i, None
            while j < len(fbody):
                ch = fbody[j]
                if quote:
                    if ch == quote:
                        quote = None
                elif ch in "'\"":
                    quote = ch
                elif ch in "([{":
                    depth += 1
                elif ch in ")]}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if text:
                parts.append(("text", text))
                text = ""
            parts.append(("field", fbody[i:j + 1]))
            i = j + 1
        else:
            text += c
            i += 1
    if text:
        parts.append(("text", text))
    return parts


def _decode(piece: _Piece, raw_text: str) -> str:
    if "r" in piece.prefix:
        return raw_text
    q = piece.quote if len(piece.quote) == 3 else piece.quote
    return ast.literal_eval(q + raw_text + q)


def _msgid(pieces: list[_Piece], joined: bool) -> str:
    """The literal as the translator reads it: escapes decoded; for an f-string, fields verbatim and
    literal braces doubled (the f-string's own syntax)."""
    out = ""
    for p in pieces:
        if "f" in p.prefix:
            for kind, part in fields(p.body):
                out += part if kind == "field" else _decode(p, part)
        else:
            value = _decode(p, p.body)
            out += value.replace("{", "{{").replace("}", "}}") if joined else value
    return out


def _escape(text: str, quote: str) -> str:
    out = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return out.replace(quote[0], "\\" + quote[0])


def _render_piece(text: str, joined: bool, quote: str) -> str:
    if not joined:
        return quote + _escape(text, quote) + quote
    parts = fields(text)
    if not any(k == "field" for k, _ in parts):
        plain = text.replace("{{", "{").replace("}}", "}")
        return quote + _escape(plain, quote) + quote
    used = "".join(p for k, p in parts if k == "field")
    if quote[0] in used:   # a field's own quotes decide the f-string's (Python before 3.12)
        quote = "'" if quote[0] == '"' else '"'
    return "f" + quote + "".join(p if k == "field" else _escape(p, quote) for k, p in parts) + quote


def _split_points(text: str, joined: bool) -> list[int]:
    """Offsets just after a space where a long literal may be cut into pieces (never inside a field)."""
    points = []
    pos = 0
    for kind, part in fields(text) if joined else [("text", text)]:
        if kind == "text":
            points += [pos + m.end() for m in re.finditer(r" ", part)]
        pos += len(part)
    return [p for p in points if 0 < p < len(text)]


def _literal_edit(code: str, starts: list[int], node: ast.expr, kind: str, first_line: int) -> _Edit | None:
    line_b = code.splitlines(keepends=True)

    def offset(lineno: int, col_bytes: int) -> int:
        return starts[lineno - 1] + len(line_b[lineno - 1].encode()[:col_bytes].decode())

    a, z = offset(node.lineno, node.col_offset), offset(node.end_lineno, node.end_col_offset)
    segment = code[a:z]
    pieces = _pieces(segment)
    joined = isinstance(node, ast.JoinedStr)
    whole = _msgid(pieces, joined)
    text = whole.strip()
    if not has_words(text):
        return None
    lead, trail = whole[:len(whole) - len(whole.lstrip())], whole[len(whole.rstrip()):]
    seps = [segment[p.end:q.start] for p, q in pairwise(pieces)]
    weights = [len(p.body) for p in pieces]
    quote = pieces[0].quote

    def render(tr: str) -> str:
        full = lead + tr + trail
        cuts: list[int] = []
        if len(pieces) > 1:
            points = _split_points(full, joined)
            total, acc = sum(weights), 0
            for w in weights[:-1]:
                acc += w
                want = len(full) * acc / total
                later = [p for p in points if not cuts or p > cuts[-1]]
                if later:
                    cuts.append(min(later, key=lambda p: abs(p - want)))
        chunks = [full[i:j] for i, j in zip([0] + cuts, cuts + [len(full)], strict=True)]
        out = _render_piece(chunks[0], joined, quote)
        for sep, chunk in zip(seps, chunks[1:], strict=False):   # fewer chunks when it has fewer spaces
            out += sep + _render_piece(chunk, joined, quote)
        return out

    return _Edit(a, z, Unit(text, kind, first_line + node.lineno - 1), render)


def _edits(code: str, first_line: int, extra: frozenset[str]) -> list[_Edit]:
    try:
        tree = ast.parse(code)
    except SyntaxError as e:
        raise ValueError(f"code cell at line {first_line}: not Python ({e.msg}, line {first_line + (e.lineno or 1) - 1})") from e
    starts = _line_starts(code)
    edits = _comment_edits(code, first_line)
    for node, kind in select(tree, extra):
        edit = _literal_edit(code, starts, node, kind, first_line)
        if edit is not None:
            edits.append(edit)
    edits.sort(key=lambda e: e.start)
    return edits


def units(code: str, first_line: int, extra: frozenset[str] = frozenset()) -> list[Unit]:
    """The translatable units of a code cell; ``first_line`` is the source line of the code's first line."""
    return [e.unit for e in _edits(code, first_line, extra)]


def translate(code: str, first_line: int, lookup: Callable[[Unit], str | None],
              extra: frozenset[str] = frozenset()) -> str:
    """``code`` with every unit ``lookup`` translates replaced, every other character unchanged."""
    for e in sorted(_edits(code, first_line, extra), key=lambda e: e.start, reverse=True):
        tr = lookup(e.unit)
        if tr is None or tr == e.unit.text:
            continue
        code = code[:e.start] + e.render(tr) + code[e.end:]
    return code
