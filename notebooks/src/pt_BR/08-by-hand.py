# %% [markdown]
# # 08 — Um contêiner à mão
#
# O `boxkit.run` faz dezenas de chamadas de sistema antes de executar o seu comando com `execve`: cada
# montagem do contêiner é uma delas, e a seção 9 lista essas montagens. Aqui você mesmo faz as chamadas
# essenciais, um passo por célula, e depois de cada uma olha o que ela mudou: o cgroup (grupo de
# controle), os namespaces (espaços de nomes), a tabela de montagens, o `ls /`, o PID, o hostname, as
# capabilities, o uid.
#
# Quem faz as chamadas é um pequeno processo auxiliar que o `boxkit.byhand.Box` inicia e comanda por um
# pipe, e não o processo que roda as células deste notebook (o kernel do Jupyter), por três motivos. O
# `unshare` move para os novos namespaces só a *thread que faz a chamada*, e aquele processo roda várias
# threads: as outras ficariam de fora. Um novo namespace de PID não acolhe ninguém, só o próximo filho de
# quem fez a chamada. E um namespace em que aquele processo entrasse continuaria valendo para todas as
# células seguintes, sem nada que o encerrasse.
#
# Cada passo ocupa umas poucas linhas de `boxkit/byhand.py`; `byhand.show(step)` as imprime, e a célula
# que faz um passo pela primeira vez as imprime antes de fazê-lo. O auxiliar faz as suas chamadas de
# namespace, de montagem e de capabilities por meio de `boxkit._sys` — os mesmos wrappers que o runtime
# usa. Se o kernel recusar um passo ou se você interromper uma célula, a `Box` mata o auxiliar e remove o
# diretório e o cgroup dele; todas as montagens que ele fez vivem no namespace de montagem do próprio
# auxiliar e vão embora com ele. (Um passo que a `Box` recusa pelo nome, antes que o kernel o veja, deixa
# a caixa como estava: a seção 11 mostra os dois casos.)

# %%
# NBVAL_IGNORE_OUTPUT
# edição em português (pt_BR): daqui em diante, o próprio boxkit também fala português
import boxkit
boxkit.set_language("pt_BR")
from boxkit import course

course.start("containers")

# %% [markdown]
# ## 1. O auxiliar, antes de qualquer passo
#
# Ele é um processo comum do host: os números de PID, o hostname, a tabela de montagens e o `/` são os do
# host. O `/` do host contém o que quer que este host guarde ali, então ele muda de um host para outro; a
# célula separa os nomes que ele contém entre os que a imagem busybox também tem e os que são só do host.
#
# Quando um programa roda como root (uid 0), o kernel lhe dá, como conjunto efetivo (`CapEff`), todas as
# capabilities do seu *conjunto delimitador* (*bounding set*, `CapBnd`, um conjunto que cada processo
# herda do pai); o kernel conhece as capabilities numeradas até `/proc/sys/kernel/cap_last_cap`. Onde
# faltam algumas no conjunto delimitador do host, o root tem menos capabilities do que o kernel conhece, e
# o mesmo vale para todo contêiner que ele inicia sem um namespace de usuário, inclusive os
# `--privileged`: ali, "todas as capabilities" quer dizer o conjunto delimitador deste host. (A seção
# sobre namespaces de usuário, mais abaixo, mostra o outro caso.)

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root
import os

from boxkit import _sys, byhand

box = byhand.Box("busybox")
host = box.look()
print(f"PID {host['pid']}, hostname {host['hostname']}, {len(host['mounts'])} montagens")
image = set().union(*(os.listdir(layer) for layer in box.layers))
both = [n for n in host["ls"] if n in image]
print(f"ls / neste host: {len(host['ls'])} entradas; a imagem também tem {len(both)} delas:")
print(" ".join(both))
print("só do host:", " ".join(n for n in host["ls"] if n not in image))
known = _sys.SYS.last_cap() + 1
bnd = _sys.cap_names(int(host["cap_bnd"], 16))
eff = _sys.cap_names(int(host["cap_eff"], 16))
print(f"capabilities que o kernel conhece: {known}, no conjunto delimitador: {len(bnd)}, que o auxiliar tem: {len(eff)}")
lacking = [n for n, bit in _sys.CAPABILITIES.items() if bit < known and n not in bnd]
print("capabilities conhecidas, mas fora do conjunto delimitador deste host:", ", ".join(lacking) or "nenhuma")

