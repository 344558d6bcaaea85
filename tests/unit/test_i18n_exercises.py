"""Notebooks 01-06's exercises in Brazilian Portuguese and in English: the pure ``judge_*`` functions fed
made-up measurements, the answers of the wrong shape, the "✎ your turn" line, the recorded-mode
sentences and the reference solutions come out whole in pt_BR (no English sentence left, every field
filled, singular and plural where the count asks) and byte for byte unchanged in English; a hint never
names the measured answer in either language. Needs the compiled catalogue (``python -m tools.i18n
package compile``)."""

from __future__ import annotations

import re

import pytest

from boxkit import course, i18n
from boxkit import exercise_runs as runs
from boxkit import exercises as ex

MINE = ("boxkit/exercises.py", "boxkit/exercise_runs.py")

CHARGED = {"heap": {"oom_killed": True, "exit_code": 137, "peak": 48 << 20},
           "file": {"oom_killed": False, "exit_code": 0, "peak": 47 << 20},
           "shm": {"oom_killed": True, "exit_code": 137, "peak": 48 << 20}}
FOUND = {"bin/ls": "whiteout", "etc/passwd": "copy-up", "tmp/note": "new"}
ROOT = {a: i % 2 == 0 for i, a in enumerate(ex.ROOT_ACTIONS)}

# words of the English sentences that must not survive in a Portuguese one (the learner's keys — the
# actions' names, "finishes"/"killed", the upper dir's kinds — stay English: they are left out first)
ENGLISH = re.compile(r"\b(the|you|your|of|is|are|and|what|which|predict\w*|right|not yet|turn|give|"
                     r"recording|recorded|path|paths|orders?|shop|answers|differ\w*|match\w*)\b")
KEYS = (*ex.ROOT_ACTIONS, "finishes", "killed", "whiteout", "copy-up", "opaque", "host@bridge",
        "host@exercise", "boxkit.run", "CapEff", "/proc/self/status", "/proc/PID/ns", "ip_forward")


@pytest.fixture
def pt():
    i18n.set_language("pt_BR")
    yield
    i18n.set_language("en")


def _portuguese(text: str) -> str:
    rest = str(text)
    for key in sorted(KEYS, key=len, reverse=True):
        rest = rest.replace(key, "<key>")
    left = ENGLISH.findall(rest)
    assert not left, (left, text)
    assert "{" not in rest and "}" not in rest, text   # every field filled
    return str(text)


# --- every message of these modules is in the catalogue --------------------------------------------

def test_every_message_is_translated_with_its_fields(pt):
    from tools.i18n import package

    mine = [m for m in package.template() if m.id and any(loc[0] in MINE for loc in m.locations)]
    assert len(mine) > 60
    for m in mine:
        if isinstance(m.id, tuple):
            forms = [i18n.ngettext(m.id[0], m.id[1], n) for n in (1, 2)]
        else:
            forms = [i18n._(m.id)]
        english = m.id if isinstance(m.id, tuple) else (m.id,)
        for form in forms:
            assert form not in english, f"untranslated: {m.id!r}"
            assert sorted(package.FIELD.findall(form)) == sorted(package.FIELD.findall(english[0])), m.id


# --- the verdict line and the turn line ----------------------------------------------------------

def test_labels_and_your_turn(pt, capsys):
    assert str(ex.Verdict(True, "x")) == "✓ certo: x"
    assert str(ex.Verdict(False, "x")) == "✗ ainda não: x"
    assert ex.namespaces(..., {"mnt"}) is None and ex.memory_charge({"heap": ...}) is None
    out = capsys.readouterr().out.splitlines()
    assert out == ["✎ sua vez: substitua cada ... na célula acima pela sua previsão e execute esta célula de novo"] * 2


def test_labels_and_your_turn_in_english(capsys):
    assert str(ex.Verdict(True, "x")) == "✓ right: x" and str(ex.Verdict(False, "x")) == "✗ not yet: x"
    ex._your_turn()
    assert capsys.readouterr().out == ("✎ your turn: replace each ... in the cell above with your prediction, "
                                       "then run this cell again\n")


# --- 01 ---------------------------------------------------------------------------------------------

