"""Every word a translated edition prints is a message of its catalogue, never code (issue 25).

A printed f-string's ``{fields}`` are code: the generator copies them unchanged into the translated
edition. So an English word that is the *value* of a field — ``{'on' if meta == 'Y' else 'off'}``,
``{', '.join(names) or 'none'}``, a table header ``{'layer':<13}`` — would print in English in the
middle of a Portuguese line. Such a word belongs in a whole printed literal (two prints in an
if/else), or in a literal ``locale/notebooks.toml`` lists under ``translate``. And a thousands
separator (``{n:,}``) is code too: ``1,234`` reads as one point two three four to a Brazilian.
"""

from __future__ import annotations

import ast

import pytest

from tools.i18n import CHECKOUT, cells, code
from tools.i18n import extract as ex
from tools.i18n.units import has_words


def _field_values(expr: ast.expr) -> list[ast.Constant]:
    """The string constants a field's expression can evaluate to (not those it only compares)."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return [expr]
    if isinstance(expr, ast.IfExp):
        return _field_values(expr.body) + _field_values(expr.orelse)
    if isinstance(expr, ast.BoolOp):
        return [c for v in expr.values for c in _field_values(v)]
    return []


def _spec(field: ast.FormattedValue) -> str:
    if field.format_spec is None:
        return ""
    return "".join(v.value for v in field.format_spec.values if isinstance(v, ast.Constant))


def problems(source: str, extra: frozenset[str], name: str) -> list[str]:
    out = []
    for c in cells.split(source):
        if c.kind != "code":
            continue
        for node, _kind in code.select(ast.parse(c.body), extra):
            if not isinstance(node, ast.JoinedStr):
                continue
            for field in (v for v in node.values if isinstance(v, ast.FormattedValue)):
                line = c.line + node.lineno - 1
                for const in _field_values(field.value):
                    if has_words(const.value):
                        out.append(f"{name} line {line}: {const.value!r} is printed from inside a field "
                                   f"of {code.literal_key(node)!r}: it would stay English")
                if "," in _spec(field):
                    out.append(f"{name} line {line}: {{{ast.unparse(field.value)}:{_spec(field)}}} prints a "
                               "comma thousands separator (a decimal comma in pt-BR)")
    return out


def test_the_guard_finds_a_word_in_a_field_and_a_separator():
    src = ("# %%\n"
           "print(f\"metacopy {'on' if meta == 'Y' else 'off'}\")\n"
           "print(f\"lacking: {', '.join(x) or 'none'}\")\n"
           "print(f\"{'layer':<13} {n:,} B\")\n"
           "print(f\"kept: {'CAP_SYS_ADMIN' not in eff}, {', '.join(x)}, {'':12}\")\n")
    found = problems(src, frozenset(), "demo")
    assert [p.split(": ", 1)[1].split(" ", 1)[0] for p in found] == \
        ["'on'", "'off'", "'none'", "'layer'", "{n:,}"], found


@pytest.mark.parametrize("name", CHECKOUT.chapters())
def test_no_english_word_is_printed_from_a_field(name):
    with open(CHECKOUT.source(name)) as f:
        source = f.read()
    extra = ex.extra_literals(ex.config(CHECKOUT.config), name)
    assert problems(source, extra, name) == []