# %% [markdown]
# ## 2. Um cgroup: um diretório, um limite, um PID
#
# Um cgroup é um diretório do sistema de arquivos de cgroups, e os arquivos dele são as suas
# configurações. O passo cria um para a memória, escreve o limite dele (`memory.limit_in_bytes` num host
# com cgroup v1, `memory.max` no v2) e escreve o PID do auxiliar em `cgroup.procs`, o que move o auxiliar
# para dentro dele. Todo processo que o auxiliar criar com fork a partir de agora começa no mesmo grupo,
# inclusive o PID 1 do contêiner — e é por isso que este passo vem primeiro: um processo que já está
# rodando fica onde está quando o pai dele muda de grupo.
#
# Os arquivos de cgroup são do host, então quem os escreve é o próprio processo do notebook, como um
# runtime faz do lado de fora do seu contêiner. O notebook 02 mediu o que um limite desses faz; aqui você
# o vê sendo escrito. Cada linha de `/proc/PID/cgroup` se lê *ID da hierarquia : controladores : caminho
# do grupo* (no cgroup v2, a linha única `0::path`); a célula compara a linha de memória do auxiliar antes
# e depois.

# %%
# boxkit: needs root
byhand.show("cgroup")
ch = box.step("cgroup", 64 << 20)
hierarchy, limit_file = byhand.memory_controller()
group = box.cgroups[0]


def memory_line(view: dict) -> str:
    """A linha de memória do /proc/PID/cgroup do auxiliar (no cgroup v2, a única linha 0::)."""
    lines = view["cgroup"]
    v2 = next((x for x in lines if x.startswith("0::")), "")
    return next((x for x in lines if ":memory:" in x), v2)


with open(f"{group}/{limit_file}") as f:
    limit = int(f.read())
moved = memory_line(ch.after).endswith(":" + group[len(hierarchy):])
with open("/proc/self/cgroup") as f:
    notebook_group = memory_line({"cgroup": f.read().splitlines()})
before, after = memory_line(ch.before), memory_line(ch.after)
# o grupo do próprio notebook é assunto do host: é comparado, não impresso
print(f"o cgroup de memória do auxiliar antes do passo, o do próprio notebook: {before == notebook_group}")
print(f"depois dele {after}, o grupo novo: {moved}")
print(f"{limit_file} lido de volta, {limit >> 20} MiB: o limite escrito: {limit == 64 << 20}")

# %% [markdown]
# ## 3. `unshare`: namespaces novos
#
# `unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID)`. O namespace de montagem começa como
# uma *cópia* da tabela de montagens do host. Um novo namespace de PID vale para o próximo filho de quem
# fez a chamada, então o auxiliar faz um fork e o filho, o PID 1, continua o trabalho; nascido depois do
# passo do cgroup, ele também está no grupo.

# %%
# boxkit: needs root
byhand.show("unshare")
ch = box.step("unshare", ["mount", "uts", "ipc", "pid"])
print("namespaces novos:", ", ".join(ch.new_namespaces))
print(f"PID {ch.before['pid']} -> {ch.after['pid']}: PID 1: {ch.after['pid'] == 1}")
n_before, n_after = len(ch.before["mounts"]), len(ch.after["mounts"])
print(f"tabela de montagens com {n_after} linhas, a do host com {n_before}: uma cópia: {n_after == n_before}")
pid1 = memory_line(ch.after)
print(f"cgroup de memória do PID 1 {pid1}: o do auxiliar: {pid1 == memory_line(ch.before)}")

