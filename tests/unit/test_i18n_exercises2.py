"""Chapters 07-09's exercises and notebook 08's container by hand, in Brazilian Portuguese and in English:
the judges' verdicts, the answers of the wrong shape, the solutions' reasoning, what a step changed
(``byhand.Change``), the headers of ``byhand.source`` and the errors of ``byhand.check_step`` come out
whole in pt_BR (no English sentence left, every field filled) and unchanged in English. Needs the
compiled catalogue (``python -m tools.i18n package compile``)."""

from __future__ import annotations

import os

import pytest

from boxkit import byhand, i18n
from boxkit import exercises_byhand as xb
from boxkit import exercises_oci as xo
from boxkit import exercises_pid1 as xp
from boxkit.errors import SpecError

MINE = ("boxkit/exercises_byhand.py", "boxkit/exercises_oci.py", "boxkit/exercises_pid1.py", "boxkit/byhand.py")

BYHAND = {"caps moved before pivot_root": {"fails": "pivot_root", "errno": "EPERM"},
          "detach moved before pivot_root": {"fails": "detach", "errno": "ENOENT"},
          "detach left out": {"fails": None, "errno": None, "exit": 0},
          "caps moved before hostname": {"fails": "hostname", "errno": "EPERM"}}
SYS_ADMIN = 'add "CAP_SYS_ADMIN" to process.capabilities'
OCI = {"write a file in /": False, "mount a tmpfs on /tmp": True, "change the hostname": True,
       "listen on port 80": True}
PID1 = {n: {"ended_by": s, "exit_code": 137 if s == "SIGKILL" else 143} for n, s in xp.SOLUTION.items()}

# words of the English sentences that must not survive in a Portuguese one (names of recipes, cases,
# actions and edits are the learner's keys and stay English: they are left out of what is checked)
ENGLISH = ("predictions", " of 4 ", " of 5 ", "differ from", "match what", "you predicted", "for each",
           "give a dict", "predict ", " is left", "not yet:", " is not ", "ended by", "fails with",
           "every step", "the shell could", "refused", "none of them", "the step is right", "the recipes",
           "there is no such", "it needs", "call box", "without a", "the box", "new namespaces",
           "mount table", "shared mounts", "mounted:", "unmounted", "lines", "# the ")


@pytest.fixture
def pt():
    i18n.set_language("pt_BR")
    yield
    i18n.set_language("en")


def _keys_out(text: str, keys) -> str:
    """``text`` without the learner's keys (English by design), so what is left is the sentence."""
    for name in sorted(keys, key=len, reverse=True):
        text = text.replace(name, "<key>")
    return text


def _portuguese(text: str, keys=(*xb.RECIPES, *xo.ACTIONS, *xo.EDITS)) -> str:
    rest = _keys_out(text, keys)
    left = [w for w in ENGLISH if w in rest]
    assert not left, (left, text)
    assert "{" not in rest and "}" not in rest, text   # every field filled
    return rest


def test_every_message_of_these_modules_has_a_portuguese_translation(pt):
    from tools.i18n import package

    catalog = i18n._state["catalog"]
    missing = []
    for m in package.template(package.REPO):
        if not m.id or not any(os.path.normpath(loc[0]) in MINE for loc in m.locations):
            continue
        if isinstance(m.id, tuple):
            said = {catalog.ngettext(m.id[0], m.id[1], n) for n in (1, 2)}
            if said & set(m.id):
                missing.append(m.id[0])
        elif catalog.gettext(m.id) == m.id:
            missing.append(m.id)
    assert not missing, missing


def test_byhand_verdicts_in_portuguese(pt):
    right = xb.judge(xb.parse(xb.ANSWER), BYHAND)
    assert right.ok
    rest = _portuguese(right.why)
    assert rest.startswith("cada uma das 4 receitas fez o que você previu: ")
    assert "<key>: pivot_root falha com EPERM" in rest and "todos os passos passam e o comando roda" in rest
    one = xb.judge(xb.parse({**xb.ANSWER, "detach moved before pivot_root": ("detach", "EINVAL")}), BYHAND)
    assert _portuguese(one.why).startswith("1 de 4 previsões difere do que o kernel fez: em 1 delas, o passo "
                                           "está certo e o errno não (EPERM: ")
    two = xb.judge(xb.parse({**xb.ANSWER, "detach left out": ("exec", "ENOENT"),
                             "caps moved before pivot_root": ("detach", "EINVAL")}), BYHAND)
    assert _portuguese(two.why).startswith("2 de 4 previsões diferem do que o kernel fez: em 2 delas, outro passo")


