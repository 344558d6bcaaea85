# %% [markdown]
# # 01 — Namespaces: um contêiner é um processo
#
# *"Os containers são processos, onde por meio de namespaces eles conseguem ficar isolados dentro do seu
# sistema operacional"*
#
# Um **namespace** (espaço de nomes) envolve um tipo de recurso global de modo que os processos dentro
# dele vejam uma cópia própria:
#
# | namespace | isola | criado com |
# |---|---|---|
# | `pid` | ids de processo — o primeiro processo lá dentro é o PID 1 | `unshare(CLONE_NEWPID)`, depois `fork()` |
# | `mnt` | a tabela de montagens — a visão do sistema de arquivos | `CLONE_NEWNS` |
# | `uts` | hostname (e nome de domínio NIS) | `CLONE_NEWUTS` |
# | `net` | interfaces, endereços, rotas, portas | `CLONE_NEWNET` |
# | `user` | ids de usuário e de grupo — o root lá dentro pode ser, do lado de fora, um uid comum, sem privilégios | `CLONE_NEWUSER` |
# | `ipc` | IPC do System V, filas de mensagens POSIX | `CLONE_NEWIPC` |
# | `cgroup` | a raiz da árvore de cgroups | `CLONE_NEWCGROUP` |
# | `time` | o relógio de boot e o monotônico | `unshare(CLONE_NEWTIME)`, depois `fork()` |
#
# Com `pid` e `time`, o processo que faz a chamada fica onde estava; os filhos que ele criar em seguida
# são os primeiros membros do novo namespace. A flag do namespace de montagem é `CLONE_NEWNS`, e não
# `..._NEWMNT`: ele foi o primeiro tipo de namespace, batizado antes de existir qualquer outro.
#
# Cada demonstração abaixo inicia um contêiner de verdade com o `boxkit` e olha para ele dos dois lados.

# %%
# NBVAL_IGNORE_OUTPUT
# edição em português (pt_BR): daqui em diante, o próprio boxkit também fala português
import boxkit
boxkit.set_language("pt_BR")
from boxkit import course

course.start("containers")

# %%
# NBVAL_IGNORE_OUTPUT
import os

import boxkit
from boxkit import nsinfo

# %% [markdown]
# ## PID: o comando do contêiner é o PID 1
#
# Iniciamos um contêiner que dorme e olhamos para ele duas vezes: de dentro (`ps` rodado nele com `exec`,
# como faria o `docker exec`) e do host, onde o `/proc/PID/status` do kernel lista o PID do mesmo processo
# em cada namespace de PID a que ele pertence (`NSpid`).

# %%
# NBVAL_IGNORE_OUTPUT
c = boxkit.run("busybox", ["sleep", "300"], detach=True, hostname="box")
print(c.exec(["ps", "-o", "pid,user,comm"]).stdout)

# %%
# NBVAL_IGNORE_OUTPUT
print("PID no host:", c.pid, "  NSpid:", nsinfo.nspid(c.pid))

# %%
inside_pid = int(c.exec(["sh", "-c", "ps -o pid,comm | awk '$2==\"sleep\"{print $1}'"]).stdout)
seen = c.exec(["ps", "-o", "comm"]).stdout.split()[1:]    # depois do cabeçalho COMMAND
on_host = sum(1 for d in os.listdir("/proc") if d.isdigit())
host_comm = open(f"/proc/{c.pid}/comm").read().strip()
print(f"PID lá dentro: {inside_pid}, o primeiro processo do contêiner:", inside_pid == 1)
print(f"o PID {c.pid} do host roda {host_comm}, o comando do contêiner:", host_comm == "sleep")
ns_pids = nsinfo.nspid(c.pid)
print(f"o NSpid {ns_pids} termina com o PID de dentro:", ns_pids[-1] == inside_pid)
print(f"processos que o ps vê lá dentro: {len(seen)} {seen}, no host: {on_host}; só os dele:",
      set(seen) <= {"sleep", "ps"} and on_host > len(seen))

# %% [markdown]
# O mesmo processo tem dois números. O host vê todos os processos; o contêiner vê só os seus.
#
# ## Cada namespace, no host e no contêiner
#
# `/proc/PID/ns/*` são links cujo número de inode identifica o namespace. Mesmo número, mesmo namespace.