# %% [markdown]
# ## 4. Torne o `/` privado
#
# Uma montagem marcada `shared:N` em `/proc/self/mountinfo` está no grupo de pares N: uma montagem ou
# desmontagem abaixo dela se propaga para todos os pares. A cópia que o `unshare` fez entra no grupo de
# pares da original, então uma montagem que o auxiliar fizesse abaixo dela apareceria também na tabela do
# host. `mount(NULL, "/", NULL, MS_REC | MS_PRIVATE)` tira cada montagem da cópia do seu grupo de pares.
# (Num host com systemd, tudo é compartilhado; um host sem systemd pode ter pouco ou nada para cortar. Com
# um novo namespace de *usuário*, a cópia é diferente outra vez: a seção sobre namespaces de usuário
# mostra isso.)

# %%
# boxkit: needs root
byhand.show("private")
ch = box.step("private")
shared = [sum(m["shared"] is not None for m in s["mounts"]) for s in (ch.before, ch.after)]
print(f"montagens compartilhadas {shared[0]} -> {shared[1]}: nenhuma sobrou para propagar: {shared[1] == 0}")

# %% [markdown]
# ## 5. A raiz overlay e o `/proc`
#
# As camadas da imagem (desempacotadas no armazenamento do boxkit) são os `lowerdir` somente leitura; um
# `upperdir` novo recebe as escritas. Depois, um procfs, montado pelo PID 1 do novo namespace de PID, para
# que ele liste esse namespace.

# %%
# boxkit: needs root
byhand.show("overlay")
ch = box.step("overlay")
print("montado:", *[m["fstype"] for m in ch.added], "| ele contém:", " ".join(ch.after["merged_ls"]))
print(f"ls / ({len(ch.after['ls'])} entradas) inalterado: {ch.after['ls'] == ch.before['ls']}")

# %%
# boxkit: needs root
byhand.show("proc")
ch = box.step("proc")
point = ch.added[0]["point"]
print(f"{ch.added[0]['fstype']} montado em merged/proc: {point.endswith('/merged/proc')}")

# %% [markdown]
# ## 6. `pivot_root`, depois desligue a raiz antiga
#
# `pivot_root(new, new/.oldroot)` faz do overlay a montagem raiz do namespace e move a árvore do host para
# baixo de `/.oldroot` — ainda ali, com todas as suas montagens. `umount2("/.oldroot", MNT_DETACH)` a
# desliga. (O `chroot` só teria mudado a ideia que este processo tem do `/`, com a árvore do host ainda no
# namespace de montagem; é assim que o notebook 01 escapa de um `chroot`.)

# %%
# boxkit: needs root
byhand.show("pivot_root")
ch = box.step("pivot_root")
under = [m for m in ch.after["mounts"] if m["point"].startswith("/.oldroot")]
print("ls /:", " ".join(ch.after["ls"]))
hosts = len(ch.before["mounts"]) - 2   # todas menos o overlay e o /proc dele
print(f"montagens do host sob /.oldroot, {len(under)} de {hosts}: estão "
      f"todas lá: {len(under) == hosts}")

# %%
# boxkit: needs root
byhand.show("detach")
ch = box.step("detach")
print("ls /:", " ".join(ch.after["ls"]))
points = [m["point"] for m in ch.after["mounts"]]
print(f"tabela de montagens {len(ch.before['mounts'])} -> {len(points)} linhas, {' '.join(points)}: "
      f"só as do contêiner: {points == ['/', '/proc']}")

# %% [markdown]
# ## 7. Hostname e capabilities
#
# `sethostname` no novo namespace UTS; depois, as capabilities. Só o `capset` não duraria: no `execve`, um
# processo root recebe de novo todo o seu conjunto delimitador (seção 1). Por isso o passo primeiro reduz
# o conjunto delimitador às capabilities padrão do docker e depois define os conjuntos efetivo e permitido
# com essas mesmas. O root lá dentro continua sendo o uid 0, sem `CAP_SYS_ADMIN`. A contagem de antes é o
# conjunto delimitador do host, como a primeira célula o imprimiu, e não todas as capabilities que o
# kernel conhece.

# %%
# boxkit: needs root
byhand.show("hostname")
ch = box.step("hostname", "byhand")
mine = os.uname().nodename
inside_only = ch.after["hostname"] != ch.before["hostname"] and mine == ch.before["hostname"]
print(f"hostname {ch.after['hostname']}, o do notebook continua {mine}: "
      f"mudou só lá dentro: {inside_only}")

