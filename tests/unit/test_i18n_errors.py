"""Errors a learner meets speak the learner's language, rendered by the side that prints them (issue 25).

An error is raised with English message ids and named fields (:mod:`boxkit.errors`); it travels the
warm helper's and the supervisor's sockets as those ids (``to_wire``/``from_wire``) and is rendered in
the language of the process that prints it. These tests raise the errors the command line's input
checks raise (``--memory -5M``, an image that does not exist, ...) and read them in pt_BR and English;
the command line's choice of language from the environment is :func:`boxkit.i18n.from_environment`.
They need the compiled catalogue (``python -m tools.i18n package compile``).
"""

from __future__ import annotations

import ast
import json
import os

import pytest

from boxkit import i18n
from boxkit.errors import BoxkitError, NotFoundError, SpecError, UsageError, from_wire, to_wire

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MO = os.path.join(REPO, "boxkit", "locale", "pt_BR", "LC_MESSAGES", "boxkit.mo")

# the modules whose errors and sentences these tests hold to a complete translation
FILES = ["boxkit/errors.py", "boxkit/spec.py", "boxkit/runtime/container.py", "boxkit/runtime/rootless.py",
         "boxkit/images/__init__.py", "boxkit/images/store.py", "boxkit/images/registry.py",
         "boxkit/cli/__init__.py", "boxkit/cli/cgroups.py", "boxkit/cli/containers.py", "boxkit/cli/exec.py",
         "boxkit/cli/images.py", "boxkit/cli/verbs.py", "boxkit/cli/warm.py", "boxkit/fastrun.py",
         "boxkit/oci/cli.py"]

# message ids whose Portuguese is the same word (an option's or a kernel file's name)
SAME = {"hostname", "cpus", "cpuset", "namespace", "namespaces", "rootfs", "volume", "blob", "digest",
        "boxkit exec CONTAINER CMD [ARG...]"}

pytestmark = pytest.mark.skipif(not os.path.exists(MO), reason="no compiled pt_BR catalogue: "
                                "python -m tools.i18n package compile")


@pytest.fixture
def pt():
    i18n.set_language("pt_BR")
    yield
    i18n.set_language("en")


def _spec_error(**kw) -> SpecError:
    from boxkit.spec import ContainerSpec

    with pytest.raises(SpecError) as info:
        ContainerSpec.create("busybox", ["true"], **kw)
    return info.value


def _marked(path: str) -> list[str]:
    """The message ids a module marks with _() or N_() (string literals, implicit concatenation joined)."""
    with open(os.path.join(REPO, path)) as f:
        tree = ast.parse(f.read())
    out = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "N_")
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            out.append(node.args[0].value)
    return out


def test_a_bad_memory_value_in_english_is_unchanged():
    e = _spec_error(memory="-5M")
    assert str(e) == ("invalid memory limit '-5M': expected a size like 500M, 1.5G, 512m or a number "
                      "of bytes or max")
    assert e.exit_code == 125 and isinstance(e, ValueError)


def test_a_bad_memory_value_in_portuguese(pt):
    e = _spec_error(memory="-5M")
    assert str(e) == ("valor inválido para limite de memória '-5M': esperava um tamanho como 500M, 1.5G, "
                      "512m, um número de bytes ou max")
    assert e.exit_code == 125


@pytest.mark.parametrize("kw, english, portuguese", [
    (dict(memory="1M"), "invalid memory limit '1M': the minimum is 6M, as in docker",
     "valor inválido para limite de memória '1M': o mínimo é 6M, como no docker"),
    (dict(cpus=str((os.cpu_count() or 1) + 1)),
     f"invalid cpus '{(os.cpu_count() or 1) + 1}': this host has {os.cpu_count() or 1} cpus",
     f"valor inválido para cpus '{(os.cpu_count() or 1) + 1}': este host tem {os.cpu_count() or 1} cpus"),
    (dict(publish=["8080:99999"]), "invalid port mapping '8080:99999': port 99999 is outside 1-65535",
     "valor inválido para mapeamento de porta '8080:99999': a porta 99999 está fora de 1-65535"),
    (dict(publish=["80:80", "80:81"]), "invalid port mapping '80:81/tcp': host port 80/tcp is given twice",
     "valor inválido para mapeamento de porta '80:81/tcp': a porta 80/tcp do host aparece duas vezes"),
    (dict(hostname="x" * 70), f"invalid hostname '{'x' * 70}': longer than 64 characters",
     f"valor inválido para hostname '{'x' * 70}': mais longo que 64 caracteres"),
    (dict(namespaces=["pid", "mount", "bogus"]),
     "invalid namespace 'bogus': known: pid, mount, uts, ipc, net, user, cgroup, time",
     "valor inválido para namespace 'bogus': os conhecidos são pid, mount, uts, ipc, net, user, cgroup, time"),
    (dict(cpuset_cpus="1-0"), "invalid cpuset '1-0': range 1-0 runs backwards",
     "valor inválido para cpuset '1-0': o intervalo 1-0 está de trás para a frente"),
])
def test_input_errors_with_fields_in_both_languages(kw, english, portuguese):
    assert str(_spec_error(**kw)) == english
    i18n.set_language("pt_BR")
    try:
        assert str(_spec_error(**kw)) == portuguese
    finally:
        i18n.set_language("en")