# %%
# NBVAL_IGNORE_OUTPUT
table = nsinfo.table(c.pid)
print("namespaces próprios:", sorted(r.type for r in table if r.isolated))
print("compartilhados com o host:", sorted(r.type for r in table if not r.isolated))

# %%
pid_row = next(r for r in table if r.type == "pid")
print(f"namespace pid: host {pid_row.host}, contêiner {pid_row.container}; diferentes:",
      pid_row.isolated)

# %% [markdown]
# ### Usuários: a afirmação das notas de origem, corrigida
#
# As notas de origem dizem que cada contêiner tem os seus próprios usuários ("Users: Divisões de
# usuários"). **Por padrão, não tem.** Um contêiner iniciado pelo root compartilha o namespace `user` do
# host, então o uid 0 lá dentro é o uid 0 do host; como root, a tabela acima lista `user` como
# compartilhado. Um contêiner só ganha usuários próprios quando isso é pedido: `userns=True` aqui,
# `--userns-remap` no docker (desligado por padrão lá também). A seção *Usuário*, mais abaixo, mostra o
# que isso muda. O `time` também é compartilhado, a não ser que seja pedido (`time_offset=`).
#
# Um contêiner **rootless** (iniciado por um usuário sem root) é a exceção: ele sempre tem um namespace
# `user` próprio, porque é só assim que ele consegue ter um root lá dentro. Num host desses, a tabela
# acima lista `user` como próprio do contêiner.
#
# Os padrões do Docker diferem dos do boxkit em dois pontos. Num host com cgroup v1 ou híbrido, ele também
# compartilha o namespace `cgroup` (`--cgroupns=private` só é o padrão dele no cgroup v2). E ele não tem
# nenhuma opção para um namespace de tempo.

# %% [markdown]
# ### A figura
#
# Aqui está a figura que as notas de origem descrevem, desenhada a partir dos próprios dados do `/proc`
# deste contêiner: a árvore de processos do host, do PID 1 até o contêiner; os processos do contêiner
# dentro de uma caixa, com os seus dois PIDs juntos (`NSpid`); e cada inode de namespace dos dois lados.
# Entre o PID 1 do host e o contêiner ficam o kernel deste notebook e o auxiliar do boxkit, o processo que
# faz o fork de cada contêiner; o que quer que tenha iniciado o kernel (o Jupyter, um shell, o supervisor
# da própria máquina) fica resumido numa linha só.
#
# O mesmo código desenha `docs/img/namespace.png`, a figura das notas de origem. Lá, o PID 1 do contêiner
# é o `boxkit-init`: aquele contêiner foi iniciado com `init=True`, um init minúsculo que recolhe zumbis e
# repassa sinais, como o `docker run --init` (o notebook 09 mostra por que um contêiner precisa de um).

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit.viz.namespaces import namespace_figure

namespace_figure(nsinfo.snapshot(c.pid, hostname="box"))

# %% [markdown]
# Contêineres se aninham: o "host" deste notebook pode ser ele mesmo um contêiner, com os contêineres do
# boxkit criados dentro dele. O nome do PID 1 no painel do host não diz isso (o primeiro processo de uma
# máquina virtual pode ter qualquer nome); o namespace de PID dele diz. O kernel dá ao seu primeiro
# namespace de PID um número de inode fixo, `0xEFFFFFFC` (`PROC_PID_INIT_INO` no `include/linux/proc_ns.h`
# do kernel); todos os outros namespaces de PID ganham um número novo.

# %%
# NBVAL_IGNORE_OUTPUT
mine = nsinfo.ns_inodes()["pid"]
pid1 = open("/proc/1/comm").read().strip()
if mine == nsinfo.PID_INIT_INO:
    print(f"o namespace de PID do painel do host é {mine} ({mine:#x}), o primeiro do kernel: o "
          f"PID 1 dele, {pid1}, é o primeiro processo desta máquina.")
else:
    print(f"o namespace de PID do painel do host é {mine} ({mine:#x}), não o primeiro do kernel "
          f"({nsinfo.PID_INIT_INO:#x}): este 'host' é ele mesmo um contêiner; {pid1} é o PID 1 dele.")

# %% [markdown]
# ## UTS: um hostname só seu

