"""The figures and widgets speak the notebook's language: every figure of boxkit.viz is built from made-up
data in English and in Brazilian Portuguese, and the texts of its matplotlib artists (titles, axis labels,
tick labels, legends, annotations) are compared. In English they are the English the figures always said;
in pt_BR they are Portuguese, with the measured values (numbers, units, kernel names, addresses) kept as
they are, and no English sentence is left: a text the two languages share must be a value, a kernel name
or a unit. Needs the compiled catalogue (``python -m tools.i18n package compile``)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import matplotlib
import pytest

matplotlib.use("Agg")

from boxkit import i18n, sharing  # noqa: E402
from boxkit.cgroups.sampler import Series  # noqa: E402
from boxkit.viz import (  # noqa: E402
    capstone,
    cgroups,
    explorer,
    layers,
    mounts,
    namespaces,
    overlay,
    security,
    shared,
    topology,
)

MiB = 1 << 20


@pytest.fixture(params=["en", "pt_BR"])
def lang(request):
    i18n.set_language(request.param)
    yield request.param
    i18n.set_language("en")


def in_language(lang_name: str, build):
    """``build()`` with ``lang_name`` current; English again afterwards."""
    i18n.set_language(lang_name)
    try:
        return build()
    finally:
        i18n.set_language("en")


def texts(fig) -> list[str]:
    """Every text a reader sees on ``fig``: suptitle, titles, axis and tick labels, legends, annotations."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()   # tick labels of a categorical axis exist once drawn
    out = [fig.get_suptitle()]
    for ax in fig.axes:
        out += [ax.get_title(loc) for loc in ("left", "center", "right")]
        out += [ax.get_xlabel(), ax.get_ylabel()]
        out += [t.get_text() for t in (*ax.get_xticklabels(), *ax.get_yticklabels())]
        out += [t.get_text() for t in ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            out += [t.get_text() for t in legend.get_texts()]
    return [t for t in out if t]


# a text both languages share is a value: digits, units, kernel names, paths, addresses, program output
WORDS = re.compile(r"[A-Za-z]{3,}")
KEPT = {"MiB", "CPU", "SIGTERM", "SIGKILL", "sha", "net", "pid", "lo", "eth", "veth", "pids", "current", "max",
        "memory", "high", "shares", "cpu", "COPY", "app", "deps", "dep", "busybox", "host", "demo", "proc", "data",
        "shared", "master", "private", "etc", "config", "docs", "txt", "new", "uid", "gid", "bkvaaa", "bkvbbb",
        "bridge", "DOWN", "tcp", "dnat", "DNAT", "fib", "daddr", "type", "local", "meta", "proto", "dport", "map",
        "ports", "web", "client", "systemd", "python", "boxkit", "init", "sleep", "user", "seccomp", "capabilities",
        "unconfined", "mount", "sbin", "bin", "prog", "ldd", "libc", "libm", "libssl", "libcrypto", "ext",
        "lib", "opt", "usr", "add", "ALL", "Operation", "permitted", "only", "file", "system", "Read", "sys",
        "kernel", "bash", "sshd", "ping", "bytes", "the", "via", "nobody", "PSI", "some", "avg", "ms",
        "whiteout", "opaque", "upper", "lower", "merged", "work", "old", "copy", "KiB", "GiB", "privileged",
        "default", "devices", "mknod", "null", "sda", "stat", "echo", "chmod", "reboot", "docker", "run",
        "OOM", "kill", "base", "xattr", "char", "dev", "mathdefault", "kcore", "cat", "EPERM", "added",
        "tini", "alone", "box"}
# what the made-up data says (a probe's own message, a caller's label): not the figure's words
DATA = {"Operation not permitted", "empty", "still EPERM", "sleep as PID 1"}


def english_left(en: list[str], pt: list[str]) -> list[str]:
    """The texts the Portuguese figure still says in English: shared by both and made of words that are
    not values, units or kernel names."""
    same = set(en) & set(pt)
    return sorted(t for t in same - DATA if set(WORDS.findall(t)) - KEPT)


def both(build) -> tuple[list[str], list[str]]:
    return texts(in_language("en", build)), texts(in_language("pt_BR", build))


def check(build, english: list[str], portuguese: list[str]) -> None:
    en, pt = both(build)
    for said in english:
        assert said in en, (said, en)
        assert said not in pt or said in portuguese, (said, pt)
    for said in portuguese:
        assert said in pt, (said, pt)
    assert english_left(en, pt) == []


# --- cgroups and the capstone ----------------------------------------------------------------------


def memory_series(recorded=False) -> Series:
    return Series(t=[0.0, 0.5, 1.0, 1.5], memory_current=[10 * MiB, 200 * MiB, 499 * MiB, 5 * MiB],
                  cpu_usage_usec=[0, 250_000, 500_000, 750_000], throttled_usec=[0, 1000, 3000, 6000],
                  pids_current=[1, 20, 20, 20], oom_kills=[0, 0, 0, 1], memory_limit=500 * MiB, cpu_limit=0.5,
                  pids_max=20, recorded=recorded)


def test_the_capstone_figure(lang):
    check(lambda: capstone.usage_figure(memory_series(recorded=True)),
          ["container usage (RECORDED)", "memory in use", "limit 500 MiB", "seconds since sampling began",
           "memory", "CPU used (cores)", "quota 0.5 cores", "cores", "MiB", "CPU"],
          ["uso do contêiner (GRAVADO)", "memória em uso", "limite 500 MiB", "segundos desde o início da amostragem",
           "memória", "CPU usada (núcleos)", "cota de 0.5 núcleos", "núcleos", "MiB", "CPU"])


def test_the_memory_figure_marks_the_kill():
    check(lambda: cgroups.memory_figure(memory_series(), SimpleNamespace(oom_killed=True)),
          ["memory against its limit", "memory in use", "limit 500 MiB", "the kill falls in this sample interval",
           "OOM kill (SIGKILL, exit 137)", "seconds"],
          ["a memória diante do seu limite", "memória em uso", "limite 500 MiB",
           "a morte acontece neste intervalo entre amostras", "OOM kill (SIGKILL, código de saída 137)", "segundos"])


def test_the_cpu_pids_and_memory_high_figures():
    check(lambda: cgroups.cpu_figure(memory_series(recorded=True)),
          ["CPU against its quota (RECORDED)", "CPU used (cores)", "quota 0.5 cores", "throttled (ms per sample)",
           "ms throttled per sample", "cores", "seconds"],
          ["a CPU diante da sua cota (GRAVADO)", "CPU usada (núcleos)", "cota de 0.5 núcleos",
           "limitado (ms por amostra)", "ms limitado por amostra", "núcleos", "segundos"])
    check(lambda: cgroups.pids_figure(memory_series()),
          ["a fork bomb against pids.max", "pids.current", "pids.max 20", "processes in the container"],
          ["uma fork bomb diante do pids.max", "pids.current", "pids.max 20", "processos no contêiner"])
    check(lambda: cgroups.memory_high_figure(memory_series(), [(0.0, 0.0), (1.0, 12.5)], 300 * MiB),
          ["memory.high throttles before memory.max kills", "memory.high 300 MiB",
           "memory pressure (PSI, right axis)", "PSI memory some avg10 (%)"],
          ["o memory.high freia antes que o memory.max mate", "memory.high 300 MiB",
           "pressão de memória (PSI, eixo da direita)", "PSI memory some avg10 (%)"])


def test_the_shares_figure():
    def two():
        a, b = memory_series(), memory_series()
        b.cpu_usage_usec = [0, 750_000, 1_500_000, 2_250_000]
        return cgroups.shares_figure([a, b], [256, 768], skip=0.5)

    check(two, ["weights 256:768 sharing one CPU", "cpu.shares 256", "cores (all on CPU 0)", "weights ask",
                "measured", "% of the CPU time used after 0.5 s", "shares 768", "25%", "75%"],
          ["pesos 256:768 dividindo uma CPU", "cpu.shares 256", "núcleos (todos na CPU 0)", "pedido pelos pesos",
           "medido", "% do tempo de CPU usado depois de 0.5 s", "shares 768", "25%", "75%"])


def test_the_limits_figure():
    check(lambda: cgroups.limits_figure(memory_series(), SimpleNamespace(oom_killed=True), memory_series()),
          ["memory: OOM killed", "memory in use", "limit", "OOM kill", "CPU used", "quota",
           "CPU: 0.50 cores measured"],
          ["memória: morto pelo OOM killer", "memória em uso", "limite", "OOM kill", "CPU usada", "cota",
           "CPU: 0.50 núcleos medidos"])
    pt = texts(in_language("pt_BR", lambda: cgroups.limits_figure(
        memory_series(), SimpleNamespace(oom_killed=False), memory_series())))
    assert "memória: terminou abaixo do limite" in pt


def test_the_file_table(lang):
    table = cgroups.FileMapTable("v2", rows=[("memory limit", "memory.limit_in_bytes", "memory.max")])
    if lang == "en":
        assert repr(table).splitlines()[0] == "host mode: v2 (boxkit drives v2, marked *)"
        assert "<p>this host: <b>v2</b> — boxkit drives <b>v2</b> (highlighted)</p>" in table._repr_html_()
        assert "cgroup v1 (under /sys/fs/cgroup/&lt;controller&gt;/)</th>" in table._repr_html_()
        assert "cgroup v2 (one tree)</th>" in table._repr_html_()
    else:
        assert repr(table).splitlines()[0] == "modo do host: v2 (o boxkit usa v2, marcado com *)"
        page = table._repr_html_()
        assert "<p>este host: <b>v2</b> — o boxkit usa <b>v2</b> (destacado)</p>" in page
        assert "cgroup v1 (em /sys/fs/cgroup/&lt;controller&gt;/)</th>" in page and "uma só árvore" in page
    assert "memory.max" in repr(table)


def test_the_limits_panel_widgets(lang):
    pytest.importorskip("ipywidgets")
    box = cgroups.panel(hog_mb=600, seconds=3)
    row, status, _out = box.children
    mem, cpu, button = row.children
    said = (mem.description, cpu.description, button.description, status.value)
    if lang == "en":
        assert said == ("memory MiB", "CPU quota", "Run", "a 600 MiB hog and two busy loops for 3 s")
    else:
        assert said == ("memória MiB", "cota de CPU", "Executar",
                        "um programa guloso de 600 MiB e dois laços ocupados por 3 s")


# --- the namespace explorer ------------------------------------------------------------------------


OUT = """== ps
PID   COMMAND
    1 sh
    7 ps
== hostname
explorer
== ip link
1: lo: <LOOPBACK> mtu 65536 qdisc noop state DOWN
== mounts
100 99 0:50 / / rw - overlay overlay rw
"""


def test_the_explorer_table_and_link_kinds(lang):
    inside = explorer.summarize(OUT)
    host = {"processes": 312, "pid1": "systemd", "hostname": "vm", "links": ["lo", "eth0"], "mounts": 40}
    table = explorer.table_html(inside, host, ("mount", "net"))
    kinds = explorer.kinds_html({"lo": "loopback", "eth0": "card", "ifb0": "ifb", "odd0": "macsec"})
    if lang == "en":
        assert "<th>namespace</th><th>question</th><th>inside</th><th>the host</th>" in table
        assert "<code>pid</code> ✘ shared</td><td>processes it sees (PID 1)</td><td>2 (sh)</td>" in table
        assert "<code>net</code> ✔ own</td><td>network links</td>" in table
        assert "<p>the host's links, by kind (<code>ip -d link</code>):</p>" in kinds
        assert "<code>odd0</code>: macsec, a virtual device of this kind" in kinds
        assert "<code>eth0</code>: card, a network card (real or a VM&#x27;s)" in kinds
    else:
        assert "<th>namespace</th><th>pergunta</th><th>lá dentro</th><th>o host</th>" in table
        assert "<code>pid</code> ✘ compartilhado</td><td>processos que ele vê (PID 1)</td><td>2 (sh)</td>" in table
        assert "<code>net</code> ✔ próprio</td><td>links de rede</td>" in table
        assert "montagens na sua tabela" in table and "<td>312 (systemd)</td>" in table
        assert "<p>os links do host, por tipo (<code>ip -d link</code>):</p>" in kinds
        assert "<code>odd0</code>: macsec, um dispositivo virtual desse tipo" in kinds
        assert "<code>ifb0</code>: ifb, um dispositivo virtual para moldar o tráfego de entrada" in kinds
        assert "<code>eth0</code>: card, uma placa de rede (real ou de uma VM)" in kinds
        assert "<code>lo</code>: loopback, o loopback do próprio host" in kinds


def test_the_explorer_panel(lang):
    w = pytest.importorskip("ipywidgets")

    def run(image, argv, **kw):
        return SimpleNamespace(exit_code=0, stdout=OUT)

    panel = explorer.namespace_explorer(run=run)
    label, button = panel.children[0].children[0], panel.children[0].children[-1]
    first = panel.result.value
    panel.run()
    assert isinstance(label, w.HTML)
    if lang == "en":
        assert (label.value, button.description) == ("<b>mount</b> ✔ (always)&nbsp;", "Run")
        assert first == "tick or untick, then Run: a real container starts with exactly those namespaces"
        assert panel.result.value.startswith("<p>namespaces: <code>mount, pid, uts, net, ipc, cgroup</code>"
                                             " — exit 0</p>")
    else:
        assert (label.value, button.description) == ("<b>mount</b> ✔ (sempre)&nbsp;", "Executar")
        assert first.startswith("marque ou desmarque e clique em Executar: um contêiner de verdade")
        assert panel.result.value.startswith("<p>namespaces: <code>mount, pid, uts, net, ipc, cgroup</code>"
                                             " — código de saída 0</p>")
        assert "processos que ele vê (PID 1)" in panel.result.value


# --- images and overlays ---------------------------------------------------------------------------


BASE = {"diff_id": "sha256:" + "a" * 64, "size": 2_200_000, "disk": 2_000_000, "created_by": "boxkit base image busybox"}
DEP = {"diff_id": "sha256:" + "b" * 64, "size": 110_000, "disk": 500_000, "created_by": 'COPY ["dep-a","/deps/a"]'}
APP1 = {"diff_id": "sha256:" + "c" * 64, "size": 10_000, "disk": 800, "created_by": 'COPY ["app.sh","/app/"]'}
APP2 = {"diff_id": "sha256:" + "d" * 64, "size": 10_000, "disk": 800, "created_by": 'COPY ["app.sh","/app/"]'}


def test_the_layers_figure():
    check(lambda: layers.layers_figure({"app:1.0": [BASE, DEP, APP1], "app:2.0": [BASE, DEP, APP2]}),
          ["base: busybox", "new", "2.0 MB on disk  sha256:aaaaaaaaaaaa", "1 kB on disk (not to scale)  "
           "sha256:cccccccccccc", "layers bottom first, as overlayfs stacks them; a box is as wide as its bytes on "
           "disk; a dashed line joins a layer stored once and used by both",
           "on disk: 2.5 MB for both images (4 distinct layers, each stored once), not the 5.0 MB their sizes add up "
           "to", 'COPY dep-a → /deps/a', "app:1.0  (2.5 MB)"],
          ["base: busybox", "novo", "2.0 MB no disco  sha256:aaaaaaaaaaaa",
           "1 kB no disco (fora de escala)  sha256:cccccccccccc",
           "no disco: 2.5 MB para as duas imagens (4 camadas distintas, cada uma guardada uma vez), e não os 5.0 MB "
           "da soma dos seus tamanhos", 'COPY dep-a → /deps/a', "app:1.0  (2.5 MB)"])
    en, pt = both(lambda: layers.layers_figure({"app:1.0": [BASE, DEP, APP1]}, "one image"))
    assert "layers bottom first, as overlayfs stacks them; a box is as wide as its bytes on disk" in en
    assert "camadas de baixo para cima, como o overlayfs as empilha; a largura da caixa é a dos bytes no disco" in pt
    assert any(t.startswith("o id de uma camada é o digest do seu conteúdo") for t in pt)
    assert "one image" in pt   # the caller's own title, as given


def test_the_copy_up_and_containers_figures():
    check(lambda: layers.copyup_figure([(1000, 0.001), (10**6, 0.004)], recorded=True),
          ["copy-up: the first open for writing copies the whole file (RECORDED)", "size of the lower file (bytes)",
           "first 1-byte append (ms)"],
          ["copy-up: a primeira abertura para escrita copia o arquivo inteiro (GRAVADO)",
           "tamanho do arquivo no lower (bytes)", "primeiro acréscimo de 1 byte (ms)"])
    cost = {"containers": 3, "image_bytes": 5_000_000, "upper_bytes": [1000, 2000, 3000],
            "without_sharing_bytes": 15_006_000}
    check(lambda: layers.containers_figure(cost),
          ["3 containers of one image", "image layers (once)", "3 upper dirs", "without sharing", "MB on disk",
           "shared layers\n+ upper dirs", "3 full copies"],
          ["3 contêineres de uma imagem", "camadas da imagem (uma vez)", "3 diretórios upper",
           "sem compartilhamento", "MB no disco", "camadas compartilhadas\n+ diretórios upper", "3 cópias completas"])
    one = texts(in_language("pt_BR", lambda: layers.containers_figure({**cost, "containers": 1, "upper_bytes": [1]})))
    assert {"1 contêiner de uma imagem", "1 diretório upper", "1 cópia completa"} <= set(one)


SCAN = {
    "lower": {"etc": "dir", "etc/config": "file", "etc/old": "file", "docs": "dir", "docs/a.txt": "file"},
    "upper": {"etc": "dir", "etc/config": "file", "etc/old": "whiteout", "docs": "opaque", "docs/new.txt": "file",
              "etc/added": "file"},
    "work": {"work": "dir", "work/#7": "whiteout", "work/tmp": "file"},
    "merged": {"etc": "dir", "etc/config": "file", "etc/added": "file", "docs": "dir", "docs/new.txt": "file"},
}


def test_the_overlay_figure():
    check(lambda: overlay.overlay_figure(SCAN, recorded=True),
          ["An overlay by hand: the kernel looks in upper first, then in lower (RECORDED)",
           "merged\n(what the container\nsees as /)", "upper\n(writable:\nevery change)", "lower\n(read-only)",
           "under etc/", "hidden by\nwhiteout", "hidden by\nopaque", "copy-up", "new",
           "work  (on the upper's file system; the container never sees it)",
           "work/: scratch space; a copy-up is prepared here (a file as an unnamed O_TMPFILE), then put into upper "
           "in one step", "work/#7: a whiteout (char dev 0/0) the kernel keeps here; each new whiteout in upper is "
           "a hard link to it", "work/tmp: left over from an operation in progress"],
          ["Um overlay feito à mão: o kernel procura primeiro no upper, depois no lower (GRAVADO)",
           "merged\n(o que o contêiner\nvê como /)", "upper\n(gravável:\ntoda mudança)", "lower\n(só leitura)",
           "em etc/", "escondido por\nwhiteout", "escondido por\nopaque", "copy-up", "novo",
           "work  (no sistema de arquivos do upper; o contêiner nunca o vê)",
           "work/tmp: sobra de uma operação em andamento"])
    en, pt = both(lambda: overlay.overlay_figure({"lower": {}, "upper": {}, "merged": {}}))
    assert en.count("(empty)") == 2 and pt.count("(vazio)") == 2


# --- namespaces, mounts, security ------------------------------------------------------------------


SNAP = {
    "host": [{"host_pid": 1, "comm": "systemd", "ppid": 0}, {"host_pid": 600, "comm": "sshd", "ppid": 1},
             {"host_pid": 650, "comm": "bash", "ppid": 600}, {"host_pid": 700, "comm": "python3", "ppid": 650},
             {"host_pid": 710, "comm": "boxkit-helper", "ppid": 700}],
    "container": [{"host_pid": 16314 + k, "pids": [16314 + k, 1 + k], "comm": "sleep", "ppid": 710}
                  for k in range(4)],
    "rows": [{"type": "pid", "host": 4026531836, "container": 4026532301},
             {"type": "user", "host": 4026531837, "container": 4026531837}],
    "hostname": "box", "host_hostname": "vm", "viewer_pid": 700,
}


def test_the_namespace_figure():
    check(lambda: namespaces.namespace_figure(SNAP, recorded=True, max_inside=2),
          ["A container is a subtree of the host's processes, in namespaces of its own (RECORDED)",
           "host (vm): PID as the host numbers it", "PID inside", "container (box): its own PID namespace",
           "… and 2 more in the container", "namespace   host inode     container inode", "own", "shared",
           "2 more: what started it (sshd, bash)", "boxkit-helper: boxkit's helper, it forks the containers",
           "own: a different inode than the host's (/proc/PID/ns/*); shared: the same namespace",
           "left: the host sees the whole tree; the container sees only its box, from 1", "4026532301"],
          ["Um contêiner é uma subárvore dos processos do host, em namespaces próprios (GRAVADO)",
           "host (vm): o PID como o host o numera", "PID lá dentro", "contêiner (box): o seu próprio namespace de PID",
           "… e mais 2 no contêiner", "namespace   inode no host  inode no contêiner", "próprio", "compartilhado",
           "mais 2: o que o iniciou (sshd, bash)", "boxkit-helper: o auxiliar do boxkit, que cria os contêineres com fork",
           "4026532301"])
    en, pt = both(lambda: namespaces.namespace_figure(SNAP))
    assert "python3: the program drawing this" in en or "python3: this notebook's kernel" in en
    assert "python3: o programa que desenha esta figura" in pt or "python3: o kernel deste notebook" in pt


def test_the_id_map_figure():
    check(lambda: namespaces.idmap_figure([(0, 1000, 1), (1, 100000, 65536)], recorded=True),
          ["A user namespace's uid map (RECORDED); 65534 inside is also host uid 165533", "host uids",
           "uids inside", "uid_map line: 0 1000 1", "65534 (nobody): what an\nunmapped host uid shows as", "uid"],
          ["O mapa de uid de um namespace de usuário (GRAVADO); o 65534 lá dentro também é o uid 165533 do host",
           "uids do host", "uids lá dentro", "linha do uid_map: 0 1000 1",
           "65534 (nobody): como aparece\num uid do host não mapeado", "uid"])
    en, pt = both(lambda: namespaces.idmap_figure([(0, 1000, 1)], kind="gid"))
    assert "A user namespace's gid map" in en and "host gid 0: in no range" in en
    assert "O mapa de gid de um namespace de usuário" in pt and "gid 0 do host: em nenhum intervalo" in pt


def _m(i, parent, target, shared=None, master=None):
    return {"id": i, "parent": parent, "target": target, "fstype": "tmpfs", "shared": shared, "master": master}


def test_the_propagation_figure():
    host = [_m(1, 0, "/", shared=1), _m(2, 1, "/proc"), _m(3, 1, "/tmp/demo-x/data", shared=7)]
    box = [_m(21, 20, "/"), _m(22, 21, "/proc"), _m(23, 21, "/tmp/demo-x/data", master=7)]
    box += [_m(30 + k, 21, f"/z{k}") for k in range(3)]
    check(lambda: mounts.propagation_figure({"host": host, "box": box}, recorded=True, demo="/tmp/demo-x",
                                            max_rows=4),
          ["Mount propagation: what a new mount namespace shares with the host (RECORDED)", "… 2 more mounts",
           "green: shared (the same shared:N are peers); yellow: slave (master:N receives from group N); "
           "grey: private", "0 peer link(s) (<->: a mount under either end appears under the other); "
           "1 slave link(s) (->: mounts flow one way only)",
           "a runtime makes / private (MS_REC|MS_PRIVATE) first, so its container's mounts never reach the host",
           "demo = /tmp/demo-x, a tmpfs made shared on the host", "demo/data", "shared:7", "master:7"],
          ["Propagação de montagem: o que um novo namespace de montagem compartilha com o host (GRAVADO)",
           "… mais 2 montagens", "verde: compartilhada (os mesmos shared:N são pares); amarelo: slave (master:N "
           "recebe do grupo N); cinza: privada", "ligações entre pares: 0 (<->: uma montagem sob uma ponta aparece "
           "sob a outra); ligações slave: 1 (->: as montagens fluem num só sentido)",
           "demo = /tmp/demo-x, um tmpfs tornado compartilhado no host", "demo/data", "shared:7", "master:7"])


PROBES = [
    ("seccomp", "mknod /dev/sda", True, "Operation not permitted", "seccomp=unconfined", True, "", "default"),
    ("capabilities", "reboot", True, "Operation not permitted", "--cap-add=ALL", False, "still EPERM"),
    ("masked paths", "cat /proc/kcore", True, "empty", "--privileged", None),
    ("read-only paths", "echo 1 > /proc/sys", False, "", "--privileged", True, "", "--pid=host"),
]


def test_the_security_stack():
    check(lambda: security.stack_figure(PROBES),
          ["what stops root in a box, and how each layer refuses", "seccomp", "masked paths", "read-only paths",
           "a BPF program run at the entry of every system call: the call never starts (EPERM)",
           "the call runs and asks capable(): EPERM", "default: refused", "--pid=host: allowed",
           "seccomp=unconfined: works", "--cap-add=ALL: still refused", "--privileged: not tried",
           "Operation not permitted"],
          ["o que detém o root numa caixa, e como cada camada recusa", "seccomp", "caminhos mascarados",
           "somente leitura", "padrão: recusado", "--pid=host: permitido", "seccomp=unconfined: funciona",
           "--cap-add=ALL: ainda recusado", "--privileged: não testado", "Operation not permitted",
           "a chamada roda, e o kernel consulta capable(): EPERM"])


# --- notebook 09 and the network ------------------------------------------------------------------


def test_the_stop_timeline():
    check(lambda: shared.stop_timeline_figure([("sleep as PID 1", 2.013, True), ("tini", 0.004, False)], 2.0),
          ["docker stop: SIGTERM, then SIGKILL after the grace period",
           "SIGTERM dropped: PID 1 has no handler, nothing happens", "SIGKILL at 2 s", "ended: 2.013 s",
           "SIGTERM: the container ended after 4 ms", "seconds after stop() sent SIGTERM", "SIGTERM",
           "sleep as PID 1"],
          ["docker stop: SIGTERM, depois SIGKILL ao fim do período de tolerância",
           "SIGTERM descartado: o PID 1 não tem handler, nada acontece", "SIGKILL aos 2 s", "terminou: 2.013 s",
           "SIGTERM: o contêiner terminou depois de 4 ms", "segundos depois de stop() enviar o SIGTERM", "SIGTERM",
           "sleep as PID 1"])


def test_the_closure_figure():
    def build():
        t = sharing.ClosureTree(root="/usr/bin/prog", loaded=["/opt/lib/_ext.so"])
        t.children = {"/usr/bin/prog": ["/lib/ld.so", "/lib/libc.so", "/opt/lib/_ext.so"],
                      "/lib/libc.so": ["/lib/ld.so"], "/opt/lib/_ext.so": ["/lib/libc.so"], "/lib/ld.so": []}
        for f in t.files():
            t.names[f] = f.rsplit("/", 1)[-1]
            t.sizes[f] = 1 << 20
        census = sharing.Census(shared=2943, shared_bytes=114 << 20, own=11, own_bytes=604 << 10,
                                host_files=173645, host_bytes=7 << 30, host_roots=("/usr", "/opt/py"))
        return shared.closure_figure(t, census)

    check(build, ["prog needs 3 files (4.0 MiB with the program): the pieces the image carries for it",
                  "1.0 MiB, named by 2 files", "the program", "a library of the host's /usr",
                  "opened at run time (dlopen)", "files", "bytes",
                  "the host image: 2943 of the host's 173645 files; 11 files of its own",
                  "the host image: 114.0 MiB of the host's 7.0 GiB; 604.0 KiB on disk are the image's own",
                  "The host image beside the host's files in /usr + /opt/py.\n"
                  "A shared file is a hard link: the host's inode, no byte stored twice."],
          ["prog precisa de 3 arquivos (4.0 MiB com o programa): as peças que a imagem carrega para ele",
           "1.0 MiB, citado por 2 arquivos", "o programa", "uma biblioteca do /usr do host",
           "aberta em tempo de execução (dlopen)", "arquivos", "bytes",
           "a imagem host: 2943 dos 173645 arquivos do host; 11 arquivos próprios",
           "a imagem host: 114.0 MiB dos 7.0 GiB do host; 604.0 KiB no disco são da própria imagem",
           "A imagem host ao lado dos arquivos do host em /usr + /opt/py.\n"
           "Um arquivo compartilhado é um hard link: o inode do host, nenhum byte guardado duas vezes."])


def _if(index, name, addrs, kind="veth", master=None, up=True):
    return {"index": index, "name": name, "addresses": addrs, "up": up, "kind": kind, "master": master}


NET = {
    "namespaces": [
        {"label": "host", "pid": None, "inode": 4026531833,
         "ifaces": [_if(5, "bk0", ["10.213.0.1/24"], kind="bridge"), _if(7, "bkvaaa", [], master=5)]},
        {"label": "web", "pid": 100, "inode": 4026532001, "ifaces": [_if(2, "eth0", ["10.213.0.2/24"])]},
        {"label": "alone", "pid": 200, "inode": 4026532002, "ifaces": [_if(1, "lo", ["127.0.0.1/8"])]},
    ],
    "cables": [(None, 7, "web", 2)],
}


def test_the_topology_and_round_trips():
    ports = {("tcp", 8080): ("10.213.0.2", 80), ("tcp", 9090): ("10.9.9.9", 90)}
    check(lambda: topology.topology_figure(NET, recorded=True, ports=ports, rule="dnat ip to tcp dport map @ports"),
          ["Network namespaces, veth pairs and bridges, as the kernel reports them (RECORDED)",
           "host network namespace  (net:[4026531833])", "no cable: isolated", "veth pair",
           "nft DNAT rule: dnat ip to tcp dport map @ports", "host :8080/tcp  DNAT → 10.213.0.2:80",
           "host :9090/tcp  DNAT → 10.9.9.9:90 (no such container)", "pid 100  net:[4026532001]",
           "eth0 (up) 10.213.0.2/24"],
          ["Namespaces de rede, pares veth e bridges, como o kernel os informa (GRAVADO)",
           "namespace de rede do host  (net:[4026531833])", "sem cabo: isolado", "par veth",
           "regra DNAT do nft: dnat ip to tcp dport map @ports", "host :8080/tcp  DNAT → 10.213.0.2:80",
           "host :9090/tcp  DNAT → 10.9.9.9:90 (nenhum contêiner com esse endereço)", "pid 100  net:[4026532001]",
           "eth0 (up) 10.213.0.2/24"])
    alone = {"namespaces": NET["namespaces"][:1] + NET["namespaces"][2:], "cables": []}
    alone["namespaces"][0] = {**alone["namespaces"][0], "ifaces": []}
    en, pt = both(lambda: topology.topology_figure(alone))
    assert "no boxkit bridge" in en and "nenhuma bridge do boxkit" in pt
    check(lambda: topology.rtt_figure({"host → web": [0.05, 0.07, 0.06]}, recorded=True),
          ["ping round trips (RECORDED)", "round-trip time (ms)", "median 0.060 ms", "host → web"],
          ["idas e voltas do ping (GRAVADO)", "tempo de ida e volta (ms)", "mediana 0.060 ms", "host → web"])
