"""`./course lab` as a normal user: the README's "Linux machine without root" route. The script must look
at the host (rootless where the kernel allows user namespaces, RECORDED otherwise) instead of refusing
non-root, make its venv, and serve JupyterLab without --allow-root, with one kernel in the launcher.
A new non-root user runs it on a fresh clone of this checkout, twice: ``--lang pt_BR`` (the pt-BR index
under the same root, JupyterLab's UI set to pt_BR and its own pt-BR language pack served), then the
English edition its locale picks, with the UI language the learner chose in between kept. Slow (a venv
install): skipped when BOXKIT_SKIP_SLOW=1. Which edition ``lab`` picks from --lang, BOXKIT_LANG and the
locale is checked fast, through ``./course edition``, which shares its code."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest
from hosting_util import REPO, make_user, pids_of

slow = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("BOXKIT_SKIP_SLOW") == "1", reason="slow: BOXKIT_SKIP_SLOW=1"),
    pytest.mark.skipif(not shutil.which("git"), reason="needs git to clone the checkout"),
]
COURSE = os.path.join(REPO, "course")


def _edition(*args: str, **env: str) -> subprocess.CompletedProcess:
    """``./course edition ARGS`` in a clean environment holding only ``env`` (and PATH)."""
    return subprocess.run([COURSE, "edition", *args], env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("args, env, edition", [
    ((), {}, "en"),
    ((), {"LANG": "C.UTF-8"}, "en"),
    ((), {"LANG": "pt_BR.UTF-8"}, "pt_BR"),
    ((), {"LC_MESSAGES": "pt_PT.UTF-8", "LANG": "en_US.UTF-8"}, "pt_BR"),   # the language, any country
    ((), {"LC_ALL": "C", "LANG": "pt_BR.UTF-8"}, "en"),                     # LC_ALL before LANG
    ((), {"LANG": "fr_FR.UTF-8"}, "en"),                                    # no French edition
    ((), {"BOXKIT_LANG": "en", "LANG": "pt_BR.UTF-8"}, "en"),               # BOXKIT_LANG before the locale
    ((), {"BOXKIT_LANG": "pt_BR", "LANG": "C.UTF-8"}, "pt_BR"),
    (("--lang", "pt_BR"), {"LANG": "C.UTF-8"}, "pt_BR"),
    (("--lang=pt-BR",), {"BOXKIT_LANG": "en"}, "pt_BR"),                    # --lang before everything
    (("--lang", "en"), {"LANG": "pt_BR.UTF-8"}, "en"),
])
def test_course_picks_the_edition_from_lang_then_boxkit_lang_then_the_locale(args, env, edition):
    r = _edition(*args, **env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == edition, r.stdout


def test_course_lab_refuses_an_edition_that_does_not_exist_before_installing_anything():
    t0 = time.monotonic()
    r = subprocess.run([COURSE, "lab", "--lang", "fr"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""                                   # nothing set up: no '==>' step started
    assert r.stderr.count("\n") == 1 and r.stderr.rstrip().endswith("."), r.stderr     # one sentence
    assert "--lang 'fr'" in r.stderr and "en, pt_BR" in r.stderr, r.stderr              # the editions there
    assert time.monotonic() - t0 < 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _lab(user, clone: str, *args: str):
    """``./course lab ARGS`` as ``user`` on a free port; yields the port and the text the lab printed
    once it answers; stops the lab (and its kernels) and whatever else the user runs afterwards."""
    port = _free_port()
    log = os.path.join(user.home, f"lab-{port}.log")
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["runuser", "-u", user.name, "--", "env", "-i", f"HOME={user.home}", f"USER={user.name}",
             "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", f"PORT={port}", "./course", "lab", *args],
            cwd=clone, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, up = time.monotonic() + 600, False
        while not up and time.monotonic() < deadline and proc.poll() is None:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2).read()
                up = True
            except OSError:
                time.sleep(1)
        text = open(log).read()
        if not up and ("Could not find a version" in text or "connection" in text.lower()):
            pytest.skip("needs PyPI or a local wheel cache for the venv")
        assert up, text[-3000:]
        time.sleep(0.5)     # the URLs follow the first answer by a few lines
        yield port, open(log).read()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)     # the lab this test started, and its kernels
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        assert proc.returncode is not None
        for pid in pids_of(user.uid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _get(port: int, token: str, path: str) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def _put(port: int, token: str, path: str, body: dict) -> None:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="PUT",
                                 headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=30).close()


def _ui_locale(port: int, token: str) -> str:
    """The UI language JupyterLab serves: the translation extension's setting as it stands."""
    return _get(port, token, "/lab/api/settings/@jupyterlab/translation-extension:plugin")["settings"]["locale"]