# %%
host_name = open("/proc/sys/kernel/hostname").read().strip()
inside_name = c.exec(["hostname"]).stdout.strip()
print(f"hostname lá dentro: {inside_name}, o que ele recebeu:", inside_name == "box")
print(f"o hostname do host continua {host_name}, não box:", host_name != "box")

# %% [markdown]
# ## Montagem: uma montagem feita para o contêiner nunca chega ao host
#
# A primeira chamada de montagem do boxkit num contêiner novo é `mount(NULL, "/", NULL,
# MS_REC|MS_PRIVATE)`. Sem ela, as montagens poderiam se *propagar*: uma montagem compartilhada copia cada
# nova montagem para os seus pares, e assim a raiz overlay do contêiner, o seu `/proc` e os seus volumes
# poderiam aparecer no host. Num host iniciado com systemd, o `/` é compartilhado (o systemd o deixa assim
# no boot); um host sem systemd pode já ter o `/` privado. A célula abaixo imprime qual é o caso deste
# host. Depois montamos (com bind) um diretório do host dentro de um contêiner e comparamos as duas
# tabelas de montagens.

# %%
import tempfile

vol = tempfile.mkdtemp(prefix="boxkit-vol-")
with open(os.path.join(vol, "note.txt"), "w") as f:
    f.write("written on the host\n")
root_mount = [x for x in nsinfo.mounts() if x["target"] == "/"][-1]
print("o / deste host é", f"compartilhado (grupo de pares {root_mount['shared']})"
      if root_mount["shared"] is not None else "privado")
host_before = open("/proc/self/mountinfo").read().splitlines()
m = boxkit.run("busybox", ["sleep", "300"], detach=True, volumes=[f"{vol}:/data:ro"])
r = m.exec(["sh", "-c", "cat /data/note.txt; grep ' /data ' /proc/self/mountinfo | wc -l; "
                        "grep -c 'shared:' /proc/self/mountinfo"])
print(r.stdout)

# %% [markdown]
# Por que o `/` precisa ficar privado? Um namespace de montagem começa como uma **cópia** do namespace do
# pai. Quando a cópia é feita no mesmo namespace de usuário (um runtime rodando como root), a cópia de uma
# montagem *compartilhada* entra no mesmo **grupo de pares** (`shared:N` em `/proc/PID/mountinfo`): uma
# montagem sob um par se repete sob todos os outros, nos dois sentidos.
#
# Quando o novo namespace de montagem pertence a um novo namespace de usuário (um runtime rootless), o
# kernel considera a cópia *menos privilegiada* e transforma as montagens compartilhadas dela em
# **slaves** (`master:N`): as novas montagens do host continuam chegando, mas nada do que é feito na cópia
# volta (`man 7 mount_namespaces`). Então um contêiner rootless nunca conseguiria empurrar uma montagem
# para o host; um runtime rodando como root conseguiria.
#
# Medimos os dois casos: um tmpfs tornado compartilhado no host; um namespace copiado com `unshare -m
# --propagation unchanged` (um runtime como root, sem aquela primeira chamada de montagem); outro copiado
# do mesmo jeito dentro de um novo namespace de usuário (`unshare -U -m`); e então uma segunda montagem
# feita no host *depois* das cópias. O nosso contêiner `m` aparece desenhado ao lado deles.

# %%
# boxkit: needs root
# NBVAL_IGNORE_OUTPUT
from boxkit.viz.mounts import propagation_figure

lab = nsinfo.propagation_lab(m.pid)
propagation_figure(lab["trees"], demo=lab["demo"])

# %%
# boxkit: needs root
from boxkit.viz.mounts import tag

copy = lab["trees"]["unshare -m --propagation unchanged"]
demo_copy = next(x for x in copy if x["target"] == lab["demo"])
slave = lab["trees"]["unshare -U -m (a new user namespace)"]


def later_in(tree):
    return next((tag(x) for x in tree if x["target"] == lab["later"]), "ausente")


print(f"a montagem de demonstração da cópia é {tag(demo_copy)}; a montagem posterior nela: {later_in(copy)}; "
      "chegou:", lab["copy_sees_later"])
print(f"no novo namespace de usuário, a montagem de demonstração é {tag(lab['userns_demo'])}, uma slave:",
      lab["userns_demo"]["master"] is not None and lab["userns_demo"]["shared"] is None)