# %%
# boxkit: needs root
byhand.show("caps")
ch = box.step("caps")
eff, bnd = ([_sys.cap_names(int(s[k], 16)) for s in (ch.before, ch.after)]
            for k in ("cap_eff", "cap_bnd"))
gone = "CAP_SYS_ADMIN" not in eff[1] + bnd[1]
print(f"uid {ch.after['uid']}, CapEff {len(eff[0])} -> {len(eff[1])}, CapBnd {len(bnd[0])} -> "
      f"{len(bnd[1])}: CAP_SYS_ADMIN saiu dos dois: {gone}")

# %% [markdown]
# ## 8. `execve`
#
# O PID 1, filho do auxiliar desde o `unshare`, se torna o comando: o comando é o PID 1. A mesma linha de
# shell também mede o que a próxima seção compara. Quando o comando termina, o auxiliar, que só esperava
# por ele, termina com o código de saída dele, e a `Box` também termina: o host então não tem mais nenhum
# dos dois processos, nem o diretório da caixa, nem o cgroup dela.

# %%
# boxkit: needs root
import tempfile

byhand.show("exec")
PROBE = ("ls /dev | wc -l; grep -c ' /proc/' /proc/self/mountinfo; "
         "grep NoNewPrivs /proc/self/status | cut -f2; grep Seccomp: /proc/self/status | cut -f2; "
         "ls /proc/self/fd | wc -l; wc -l < /proc/self/mountinfo")
procs = [box.proc.pid, box.pid]   # os PIDs, no host, do auxiliar e do PID 1
r = box.exec(["sh", "-c", "ps -o pid,comm; echo ---; " + PROBE])
ps, hand = r.stdout.split("---\n")
print(ps, end="")
print(f"código de saída {r.returncode}: o comando teve sucesso: {r.returncode == 0}")
alive = [p for p in procs if os.path.exists(f"/proc/{p}")]
print(f"o auxiliar e o PID 1 (PIDs no host {procs}) ainda no host: {len(alive)}: "
      f"nenhum: {not alive}")
prefix = f"{byhand.PREFIX}{os.getpid()}-"   # como começam os nomes dos diretórios e dos cgroups das caixas deste notebook
left = [n for n in os.listdir(tempfile.gettempdir()) if n.startswith(prefix)]
print(f"diretórios de caixa (upper, work, merged) que restaram no diretório temporário: {len(left)}: "
      f"nenhum: {not left}")
print(f"o cgroup dela, {group}, removido: {not os.path.exists(group)}")

# %% [markdown]
# ## 9. O mesmo contêiner pelo `boxkit.run`, e o que o boxkit acrescenta
#
# A mesma imagem, a mesma linha de shell. Cada linha da tabela, menos a última, mostra o que um passo a
# mais do boxkit muda (em `/proc/PID/status`, `NoNewPrivs` 1 é a flag ligada; `Seccomp` 2 é um filtro
# instalado, 0 nenhum: proc(5)); a última linha conta a tabela de montagens inteira, que a célula seguinte
# lista.

# %%
# boxkit: needs root
import boxkit

made = boxkit.run("busybox", ["sh", "-c", "ps -o pid,comm; echo ---; " + PROBE], hostname="byhand")
ps2, full = made.stdout.split("---\n")
rows = ("entradas em /dev", "mascaradas/somente leitura em /proc", "NoNewPrivs", "Seccomp",
        "fds abertos no ls (+ o dele)", "mounts")
for what, h, b in zip(rows, hand.split(), full.split(), strict=True):
    print(f"{what:30} à mão {h:>4}   boxkit {b:>4}   diferem: {h != b}")
first = " ".join(ps2.splitlines()[1].split())
print(f"o PID 1 do boxkit ({first}) também é o comando: {ps2 == ps}")
dev = boxkit.run("busybox", ["ls", "/dev"]).stdout.split()
print(f"o /dev do boxkit ({len(dev)} entradas):", " ".join(dev))

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root
from boxkit.runtime.rootfs import MASKED_PATHS, READONLY_PATHS  # as duas listas do docker

