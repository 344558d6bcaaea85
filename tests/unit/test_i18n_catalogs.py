"""The translated editions are generated from the English and kept complete (tools/i18n, issue 25).

Two halves. The committed files are checked, one test per translated chapter: catalogue complete,
placeholders kept, catalogue and template matching a fresh extraction of the English, the generated
source and the built notebook being what the catalogue makes today, every code cell the English code.
Then each check is fed something broken (a catalogue in a temporary copy of the tree, a hand-made
translation) to show it fails where it should: a check that cannot fail proves nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tools.i18n import LANGUAGES, Layout, catalog, cells, checks, code, generate, markdown
from tools.i18n import extract as ex

LAYOUT = Layout()
CHAPTERS = LAYOUT.chapters()
TRANSLATED = [(lang, n) for lang in LANGUAGES for n in LAYOUT.translated(lang)]
IDS = [f"{lang}/{n}" for lang, n in TRANSLATED]


def _english(name: str) -> str:
    with open(LAYOUT.source(name)) as f:
        return f.read()


# --- the committed files --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CHAPTERS)
def test_each_template_matches_a_fresh_extraction(name):
    assert checks.freshness(catalog.read(LAYOUT.pot(name)), catalog.template(name), f"{name}.pot") == []


@pytest.mark.parametrize(("lang", "name"), TRANSLATED, ids=IDS)
def test_the_catalogue_is_complete(lang, name):
    assert checks.completeness(catalog.read(LAYOUT.po(name, lang))) == []


@pytest.mark.parametrize(("lang", "name"), TRANSLATED, ids=IDS)
def test_the_catalogue_keeps_every_placeholder(lang, name):
    assert checks.placeholders(catalog.read(LAYOUT.po(name, lang))) == []


@pytest.mark.parametrize(("lang", "name"), TRANSLATED, ids=IDS)
def test_the_catalogue_matches_a_fresh_extraction(lang, name):
    assert checks.freshness(catalog.read(LAYOUT.po(name, lang)), catalog.template(name), name) == []


@pytest.mark.parametrize(("lang", "name"), TRANSLATED, ids=IDS)
def test_the_catalogue_uses_the_glossary(lang, name):
    assert checks.glossary(catalog.read(LAYOUT.po(name, lang)), lang) == []


@pytest.mark.parametrize(("lang", "name"), TRANSLATED, ids=IDS)
def test_gnu_msgfmt_accepts_the_catalogue(lang, name):
    problems, stats = checks.msgfmt(LAYOUT.po(name, lang))
    assert problems == [] and "untranslated" not in stats and "fuzzy" not in stats, stats


@pytest.mark.parametrize(("lang", "name"), TRANSLATED, ids=IDS)
def test_the_generated_source_is_what_the_catalogue_makes(lang, name):
    with open(LAYOUT.generated(name, lang)) as f:
        assert f.read() == generate.generate(name, lang), \
            f"run: python -m tools.i18n generate {name}"


@pytest.mark.parametrize(("lang", "name"), TRANSLATED, ids=IDS)
def test_every_translated_cell_is_the_english_code(lang, name):
    with open(LAYOUT.generated(name, lang)) as f:
        generated = f.read()
    extra = ex.extra_literals(ex.config(LAYOUT.config), name)
    assert checks.same_code(_english(name), generated, extra, generate.LANGUAGE_LINES[lang]) == []


@pytest.mark.parametrize(("lang", "name"), TRANSLATED, ids=IDS)
def test_the_built_notebook_is_the_generated_source(lang, name):
    with open(LAYOUT.generated(name, lang)) as f:
        assert checks.notebook_fresh(name, lang, LAYOUT, f.read()) == []


@pytest.mark.parametrize(("lang", "name"), TRANSLATED, ids=IDS)
def test_links_into_translated_chapters_land(lang, name):
    with open(LAYOUT.generated(name, lang)) as f:
        assert checks.links(f.read(), name, lang, LAYOUT) == []


@pytest.mark.parametrize(("lang", "name"), TRANSLATED, ids=IDS)
def test_every_long_literal_of_a_translated_chapter_is_decided(lang, name):
    assert checks.literal_guard(name) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_translated_file_without_its_catalogue(lang):
    """A generated source or notebook whose catalogue is gone would never be checked again."""
    have = set(LAYOUT.translated(lang))
    for folder, ext in ((os.path.join(LAYOUT.src_dir, lang), ".py"),
                        (os.path.join(LAYOUT.root, "notebooks", lang), ".ipynb")):
        found = {f[:-len(ext)] for f in os.listdir(folder) if f.endswith(ext)} if os.path.isdir(folder) else set()
        assert found <= have, f"{folder}: {sorted(found - have)} have no catalogue"


def test_the_first_code_cell_names_the_language():
    for lang, name in TRANSLATED:
        with open(LAYOUT.generated(name, lang)) as f:
            first = next(c for c in cells.split(f.read()) if c.kind == "code")
        assert generate.LANGUAGE_LINES[lang] in first.body


# --- the pipeline on every chapter, translated or not ----------------------------------------------------

PSEUDO = 'Ç "q" \'s\' \\ ã '   # quotes, a backslash and accents: what escaping must survive


def _pseudo(u):
    return PSEUDO + u.text


@pytest.mark.parametrize("name", CHAPTERS)
def test_no_translation_leaves_every_byte_of_the_english(name):
    english = _english(name)
    assert ex.translate(english, lambda u: None) == english


@pytest.mark.parametrize("name", CHAPTERS)
def test_a_pseudo_translation_of_every_unit_keeps_every_code_cell_and_the_markdown_structure(name):
    english = _english(name)
    extra = ex.extra_literals(ex.config(LAYOUT.config), name)
    units = ex.units(english, extra)
    pseudo = ex.translate(english, _pseudo, extra)
    assert checks.same_code(english, pseudo, extra) == []
    # every unit was replaced: each now starts with the marker (comments and paragraphs rewrap it)
    assert pseudo.count("Ç ") >= len({u.text for u in units}) > 0
    for c in cells.split(pseudo):
        if c.kind == "code":
            compile(c.body, name, "exec")


def test_a_printed_pseudo_translation_prints_it():
    src = 'x = 3\nprint(f"value {x:.1f} of "\n      "the total:", x == 3)\n'
    out = code.translate(src, 1, _pseudo)
    ns: dict = {}
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(out, "t", "exec"), ns)
    assert buf.getvalue() == PSEUDO + "value 3.0 of the total: True\n"
    assert out.count("\n") == src.count("\n")   # the literal keeps its two lines


# --- each check fails where it should --------------------------------------------------------------------

def _po(entries: list[tuple[str, str]], comment: str = "markdown paragraph"):
    from babel.messages.catalog import Catalog

    po = Catalog(locale="pt_BR", fuzzy=False)
    for mid, mstr in entries:
        po.add(mid, mstr, auto_comments=[comment], locations=[("x.py", 1)])
    return po


def test_completeness_refuses_untranslated_fuzzy_and_obsolete_entries():
    po = _po([("one", "um"), ("two", ""), ("three", "três")])
    po["three"].flags.add("fuzzy")
    po.obsolete["gone"] = po["one"].clone()
    found = checks.completeness(po)
    assert [p.split(":")[0] for p in found] == ["untranslated", "fuzzy (the English changed; check the translation, then remove the fuzzy flag)",
                                                "obsolete (no longer in the English; delete it or run update --drop-obsolete)"]
    po.fuzzy = True
    assert "header" in checks.completeness(po)[-1]


@pytest.mark.parametrize(("msgid", "msgstr", "kind", "broken"), [
    ("PID inside: {inside_pid}, the first:", "PID dentro: {pid}, o primeiro:", "prints", "f-string fields"),
    ("uptime {x / 86400:.1f} days:", "uptime {x / 86400:.2f} dias:", "prints", "f-string fields"),
    ("read %s bytes", "leu bytes", "prints", "% formats"),
    ("call `unshare(CLONE_NEWPID)` first", "chame `unshare(CLONE_NEWUSER)` antes", "paragraph", "code spans"),
    ("see [nbval](https://nbval.readthedocs.io)", "veja o nbval", "paragraph", "URLs"),
    ("next: [01](01-namespaces.ipynb#Exercise)", "próximo: [01](01-namespaces.ipynb#Exercicio)", "paragraph", "link targets"),
    ("a 500 MiB limit", "um limite de quinhentos MiB", "paragraph", "numbers"),
    ("uid 0 inside is 100000 outside", "uid 0 dentro é 10000 fora", "paragraph", "numbers"),
    ("routes in the namespace: {routes}, none:", "rotas no namespace: {routes}, nenhuma", "prints", "final colon"),
    ("the line", "a | linha", "markdown table cell", "'|'"),
    ("hostname inside:", "hostname\ndentro:", "text a code cell prints", "line break"),
    ("a heading", " um título", "markdown heading", "spaces"),
    ("a <a id=\"x\"></a>heading", "um título", "markdown heading", "HTML tags"),
])
def test_a_broken_placeholder_is_named(msgid, msgstr, kind, broken):
    found = checks.placeholder_problems(msgid, msgstr, kind)
    assert any(broken in p for p in found), found


@pytest.mark.parametrize(("msgid", "msgstr"), [
    ("PID inside: {inside_pid}, the first:", "o primeiro, {inside_pid} lá dentro:"),
    ("uptime {x / 86400:.1f} days:", "uptime de {x / 86400:.1f} dias:"),
    ("a 500 MiB limit (1,500 × 32 KiB)", "um limite de 500 MiB (1.500 × 32 KiB)"),
    ("call `unshare(CLONE_NEWPID)` first", "chame `unshare(CLONE_NEWPID)` antes"),
])
def test_a_translation_that_keeps_them_passes(msgid, msgstr):
    assert checks.placeholder_problems(msgid, msgstr, "prints") == []


def test_a_code_span_may_quote_the_translated_output_of_a_printed_line_and_nothing_else():
    po = _po([("the container exited (exit code {r.exit_code}):", "o contêiner terminou (código {r.exit_code}):")],
             "text a code cell prints: keep every {field} and a final colon")
    po.add("The outcome: `the container exited (exit code 0): True`.",
           "O resultado: `o contêiner terminou (código 0): True`.", auto_comments=["markdown paragraph"])
    assert checks.placeholders(po) == []
    po["The outcome: `the container exited (exit code 0): True`."].string = \
        "O resultado: `o contêiner saiu (código 0): True`."
    assert "code spans differ" in checks.placeholders(po)[0]


def test_the_glossary_refuses_container_in_prose_but_not_in_a_quotation_or_code():
    ok = _po([("a container", "um contêiner"), ("quote", '*"Os containers são processos"*'),
              ("code", "o `container_id` dele")])
    assert checks.glossary(ok, "pt_BR") == []
    bad = _po([("a container", "um container")])
    assert "contêiner" in checks.glossary(bad, "pt_BR")[0]


def test_same_code_refuses_a_changed_call_argument_field_or_directive():
    english = '# %%\n# boxkit: needs root\nr = run("busybox")\nprint(f"exit {r.code}:", r.code == 0)   # why\n'
    good = english.replace('"exit {r.code}:"', '"saída {r.code}:"').replace("# why", "# por quê")
    assert checks.same_code(english, good) == []
    for broken in (good.replace('"busybox"', '"alpine"'),
                   good.replace("{r.code}:", "{r.pid}:"),
                   good.replace("r.code == 0", "r.code == 1"),
                   good.replace("# boxkit: needs root\n", "")):
        assert checks.same_code(english, broken), broken


def test_same_code_refuses_a_translation_that_changes_the_markdown_structure():
    english = "# %% [markdown]\n# A paragraph.\n#\n# ## A heading\n"
    assert checks.same_code(english, english.replace("A paragraph.", "Um parágrafo.")) == []
    assert checks.same_code(english, english.replace("A paragraph.", "1. Um parágrafo.")) != []


def test_a_translated_paragraph_never_wraps_onto_a_block_marker():
    md = "A paragraph that is long enough to wrap."
    tr = "Um parágrafo - com um traço e 1. um número > e um sinal # que não podem abrir linha"
    out = markdown.translate(md, 1, lambda u: tr)
    assert markdown.structure(out) == markdown.structure(md)
    narrow = "\n".join(markdown.wrap(tr.split(), 12))   # a break before nearly every word
    assert narrow.count("\n") > 5
    assert markdown.structure(narrow) == markdown.structure(md), narrow
    # what the wrapper avoids is real: the same words broken anywhere make a list
    assert markdown.structure("Um parágrafo\n- com um traço") != markdown.structure(md)


@pytest.fixture
def tree(tmp_path):
    """A copy of what the pipeline reads and writes, to break."""
    for rel in ("notebooks/src", "locale", "notebooks/pt_BR"):
        src = os.path.join(LAYOUT.root, rel)
        if os.path.isdir(src):
            shutil.copytree(src, tmp_path / rel)
    return Layout(str(tmp_path))


def _translated_name() -> tuple[str, str]:
    if not TRANSLATED:
        pytest.skip("no chapter is translated yet")
    return TRANSLATED[0]


def test_the_committed_chapter_passes_in_the_copy(tree):
    lang, name = _translated_name()
    assert checks.chapter(name, lang, tree) == []


def test_a_changed_english_sentence_makes_the_catalogue_stale_then_fuzzy(tree):
    lang, name = _translated_name()
    po = catalog.read(tree.po(name, lang))
    target = next(m for m in po if m.id and len(m.id.split()) > 8
                  and any("paragraph" in c for c in m.auto_comments))
    english = open(tree.source(name)).read()
    first = target.id.split()[:3]
    old = " ".join(first)
    assert old in english
    with open(tree.source(name), "w") as f:
        f.write(english.replace(old, old + " indeed", 1))
    found = checks.chapter(name, lang, tree)
    assert any("missing, new in the English" in p for p in found), found
    assert any("not in the English any more" in p for p in found)
    # the translator's next step: update marks just that entry fuzzy, keeping the old English beside it
    counts = catalog.update(name, lang, tree)
    assert counts["fuzzy"] == 1 and counts["untranslated"] == 0, counts
    text = open(tree.po(name, lang)).read()
    assert "#| msgid" in text and "#, fuzzy" in text
    assert any(p.startswith("fuzzy") for p in checks.completeness(catalog.read(tree.po(name, lang))))


def test_an_edited_translation_makes_the_generated_files_stale(tree):
    lang, name = _translated_name()
    po = catalog.read(tree.po(name, lang))
    m = next(m for m in po if m.id and any("heading" in c for c in m.auto_comments))
    m.string = m.string + " (revisto)"
    with open(tree.po(name, lang), "w") as f:
        f.write(catalog.render(po, previous=True))
    found = checks.chapter(name, lang, tree)
    assert any("is not what the catalogue makes" in p for p in found), found
    generate.write(name, lang, tree)
    found = checks.chapter(name, lang, tree)
    assert any("differs from its generated source" in p for p in found), found


def test_a_hand_edited_generated_source_is_caught(tree):
    lang, name = _translated_name()
    path = tree.generated(name, lang)
    text = open(path).read()
    with open(path, "w") as f:
        f.write(text.replace("import boxkit", "import boxkit, os", 1) if "import boxkit" in text else text + "x = 1\n")
    assert any("is not what the catalogue makes" in p for p in checks.chapter(name, lang, tree, built=False))


def test_gnu_msgfmt_refuses_a_broken_file(tmp_path):
    path = tmp_path / "bad.po"
    path.write_text('msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\nmsgid "a"\nmsgstr "b\n')
    problems, _ = checks.msgfmt(str(path))
    assert problems


def test_the_literal_guard_asks_about_a_new_sentence_in_code(tree):
    lang, name = _translated_name()
    path = tree.source(name)
    with open(path, "a") as f:
        f.write('\n# %%\nlabel = "a new sentence nobody decided"\n')
    assert any("a new sentence nobody decided" in p for p in checks.literal_guard(name, tree))


def test_a_link_into_a_translated_heading_keeps_its_english_anchor(tree):
    """00's table links to 01-namespaces.ipynb#Exercise: the translated heading carries id="Exercise"."""
    lang, name = _translated_name()
    targets = generate.link_targets(tree)
    assert "Exercise" in targets
    md = "## Exercise\n\nText."
    out = markdown.translate(md, 1, lambda u: {"Exercise": "Exercício"}.get(u.text), targets)
    assert out.startswith('## <a id="Exercise"></a>Exercício')
    assert markdown.structure(out) == markdown.structure(md)