def test_namespaces_in_portuguese(pt):
    v = ex.judge_namespaces({"mnt", "uts", "net"}, {"mnt", "uts", "net"}, True, True)
    assert v.ok and _portuguese(v.why).endswith("difere do host exatamente em mnt, net, uts")
    assert "namespace de PID" in _portuguese(ex.judge_namespaces({"mnt"}, {"mnt"}, False, True).why)
    assert "namespace UTS" in _portuguese(ex.judge_namespaces({"mnt"}, {"mnt"}, True, False).why)
    # one link missed, which boxkit added: singular, and the question; never which link
    v = ex.judge_namespaces({"mnt", "uts", "net"}, {"mnt", "uts"}, True, True)
    assert not v.ok and _portuguese(v.why).startswith("o contêiner funciona, mas /proc/PID/ns difere da sua previsão: 1 link que você previu")
    assert "é próprio do contêiner — o boxkit.run acrescenta um namespace que você não pediu" in v.why
    assert "net" not in v.why.replace("namespace", "")
    # two links predicted its own that are the host's: plural, no question about boxkit.run
    v = ex.judge_namespaces({"mnt", "uts"}, {"mnt", "uts", "ipc", "net"}, True, True)
    assert "2 links que você previu como próprios do contêiner são os do host" in _portuguese(v.why)
    assert "ipc" not in v.why and "boxkit.run" not in v.why
    # both at once: two whole clauses
    v = ex.judge_namespaces({"mnt", "uts", "net"}, {"mnt", "ipc"}, True, True)
    assert "2 links que você previu como compartilhados" in _portuguese(v.why) and "; 1 link" in v.why
    with pytest.raises(ValueError, match="namespace desconhecido 'bogus': /proc/PID/ns tem mnt"):
        ex.proc_names(["bogus"])


def test_namespaces_in_english():
    v = ex.judge_namespaces({"mnt", "uts", "net"}, {"mnt", "ipc"}, True, True)
    assert v.why == ("the container works, but /proc/PID/ns differs from your prediction: 2 link(s) you "
                     "predicted shared are the container's own — boxkit.run adds a namespace you did not ask "
                     "for: which one, and why?; 1 link(s) you predicted its own are the host's: a namespace "
                     "is new only when the clone asks for it")
    v = ex.judge_namespaces({"mnt", "uts", "pid"}, {"mnt"}, True, True)
    assert v.why.endswith("2 link(s) you predicted shared are the container's own")


# --- 02 ---------------------------------------------------------------------------------------------

def test_memory_in_portuguese(pt, monkeypatch, capsys):
    v = ex.judge_memory_charge(ex.SOLUTIONS["memory"][0]["predicted"], CHARGED)
    assert v.ok and "(heap 48 MiB, file 47 MiB, shm 48 MiB)" in _portuguese(v.why)
    v = ex.judge_memory_charge({"heap": "finishes", "file": "finishes", "shm": "killed"}, CHARGED)
    assert _portuguese(v.why).startswith("1 de 3 previsões não bate com o que o kernel fez.")
    v = ex.judge_memory_charge({"heap": "finishes", "file": "killed", "shm": "killed"}, CHARGED)
    assert _portuguese(v.why).startswith("2 de 3 previsões não batem")
    assert "\"file\"" not in v.why and "shm" not in v.why          # why, never which
    assert _portuguese(ex.judge_memory_charge({"heap": "killed", "file": "finishes"}, CHARGED).why) == \
        "preveja todos os programas: falta shm"
    assert ex.judge_memory_charge({"heap": "killed"}, CHARGED).why == "preveja todos os programas: faltam file, shm"
    assert _portuguese(ex.judge_memory_charge({"heap": "gone", "file": "finishes", "shm": "killed"}, CHARGED).why) \
        == 'preveja "finishes" ou "killed" para cada programa, não \'gone\''
    assert ex.judge_memory_charge({"stack": "killed"}, CHARGED).why == "'stack': os programas são heap, file, shm"
    monkeypatch.setattr(ex.runs, "measure_memory_charge", lambda memory=ex.CHARGE_LIMIT: CHARGED)
    assert ex.memory_charge(ex.SOLUTIONS["memory"][0]["predicted"]).ok
    assert ex.memory_charge([]) is not None
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("✓ certo: os três foram cobrados até o limite")
    assert out[1] == '✗ ainda não: passe um dict: programa → "finishes" ou "killed"'


def test_memory_in_english():
    v = ex.judge_memory_charge({"heap": "finishes", "file": "finishes", "shm": "killed"}, CHARGED)
    assert v.why.startswith("1 of 3 predictions differ from what the kernel did. Every page a program brings")
    assert ex.judge_memory_charge({"heap": "killed"}, CHARGED).why == "predict every program: file, shm is left"


# --- 03 ---------------------------------------------------------------------------------------------