def test_an_image_that_does_not_exist_in_both_languages(tmp_root):
    from boxkit.images import resolve

    with pytest.raises(NotFoundError) as info:
        resolve("nosuchimage")
    e = info.value
    assert str(e) == ("no such image 'nosuchimage': not found — boxkit images lists the local images; "
                      "boxkit pull or boxkit build makes one")
    i18n.set_language("pt_BR")
    try:
        assert str(e) == ("imagem inexistente 'nosuchimage': nada com esse nome — boxkit images lista as "
                          "imagens locais; boxkit pull ou boxkit build cria uma")
    finally:
        i18n.set_language("en")


def test_the_wire_carries_ids_and_the_receiving_side_renders_them():
    """Raised in English (the warm helper's language), sent as JSON, printed by a Portuguese client."""
    e = _spec_error(memory="-5M")
    wire = json.loads(json.dumps(to_wire(e)))
    assert wire["op"] == "invalid {what}" and wire["params"]["what"] == "memory limit"
    assert wire["message"].startswith("invalid memory limit")   # an older client prints this
    i18n.set_language("pt_BR")
    try:
        back = from_wire(wire)
        assert type(back) is SpecError and back.exit_code == 125
        assert str(back).startswith("valor inválido para limite de memória '-5M': esperava um tamanho")
    finally:
        i18n.set_language("en")
    assert str(back) == str(e)   # and in English again when the language goes back


def test_not_found_and_errno_details_cross_the_wire(pt):
    wire = json.loads(json.dumps(to_wire(NotFoundError("image", "nosuchimage", hint="boxkit images lists the "
                                                       "local images"))))
    back = from_wire(wire)
    assert type(back) is NotFoundError and back.errno == 2
    assert str(back) == "imagem inexistente 'nosuchimage': nada com esse nome — boxkit images lista as imagens locais"
    # an OSError that is not ours: the op the helper names, the C library's words in Portuguese
    back = from_wire(json.loads(json.dumps(to_wire(PermissionError(13, "Permission denied", "/x"),
                                                   "cannot start container"))))
    assert str(back) == ("não foi possível iniciar o contêiner /x: permissão negada — rode como root ou "
                         "veja boxkit probe")


def test_a_usage_error_in_portuguese(pt):
    e = UsageError("boxkit run", "argument --memory/-m: expected one argument")
    # argparse's own sentence stays as argparse says it; boxkit's words around it are translated
    assert str(e) == ("uso inválido de boxkit run: argument --memory/-m: expected one argument — "
                      "veja boxkit run --help")


def test_the_warm_helpers_reply_is_rendered_by_the_fast_client(pt, capfd, monkeypatch):
    """cli.warm answers ``err CODE {json}``; the fast client rebuilds it and prints it in its language."""
    from boxkit import fastrun
    from boxkit.cli import warm

    sent = []

    class Conn:
        def send(self, data):
            sent.append(data.decode())

    warm._reply_error(Conn(), _english(lambda: _spec_error(memory="-5M")))
    word, code, payload = sent[0].split(" ", 2)
    assert (word, code) == ("err", "125") and payload.startswith("{")
    monkeypatch.setenv("BOXKIT_LANG", "pt_BR")
    monkeypatch.setattr(fastrun, "_said", [])
    fastrun._say_error(payload)
    fastrun._say(fastrun.N_("second interrupt: killing the container"))
    err = capfd.readouterr().err
    assert err == ("boxkit: valor inválido para limite de memória '-5M': esperava um tamanho como 500M, "
                   "1.5G, 512m, um número de bytes ou max\n"
                   "boxkit: segunda interrupção: matando o contêiner\n")
    fastrun._say_error("boxkit: an older helper's sentence")   # printed as it came
    assert capfd.readouterr().err == "boxkit: an older helper's sentence\n"


def test_a_helper_failure_that_is_not_ours_still_reaches_the_client(pt):
    from boxkit.cli import warm

    sent = []

    class Conn:
        def send(self, data):
            sent.append(data.decode())

    warm._reply_error(Conn(), RuntimeError("boom"))
    word, code, payload = sent[0].split(" ", 2)
    assert (word, code) == ("err", "125")
    assert str(from_wire(json.loads(payload))) == "não foi possível iniciar o contêiner: RuntimeError: boom"


