"""The image verbs through the real CLI: output shape, exit codes, one-sentence errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: builds run containers"),
              pytest.mark.skipif(not os.path.exists("/bin/busybox"), reason="needs busybox-static")]


def bk(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "boxkit", *args], capture_output=True, text=True,
                          input=stdin, timeout=120, env={**os.environ, "BOXKIT_NO_GC": "1"})


def test_build_images_history_df_save_load_rmi(tmp_path):
    (tmp_path / "Boxfile").write_text("FROM busybox\nCOPY f /f\nRUN echo ran > /r\nCMD [\"cat\", \"/r\"]\n")
    (tmp_path / "f").write_text("file\n")
    try:
        r = bk("build", "-t", "bk-cli:1", str(tmp_path))
        assert r.returncode == 0, r.stderr
        assert "Successfully tagged bk-cli:1" in r.stdout
        r = bk("build", "-t", "bk-cli:1", str(tmp_path))
        assert r.stdout.count(" ---> CACHED") == 2
        r = bk("images")
        assert any(line.split()[:2] == ["bk-cli", "1"] for line in r.stdout.splitlines())
        r = bk("history", "bk-cli:1")
        assert r.returncode == 0 and "RUN /bin/sh" not in r.stdout and "RUN echo ran > /r" in r.stdout
        r = bk("system", "df")
        assert r.returncode == 0 and "shared:" in r.stdout
        r = bk("save", "-o", str(tmp_path / "img.tar"), "bk-cli:1")
        assert r.returncode == 0 and os.path.getsize(tmp_path / "img.tar") > 0
        r = bk("rmi", "bk-cli:1")
        assert r.returncode == 0 and "Untagged: bk-cli:1" in r.stdout
        r = bk("load", "-i", str(tmp_path / "img.tar"))
        assert r.returncode == 0 and "Loaded image: bk-cli:1" in r.stdout
        r = bk("run", "--rm", "bk-cli:1")
        assert r.returncode == 0 and r.stdout.strip() == "ran"
    finally:
        bk("rmi", "bk-cli:1")


@pytest.mark.parametrize("args,match", [
    (["rmi", "bk-none:1"], "no such image 'bk-none:1'"),
    (["history", "bk-none:1"], "no such image 'bk-none:1'"),
    (["build", "-t", "x:1", "/nonexistent-ctx"], "no such build context"),
    (["pull", "127.0.0.1:1/x:1"], "cannot reach registry 127.0.0.1:1"),
    (["load", "-i", "/etc/hostname"], "cannot read archive /etc/hostname: not a tar archive"),
])
def test_bad_input_is_one_sentence_and_125(args, match):
    r = bk(*args)
    assert r.returncode == 125
    assert match in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_unknown_instruction_is_125(tmp_path):
    (tmp_path / "Boxfile").write_text("FROM busybox\nFROBNICATE x\n")
    r = bk("build", "-t", "x:1", str(tmp_path))
    assert r.returncode == 125 and "FROBNICATE" in r.stderr