def test_upper_in_portuguese(pt):
    v = ex.judge_upper(FOUND, dict(FOUND))
    assert v.ok and _portuguese(v.why) == ("o diretório upper contém exatamente bin/ls (whiteout), "
                                           "etc/passwd (copy-up), tmp/note (new)")
    v = ex.judge_upper(FOUND, {"bin/ls": "new", "etc/passwd": "copy-up", "tmp/other": "new"})
    assert not v.ok and _portuguese(v.why) == (
        "bin/ls: uma entrada nova é uma que a imagem nunca teve — foi isso que o comando fez com ele?; "
        "há mais 1 caminho no diretório upper: toda mudança vai parar lá, tanto um arquivo da imagem "
        "modificado ou apagado quanto um novo; tmp/other não está entre o que o comando mudou: o comando "
        "escreve, apaga ou cria esse caminho?")
    assert "whiteout" not in v.why and "tmp/note" not in v.why    # never the measured kinds or paths
    v = ex.judge_upper(FOUND, {"bin/ls": "opaque", "etc/passwd": "whiteout"})
    assert "bin/ls: um diretório opaco é um diretório da imagem" in _portuguese(v.why)
    assert "etc/passwd: um whiteout marca um arquivo da imagem que o comando apagou" in v.why
    assert "há mais 1 caminho" in v.why
    assert "há mais 2 caminhos" in ex.judge_upper(FOUND, {"bin/ls": "whiteout"}).why
    assert _portuguese(ex.judge_upper(FOUND, {"bin/ls": "deleted"}).why) == \
        "'deleted' não está entre whiteout, copy-up, new, opaque"
    assert ex._upper_failed({"failed": "x", "exit_code": 1, "said": "rm: can't remove 'x'"}) == \
        "o comando falhou no contêiner (código de saída 1): rm: can't remove 'x'"
    assert ex._upper_failed({"failed": "x", "exit_code": 2, "said": ""}) == "o comando falhou no contêiner (código de saída 2)"


def test_upper_in_english():
    v = ex.judge_upper(FOUND, {"bin/ls": "copy-up", "x": "opaque"})
    assert v.why == ("bin/ls: a copy-up is an image file the command changed (copied up whole first) — is "
                     "that what the command did to it?; 2 more path(s) are in the upper dir: every change "
                     "lands there, a changed or deleted image file as much as a new one; x is not among what "
                     "the command changed: does the command write, delete or make it?")
    assert ex._upper_failed({"failed": "the command failed in the container (exit 1): no", "exit_code": 1,
                             "said": "no"}) == "the command failed in the container (exit 1): no"
    assert ex._upper_failed({"failed": "kept as recorded"}) == "kept as recorded"


# --- 04 ---------------------------------------------------------------------------------------------

def test_reachability_in_portuguese(pt, capsys):
    measured = {("a", "b"): True, ("a", "c"): False}
    v = ex.judge_reachability(dict(measured), measured)
    assert v.ok and _portuguese(v.why) == "todas as 2 previsões batem com o que o ping mediu: a → b responde; a → c não responde"
    v = ex.judge_reachability({("a", "b"): True, ("a", "c"): True}, measured)
    assert not v.ok and _portuguese(v.why).startswith("1 de 2 previsões não bate com o que o ping mediu. Pense de novo: ")
    assert "ip_forward" in v.why and "a → c" not in v.why and "não responde" not in v.why
    for pair in ex.ALL_PAIRS:
        why = _portuguese(ex._pair_reason(pair))
        assert "responde" not in why and "alcança" not in why, pair      # a reason, never an outcome
    with pytest.raises(ValueError, match="passe pares"):
        ex.parse_pairs({"a -> a": True})
    with pytest.raises(ValueError, match=r"preveja True \(responde\) ou False"):
        ex.parse_pairs({"a -> b": 1})
    ex.reachability([1])
    assert capsys.readouterr().out == "✗ ainda não: passe um dict: (origem, destino) → True ou False\n"


def test_reachability_in_english():
    measured = {("a", "b"): True, ("a", "c"): False}
    assert ex.judge_reachability(dict(measured), measured).why == \
        "all 2 predictions match what ping measured: a → b answers; a → c does not answer"
    assert ex.judge_reachability({("a", "b"): False, ("a", "c"): True}, measured).why.startswith(
        "2 of 2 predictions differ from what ping measured. Think again about: a bridge passes frames")


# --- 05 ---------------------------------------------------------------------------------------------

def test_shop_in_portuguese(pt, capsys):
    assert _portuguese(ex.judge_shop(640, 650, True, False, "30M").why) == (
        "o OOM killer (código de saída 137) encerrou a loja depois de 650 pedidos sob 30M, dentro da margem "
        "de 20% em torno dos 640 que você previu")
    v = ex.judge_shop(1000, 650, True, False, "30M")
    assert not v.ok and "1000 pedidos sob o limite de 30M ficam fora da margem de 20%: são pedidos demais" in _portuguese(v.why)
    assert "650" not in v.why
    v = ex.judge_shop(100, 650, True, False, "30M")
    assert "pedidos de menos" in _portuguese(v.why) and "650" not in v.why
    assert "sobreviveu a todos os pedidos" in _portuguese(ex.judge_shop(640, 1380, False, True, "1G").why)
    assert "antes do primeiro pedido" in _portuguese(ex.judge_shop(640, 0, True, False, "8M").why)
    assert _portuguese(ex.judge_shop(640, 10, False, False, "30M").why) == "a loja parou, mas não pelo OOM killer"
    ex.shop_orders("30M", "many")
    assert capsys.readouterr().out == "✗ ainda não: preveja um número inteiro de pedidos, como 500\n"