print(f"a montagem posterior na slave: {later_in(slave)}; chegou também:", lab["userns_sees_later"])
print(f"montagens compartilhadas no contêiner do boxkit: {lab['container_shared']}; nenhuma:",
      lab["container_shared"] == 0)

# %%
# enquanto o contêiner roda: uma montagem vazada apareceria no host como uma nova linha da sua
# tabela de montagens, com o ponto de montagem sob a raiz do contêiner (.../<id>/merged/data)
host_now = open("/proc/self/mountinfo").read().splitlines()
added = sorted(set(host_now) - set(host_before))
leaked = [line for line in host_now if m.id in line.split()[4]]
lines = r.stdout.split("\n")
print(f"o contêiner lê {lines[0]!r} da sua única montagem /data ({lines[1]}):",
      lines[0] == "written on the host" and lines[1] == "1")
print(f"montagens do host antes do contêiner {len(host_before)}, com ele rodando {len(host_now)}, novas "
      f"{len(added)}; nenhuma acrescentada:", not added)
print(f"montagens do host sob a raiz do contêiner: {len(leaked)}; a tabela do host não tem nenhuma:",
      not leaked)
print(f"montagens compartilhadas (que propagam) lá dentro: {int(lines[2])}; nenhuma:", int(lines[2]) == 0)
m.remove()

# %% [markdown]
# ## Rede: uma pilha de rede vazia
#
# O `boxkit.run` dá a cada contêiner um namespace de rede próprio, a menos que você passe
# `network="host"`, mesmo quando você mesmo lista os outros namespaces (`namespaces=[...]`): a rede é
# escolhida por `network=`, como faz o `--network` do docker. Um namespace de rede novo contém o loopback
# `lo`, desativado até que alguém o ative (o boxkit ativa). Num host que carregou um módulo de túnel
# (`ipip`, `sit`, `gre`…), o kernel também põe o dispositivo reserva desse módulo (`tunl0`, `sit0`…) em
# todo namespace de rede novo, desativado e sem configuração, a menos que o sysctl
# `net.core.fb_tunnels_only_for_init_net` diga outra coisa. Por isso olhamos quais links estão *ativos*
# (*up*): só o `lo`. Nenhuma rota para fora, nenhum outro contêiner, nenhuma interface do host: `ip route`
# não imprime nada, e um pacote para qualquer endereço lá fora falha antes de ser enviado — o kernel não
# tem rota para ele. (O notebook 04 liga contêineres entre si.)

# %%
probe = ("ip -o link | cut -d' ' -f2,3; echo routes: $(ip route | wc -l); "
         "ping -c 1 -W 1 8.8.8.8 2>&1 | tail -1")
r = boxkit.run("busybox", ["sh", "-c", probe])
print(r.stdout)

# %%
out = r.stdout.splitlines()
# cada link como "name: <FLAGS>", por exemplo "lo: <LOOPBACK,UP,LOWER_UP>"
links = {x.split()[0].rstrip(":").split("@")[0]: x.split()[1].strip("<>").split(",")
         for x in out[:-2]}
up = sorted(name for name, flags in links.items() if "UP" in flags)
routes = int(out[-2].split()[1])
print(f"interfaces: {sorted(links)}, ativas: {up}; só o loopback está ativo:", up == ["lo"])
print(f"rotas no namespace: {routes}, nenhuma:", routes == 0)
print(f"um ping para fora diz {out[-1]!r}; inalcançável:", "Network is unreachable" in out[-1])

# %% [markdown]
# ## Usuário: root lá dentro, um uid comum do lado de fora
#
# Com um namespace de usuário (`userns=True`), o boxkit mapeia o uid 0 de dentro para o uid 100000 de fora
# (`/proc/PID/uid_map` guarda o mapa: 65536 ids a partir de 100000; o `--userns-remap` do Docker tira o
# seu intervalo de `/etc/subuid`). O root lá dentro é dono dos seus arquivos e namespaces, e de nada no
# host: lá, o uid 100000 é só um uid sem privilégios. Um arquivo criado lá dentro vai parar na camada
# gravável do contêiner, um diretório no host (o diretório *upper* do overlay; o notebook 03 monta um) — e
# pertence ao 100000.
#
# A outra direção é de onde vem o *nobody*: um id do host **fora** do mapa não tem nome lá dentro, e o
# kernel o mostra como o id de overflow 65534 (`nobody`, `/proc/sys/kernel/overflowuid`). Montamos dentro
# do contêiner um diretório que pertence ao root do host (uid 0, sem mapeamento: o mapa começa em 100000;
# modo 0700): lá dentro ele pertence ao 65534, e o root de dentro não consegue nem abri-lo. As
# capabilities do root (aqui, `CAP_DAC_OVERRIDE`, que deixa o root ignorar o modo de um arquivo) são
# capabilities *no namespace de usuário dele*: o kernel só as deixa agir sobre um arquivo quando o dono e
# o grupo do arquivo estão mapeados nesse namespace (`capable_wrt_inode_uidgid`, no kernel). O uid 0 do
# host não está.