seen = byhand.parse_mountinfo(boxkit.run("busybox", ["cat", "/proc/self/mountinfo"]).stdout)
kinds = {"mascarados (com /dev/null ou um tmpfs vazio montado por cima)": [], "montados com bind, somente leitura": [],
         "nós de dispositivo do host, cada um montado com bind a partir do /dev dele": [], "o resto": []}
for m in seen:
    if m["point"].startswith(("/proc/", "/sys/")):
        # um caminho do mesmo procfs ou sysfs montado com bind só para leitura, ou outra coisa
        # montada por cima dele
        kind = "montados com bind, somente leitura" if m["fstype"] in ("proc", "sysfs") else "mascarados"
    else:
        kind = "nós de dispositivo do host" if m["fstype"] == "devtmpfs" else "o resto"
    kinds[next(k for k in kinds if k.startswith(kind))].append(m["point"])
print(f"o contêiner do boxkit tem {len(seen)} montagens:")
for kind, points in kinds.items():
    print(f"  {kind} ({len(points)}): {' '.join(points)}")
absent = [p for p in MASKED_PATHS + READONLY_PATHS if not os.path.exists(p)]
print("entradas das listas do docker que este kernel não tem, portanto nada a esconder:", " ".join(absent) or "nenhuma")

# %% [markdown]
# | passo que o boxkit acrescenta | o que ele faz | por quê (o bug, quando há um) |
# |---|---|---|
# | caminhos mascarados | `/dev/null` ou um `tmpfs` vazio somente leitura montado com bind sobre os caminhos da lista do docker (`/proc/kcore`, `/proc/keys`, `/proc/timer_list` …); `/proc/sys`, `/proc/sysrq-trigger`, `/proc/irq`, `/proc/bus`, `/proc/fs` montados com bind, somente leitura. Das duas listas, só os caminhos que este kernel tem: a célula acima imprime quais | onde eles existem, a imagem da memória do kernel (`kcore`) e as chaves e os timers do host vazam pelo procfs; um `/proc/sys/kernel/core_pattern` gravável roda um programa à sua escolha como o root do host; `sysrq-trigger` reinicia o host |
# | dispositivos | um `/dev` `tmpfs` montado com `nodev`, contendo só as entradas impressas acima: os dispositivos de caractere `null`, `zero`, `full`, `random`, `urandom` e `tty`, cada um uma montagem bind do nó do host; os links `fd`, `stdin`, `stdout`, `stderr`, `ptmx` e `core`; montagens para `pts`, `shm` e `mqueue`. A raiz também é `nodev` | um nó criado com `mknod` numa montagem `nodev` não pode ser aberto; do contrário, um `/dev/sda` ou um `/dev/mem` criado lá dentro leria o disco ou a memória do host (o notebook 06 tenta um) |
# | no_new_privs | `prctl(PR_SET_NO_NEW_PRIVS)` | um programa setuid da imagem não consegue ganhar privilégios (o notebook 06 mostra um) |
# | seccomp | um filtro BPF em todas as chamadas de sistema | os bugs do kernel alcançados por um namespace de usuário aninhado (CVE-2022-0185, CVE-2022-0492) e o chaveiro (*keyring*) do kernel, que não tem namespace |
# | higiene de fds | todos os fds, menos 0-2, fechados antes do `execve`; o cwd verificado | o CVE-2024-21626 do runc vazou um fd do `/sys/fs/cgroup` do host, e um diretório de trabalho `/proc/self/fd/7` saía do contêiner. À mão, o pipe de comandos do auxiliar vazou para dentro do contêiner exatamente assim |
# | entrada (*join*) não *dumpable* | `prctl(PR_SET_DUMPABLE, 0)` enquanto o `boxkit exec` entra no contêiner | CVE-2016-9962 do runc: um processo do contêiner usou ptrace no `runc exec` que entrava e levou os fds dele para o host. A proteção não sobrevive a um `execve`, que torna um processo *dumpable* de novo: no CVE-2019-5736, uma imagem fez o runc executar a si mesmo dentro do contêiner (`#!/proc/self/exe`), e um processo do contêiner então reescreveu o binário do runc por `/proc/PID/exe`; a resposta do runc foi rodar a partir de uma cópia selada de si mesmo |
# | cgroups | o grupo próprio do contêiner, com limites de memória, de CPU e de pids (à mão: um grupo de memória) | uma fork bomb ou um vazamento lá dentro derruba o host junto |