def test_update_creates_a_catalogue_for_a_new_chapter_and_generation_falls_back_to_english(tree):
    name = next((n for n in CHAPTERS if n not in tree.translated("pt_BR")), CHAPTERS[-1])
    if os.path.exists(tree.po(name, "pt_BR")):   # every chapter is translated: the copy loses one
        os.remove(tree.po(name, "pt_BR"))
    counts = catalog.update(name, "pt_BR", tree)
    assert counts["translated"] == 0 and counts["untranslated"] > 0
    assert checks.completeness(catalog.read(tree.po(name, "pt_BR")))
    out = generate.generate(name, "pt_BR", tree)
    english = open(tree.source(name)).read()
    assert checks.same_code(english, out, language_lines=generate.LANGUAGE_LINES["pt_BR"]) == []
    # the language lines are the only code a translation adds: without them, or without skipping them,
    # the same-code check says so
    assert checks.same_code(english, out)
    assert checks.same_code(english, out.replace(generate.LANGUAGE_LINES["pt_BR"] + "\n", "", 1),
                            language_lines=generate.LANGUAGE_LINES["pt_BR"])
    # only the language line and the links to untranslated chapters differ from the English
    assert generate.LANGUAGE_LINES["pt_BR"] in out


def test_the_cli_check_exits_non_zero_on_a_problem(tree, monkeypatch):
    lang, name = _translated_name()
    po = catalog.read(tree.po(name, lang))
    next(m for m in po if m.id).string = ""
    with open(tree.po(name, lang), "w") as f:
        f.write(catalog.render(po))
    from tools.i18n import __main__ as cli

    monkeypatch.setattr(cli, "Layout", lambda: tree)
    assert cli.main(["check", name]) == 1


