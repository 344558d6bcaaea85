"""Every option of every verb that takes a value: a bad value that starts with ``-`` is one sentence and
exit 125, as docker's; argparse alone read ``--memory -5M`` as a missing value and exited 2."""

from __future__ import annotations

import argparse

import pytest

from boxkit import cli
from boxkit.cli.arguments import normalize

# positionals that exist nowhere: every verb fails at its first look-up, after its options were read
_DUMMY = {"ref": "127.0.0.1:9/no-such-image:1", "context": "/nonexistent/boxkit-ctx"}


def _valued_options():
    def walk(p, path):
        sub = next((a for a in p._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is not None:
            for name, sp in sub.choices.items():
                yield from walk(sp, path + [name])
            return
        pos = []
        for a in p._actions:
            if not a.option_strings:
                pos.append("true" if a.nargs == argparse.REMAINDER else _DUMMY.get(a.dest, "no-such-thing-zz"))
        for a in p._actions:
            if a.option_strings and a.nargs in (None, 1) and not isinstance(a, argparse._HelpAction):
                req = [w for r in p._actions if r.required and r.option_strings and r is not a
                       for w in (r.option_strings[0], "no-such-thing-zz")]
                for flag in a.option_strings:   # every spelling: -m and --memory
                    yield pytest.param(path, flag, req, pos, id=f"{' '.join(path)} {flag}")
    return list(walk(cli.parser(), []))


OPTIONS = _valued_options()


def test_the_walk_found_the_run_options():
    names = {p.values[1] for p in OPTIONS if p.values[0] == ["run"]}
    assert {"--memory", "-m", "--cpus", "--pids-limit", "-e", "-v", "-p"} <= names, names


@pytest.mark.parametrize("path,flag,req,pos", OPTIONS)
def test_a_value_starting_with_a_dash_is_one_sentence_and_125(path, flag, req, pos, tmp_root, capsys):
    rc = cli.main([*path, *req, flag, "-5M", *pos])
    err = capsys.readouterr().err.strip()
    assert rc == 125, err
    assert err.startswith("boxkit: ") and "\n" not in err, err
    assert "expected one argument" not in err, err


def test_normalize_joins_only_options_that_take_a_value():
    ap = cli.parser()
    assert normalize(ap, ["run", "--memory", "-5M", "-m", "-1", "--rm", "busybox", "true"]) == \
        ["run", "--memory=-5M", "-m-1", "--rm", "busybox", "true"]


def test_normalize_leaves_the_containers_command_alone():
    ap = cli.parser()
    argv = ["run", "-e", "A=1", "busybox", "sh", "-c", "-e", "--memory", "-5M"]
    assert normalize(ap, argv) == argv
    assert normalize(ap, ["run", "busybox", "--", "-m", "-x"]) == ["run", "busybox", "--", "-m", "-x"]


def test_usage_errors_exit_125_with_one_sentence(capsys):
    for argv in (["run"], ["no-such-verb"], ["run", "--no-such-flag", "busybox"], ["stats", "--interval", "x"]):
        assert cli.main(argv) == 125, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("boxkit: invalid use of boxkit") and "\n" not in err, err


def test_the_walk_wrote_nothing_in_the_working_directory(tmp_path, monkeypatch, tmp_root, capsys):
    """A failed verb leaves nothing behind: ``save -o -5M nosuch`` once made a half OCI layout named -5M."""
    monkeypatch.chdir(tmp_path)
    for p in OPTIONS:
        path, flag, req, pos = p.values
        cli.main([*path, *req, flag, "-5M", *pos])
    capsys.readouterr()
    assert sorted(tmp_path.iterdir()) == []


def test_a_verb_module_that_fails_to_import_breaks_the_command_loudly(monkeypatch):
    # verbs were once loaded by importlib with ImportError swallowed: a broken module's verbs vanished
    # from --help and "invalid choice" was all one saw. Now they are plain imports of boxkit.cli.verbs.
    import importlib
    import sys

    import boxkit.cli
    from boxkit.cli import verbs

    monkeypatch.setitem(sys.modules, "boxkit.cli.net", None)   # as if boxkit/cli/net.py failed to import
    monkeypatch.delattr(boxkit.cli, "net")
    try:
        with pytest.raises(ImportError, match="boxkit.cli.net"):
            importlib.reload(verbs)
    finally:
        monkeypatch.undo()
        importlib.reload(verbs)


def test_every_verb_module_registers_its_verbs():
    verbs = next(a for a in cli.parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name in ("run", "exec", "ps", "probe", "build", "network", "stats"):   # one per module at least
        assert name in verbs, sorted(verbs)