def _english(make):
    lang = i18n.language()
    i18n.set_language("en")
    try:
        return make()
    finally:
        i18n.set_language(lang)


def test_the_cli_prints_portuguese_and_exits_125(pt, capsys):
    from boxkit import cli

    assert cli.main(["run", "--memory", "-5M", "busybox", "true"]) == 125
    assert capsys.readouterr().err == ("boxkit: valor inválido para limite de memória '-5M': esperava um "
                                       "tamanho como 500M, 1.5G, 512m, um número de bytes ou max\n")


def test_every_marked_message_of_these_modules_is_translated(pt):
    missing = []
    for path in FILES:
        for msg in _marked(path):
            if i18n._(msg) == msg and msg not in SAME:
                missing.append(f"{path}: {msg!r}")
    assert not missing, "untranslated (fill /work/tmp/po/errors.po, merge and compile):\n" + "\n".join(missing)


def test_translations_keep_their_fields(pt):
    import string

    for path in FILES:
        for msg in _marked(path):
            names = {f for _lit, f, _spec, _conv in string.Formatter().parse(msg) if f}
            got = {f for _lit, f, _spec, _conv in string.Formatter().parse(i18n._(msg)) if f}
            assert names == got, (msg, i18n._(msg))


@pytest.mark.parametrize("env, lang", [
    ({}, "en"),
    ({"LANG": "pt_BR.UTF-8"}, "pt_BR"),
    ({"LANG": "C"}, "en"),
    ({"LANG": "C.UTF-8"}, "en"),
    ({"LANG": "fr_FR.UTF-8"}, "en"),                                     # no catalogue: English
    ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "pt_BR.UTF-8"}, "pt_BR"),   # LC_MESSAGES before LANG
    ({"LC_MESSAGES": "C", "LANG": "pt_BR.UTF-8"}, "en"),
    ({"LC_ALL": "pt_BR.UTF-8", "LC_MESSAGES": "C", "LANG": "C"}, "pt_BR"),   # LC_ALL before both
    ({"LC_ALL": "C", "LANG": "pt_BR.UTF-8"}, "en"),
    ({"LANGUAGE": "pt_BR:en", "LANG": "en_US.UTF-8"}, "pt_BR"),          # LANGUAGE before LC_ALL/LANG
    ({"LANGUAGE": "fr:pt_BR", "LANG": "en_US.UTF-8"}, "pt_BR"),          # its first known language
    ({"LANGUAGE": "pt_BR", "LANG": "C"}, "en"),                          # ignored under the C locale
    ({"LANGUAGE": "pt_BR"}, "en"),                                       # ... and with no locale at all
    ({"BOXKIT_LANG": "en", "LANGUAGE": "pt_BR", "LC_ALL": "pt_BR.UTF-8"}, "en"),   # BOXKIT_LANG first
    ({"BOXKIT_LANG": "pt-br", "LANG": "C"}, "pt_BR"),
])
def test_from_environment_order(env, lang):
    assert i18n.from_environment(env) == lang


def test_the_command_line_speaks_the_locale_only_as_a_command(monkeypatch, capsys):
    """cli.main() (python -m boxkit) reads the locale; cli.main(argv) keeps the caller's language."""
    from boxkit import cli

    monkeypatch.setenv("BOXKIT_LANG", "pt_BR")
    try:
        assert cli.main(["run", "--memory", "-5M", "busybox", "true"]) == 125
        assert "invalid memory limit" in capsys.readouterr().err and i18n.language() == "en"
        monkeypatch.setattr("sys.argv", ["boxkit", "run", "--memory", "-5M", "busybox", "true"])
        assert cli.main() == 125
        assert "valor inválido" in capsys.readouterr().err and i18n.language() == "pt_BR"
    finally:
        i18n.set_language("en")


def test_a_missing_catalogue_leaves_the_command_in_english(monkeypatch):
    from boxkit import cli

    monkeypatch.setenv("BOXKIT_LANG", "pt_BR")
    monkeypatch.setattr(i18n, "CATALOGUES", "/nonexistent")
    try:
        assert cli.speak_locale() == "en"
    finally:
        i18n.set_language("en")


def test_errors_raised_in_portuguese_are_the_same_error(pt):
    """Raising translates nothing: the ids and fields are English whatever the language at raise time."""
    e = _spec_error(memory="-5M")
    assert (e.op, e.detail, e.params["what"]) == ("invalid {what}",
                                                   "expected a size like 500M, 1.5G, 512m or a number of bytes or max",
                                                   "memory limit")
    assert isinstance(e, BoxkitError)