@pytest.mark.parametrize("bad, says", [
    ("pivot_root EPERM", 'dê um dict: receita → ("step", "ERRNO") ou None'),
    ({"bogus": None}, "'bogus': as receitas são "),
    ({"detach left out": None}, "preveja todas as receitas; falta: "),
    ({**xb.ANSWER, "detach left out": "pivot_root"}, "'<key>': dê (\"step\", \"ERRNO\"), como"),
    ({**xb.ANSWER, "detach left out": ("teleport", "EPERM")}, "'<key>': 'teleport' não é um passo; os passos são"),
    ({**xb.ANSWER, "detach left out": ("detach", "EWHAT")}, "'<key>': 'EWHAT' não é o nome de um errno"),
])
def test_byhand_answers_of_the_wrong_shape_in_portuguese(pt, bad, says):
    with pytest.raises(ValueError) as e:
        xb.parse(bad)
    assert says in _portuguese(str(e.value))


def test_oci_verdicts_in_portuguese(pt):
    right = xo.judge(SYS_ADMIN, OCI, OCI)
    assert _portuguese(right.why) == ("depois de <key>, o shell conseguiu: <key>, <key>, <key>; "
                                      "não conseguiu: <key>")
    every = {a: True for a in OCI}
    assert _portuguese(xo.judge(SYS_ADMIN, every, every).why).endswith("não conseguiu: nenhuma delas")
    wrong = xo.judge(SYS_ADMIN, {a: not v for a, v in OCI.items()}, OCI)
    assert not wrong.ok and _portuguese(wrong.why).startswith("0 de 4 previsões confere com o que o shell do contêiner")
    assert "seccomp" in wrong.why and "execve" in wrong.why
    assert _portuguese(xo.answer_problem({}, SYS_ADMIN)).startswith("preveja True ou False para cada ação")
    assert _portuguese(xo.answer_problem(OCI, "bogus")).startswith("'bogus' não é uma das edições; escolha")
    assert _portuguese(xo.answer_problem([], SYS_ADMIN)).startswith("dê um dict: ação → True")
    assert _portuguese(xo.answer_problem({"fly": True}, SYS_ADMIN)).startswith("não é uma ação deste exercício")


def test_pid1_verdicts_in_portuguese(pt):
    right = xp.judge(xp.SOLUTION, PID1)
    assert _portuguese(right.why, xp.CASES).startswith("todos os casos como você previu: <key> encerrado por SIGKILL (saída 137)")
    wrong = xp.judge({**xp.SOLUTION, "shell": "SIGTERM"}, PID1)
    assert _portuguese(wrong.why).startswith("4 de 5 previsões conferem com o que o stop() mediu. Para cada caso")
    assert _portuguese(xp.answer_problem({"shell": "SIGINT"})) == "preveja \"SIGTERM\" ou \"SIGKILL\" para cada caso, não 'SIGINT'"
    assert _portuguese(xp.answer_problem({"shell": "SIGTERM"}), xp.CASES).startswith("preveja todos os casos; faltam: ")
    assert _portuguese(xp.answer_problem("x")) == 'dê um dict: caso → "SIGTERM" ou "SIGKILL"'


@pytest.mark.parametrize("module", [xb, xo, xp])
def test_the_solutions_explain_in_portuguese(pt, module, capsys):
    module.solution()
    why = capsys.readouterr().out.splitlines()[-1]
    assert len(why) > 300 and "{" not in why
    assert any(w in why for w in (" não ", " é ", " que ")) and "which is why" not in why and " the " not in why


def _change():
    before = {"pid": 40, "ls": ["bin"], "ns": {"mount": "a"},
              "mounts": [{"point": "/", "fstype": "ext4", "shared": "1"}]}
    after = {"pid": 1, "ls": ["etc"], "ns": {"mount": "b"},
             "mounts": [{"point": "/", "fstype": "ext4", "shared": None}]
             + [{"point": f"/m{i}", "fstype": "tmpfs", "shared": None} for i in range(6)]}
    return byhand.Change.of("overlay", before, after), byhand.Change.of("detach", after, before)


def test_what_a_step_changed_in_portuguese(pt):
    made, undone = _change()
    assert str(made).splitlines() == [
        "overlay:", "  pid: 40 -> 1", "  namespaces novos: mount", "  tabela de montagens: 1 -> 7 linhas",
        "  montagens compartilhadas: 1 -> 0", "  montado: /m0 (tmpfs), /m1 (tmpfs), /m2 (tmpfs), /m3 (tmpfs) e mais 2",
        "  ls /: etc"]
    assert "  desmontado: 6 montagens" in str(undone).splitlines()
    _portuguese(str(made).replace("ls /:", "").replace("pid:", ""))