# %% [markdown]
# ## 10. Um namespace de usuário: root lá dentro, um uid comum do lado de fora
#
# O `boxkit.run(..., userns=True)` e todo contêiner rootless acrescentam mais um namespace: um namespace
# de *usuário*, no qual os ids são os do próprio namespace. Uma segunda caixa mostra isso, com
# `unshare(CLONE_NEWUSER | CLONE_NEWNS)`. Até que alguém escreva os mapas dele, nenhum id do host tem
# número lá dentro: o próprio uid do auxiliar e o dono de cada arquivo aparecem como o uid de overflow.
# Quem fez a chamada tem todas as capabilities que o kernel conhece — mas só sobre o que pertence ao novo
# namespace.
#
# O namespace de montagem criado junto com ele é *menos privilegiado* que o do host (mount_namespaces(7)):
# a cópia que ele faz de uma montagem compartilhada não entra no grupo de pares da original, como a cópia
# da primeira caixa entrou: ela se torna uma *slave* (`master:N`), que recebe montagens do host e nunca
# envia nenhuma de volta.

# %%
# boxkit: needs root, idmap
u = byhand.Box("busybox")
ch = u.step("unshare", ["user", "mount"])
with open("/proc/sys/kernel/overflowuid") as f:
    overflow = int(f.read())
print(f"uid lá dentro {ch.after['uid']}, o uid de overflow {overflow}: sem "
      f"mapeamento: {ch.after['uid'] == overflow}")
caps = _sys.cap_names(int(ch.after["cap_eff"], 16))
print(f"CapEff {len(caps)} capabilities, das {known} que o kernel conhece: "
      f"todas elas: {len(caps) == known}")
counts = {k: [sum(m[k] is not None for m in s["mounts"]) for s in (ch.before, ch.after)]
          for k in ("shared", "master")}
(s0, s1), (m0, m1) = counts["shared"], counts["master"]
print(f"montagens compartilhadas {s0} -> {s1}, slaves {m0} -> {m1}: nenhuma da cópia é compartilhada: {s1 == 0}")

# %% [markdown]
# Os mapas são arquivos do `/proc/PID` do auxiliar. Um processo do namespace pai que tenha `CAP_SETUID`
# ali (aqui, o do notebook, como root) pode mapear qualquer faixa; o próprio auxiliar só poderia mapear o
# seu próprio uid. Escrever primeiro `deny` em `setgroups` é o que precisa fazer, antes do `gid_map`, quem
# escreve sem privilégios (para que ninguém abandone um grupo que lhe negava acesso); o root não precisa,
# e aqui faz do mesmo jeito. Depois que os mapas são escritos, o auxiliar muda o seu uid e o seu gid para
# 0 *do namespace*.

# %%
# boxkit: needs root, idmap
byhand.show("uid_map")
ch = u.step("uid_map", (100000, 65536))
with open(f"/proc/{u.pid}/uid_map") as f:
    print("uid_map:", " ".join(f.read().split()))
with open(f"/proc/{u.pid}/status") as f:
    outside = int(byhand.status_field(f.read(), "Uid").split()[0])
print(f"uid lá dentro {ch.before['uid']} -> {ch.after['uid']}, no host {outside}: "
      f"root só lá dentro: {ch.after['uid'] == 0 and outside == 100000}")
print(f"o / do host visto lá dentro, dono {ch.after['root_owner']}: o "
      f"root do host sem mapeamento: {ch.after['root_owner'] == overflow}")
u.close()

# %% [markdown]
# ## 11. Nada fica para trás
#
# A primeira caixa terminou quando o comando do `execve` saiu; `close()` e um bloco `with` encerram uma
# caixa mais cedo, e um passo que o kernel recusa também. Um passo fora de ordem nunca chega ao kernel:
# aqui, `detach` antes de `pivot_root` é recusado pelo nome, assim como `hostname` sem um namespace UTS,
# que renomearia o host; a caixa continua, e o bloco `with` a encerra. Depois disso, o host não guarda
# nenhum processo, diretório ou cgroup de nenhuma caixa que este notebook criou.

