"""The package's own words in two languages: the catalogue is complete, fresh and compiled; the language
is chosen as a notebook or a command chooses it; errors render in the language of whoever prints them."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from boxkit import i18n
from boxkit.errors import BoxkitError, NotFoundError, SpecError, from_wire, to_wire

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
package = pytest.importorskip("tools.i18n.package")


@pytest.fixture
def pt():
    i18n.set_language("pt_BR")
    yield
    i18n.set_language("en")


def test_the_package_catalogue_is_complete_fresh_and_compiled():
    assert package.check("pt_BR") == []


def test_importing_boxkit_speaks_english_whatever_the_environment(monkeypatch):
    import subprocess

    env = {**os.environ, "LANG": "pt_BR.UTF-8", "BOXKIT_LANG": "pt_BR"}
    r = subprocess.run([sys.executable, "-c", "import boxkit; print(boxkit.language())"], env=env,
                       capture_output=True, text=True, cwd=REPO)
    assert r.stdout.strip() == "en", r.stderr


@pytest.mark.parametrize("env, want", [
    ({}, "en"),
    ({"LANG": "pt_BR.UTF-8"}, "pt_BR"),
    ({"LANG": "pt_PT.UTF-8"}, "en"),                     # no catalogue for it: English, as gettext falls back
    ({"LANG": "pt.UTF-8"}, "pt_BR"),
    ({"LANG": "C"}, "en"),
    ({"LANG": "C.UTF-8", "LANGUAGE": "pt_BR"}, "en"),    # gettext ignores LANGUAGE in the C locale
    ({"LANG": "en_US.UTF-8", "LANGUAGE": "de:pt_BR"}, "pt_BR"),
    ({"LC_MESSAGES": "pt_BR.UTF-8", "LANG": "en_US.UTF-8"}, "pt_BR"),
    ({"LC_ALL": "C", "LC_MESSAGES": "pt_BR.UTF-8"}, "en"),
    ({"BOXKIT_LANG": "pt_BR", "LC_ALL": "C"}, "pt_BR"),
    ({"BOXKIT_LANG": "en", "LANG": "pt_BR.UTF-8"}, "en"),
])
def test_a_command_follows_the_environment_as_gettext_does(env, want):
    assert i18n.from_environment(env) == want


def test_an_unknown_language_is_refused_in_one_sentence():
    with pytest.raises(ValueError, match="no catalogue for 'klingon'.*en, pt_BR"):
        i18n.set_language("klingon")
    assert i18n.language() == "en"


def test_a_missing_catalogue_names_its_path(monkeypatch, tmp_path):
    monkeypatch.setattr(i18n, "CATALOGUES", str(tmp_path))
    with pytest.raises(ValueError, match=f"{tmp_path}.*reinstall boxkit"):
        i18n.set_language("pt_BR")
    assert i18n.language() == "en"


def test_errors_render_in_the_language_current_when_printed(pt):
    e = SpecError("memory limit", "-5M", "must be positive")
    text = str(e)
    assert "'-5M'" in text and not text.startswith("invalid"), text
    i18n.set_language("en")
    assert str(e) == "invalid memory limit '-5M': must be positive"


def test_an_error_crosses_the_wire_as_ids_and_is_rendered_by_the_receiver():
    # the warm helper speaks English; it sends ids and fields, not a sentence
    sent = to_wire(NotFoundError("image", "nosuch", hint="run boxkit images"))
    assert sent["op"] == "no such {what}" and sent["params"] == {"what": "image"}
    i18n.set_language("pt_BR")
    try:
        got = from_wire(sent)
        assert isinstance(got, NotFoundError) and got.errno == 2
        assert "'nosuch'" in str(got) and not str(got).startswith("no such"), str(got)
    finally:
        i18n.set_language("en")
    assert str(got) == "no such image 'nosuch': not found — run boxkit images"


def test_a_translation_that_lost_a_field_falls_back_to_the_english(monkeypatch):
    class Lossy:
        def gettext(self, m):
            return "sem o campo" if m == "no running container named {name}" else m

    monkeypatch.setitem(i18n._state, "catalog", Lossy())
    e = BoxkitError("cannot join", "x", detail="no running container named {name}", params={"name": "web"})
    assert str(e) == "cannot join x: sem o campo"    # the translator's text, which has no field to fill
    monkeypatch.setitem(i18n._state, "catalog", type("T", (), {"gettext": lambda self, m: m.replace("{name}", "{nome}")})())
    assert str(e) == "cannot join x: no running container named web"


def test_a_detail_with_braces_of_its_own_is_printed_as_it_is():
    e = BoxkitError("bad config", "c.json", detail="expected {'a': 1}", params={"x": 1})
    assert str(e) == "bad config c.json: expected {'a': 1}"


def test_the_checks_catch_an_untranslatable_call_and_a_shadowed_underscore(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(os.path.join(REPO, "boxkit"), root / "boxkit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.mo", "recordings"))
    (root / "boxkit" / "bad_i18n.py").write_text(
        "from .i18n import _\n\n\ndef f(x):\n    for _ in range(2):\n        pass\n    return _(f'{x} items')\n")
    problems = package.f_string_calls(str(root)) + package.shadowed_underscore(str(root))
    assert any("bad_i18n.py:7" in p and "an f-string" in p for p in problems), problems
    assert any("bad_i18n.py:5" in p and "'_' assigned" in p for p in problems), problems


@pytest.mark.parametrize("msgid, msgstr, ok", [
    ("{n} containers on {net}", "{n} contêineres em {net}", True),
    ("{n} containers on {net}", "{n} contêineres", False),
    ("limit {limit:,} bytes", "limite {limit:,} bytes", True),
    ("limit {limit} bytes", "limite {limite} bytes", False),
    (("one container", "{n} containers"), ("um contêiner", "{n} contêineres"), True),
])
def test_a_translation_keeps_the_fields_of_the_english(msgid, msgstr, ok):
    assert (package.fields_problems(msgid, msgstr) == []) is ok


def test_the_compiled_catalogue_is_the_po_compiled(tmp_path):
    # a stale MO (an edited PO not compiled) is found
    root = tmp_path / "repo"
    for sub in ("locale", os.path.join("boxkit", "locale")):
        shutil.copytree(os.path.join(REPO, sub), root / sub)
    mo = root / "boxkit" / "locale" / "pt_BR" / "LC_MESSAGES" / "boxkit.mo"
    assert mo.read_bytes() == package.compiled("pt_BR", str(root))
    mo.write_bytes(mo.read_bytes()[:-1] + b"x")
    assert mo.read_bytes() != package.compiled("pt_BR", str(root))


def test_portuguese_plurals_count_zero_and_one_as_one(pt):
    cat = i18n._state["catalog"]
    assert cat.plural(0) == 0 and cat.plural(1) == 0 and cat.plural(2) == 1