# %%
# boxkit: needs root, idmap
# NBVAL_IGNORE_OUTPUT
hostfile = tempfile.mkdtemp(prefix="boxkit-owned-")
os.chmod(hostfile, 0o700)   # o próprio modo do mkdtemp; a demonstração precisa dele: mais ninguém pode entrar
with open(os.path.join(hostfile, "root-owned"), "w") as f:
    f.write("owned by the host's root\n")
u = boxkit.run("busybox", ["sleep", "300"], userns=True, detach=True,
               volumes=[f"{hostfile}:/hostdir:ro"])
u.exec(["touch", "/tmp/made-inside"])   # feito pelo root lá dentro, antes de olharmos
shown = u.exec(["sh", "-c", "id; ls -ln /tmp/made-inside; ls -lnd /hostdir; "
                            "cat /hostdir/root-owned 2>&1"])
st = os.stat(hostfile)
print(f"no host: uid do dono do diretório {st.st_uid}, modo {st.st_mode & 0o777:04o}")
print(shown.stdout)

# %% [markdown]
# O mapa como figura: os ids de dentro (em cima) e os do host (embaixo), ligados onde o mapa os liga; o
# uid 0 do host não está em nenhum intervalo, então lá dentro ele aparece como 65534. Esse número também
# é, por si só, um id mapeado (o título diz a qual uid do host ele corresponde): lá dentro, um dono
# mostrado como 65534 pode ser esse uid ou qualquer id do host fora do mapa.

# %%
# boxkit: needs root, idmap
# NBVAL_IGNORE_OUTPUT
from boxkit.viz.namespaces import idmap_figure

idmap_figure(nsinfo.id_map(u.pid))

# %%
# boxkit: needs root, idmap
import shutil

made = os.path.join(u.upper_dir, "tmp", "made-inside")
uid_inside = u.exec(["id", "-u"]).stdout.strip()
seen_inside = int(u.exec(["stat", "-c", "%u", "/hostdir"]).stdout)
print(f"uid lá dentro: {uid_inside}, root:", uid_inside == "0")
inside0, outside0, count = nsinfo.id_map(u.pid)[0]
print(f"mapa de uids: {count} ids de {inside0} dentro para {outside0} fora; 0 para 100000:",
      (inside0, outside0) == (0, 100000))
print(f"dono, no host, do arquivo criado lá dentro: {os.stat(made).st_uid}, o uid mapeado:",
      os.stat(made).st_uid == nsinfo.id_map(u.pid)[0][1])
print(f"dono, lá dentro, do diretório do root do host: {seen_inside}, o uid de overflow (nobody):",
      seen_inside == 65534)
refusal = shown.stdout.strip().splitlines()[-1]
print(f"o root lá dentro tentando lê-lo: {refusal!r}; recusado:", "Permission denied" in refusal)
u.remove()
shutil.rmtree(hostfile)

# %% [markdown]
# ## IPC: filas de mensagens só suas
#
# As filas de mensagens POSIX vivem num namespace IPC (`/dev/mqueue` as lista). Uma fila criada num
# contêiner não existe em outro.

# %%
a = boxkit.run("busybox", ["sleep", "300"], detach=True)
b = boxkit.run("busybox", ["sleep", "300"], detach=True)
a.exec(["touch", "/dev/mqueue/orders"])   # touch num sistema de arquivos mqueue cria uma fila
in_a = a.exec(["ls", "/dev/mqueue"]).stdout.split()
in_b = b.exec(["ls", "/dev/mqueue"]).stdout.split()
print(f"filas em a: {in_a}, a que foi criada lá:", in_a == ["orders"])
print(f"filas em b: {in_b}; a fila de a não está lá:", "orders" not in in_b)
a.remove()
b.remove()