# %%
# boxkit: needs root
with byhand.Box("busybox") as b:
    try:
        b.step("detach")
    except boxkit.SpecError as e:
        print(e)
    b.step("unshare", ["mount", "pid"])
    try:
        b.step("hostname", "oops")
    except boxkit.SpecError as e:
        print(e)
    procs = [b.proc.pid, b.pid]   # o auxiliar desta caixa e o PID 1 dela
    if "u" in globals():          # o auxiliar da segunda caixa, onde a seção 10 rodou ao vivo
        procs.append(u.proc.pid)
alive = [p for p in procs if os.path.exists(f"/proc/{p}")]
print(f"dos PIDs {procs} do host, ainda lá: {len(alive)}: nenhum: {not alive}")
left = [n for n in os.listdir(tempfile.gettempdir()) if n.startswith(prefix)]
print(f"diretórios de caixa que restaram no diretório temporário: {len(left)}: nenhum: {not left}")
groups = [n for n in os.listdir(hierarchy) if n.startswith(prefix)]
print(f"cgroups de caixa que restaram na hierarquia de memória: {len(groups)}: nenhum: {not groups}")

# %% [markdown]
# ## O que levar daqui
#
# * Um contêiner é um processo depois de um cgroup, `unshare`, uma tabela de montagens privada, um
#   overlay, `/proc`, `pivot_root` mais o desligamento da raiz antiga, `sethostname`, capabilities
#   descartadas e `execve`. Essa é a parte que o faz *parecer* uma máquina própria.
# * Um namespace de usuário e os seus mapas fazem do root lá dentro um uid comum do lado de fora.
# * O resto do `boxkit run` é o que o torna *seguro*: caminhos mascarados, um `/dev` de nós seguros,
#   no_new_privs, seccomp, fds fechados, limites de cgroup. Cada um responde a um ataque que aconteceu.
#
# ## <a id="Exercise"></a>Exercício
#
# A ordem acima funciona, e a `Box` recusa qualquer outra pelo nome antes que o kernel a veja.
# `byhand.Box("busybox", strict=False)` deixa o kernel julgar no lugar dela. Cada receita abaixo é a ordem
# das seções do `unshare` até as capabilities, com um passo mudado de lugar ou deixado de fora, seguida do
# `execve` de `true`. Para cada uma, preveja o primeiro passo que o kernel recusa e o seu *errno* (o nome
# do erro que uma chamada de sistema recusada devolve; `errno(3)` os lista), no formato `("step",
# "EPERM")`, ou `None` se todos os passos passarem e o comando rodar. Os nomes das receitas ficam em
# inglês, porque são as chaves que a verificação procura: *moved before* quer dizer movido para antes de,
# e *left out*, deixado de fora. A verificação roda cada receita numa caixa própria.

# %%
from boxkit import exercises_byhand

for name, steps in exercises_byhand.RECIPES.items():
    print(f"{name}: {' -> '.join(s for s, _arg in steps)}")

# %%
# boxkit: exercise
my_prediction = {
    "caps moved before pivot_root": ...,
    "detach moved before pivot_root": ...,
    "detach left out": ...,
    "caps moved before hostname": ...,
}

# %%
# boxkit: exercise
from boxkit import exercises_byhand

exercises_byhand.check(my_prediction)

# %% [markdown]
# Travou depois de algumas tentativas? `exercises_byhand.solution()` mostra uma resposta e o raciocínio
# por trás dela.
#
# **Experimente em seguida:** numa `Box("busybox", strict=False)`, faça só `unshare`, `private` e
# `pivot_root`, sem nenhum overlay para onde pivotar. Qual errno o `pivot_root` devolve aqui, e seria o
# mesmo num host cujo `/tmp` é uma montagem própria? `pivot_root(2)` lista os seus motivos para `EBUSY` e
# `EINVAL`.