def _labels(node) -> set[str]:
    """Every menu label in a plugin's settings (its schema, as the server translated it)."""
    if isinstance(node, dict):
        own = {node["label"]} if isinstance(node.get("label"), str) else set()
        return own.union(*map(_labels, node.values()))
    if isinstance(node, list):
        return set().union(*map(_labels, node))
    return set()


def _opens(text: str, port: int, index: str) -> str:
    """The token of the URL the lab printed, which must open ``index`` (relative to notebooks/)."""
    m = re.search(rf"http://127\.0\.0\.1:{port}/lab/tree/{re.escape(index)}\?token=(\w+)", text)
    assert m, f"the lab printed no URL opening {index}: {text[-2000:]}"
    return m.group(1)


def _environ_of_lab(uid: int) -> dict:
    for pid in pids_of(uid):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"--ServerApp.root_dir=" in f.read():
                with open(f"/proc/{pid}/environ", "rb") as e:
                    return dict(kv.split("=", 1) for kv in e.read().decode().split("\0") if "=" in kv)
    raise AssertionError("no jupyter lab process of the learner found")


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("BOXKIT_SKIP_SLOW") == "1", reason="slow: BOXKIT_SKIP_SLOW=1")
@pytest.mark.skipif(not shutil.which("git"), reason="needs git to clone the checkout")
def test_course_lab_runs_for_a_normal_user():
    missing = [p for p in ("python3-venv", "busybox-static")
               if subprocess.run(["dpkg-query", "-W", p], capture_output=True).returncode != 0]
    if missing:
        pytest.skip(f"the lab route as a normal user needs {', '.join(missing)} installed by root")
    with make_user("bkl") as user:
        clone = os.path.join(user.home, "boxkit")
        subprocess.run(["git", "clone", "-q", REPO, clone], check=True)
        subprocess.run(["chown", "-R", f"{user.uid}:{user.uid}", clone], check=True)
        # the pt-BR edition: its index opened from the notebooks/ root (links between editions resolve),
        # JupyterLab's UI set to pt_BR and its own pt-BR pack served, the kernels told the edition
        with _lab(user, clone, "--lang", "pt_BR") as (port, text):
            assert "run as root" not in text
            assert "course runs rootless" in text or "replays a RECORDED run" in text, text[-2000:]
            kernels = os.listdir(os.path.join(clone, ".venv", "share", "jupyter", "kernels"))
            assert kernels == ["python3"], kernels      # one kernel in the launcher
            assert "the pt_BR edition (--lang pt_BR)" in text, text[-2000:]
            token = _opens(text, port, "pt_BR/00-index.ipynb")
            index = _get(port, token, "/api/contents/pt_BR/00-index.ipynb")
            assert "contêiner" in json.dumps(index["content"], ensure_ascii=False)
            assert _get(port, token, "/api/contents/00-index.ipynb?content=0")["type"] == "notebook"
            assert _ui_locale(port, token) == "pt_BR"
            assert "pt_BR" in _get(port, token, "/lab/api/translations/")["data"]
            pack = _get(port, token, "/lab/api/translations/pt_BR")["data"]["jupyterlab"]
            assert pack["Settings"] == ["Configurações"], pack.get("Settings")
            # the server translates the menus' own labels too (it does so only by the user setting)
            assert "Tema" in _labels(_get(port, token, "/lab/api/settings/@jupyterlab/apputils-extension:themes"))
            assert _environ_of_lab(user.uid)["BOXKIT_LANG"] == "pt_BR"
            # the learner picks Portuguese in Settings > Language: JupyterLab saves it as theirs
            _put(port, token, "/lab/api/settings/@jupyterlab/translation-extension:plugin",
                 {"raw": '{"locale": "pt_BR"}'})
        # the English edition (LANG=C.UTF-8, no --lang) opens the English index; the UI language the
        # learner picked stays theirs
        t0 = time.monotonic()
        with _lab(user, clone) as (port, text):
            assert "the en edition (LANG=C.UTF-8)" in text, text[-2000:]
            token = _opens(text, port, "00-index.ipynb")
            assert _environ_of_lab(user.uid)["BOXKIT_LANG"] == "en"
            assert _ui_locale(port, token) == "pt_BR"
        print(f"\nthe English lab, set up again and up in {time.monotonic() - t0:.1f} s")