# %% [markdown]
# ## cgroup: o contêiner vê o seu próprio grupo como a raiz
#
# O boxkit põe cada contêiner no seu próprio cgroup (o notebook 02 o limita). Com um namespace de cgroup
# criado *depois* que o contêiner já está nesse cgroup, o `/proc/self/cgroup` do contêiner mostra `/`,
# escondendo a árvore do host.

# %%
# NBVAL_IGNORE_OUTPUT
print("dentro: ", c.exec(["cat", "/proc/self/cgroup"]).stdout.splitlines()[:3])
print("host:   ", open(f"/proc/{c.pid}/cgroup").read().splitlines()[:3])

# %%
inside = c.exec(["cat", "/proc/self/cgroup"]).stdout.splitlines()
paths = sorted({line.rsplit(":", 1)[1] for line in inside})
print(f"caminhos lá dentro, em {len(inside)} linhas: {paths}; todos são /:", paths == ["/"])

# %% [markdown]
# ## Tempo: um relógio de boot diferente
#
# Um namespace de tempo (Linux 5.6+) desloca dois relógios: `CLOCK_MONOTONIC` e `CLOCK_BOOTTIME`, que é o
# relógio que o `/proc/uptime` lê. O relógio de parede (`CLOCK_REALTIME`) é o do host em todo namespace de
# tempo. O checkpoint/restore usa esse namespace para que os relógios de um contêiner migrado não deem
# saltos. Aqui: um contêiner que acredita que a máquina está ligada há um ano a mais.

# %%
year = 365 * 24 * 3600
r = boxkit.run("busybox", ["cat", "/proc/uptime"], time_offset=year)
inside_up = float(r.stdout.split()[0])
host_up = float(open("/proc/uptime").read().split()[0])
apart = inside_up - host_up
print(f"uptime lá dentro {inside_up / 86400:.1f} dias, no host {host_up / 86400:.1f} dias: "
      f"{apart / 86400:.2f} dias de diferença, um ano:", abs(apart - year) < 60)

# %% [markdown]
# ## Por que `pivot_root`, e não `chroot`
#
# O `chroot` só muda a ideia que um processo tem do `/`. Um processo que pode chamar `chroot` (o root tem
# `CAP_SYS_CHROOT`) escapa: faz chroot para um subdiretório — o seu diretório de trabalho agora está
# *fora* da nova raiz —, sobe com `..` e faz chroot para `.`. O programa é o `nsinfo.CHROOT_ESCAPE`;
# primeiro numa jaula `chroot` simples no host, depois num contêiner, onde o `pivot_root` moveu a
# *montagem* raiz e desligou a árvore do host, de modo que não sobra nada para onde subir. Deixamos um
# arquivo secreto no host para ele encontrar.

# %%
# boxkit: needs root
import subprocess

from boxkit.images import resolve

secret = tempfile.mkdtemp(prefix="boxkit-secret-")
with open(os.path.join(secret, "secret"), "w") as f:
    f.write("host secret\n")
jail = tempfile.mkdtemp(prefix="boxkit-jail-")
# uma cópia dos arquivos da imagem host feita com hard links, para que o mkdir da fuga nunca toque
# na própria imagem
subprocess.run(["cp", "-al", resolve("host").layers[-1] + "/.", jail], check=True)
print("numa jaula chroot:  ", nsinfo.chroot_escape_on_host(jail, os.path.join(secret, "secret")))
r = boxkit.run("host", ["python3", "-c", nsinfo.CHROOT_ESCAPE, os.path.join(secret, "secret")])
print("num contêiner do boxkit:", r.stdout.strip())

# %%
# boxkit: needs root
import shutil

jailed = nsinfo.chroot_escape_on_host(jail, os.path.join(secret, "secret"))
print(f"da jaula chroot, a subida leu {jailed!r}; escapou:", "host secret" in jailed)
print(f"do contêiner, ela obteve {r.stdout.strip()!r}; o pivot_root segurou:",
      "host secret" not in r.stdout and "not reachable" in r.stdout)
shutil.rmtree(secret)
shutil.rmtree(jail)

