"""The README in each language says the same things: README.pt-BR.md is checked against README.md.

A translated README is written by hand (prose has no catalogue), so what a translation must never change is
checked here instead, block by block (markdown-it-py parses both, CommonMark plus tables):

* the **headings**: as many, in the same order, at the same levels;
* the **block structure**: the same paragraphs, lists, tables (rows and columns) and code blocks, so that
  every block of one README has its counterpart in the other;
* the **code blocks**, byte for byte (their comments included: a command is copied, never retold);
* in each block, the **code spans** and the **link and image targets**, the English ones mapped to the
  edition (a chapter's notebook becomes ``pt_BR/NN-name.ipynb`` once ``notebooks/pt_BR/`` has it, and
  the language link at the top points at the other README);
* in each block, the **numbers** of the prose (``500 MiB``, ``Linux 5.11+``, exit codes), as written;
* the glossary's checked term: ``contêiner``, never "container", outside code.

Each check is first fed a copy of the real translation broken in its one way, to show it fails there.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

markdown_it = pytest.importorskip("markdown_it", reason="needs markdown-it-py (the test extra)")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EDITIONS = {"pt_BR": "README.pt-BR.md"}       # edition -> its README, beside README.md

_PARSER = markdown_it.MarkdownIt("commonmark").enable("table")
_NUMBER = re.compile(r"\d+(?:\.\d+)*")
_NOTEBOOK = re.compile(r"^(notebooks/)?(\d\d-[\w-]+\.ipynb)(#\S*)?$")
# "container" as an English word: not part of a name (Containerfile, containers.conf, /usr/share/containers)
_CONTAINER = re.compile(r"(?<![\w./-])containers?(?![\w./-])", re.IGNORECASE)


@dataclass
class Inline:
    """One inline block (a heading, a paragraph, a table cell): what a translation must keep of it."""
    line: int
    spans: Counter = field(default_factory=Counter)      # code spans
    targets: Counter = field(default_factory=Counter)    # link and image targets
    numbers: Counter = field(default_factory=Counter)    # numbers in the prose (alt texts included)
    prose: list[str] = field(default_factory=list)       # the words, without code


@dataclass
class Doc:
    structure: list[tuple[str, int]]          # every block token (type, its tag for headings), with its line
    headings: list[tuple[int, int]]           # (level, line)
    code: list[tuple[str, str, int]]          # (info, content, line) of every code block
    inlines: list[Inline]


def parse(md: str) -> Doc:
    structure, headings, code, inlines = [], [], [], []
    for t in _PARSER.parse(md):
        line = t.map[0] + 1 if t.map else 0
        if t.type == "inline":
            inlines.append(_inline(t, line))
            continue
        structure.append((t.type + (f":{t.tag}" if t.type.startswith("heading") else ""), line))
        if t.type == "heading_open":
            headings.append((int(t.tag[1:]), line))
        elif t.type in ("fence", "code_block"):
            code.append((t.info, t.content, line))
    return Doc(structure, headings, code, inlines)


def _inline(token, line: int) -> Inline:
    out = Inline(line)

    def walk(children):
        for c in children or ():
            if c.type == "code_inline":
                out.spans[c.content] += 1
            elif c.type == "link_open":
                out.targets[c.attrs["href"]] += 1
            elif c.type == "image":
                out.targets[c.attrs["src"]] += 1
                walk(c.children)                  # the alt text is prose
            elif c.type == "text":
                out.numbers.update(_NUMBER.findall(c.content))
                out.prose.append(c.content)
    walk(token.children)
    return out


def to_edition(lang: str, repo: str = REPO) -> Callable[[str], str]:
    """What an English code span or link target becomes in the ``lang`` README: a chapter's notebook
    (``notebooks/02-cgroups.ipynb``, ``00-index.ipynb#Exercise``) goes to the edition's own once that
    notebook exists; the language link goes back to README.md; anything else stays as it is."""
    def mapped(x: str) -> str:
        if x == EDITIONS[lang]:
            return "README.md"
        m = _NOTEBOOK.match(x)
        if m and os.path.exists(os.path.join(repo, "notebooks", lang, m.group(2))):
            return f"{m.group(1) or ''}{lang}/{m.group(2)}{m.group(3) or ''}"
        return x
    return mapped


def _where(t: int, e: int) -> str:
    return f"line {t} (README.md line {e})"


def headings(en: Doc, tr: Doc) -> list[str]:
    if [h[0] for h in en.headings] == [h[0] for h in tr.headings]:
        return []
    for (el, eline), (tl, tline) in zip(en.headings, tr.headings, strict=False):
        if el != tl:
            return [f"heading at {_where(tline, eline)} is level {tl}, the English one {el}"]
    return [f"{len(tr.headings)} headings where README.md has {len(en.headings)}"]


def structure(en: Doc, tr: Doc) -> list[str]:
    for (et, eline), (tt, tline) in zip(en.structure, tr.structure, strict=False):
        if et != tt:
            return [f"{tt} at {_where(tline, eline)}, where README.md has {et}: the blocks (paragraphs, "
                    "list items, table rows and cells) must be the English ones"]
    if len(en.structure) != len(tr.structure):
        return [f"{len(tr.structure)} block tokens where README.md has {len(en.structure)}"]
    return []


def code_blocks(en: Doc, tr: Doc) -> list[str]:
    out = [f"code block at {_where(t[2], e[2])} differs from the English one: copy it byte for byte"
           for e, t in zip(en.code, tr.code, strict=False) if (e[0], e[1]) != (t[0], t[1])]
    if len(en.code) != len(tr.code):
        out.append(f"{len(tr.code)} code blocks where README.md has {len(en.code)}")
    return out


def _per_block(en: Doc, tr: Doc, what: str, get, mapped=lambda x: x) -> list[str]:
    """``what`` (a Counter of each inline block) compared block by block; where the blocks do not pair
    up (a structure problem, reported on its own), over the whole README instead."""
    pairs = list(zip(en.inlines, tr.inlines, strict=True)) if len(en.inlines) == len(tr.inlines) else \
        [(Inline(0, **{what: sum((get(b) for b in en.inlines), Counter())}),
          Inline(0, **{what: sum((get(b) for b in tr.inlines), Counter())}))]
    out = []
    for e, t in pairs:
        want = Counter({mapped(k): n for k, n in get(e).items()})
        have = get(t)
        if want != have:
            missing, extra = sorted((want - have).elements()), sorted((have - want).elements())
            out.append(f"{what} at {_where(t.line, e.line)}: missing {missing}, not in the English {extra}")
    return out


def links(en: Doc, tr: Doc, mapped: Callable[[str], str]) -> list[str]:
    return _per_block(en, tr, "targets", lambda b: b.targets, mapped)


def code_spans(en: Doc, tr: Doc, mapped: Callable[[str], str]) -> list[str]:
    return _per_block(en, tr, "spans", lambda b: b.spans, mapped)


def numbers(en: Doc, tr: Doc) -> list[str]:
    return _per_block(en, tr, "numbers", lambda b: b.numbers)


def glossary(tr: Doc) -> list[str]:
    return [f"line {b.line}: {m!r} outside code: write contêiner (docs/i18n/glossary.pt-BR.md)"
            for b in tr.inlines for p in b.prose for m in _CONTAINER.findall(p)]


def problems(english: str, translated: str, lang: str, repo: str = REPO) -> list[str]:
    en, tr = parse(english), parse(translated)
    mapped = to_edition(lang, repo)
    return (headings(en, tr) + structure(en, tr) + code_blocks(en, tr) + links(en, tr, mapped)
            + code_spans(en, tr, mapped) + numbers(en, tr) + glossary(tr))


def _read(name: str) -> str:
    with open(os.path.join(REPO, name), encoding="utf-8") as f:
        return f.read()


# --- the committed READMEs ----------------------------------------------------------------------------

@pytest.mark.parametrize("lang", sorted(EDITIONS))
def test_the_translated_readme_keeps_in_step_with_the_english(lang):
    found = problems(_read("README.md"), _read(EDITIONS[lang]), lang)
    assert found == [], f"{EDITIONS[lang]} against README.md:\n" + "\n".join(found)


@pytest.mark.parametrize("lang", sorted(EDITIONS))
def test_each_readme_links_to_the_other_from_its_top(lang):
    english, translated = parse(_read("README.md")), parse(_read(EDITIONS[lang]))
    assert english.inlines[0].targets == Counter({EDITIONS[lang]: 1}) and english.inlines[0].line == 1
    assert translated.inlines[0].targets == Counter({"README.md": 1}) and translated.inlines[0].line == 1


# --- each check fails on a copy broken its way ------------------------------------------------------------

@pytest.fixture(scope="module")
def pair() -> tuple[str, str]:
    return _read("README.md"), _read(EDITIONS["pt_BR"])


def _broken(text: str, old: str, new: str) -> str:
    assert old in text, f"the break needs {old!r} in the README"
    return text.replace(old, new, 1)


def test_a_dropped_heading_is_found(pair):
    en, tr = pair
    found = headings(parse(en), parse(_broken(tr, "## Testes\n", "**Testes**\n")))
    assert found and "headings where README.md has" in found[0], found


def test_a_heading_at_another_level_is_found(pair):
    en, tr = pair
    found = headings(parse(en), parse(_broken(tr, "### Flags de segurança", "## Flags de segurança")))
    assert found and "is level 2, the English one 3" in found[0], found


def test_a_paragraph_split_in_two_is_found(pair):
    en, tr = pair
    found = structure(parse(en), parse(_broken(tr, "Nenhum\ndaemon fica para trás.", "\n\nNenhum daemon.")))
    assert found and "the blocks" in found[0], found


def test_a_table_losing_a_column_is_found(pair):
    en, tr = pair
    found = structure(parse(en), parse(_broken(tr, "| você tem | faça isto | o que roda |\n|---|---|---|",
                                               "| você tem | faça isto |\n|---|---|")))
    assert found, "a table with a column less passed"


def test_a_code_block_changed_by_one_byte_is_found(pair):
    en, tr = pair
    found = code_blocks(parse(en), parse(_broken(tr, "# installs everything, then opens",
                                                 "# instala tudo e depois abre")))
    assert len(found) == 1 and "byte for byte" in found[0], found


def test_a_changed_link_target_is_found(pair):
    en, tr = pair
    found = links(parse(en), parse(_broken(tr, "(docs/benchmarks.md)", "(docs/benchmarks.pt-BR.md)")),
                  to_edition("pt_BR"))
    assert len(found) == 1 and "docs/benchmarks.pt-BR.md" in found[0], found


def test_an_image_with_another_picture_is_found(pair):
    en, tr = pair
    found = links(parse(en), parse(_broken(tr, "(docs/img/overlay2.png)", "(docs/img/overlay1.png)")),
                  to_edition("pt_BR"))
    assert found and "docs/img/overlay2.png" in found[0], found


def test_a_translated_notebook_named_by_its_english_path_is_found(pair):
    en, tr = pair
    found = code_spans(parse(en), parse(_broken(tr, "`notebooks/pt_BR/02-cgroups.ipynb`",
                                                "`notebooks/02-cgroups.ipynb`")), to_edition("pt_BR"))
    assert len(found) == 1 and "notebooks/pt_BR/02-cgroups.ipynb" in found[0], found


def test_a_notebook_path_maps_to_the_edition_only_where_that_notebook_exists(tmp_path):
    os.makedirs(tmp_path / "notebooks" / "pt_BR")
    (tmp_path / "notebooks" / "pt_BR" / "02-cgroups.ipynb").write_text("{}")
    mapped = to_edition("pt_BR", str(tmp_path))
    assert mapped("notebooks/02-cgroups.ipynb") == "notebooks/pt_BR/02-cgroups.ipynb"
    assert mapped("02-cgroups.ipynb#Exercise") == "pt_BR/02-cgroups.ipynb#Exercise"
    assert mapped("notebooks/03-overlay.ipynb") == "notebooks/03-overlay.ipynb"      # not translated yet
    assert mapped("README.pt-BR.md") == "README.md"
    assert mapped("docs/img/namespace.png") == "docs/img/namespace.png"


def test_a_code_span_reworded_is_found(pair):
    en, tr = pair
    found = code_spans(parse(en), parse(_broken(tr, "`BOXKIT_MODE=recorded`", "`BOXKIT_MODE=gravado`")),
                       to_edition("pt_BR"))
    assert len(found) == 1 and "BOXKIT_MODE=recorded" in found[0], found


def test_a_number_changed_or_written_in_words_is_found(pair):
    en, tr = pair
    found = numbers(parse(en), parse(_broken(tr, "as 14 capabilities", "as catorze capabilities")))
    assert len(found) == 1 and "'14'" in found[0], found
    found = numbers(parse(en), parse(_broken(tr, "Python 3.10", "Python 3.11")))
    assert len(found) == 1 and "'3.10'" in found[0] and "'3.11'" in found[0], found


def test_the_english_word_container_in_the_prose_is_found(pair):
    _, tr = pair
    found = glossary(parse(_broken(tr, "uma fuga de chroot", "uma fuga de container chroot")))
    assert len(found) == 1 and "'container'" in found[0], found
    assert glossary(parse("`deploy/Containerfile` e o containers.conf, em /usr/share/containers.")) == []


def test_the_checks_pass_on_the_english_against_itself(pair):
    en, _ = pair
    assert problems(en, en.replace("(README.pt-BR.md)", "(README.md)"), "pt_BR", repo="/nonexistent") == \
        glossary(parse(en))       # only the glossary, which is not for English
