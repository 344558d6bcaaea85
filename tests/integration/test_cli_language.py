"""The command line speaks the locale's language, as every gettext program does (issue 25).

``boxkit`` (the in-process command line, ``python -m boxkit``, and the fast client that hands
``run --rm`` to the warm helper) and ``boxkit-runtime`` read ``BOXKIT_LANG``, ``LANGUAGE``, ``LC_ALL``,
``LC_MESSAGES`` and ``LANG``. A bad ``--memory`` and an image that does not exist are said in Portuguese
under ``LANG=pt_BR.UTF-8`` and in English under ``LANG=C``, with exit status 125 either way — also when
the error is raised in the warm helper (which speaks English) and rendered by the client. Real
commands in subprocesses; no container is started (the errors come before one would be).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MO = os.path.join(REPO, "boxkit", "locale", "pt_BR", "LC_MESSAGES", "boxkit.mo")
FULL = [sys.executable, "-m", "boxkit"]
FAST = [sys.executable, "-I", "-S", os.path.join(REPO, "boxkit", "fastrun.py")]   # bin/boxkit-fast
ENTRY = [sys.executable, "-c", "import sys; from boxkit.fastrun import entry; sys.exit(entry())"]   # pip's

pytestmark = pytest.mark.skipif(not os.path.exists(MO), reason="no compiled pt_BR catalogue")
NEEDS_ROOT = False   # runs without root (tests/integration/conftest.py); root-only tests skip themselves

MEMORY = {
    "pt_BR.UTF-8": "boxkit: valor inválido para limite de memória '-5M': esperava um tamanho como 500M, 1.5G, "
                   "512m, um número de bytes ou max\n",
    "C": "boxkit: invalid memory limit '-5M': expected a size like 500M, 1.5G, 512m or a number of bytes or max\n",
}
NO_IMAGE = {
    "pt_BR.UTF-8": "boxkit: imagem inexistente 'nosuchimage': nada com esse nome — boxkit images lista as "
                   "imagens locais; boxkit pull ou boxkit build cria uma\n",
    "C": "boxkit: no such image 'nosuchimage': not found — boxkit images lists the local images; boxkit pull "
         "or boxkit build makes one\n",
}


def _env(lang: str, **more) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("BOXKIT_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")}
    env.update(LANG=lang, **more)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _run(cmd: list[str], lang: str, **more) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, env=_env(lang, **more), timeout=120)


@pytest.mark.parametrize("lang", ["pt_BR.UTF-8", "C"])
@pytest.mark.parametrize("cmd", [FULL, ENTRY], ids=["python -m boxkit", "pip entry"])
def test_the_full_command_line_speaks_the_locale(cmd, lang, tmp_root):
    r = _run([*cmd, "run", "--memory", "-5M", "busybox", "true"], lang)
    assert (r.returncode, r.stderr) == (125, MEMORY[lang])
    r = _run([*cmd, "run", "nosuchimage", "true"], lang)
    assert (r.returncode, r.stderr) == (125, NO_IMAGE[lang])


def test_boxkit_lang_and_language_choose_over_lang(tmp_root):
    r = _run([*FULL, "run", "--memory", "-5M", "busybox", "true"], "C", BOXKIT_LANG="pt_BR")
    assert (r.returncode, r.stderr) == (125, MEMORY["pt_BR.UTF-8"])
    r = _run([*FULL, "run", "--memory", "-5M", "busybox", "true"], "en_US.UTF-8", LANGUAGE="pt_BR:en")
    assert (r.returncode, r.stderr) == (125, MEMORY["pt_BR.UTF-8"])
    r = _run([*FULL, "run", "--memory", "-5M", "busybox", "true"], "pt_BR.UTF-8", BOXKIT_LANG="en")
    assert (r.returncode, r.stderr) == (125, MEMORY["C"])


@pytest.mark.skipif(os.geteuid() != 0, reason="the warm helper keeps spares: root, as its own tests")
def test_the_fast_client_renders_the_warm_helpers_errors_in_its_language(tmp_root):
    """run --rm goes to the warm helper, which raises in English and sends the error whole; the client
    prints it in the locale's language. Same sentences and exit status as the full command line."""
    from boxkit.cli import warm

    clients = [FAST]
    typed = os.path.join(os.path.dirname(sys.executable), "boxkit")   # ./course writes the fast client there
    if os.path.exists(typed) and "fastrun" in open(typed, errors="replace").read(400):
        clients.append([typed])
    try:
        for client in clients:
            for lang in ("pt_BR.UTF-8", "C"):
                r = _run([*client, "run", "--rm", "--memory", "-5M", "busybox", "true"], lang)
                assert (r.returncode, r.stderr) == (125, MEMORY[lang]), (client, r)
                assert os.path.exists(warm.sock_path()), "no warm helper: the run took the slow way"
                r = _run([*client, "run", "--rm", "--memory=-5M", "busybox", "true"], lang)
                assert (r.returncode, r.stderr) == (125, MEMORY[lang]), (client, r)
                r = _run([*client, "run", "--rm", "nosuchimage", "true"], lang)
                assert (r.returncode, r.stderr) == (125, NO_IMAGE[lang]), (client, r)
    finally:
        pid = warm.stop()
    assert pid is not None


@pytest.mark.parametrize("lang, expected", [
    ("pt_BR.UTF-8", "boxkit-runtime: valor inválido para linha de comando '': informe um verbo: create, start, "
                    "state, kill, delete, exec, features\n"),
    ("C", "boxkit-runtime: invalid command line '': name a verb: create, start, state, kill, delete, exec, "
          "features\n"),
])
def test_boxkit_runtime_speaks_the_locale(lang, expected, tmp_path):
    r = _run([sys.executable, "-m", "boxkit.oci.cli", "--root", str(tmp_path)], lang)
    assert (r.returncode, r.stderr) == (1, expected)