# %% [markdown]
# ## Experimente: desmarque um namespace
#
# Cada caixa é um tipo de namespace. **Executar** inicia um contêiner de verdade com exatamente os tipos
# marcados (sempre com um namespace de montagem próprio: sem ele, a raiz do contêiner seria montada sobre
# a do host) e põe quatro respostas ao lado das do host: os processos que o `ps` vê, o hostname, os links
# de rede, as montagens. Desmarque `pid` e os processos do host aparecem; desmarque `net` e aparecem os
# links do host (para isso, o explorador passa `network="host"`); desmarque `uts` e o contêiner responde
# com o nome do host. Abaixo da tabela, os links do host aparecem por tipo: um host pode ter mais do que o
# `lo` e a sua placa de rede (uma bridge que outro runtime criou, os dispositivos `ifb` do kernel), e
# nenhum deles é do contêiner. As caixas `ipc` e `cgroup` não têm linha: a diferença delas aparece em
# `/dev/mqueue` e `/proc/self/cgroup`, como acima.

# %%
# boxkit: needs root
# NBVAL_IGNORE_OUTPUT
from boxkit.viz.explorer import namespace_explorer

explorer = namespace_explorer()
explorer.run()   # uma vez com todas as caixas marcadas; depois, clique você mesmo em Executar
explorer

# %% [markdown]
# ## Limpeza
#
# O `remove()` encerra o contêiner e apaga o que ele criou; um bloco `with` faz isso por você.

# %%
import shutil

c.remove()
shutil.rmtree(vol)
started = [c, m, a, b] + ([u] if "u" in globals() else [])   # u: só onde a célula de usuário rodou
left = sum(1 for x in started if x.running)
print(f"contêineres em segundo plano que este notebook iniciou: {len(started)}, ainda rodando: {left}; nenhum:",
      left == 0)

# %% [markdown]
# ## O que foi provado
#
# * O comando de um contêiner é o PID 1 lá dentro e um PID comum do lado de fora; lá dentro, o `ps` vê só
#   os processos do contêiner.
# * Cada namespace é um inode em `/proc/PID/ns`; um contêiner tem os seus próprios namespaces `mnt`,
#   `pid`, `net`, `uts`, `ipc` e `cgroup`, e `user`/`time` quando pedidos: por padrão, ele não tem
#   usuários próprios.
# * As montagens ficam lá dentro porque o `/` é tornado privado primeiro. Sem isso, a cópia de uma
#   montagem compartilhada é par da do host quando o root a faz, e só uma slave num novo namespace de
#   usuário (rootless).
# * O root lá dentro pode ser o uid 100000 do lado de fora, e um id do host fora do mapa aparece lá dentro
#   como 65534 (nobody).
# * Do `chroot` se escapa com a clássica subida por `..`; o `pivot_root`, mais o desligamento da raiz
#   antiga, impede essa subida (para as outras fugas existem as capabilities, o seccomp e os LSMs — Linux
#   Security Modules, como o AppArmor e o SELinux; o notebook 06 mostra os dois primeiros).
#
# ## <a id="Exercise"></a>Exercício
#
# Crie um contêiner que **vê todos os processos do host**, mas tem um **hostname próprio**: escolha os
# namespaces dele em `my_namespaces` (com os nomes que o `boxkit.run` usa; `mount` é obrigatório) e
# preveja em `my_own` quais links de `/proc/PID/ns` vão então diferir dos do host. A verificação inicia
# esse contêiner, pergunta a ele o hostname e os processos do host, e compara os inodes dos namespaces.

# %%
# boxkit: exercise
my_namespaces = ...   # uma lista de nomes como o boxkit.run os recebe, por exemplo ["mount", ...]
my_own = ...          # um conjunto de nomes de /proc/PID/ns, por exemplo {"mnt", ...}

# %%
# boxkit: exercise
from boxkit import exercises

exercises.namespaces(my_namespaces, my_own)

# %% [markdown]
# Travou depois de algumas tentativas? `exercises.solution("namespaces")` mostra uma resposta e o
# raciocínio por trás dela.
#
# **Experimente em seguida:** acrescente `"ipc"` e preveja de novo; depois acrescente também `"pid"` e
# leia o que a verificação diz. Continue com [02 — cgroups](02-cgroups.ipynb).