def test_what_a_step_changed_in_english():
    made, undone = _change()
    assert str(made).splitlines() == [
        "overlay:", "  pid: 40 -> 1", "  new namespaces: mount", "  mount table: 1 -> 7 lines",
        "  shared mounts: 1 -> 0", "  mounted: /m0 (tmpfs), /m1 (tmpfs), /m2 (tmpfs), /m3 (tmpfs) and 2 more",
        "  ls /: etc"]
    assert "  unmounted: 6 mounts" in str(undone).splitlines()


def test_the_code_of_a_step_is_headed_in_portuguese(pt):
    code = byhand.source("uid_map")
    assert code.startswith("# o processo do notebook, no host:\ndef _uid_map(")
    assert "\n# o auxiliar, nos namespaces dele:\ndef _become_root(" in code


def test_the_code_of_a_step_is_headed_in_english():
    code = byhand.source("uid_map")
    assert code.startswith("# the notebook's process, on the host:\ndef _uid_map(")
    assert "\n# the helper, in its namespaces:\ndef _become_root(" in code


STEP_ERRORS = [
    (([], [], "detach"), "it needs pivot_root first — call box.step('pivot_root') before it",
     "ele precisa de pivot_root antes — chame box.step('pivot_root') primeiro"),
    ((["unshare"], ["mount"], "hostname", "x"), "without a UTS namespace it would rename the host — unshare 'uts' first",
     "sem um namespace UTS ele renomearia o host — faça unshare de 'uts' primeiro"),
    (([], [], "teleport"), "there is no such step — the steps are " + ", ".join(byhand.STEPS),
     "esse passo não existe — os passos são " + ", ".join(byhand.STEPS)),
    ((["unshare", "detach"], ["mount"], "private"), "it comes before detach, which was done already — the order is "
     + " -> ".join(byhand.STEPS), "ele vem antes de detach, que já foi feito — a ordem é " + " -> ".join(byhand.STEPS)),
    (([], [], "cgroup", 5), "give the limit in bytes, at least 1 MiB, like 64 << 20",
     "dê o limite em bytes, no mínimo 1 MiB, como 64 << 20"),
]


@pytest.mark.parametrize("args, english, portuguese", STEP_ERRORS)
def test_a_step_refused_is_said_in_english_and_in_portuguese(args, english, portuguese):
    with pytest.raises(SpecError) as e:
        byhand.check_step(*args)
    assert str(e.value).endswith(": " + english)
    i18n.set_language("pt_BR")
    try:
        assert str(e.value).endswith(": " + portuguese)   # translated when it is printed
    finally:
        i18n.set_language("en")


def test_the_english_verdicts_are_unchanged():
    assert xb.judge(xb.parse(xb.ANSWER), BYHAND).why == (
        "each of the 4 recipes did as you predicted: caps moved before pivot_root: pivot_root fails with EPERM; "
        "detach moved before pivot_root: detach fails with ENOENT; detach left out: every step passes and the "
        "command runs; caps moved before hostname: hostname fails with EPERM")
    assert xb.judge(xb.parse({**xb.ANSWER, "detach moved before pivot_root": ("detach", "EINVAL")}), BYHAND).why == (
        "1 of 4 predictions differ from what the kernel did: for 1, the step is right and the errno is not "
        "(EPERM: the caller lacks a privilege the call needs; EINVAL: the call refuses an argument or a state; "
        "ENOENT: a path is not there; EBUSY: something is in use)")
    assert xo.judge(SYS_ADMIN, OCI, OCI).why == (
        f"after {SYS_ADMIN}, the shell could: mount a tmpfs on /tmp, change the hostname, listen on port 80; "
        "it was refused: write a file in /")
    every = {a: True for a in OCI}
    assert xo.judge(SYS_ADMIN, every, every).why.endswith("it was refused: none of them")
    assert xp.judge({**xp.SOLUTION, "shell": "SIGTERM"}, PID1).why.startswith(
        "4 of 5 predictions match what stop() measured. For each case ask: which process does the SIGTERM reach")
    assert xp.judge(xp.SOLUTION, PID1).why.startswith("every case as you predicted: shell ended by SIGKILL (exit 137); ")
    assert xp.answer_problem({"shell": "SIGTERM"}).startswith("predict every case: shell with a trap, ")
    assert xp.answer_problem({"shell": "SIGTERM"}).endswith(" is left")