def test_msgfmt_is_installed():
    """CI installs gettext (./course's APT_TEST): the catalogue checks need GNU msgfmt."""
    assert subprocess.run(["msgfmt", "--version"], capture_output=True).returncode == 0


def test_an_f_string_label_is_named_whole_by_the_guard_and_translated_whole_when_listed():
    src = 'rows = [(f"written back ({old})", ok), ("mount a tmpfs", True)]\n'
    tree = __import__("ast").parse(src)
    keys = [code.literal_key(n) for n in code.literals(tree)]
    assert keys == ["written back ({old})", "mount a tmpfs"]   # not the f-string's pieces
    extra = frozenset({"written back ({old})"})
    assert [u.text for u in code.units(src, 1, extra)] == ["written back ({old})"]
    out = code.translate(src, 1, lambda u: "escrito de volta ({old})", extra)
    assert out == 'rows = [(f"escrito de volta ({old})", ok), ("mount a tmpfs", True)]\n'
    assert checks.same_code("# %%\n" + src, "# %%\n" + out, extra) == []


def test_a_listed_f_string_label_with_a_format_spec_is_set_aside_in_the_translation():
    src = 'ended = f"timeout after {t:.0f} s" if late else "ok"\nprint(ended)\n'
    extra = frozenset({"timeout after {t} s"})   # how locale/notebooks.toml names it: no format spec
    assert [u.text for u in code.units(src, 1, extra)] == ["timeout after {t:.0f} s"]
    out = code.translate(src, 1, lambda u: "tempo esgotado após {t:.0f} s", extra)
    # found by its place in the English cell, the translated literal is set aside, format spec and all
    assert checks.same_code("# %%\n" + src, "# %%\n" + out, extra) == []
    # while its field stays code, and a literal nobody listed stays English
    assert checks.same_code("# %%\n" + src, "# %%\n" + out.replace("{t:.0f}", "{t:.1f}"), extra)
    assert checks.same_code("# %%\n" + src, "# %%\n" + out.replace('"ok"', '"certo"'), extra)