def test_shop_in_english():
    assert ex.judge_shop(640, 650, True, False, "30M").why == (
        "the OOM killer (exit 137) ended the shop after 650 orders under 30M, within 20% of the 640 you predicted")
    assert ex.judge_shop(100, 650, True, False, "30M").why == (
        "not within 20% of 100 orders under 30M: too few: each order keeps 32 KiB, and little else grows per order")


# --- 06 ---------------------------------------------------------------------------------------------

def test_root_can_in_portuguese(pt):
    v = ex.judge_root_can(dict(ROOT), ROOT)
    assert v.ok and _portuguese(v.why).startswith("todas as 8 previsões estão certas: o root em um contêiner "
                                                  "padrão conseguiu fazer isto: chown a file, ptrace a sibling process")
    wrong = dict(ROOT, **{"set the clock": not ROOT["set the clock"]})
    v = ex.judge_root_can(wrong, ROOT)
    assert not v.ok and _portuguese(v.why).startswith("você acertou 7 de 8 previsões") and "set the clock" not in v.why
    assert _portuguese(ex.judge_root_can({"fly": True}, ROOT).why).startswith("não é uma ação deste exercício: fly (as ações: ")
    v = ex.judge_root_can({"chown a file": True}, ROOT)
    assert _portuguese(v.why).startswith("preveja True ou False para cada ação; ainda falta: listen on port 80; ")


def test_root_can_in_english():
    wrong = {a: not v for a, v in ROOT.items()}
    assert ex.judge_root_can(wrong, ROOT).why.startswith("0 of 8 predictions match what root in a default container")
    assert ex.judge_root_can(dict(ROOT), ROOT).why.endswith("and nothing else of the list")


# --- recorded mode, the solutions, what exercise_runs says ------------------------------------------

def test_recorded_mode_sentences(pt, monkeypatch):
    monkeypatch.setattr(course, "recorded_on", lambda: "linux 6.18-test, 2026-12-03")
    v = ex._from_recording(ex.judge_shop(640, 650, True, False, "30M"))
    assert _portuguese(v.why).endswith("(julgado com base em uma execução gravada em linux 6.18-test, 2026-12-03: "
                                       "este host não consegue medir isso)")
    v = ex._not_recorded(i18n._("the limit {memory}").format(memory="40M"))
    assert _portuguese(str(v)).startswith("✗ ainda não: a gravação não tem medição para o limite 40M, e este host")


def test_recorded_mode_sentences_in_english(monkeypatch):
    monkeypatch.setattr(course, "recorded_on", lambda: "linux 6.18-test, 2026-12-03")
    assert ex._from_recording(ex.Verdict(True, "w")).why == \
        "w (judged against a run recorded on linux 6.18-test, 2026-12-03: this host cannot measure it)"
    assert ex._not_recorded("the three programs").why == (
        "the recording has no measurement for the three programs, and this host cannot measure it: keep the "
        "exercise's own setting, or run the course where it runs live")


@pytest.mark.parametrize("name", sorted(ex.SOLUTIONS))
def test_solutions_in_portuguese(pt, capsys, name):
    answer = ex.solution(name)
    assert answer == ex.SOLUTIONS[name][0]            # the answer itself: the learner's keys, unchanged
    why = capsys.readouterr().out.splitlines()[-1]
    assert why != ex.SOLUTIONS[name][1] and _portuguese(why)
    digits = re.findall(r"\d+", ex.SOLUTIONS[name][1])
    assert sorted(re.findall(r"\d+", why)) == sorted(digits)   # every number of the English kept


def test_solutions_in_english(capsys):
    ex.solution("shop")
    assert capsys.readouterr().out.splitlines()[-1] == ex.SOLUTIONS["shop"][1]
    with pytest.raises(ValueError, match="no exercise 'x': the exercises are namespaces, memory"):
        ex.solution("x")


def test_solution_unknown_in_portuguese(pt):
    with pytest.raises(ValueError, match="não há exercício 'x': os exercícios são namespaces, memory"):
        ex.solution("x")


def test_attempt_exit_status(pt, monkeypatch):
    class R:
        exit_code, stdout, stderr = 1, "", ""

    monkeypatch.setattr(runs, "run", lambda image, cmd, **kw: R())
    assert runs.attempt("x") == (False, "código de saída 1")
    i18n.set_language("en")
    assert runs.attempt("x") == (False, "exit status 1")
