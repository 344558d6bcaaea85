# %% [markdown]
# # 09 — PID 1, sinais e o que um contêiner compartilha com o host
#
# Duas coisas que os notebooks anteriores deram como certas.
#
# **O PID 1 é especial.** O primeiro processo de um namespace (espaço de nomes) de PID é o *init* desse
# namespace, e o kernel o trata como tal: um sinal para o qual ele não tem tratador (*handler*) é
# descartado (ninguém mata o init por acidente: de dentro do namespace, nem o `SIGKILL` chega até ele; do
# host, só o `SIGKILL` e o `SIGSTOP` chegam), todo órfão do namespace vira filho dele, e ele precisa
# esperar por cada um, e, quando ele sai, o kernel mata todo o resto do namespace. O comando de um
# contêiner *é* o PID 1, e a maioria dos comandos nunca foi escrita para ser um init.
#
# **"o container aproveitando as dependências que já existe no sistema operacional"** — meia verdade. Todo
# contêiner roda sobre o único kernel do host: o relógio de parede dele (um namespace de tempo só pode
# deslocar os relógios monotônico e de tempo desde o boot), a memória, as CPUs, o boot. Os *relatórios* do
# kernel também não têm namespace, e é por isso que um programa que se dimensiona a partir de
# `/proc/meminfo` ou da contagem de CPUs online se dimensiona para a máquina inteira. Com arquivos é
# diferente: um contêiner vê os arquivos de uma imagem, que podem ou não ser os do próprio host. O fim do
# notebook põe a frase das notas de origem ao lado do que a execução mostrou.
#
# Cada demonstração abaixo é medida no seu kernel; cada linha de fato imprime o que foi medido ao lado do
# veredito e dá `True` quando o kernel fez o que o texto diz.

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
import signal
import sys

import boxkit
from boxkit import workloads

PY = os.path.realpath(sys.executable)   # a imagem host guarda este python no mesmo caminho que ele tem no host

# %% [markdown]
# ## 1. Um PID 1 sem handler de SIGTERM ignora o SIGTERM
#
# O `sleep` não instala nenhum handler de sinal: como processo comum, um `SIGTERM` o encerra (a ação
# padrão). Como PID 1, o kernel descarta esse mesmo sinal. `stop(timeout=3)` faz o que o `docker stop`
# faz: `SIGTERM`, um período de tolerância de 3 s e depois `SIGKILL` — o único sinal que o init não pode
# recusar. O resultado diz qual dos dois encerrou o contêiner e quanto tempo isso levou.

# %%
GRACE = 3
c = boxkit.run("busybox", ["sleep", "300"], detach=True)
r = c.stop(timeout=GRACE)
c.remove()
name = signal.Signals(r.signal).name if r.signal else "nenhum sinal"
killed = r.signal == signal.SIGKILL and r.sigkill_after_grace
print(f"encerrado por {name} depois do período de tolerância (código de saída {r.exit_code}): {killed}")
print(f"o stop levou {r.stop_time:.1f} s, pelo menos os {GRACE} s do período de tolerância: {r.stop_time >= GRACE}")
plain = r

# %% [markdown]
# ## 2. `init=True`: um PID 1 que recolhe zumbis repassa o sinal
#
# Com `init=True` (o `--init` do docker, que roda o `tini`), o pequeno init do próprio boxkit fica como
# PID 1 (`boxkit-init`), inicia o comando como PID 2 e repassa o `SIGTERM` para ele. Ali, o `sleep` é um
# processo comum, a ação padrão vale, e o contêiner termina na hora com `128 + 15 = 143`.

# %%
c = boxkit.run("busybox", ["sleep", "300"], detach=True, init=True)
ps = c.exec(["ps", "-o", "pid,comm"]).stdout.split()
r = c.stop(timeout=GRACE)
c.remove()
print(f"o PID 1 é {ps[3]}, o PID 2 é {ps[5]}: {ps[2:6] == ['1', 'boxkit-init', '2', 'sleep']}")
term = r.exit_code == 128 + signal.SIGTERM and not r.sigkill_after_grace
print(f"encerrado com o SIGTERM, sem SIGKILL (código de saída {r.exit_code} = 128 + 15): {term}")
print(f"o stop levou {r.stop_time:.3f} s, menos de 1 s: {r.stop_time < 1}")
reaped = r

# %% [markdown]
# As duas paradas num mesmo eixo de tempo, desenhadas a partir dos tempos que acabamos de medir:

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit.viz.shared import stop_timeline_figure

stop_timeline_figure([("sleep como PID 1", plain.stop_time, plain.sigkill_after_grace),
                      ("init=True (boxkit-init)", reaped.stop_time, reaped.sigkill_after_grace)],
                     grace=GRACE)

# %% [markdown]
# Um programa que *trata* o `SIGTERM` (um servidor web que esvazia as suas conexões, um `python` com um
# handler) também para de forma limpa como PID 1: o kernel só descarta os sinais que o PID 1 deixou na
# ação padrão.
#
# ## 3. Zumbis: cabe ao PID 1 recolher os órfãos
#
# Um processo que sai continua sendo um *zumbi* (estado `Z` em `/proc/PID/stat`) até que o pai chame
# `wait()`: o status de saída precisa ficar guardado para alguém. Um pai que sai primeiro deixa *órfãos*,
# e o kernel os entrega ao init do namespace (ou a um ancestral mais próximo que tenha se tornado um
# *child subreaper* com `prctl(PR_SET_CHILD_SUBREAPER)`, como faz o `tini -s` quando não é o PID 1). Um
# shell ou um gerenciador de serviços espera por eles; `sleep`, `python` ou uma JVM como PID 1 nunca fazem
# isso.
#
# O comando abaixo (`workloads.orphans`; `print(workloads.ORPHANS)` mostra o programa) é um pai
# bem-comportado: ele inicia um filho e espera por ele. Esse filho inicia três filhos próprios e sai sem
# esperar — os três ficam órfãos, são passados para o PID 1, e cada um sai assim que o pai se foi (ele lê
# um pipe até o fim, que chega quando o último processo que escreve nele sai; nada depende de
# temporização). Um segundo programa, executado com exec ao lado dele (`workloads.orphan_states`), imprime
# os estados dos órfãos e todos os zumbis do namespace.

# %%
def zombies(init):
    """O nome do PID 1, os estados dos três órfãos, os zumbis do namespace."""
    with boxkit.run("host", workloads.orphans(PY), detach=True, init=init) as c:
        r = c.exec(workloads.orphan_states(PY), timeout=60)
        pid1 = c.exec(["cat", "/proc/1/comm"]).stdout.strip()
    states, found = (r.stdout.splitlines() + ["", ""])[:2]
    return pid1, states.split(), found.split()


pid1, states, found = zombies(init=False)
print(f"o PID 1 é {pid1}, que não recolhe zumbis: {pid1 != 'boxkit-init'}")
print(f"os estados dos órfãos ({' '.join(states)}), todos zumbis: {states == ['Z'] * 3}")
print(f"zumbis no namespace ({len(found)}), os três órfãos: {len(found) == 3}")

# %%
pid1, states, found = zombies(init=True)
print(f"o PID 1 é {pid1}: {pid1 == 'boxkit-init'}")
print(f"os estados dos órfãos ({' '.join(states)}), todos recolhidos ('gone': não existem mais): {states == ['gone'] * 3}")
print(f"zumbis no namespace ({len(found)}), nenhum: {len(found) == 0}")

# %% [markdown]
# Um zumbi não ocupa memória de usuário nem tempo de CPU: as páginas e os arquivos abertos dele foram
# liberados quando ele saiu. O que fica é o registro dele no kernel — a sua `task_struct` (alguns KiB de
# memória do kernel), o seu PID e o seu status de saída — até que ele seja recolhido. PIDs são um recurso
# limitado: o `pids.max` do cgroup (grupo de controle) do contêiner conta os zumbis (a fork bomb do
# notebook 02 parou nele), e o `pid_max` do kernel também, então um contêiner de longa duração cujo PID 1
# nunca recolhe vai ficando, aos poucos, sem processos que possa iniciar.
#
# ## 4. Quando o PID 1 sai, o kernel mata o resto
#
# O PID 1 abaixo inicia três `sleep 300` em segundo plano e espera um arquivo aparecer. Do host,
# encontramos os processos do contêiner pelo namespace de PID deles (`/proc/PID/ns/pid` o identifica);
# depois, um `exec` cria o arquivo lá dentro: o PID 1 sai normalmente — e os três processos sleep,
# procurados no host assim que o PID 1 terminou (antes que o boxkit limpe qualquer coisa), não
# sobreviveram a ele. O kernel envia `SIGKILL` a todos os processos de um namespace de PID cujo init sai
# (`zap_pid_ns_processes`): um contêiner não consegue deixar processos para trás no host.

# %%
def in_namespace(pid):
    """Os PIDs, no host, de todos os processos do namespace de PID de ``pid``."""
    ns = os.readlink(f"/proc/{pid}/ns/pid")
    found = []
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and os.readlink(f"/proc/{p}/ns/pid") == ns:
                found.append(int(p))
        except OSError:
            pass   # terminou nesse meio-tempo
    return sorted(found)


PID1 = ("sleep 300 & sleep 300 & sleep 300 & "
        "while [ ! -e /tmp/go ]; do sleep 0.05; done; echo PID 1 exits")
c = boxkit.run("busybox", PID1, detach=True)
c.exec("until [ $(ps -o args | grep -c '^sleep 300') = 3 ]; do sleep 0.01; done")
sleepers = [p for p in in_namespace(c.pid)
            if open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")[:2] == [b"sleep", b"300"]]
c.exec("touch /tmp/go")
r = c.wait(30)
left = [p for p in sleepers if os.path.exists(f"/proc/{p}")]   # antes que o remove() faça a limpeza
c.remove()
print(f"processos sleep em segundo plano antes ({len(sleepers)}), três: {len(sleepers) == 3}")
by_itself = r.exit_code == 0 and r.stdout == "PID 1 exits\n"
print(f"o PID 1 saiu sozinho (código de saída {r.exit_code}, disse {r.stdout.strip()!r}): {by_itself}")
print(f"processos sleep ainda rodando depois ({len(left)}), nenhum: {len(left) == 0}")

# %% [markdown]
# O `tini` e o `boxkit-init` saem assim que o comando deles sai: é assim que eles foram projetados (o
# `--init` do docker amarra a vida do contêiner à do comando). O que torna isso seguro é o que esta seção
# mostrou: quando o init sai, o kernel (`zap_pid_ns_processes`) mata o que quer que o comando tenha
# deixado rodando, então nada do contêiner sobrevive a ele. É também por isso que um PID 1 que quebra
# derruba o contêiner inteiro.
#
# ## 5. Um único kernel
#
# Agora, a última afirmação das notas de origem. O que um contêiner *aproveita* é, acima de tudo, o kernel
# do host — não uma cópia dele, o mesmo que está rodando. A versão (*release*) dele e o seu *boot id* (um
# UUID aleatório que o kernel sorteia no boot, `/proc/sys/kernel/random/boot_id`) são os do host; a
# arquitetura da máquina que o `uname -m` nomeia também.

# %%
# NBVAL_IGNORE_OUTPUT
r = boxkit.run("busybox", "uname -r; uname -m; cat /proc/sys/kernel/random/boot_id")
inside_release, inside_machine, inside_boot = r.stdout.split()
host = os.uname()
host_boot = open("/proc/sys/kernel/random/boot_id").read().strip()
print(f"versão do kernel lá dentro {inside_release}, no host {host.release}: "
      f"{inside_release == host.release}")
print(f"boot id lá dentro {inside_boot}, no host {host_boot}: {inside_boot == host_boot}")
print(f"arquitetura lá dentro {inside_machine}, no host {host.machine}: "
      f"{inside_machine == host.machine}")

# %% [markdown]
# Esse também é o limite do "roda igual em qualquer lugar". Uma imagem contém código de máquina para uma
# arquitetura (a que foi impressa acima) que chama a interface de chamadas de sistema de um kernel. Ela
# roda sem mudanças em qualquer host dessa arquitetura cujo kernel Linux ofereça as chamadas de sistema e
# os recursos que ela usa — mas não em outra arquitetura (uma imagem `arm64` num host `x86_64` precisa de
# um emulador), e, no macOS ou no Windows, o docker roda contêineres Linux dentro de uma máquina virtual
# Linux.
#
# ## 6. Os relatórios do kernel são os do host: a surpresa da JVM
#
# Um contêiner limitado a **500 MiB** de memória e **0,5 CPU** (o notebook 02 mostrou os dois limites
# sendo impostos) pergunta ao kernel qual é o tamanho da máquina. O `/proc/meminfo` não tem namespace: a
# resposta é o total do host. Uma JVM anterior ao Java 10 (e ao 8u191, no Java 8) dimensionava o heap
# padrão como um quarto do `MemTotal` e os pools de threads pela contagem de CPUs — dentro de um contêiner
# de 500 MiB num host grande, ela planejava para o host e era morta pelo OOM killer. O `free`, o `top` e
# qualquer programa que se dimensiona a partir desses arquivos são enganados do mesmo jeito.
#
# Um programa *ciente de cgroups* lê o limite real onde o docker o coloca: os próprios arquivos de cgroup
# do contêiner, montados somente leitura em `/sys/fs/cgroup` (`cgroupfs=True` aqui; num namespace de
# cgroup, o grupo do contêiner é a raiz dessa árvore). No cgroup v1, os limites são
# `memory/memory.limit_in_bytes` e `cpu/cpu.cfs_quota_us` ÷ `cpu.cfs_period_us`; no v2, `memory.max` e
# `cpu.max` (`quota period`). É isso que fazem o Java 10+ (`-XX:+UseContainerSupport`), o `automaxprocs`
# do Go e o .NET.

# %%
# boxkit: needs cgroups
READ = ("grep MemTotal /proc/meminfo; cd /sys/fs/cgroup; "
        "if [ -f memory.max ]; then cat memory.max cpu.max; "
        "else cat memory/memory.limit_in_bytes; "
        "echo $(cat cpu/cpu.cfs_quota_us) $(cat cpu/cpu.cfs_period_us); fi")
r = boxkit.run("busybox", READ, memory="500M", cpus=0.5, cgroupfs=True)
lines = r.stdout.splitlines()
mem_inside_kb = int(lines[0].split()[1])
limit_bytes = int(lines[1])
quota, period = (int(x) for x in lines[2].split())
host_kb = next(int(x.split()[1]) for x in open("/proc/meminfo") if x.startswith("MemTotal"))
print(f"MemTotal lá dentro {mem_inside_kb // 1024} MiB, o do host {host_kb // 1024} MiB: "
      f"{mem_inside_kb == host_kb}")
print(f"o limite de memória real, pelos arquivos do cgroup ({limit_bytes // 2**20} MiB), 500 MiB: "
      f"{limit_bytes == 500 * 2**20}")
print(f"o limite de CPU real ({quota} / {period} µs = {quota / period} CPU), meia CPU: "
      f"{quota / period == 0.5}")

# %% [markdown]
# Uma JVM que acreditasse no `MemTotal` teria planejado um heap de um quarto da memória do host:

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
print(f"um quarto do MemTotal: {mem_inside_kb // 4 // 1024} MiB; "
      f"o contêiner pode usar {limit_bytes // 2**20} MiB")

# %% [markdown]
# A contagem de CPUs é mais sutil, porque "quantas CPUs" tem três respostas. `os.cpu_count()` (e
# `/proc/cpuinfo`) informam as CPUs que o kernel tem online — as do host, sempre. `sched_getaffinity`
# informa as CPUs em que este processo pode rodar, que um **cpuset** (`cpuset_cpus="0"`, o `--cpuset-cpus`
# do docker) restringe. Uma **cota** do CFS (`cpus=0.5`, o `--cpus` do docker) não restringe nenhuma das
# duas: o processo ainda pode rodar em todas as CPUs, só que por menos tempo a cada período; a terceira
# resposta, a cota, só está nos arquivos de cgroup lidos acima. Então a afinidade acompanha um cpuset e
# não uma cota, e `os.cpu_count()` não acompanha nenhum dos dois (`os.process_cpu_count()`, novo no Python
# 3.13, acompanha a afinidade). O `nproc` do GNU imprime a afinidade; as versões dele a partir de 2025
# também levam em conta uma cota do cgroup v2 (`cpu.max`), então, sob uma cota, o que o `nproc` imprime
# depende da versão. O mesmo programa em três contêineres, com o `nproc` do host:

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
COUNT = "import os; print(os.cpu_count(), len(os.sched_getaffinity(0)))"
RUNS = {"sem limite": {}, "cpus=0.5": {"cpus": 0.5}, "cpuset_cpus=0": {"cpuset_cpus": "0"}}
print(boxkit.run("host", "nproc --version").stdout.splitlines()[0])
seen = {}
for label, limits in RUNS.items():
    r = boxkit.run("host", f"nproc; {PY} -c '{COUNT}'", **limits)
    seen[label] = [int(x) for x in r.stdout.split()]
    nproc, cpu_count, affinity = seen[label]
    print(f"{label:14} nproc {nproc}, os.cpu_count() {cpu_count}, "
          f"sched_getaffinity {affinity}")

# %%
# boxkit: needs cgroups
host_cpus = os.cpu_count()
by_quota, by_cpuset = seen["cpus=0.5"], seen["cpuset_cpus=0"]
print(f"com uma cota, a afinidade é a contagem do host ({by_quota[2]} de {host_cpus}): "
      f"{by_quota[2] == host_cpus}")
print(f"com um cpuset de uma CPU, a afinidade é 1 e o nproc diz o mesmo ({by_cpuset[2]}, "
      f"{by_cpuset[0]}): {by_cpuset[2] == by_cpuset[0] == 1}")
print(f"os.cpu_count() é a contagem do host nos dois casos ({by_quota[1]} e {by_cpuset[1]} "
      f"de {host_cpus}): {by_quota[1] == by_cpuset[1] == host_cpus}")

# %% [markdown]
# O `/proc/meminfo` e o `/proc/cpuinfo` poderiam ser obrigados a dizer a verdade: o LXCFS (usado pelo LXD
# e por algumas instalações de Kubernetes) monta por cima deles arquivos FUSE que informam os limites do
# cgroup. O Docker e o boxkit não fazem isso.
#
# ## 7. Arquivos: os próprios inodes do host, ou os da imagem
#
# A imagem `host` foi construída a partir dos programas e das bibliotecas do host por meio de *hard links*
# (aqui, o armazenamento de imagens do boxkit está no mesmo sistema de arquivos; em outro, seriam cópias):
# o mesmo inode, as mesmas páginas no cache de páginas, nenhum disco a mais. Um overlay sobre um único
# sistema de arquivos informa o número de inode do arquivo subjacente, então o `stat` dentro de um
# contêiner o mostra. O `/etc` dela é próprio, escrito quando a imagem foi construída.
#
# A imagem `busybox` tem um único arquivo do host (o binário estático `busybox`, com um hard link, do
# mesmo jeito); todo o resto é dela: o `/bin/sh` ali é o link simbólico da imagem para aquele busybox, e
# não o `/bin/sh` do host, e o `/etc/passwd` dela é próprio. Uma imagem baixada de um registry (`boxkit
# pull`) ou construída a partir de um Dockerfile traz a sua própria cópia de cada arquivo: as camadas dela
# são desempacotadas no armazenamento de imagens.
#
# Cada linha abaixo nomeia o arquivo, o número de inode que o `stat -L` (que segue links simbólicos)
# encontra dentro do contêiner, o inode do arquivo do host que o texto diz que ele é, e o inode do arquivo
# do host no mesmo caminho.

# %%
# boxkit: needs root
# (imagem, caminho lá dentro, o arquivo do host que ele é, ou None para um arquivo da própria
# imagem)
EXPECT = [("host", PY, PY), ("host", "/bin/sh", "/bin/sh"), ("host", "/etc/passwd", None),
          ("busybox", "/bin/busybox", "/bin/busybox"), ("busybox", "/bin/sh", "/bin/busybox"),
          ("busybox", "/etc/passwd", None)]
inside = {}
for image in ("host", "busybox"):
    paths = [p for i, p, _ in EXPECT if i == image]
    r = boxkit.run(image, ["stat", "-L", "-c", "%i"] + paths)
    inside.update({(image, p): int(x) for p, x in zip(paths, r.stdout.split())})
for image, path, is_host in EXPECT:
    ino, same_path = inside[image, path], os.stat(path).st_ino
    name = "o python do host" if path == PY else path
    if is_host is None:
        print(f"{image:8} {name:18} inode {ino}, o do host {same_path}, um "
              f"arquivo da própria imagem: {ino != same_path}")
    elif is_host == path:
        print(f"{image:8} {name:18} inode {ino}, o do host {same_path}, o próprio arquivo do host: "
              f"{ino == same_path}")
    else:
        target = os.stat(is_host).st_ino
        print(f"{image:8} {name:18} inode {ino}, o do host {same_path}; é o {is_host} "
              f"do host ({target}): {ino == target != same_path}")

# %% [markdown]
# ## 8. Só os pedaços de que ele precisa
#
# A frase das notas de origem tem uma segunda metade: o contêiner "só tem os pedaços que ele precisa".
# Para o código de máquina da imagem `host`, isso é literal. O `boxkit/images/base.py` lista programas
# (`HOST_PROGRAMS`: `sh`, `ls`, `ps`, ...) mais o python que roda o boxkit, e acrescenta todo arquivo que
# os cabeçalhos ELF deles nomeiam: o *carregador dinâmico* (`PT_INTERP`) e cada biblioteca compartilhada
# (`DT_NEEDED`), depois as bibliotecas que essas nomeiam, até não aparecer nada novo (o
# `boxkit/images/elf.py` lê os cabeçalhos sem rodar nada). Os módulos do próprio Python são outra
# história: nenhum cabeçalho os nomeia, então a imagem leva a biblioteca padrão do python inteira (menos
# os testes e os módulos de interface gráfica) — quer um programa importe um módulo, quer não. As
# contagens abaixo mostram quanto da imagem isso representa.
#
# A árvore abaixo é esse percurso para um programa, o python — com `_ssl`, o módulo de extensão que o
# python abre em tempo de execução (`dlopen`) para `import ssl`. Cada arquivo fica abaixo do primeiro
# arquivo que o nomeia; a `libc` é nomeada por vários. Abaixo da árvore, a imagem inteira ao lado dos
# arquivos do host: quantos deles ela contém e quantos bytes ela acrescenta no disco.

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root
import _ssl

from boxkit import sharing
from boxkit.images import resolve
from boxkit.viz.shared import closure_figure

tree = sharing.closure_tree(PY, loads=[_ssl.__file__])
counted = sharing.census(resolve("host").layers[-1])
closure_figure(tree, counted)

# %%
# boxkit: needs root
import sysconfig

n = counted.shared + counted.own
print(f"arquivos da imagem host que são os próprios inodes do host ({counted.shared} de {n}), "
      f"mais de 90 %: {counted.shared > 0.9 * n}")
stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
in_stdlib = sum(len(files) for _d, _s, files in os.walk(resolve("host").layers[-1] + stdlib))
print(f"arquivos da biblioteca padrão do python, levada inteira ({in_stdlib} de {n}), a maior parte da imagem: "
      f"{in_stdlib > n / 2}")
share = counted.shared / counted.host_files
print(f"arquivos do host que a imagem contém ({counted.shared} de {counted.host_files}, "
      f"{share:.1%}), menos de um décimo: {share < 0.1}")
extra = counted.own_bytes / counted.shared_bytes
print(f"bytes que a imagem acrescenta no disco ({counted.own_bytes // 1024} KiB ao "
      f"lado de {counted.shared_bytes // 2**20} MiB de arquivos do host), menos de 1 %: {extra < 0.01}")

# %% [markdown]
# O outro caminho para "só o que ele precisa" é a imagem `busybox`: um único programa **ligado
# estaticamente** (sem `PT_INTERP`, sem bibliotecas: toda função de biblioteca que ele chama está dentro
# dele) que é o `sh`, o `ls`, o `ps` e centenas de outros, escolhidos pelo nome com que ele é iniciado
# (`argv[0]`). Cada um desses programas é um link simbólico para ele; além deles, a imagem contém só uns
# poucos arquivos de configuração.

# %%
# boxkit: needs root
import stat

from boxkit.images.base import BUSYBOX
from boxkit.images.elf import read_elf

info = read_elf(BUSYBOX)
static = info is not None and info.interp is None and not info.needed
if info.interp:
    print(f"{BUSYBOX} é estático (PT_INTERP: {info.interp}, bibliotecas necessárias: "
          f"{len(info.needed)}): {static}")
else:
    print(f"{BUSYBOX} é estático (PT_INTERP: nenhum, bibliotecas necessárias: "
          f"{len(info.needed)}): {static}")
kinds = {"file": 0, "link": 0, "other": 0}
for dirpath, dirs, names in os.walk(resolve("busybox").layers[-1]):
    for entry in names:
        path = os.path.join(dirpath, entry)
        to_busybox = os.path.islink(path) and os.readlink(path) == BUSYBOX
        regular = stat.S_ISREG(os.lstat(path).st_mode)
        kinds["file" if regular else "link" if to_busybox else "other"] += 1
print(f"programas da imagem busybox que são links simbólicos para {BUSYBOX} ({kinds['link']}), "
      f"mais de 100: {kinds['link'] > 100}")
print("arquivos regulares da imagem busybox, o busybox e uns poucos arquivos de configuração "
      f"({kinds['file']}), menos de 10: {kinds['file'] < 10}")

# %% [markdown]
# ## 9. As mesmas páginas na memória
#
# Um hard link economiza disco. Economiza memória também: o conteúdo de um arquivo fica em cache uma única
# vez no *cache de páginas* do kernel, e todo processo que mapeia o arquivo mapeia essas mesmas páginas
# físicas — quer rode no host, quer num contêiner, porque o overlay entrega o arquivo real ao `mmap`. O
# kernel mostra isso: `/proc/PID/pagemap` guarda, para cada página virtual de um processo, o número do
# quadro de página físico por trás dela (ler os números dos quadros exige root).
#
# Dois contêineres da imagem `host` rodam o mesmo python. Para o código da `libpython` (ou do próprio
# python, onde ele não tem uma biblioteca separada), comparamos os quadros de cada página que os dois
# mapearam — e os quadros do python que roda este notebook, no host.

# %%
# boxkit: needs root
READY = "open('/tmp/ready', 'w').close(); import time; time.sleep(300)"
a = boxkit.run("host", [PY, "-c", READY], detach=True)
b = boxkit.run("host", [PY, "-c", READY], detach=True)
try:
    for c in (a, b):
        c.exec("until [ -e /tmp/ready ]; do sleep 0.01; done")
    maps = {who: sharing.text_mapping(pid) for who, pid in
            (("a", a.pid), ("b", b.pid), ("host", os.getpid()))}
    pages = {who: sharing.frames(pid, maps[who]) for who, pid in
             (("a", a.pid), ("b", b.pid), ("host", os.getpid()))}
finally:
    a.remove()
    b.remove()
m = maps["a"]
host_ino = maps["host"].inode
print(f"os dois contêineres mapeiam {os.path.basename(m.path)}, inode {m.inode} e {maps['b'].inode}, "
      f"como faz o python do host ({host_ino}): {m.inode == maps['b'].inode == host_ino}")
both, same = sharing.same_frames(pages["a"], pages["b"])
print(f"páginas de código que os dois contêineres mapearam ({both}), nos mesmos quadros físicos ({same}): "
      f"{both > 0 and same == both}")
both, same = sharing.same_frames(pages["a"], pages["host"])
print(f"páginas de código que um contêiner e o python deste notebook compartilham ({both}), nos mesmos "
      f"quadros ({same}): {both > 0 and same == both}")

# %% [markdown]
# ## A última afirmação das notas de origem, e o que a execução mostrou
#
# | as notas de origem dizem | o que este notebook mediu |
# |---|---|
# | "E esse conceito serve também com o container aproveitando as dependências que já existe no sistema operacional, …" | Ele aproveita o **único kernel** do host, sempre: a mesma versão e o mesmo boot id lá dentro (§5). Os *arquivos* do host só são aproveitados quando a imagem é feita deles: os programas da imagem `host` são os inodes do host (§7) e rodam a partir das mesmas páginas na memória (§9). Uma imagem de um registry traz a sua própria cópia dos arquivos — mas as imagens aproveitam as camadas umas das outras (notebook 03: a 2.0 manteve as da 1.0), e todos os contêineres de uma imagem rodam sobre essa única cópia. |
# | "… assim ele só tem os pedaços que ele precisa para funcionar, …" | Verdade para o código de máquina das imagens que o boxkit constrói: a imagem `host` é uma lista de programas mais o fecho ELF deles (tudo o que os cabeçalhos nomeiam), uma pequena parte dos arquivos do host quase sem disco a mais (§8) — embora a maioria dos arquivos dela seja a biblioteca padrão do python, levada inteira; a `busybox` é um único binário estático. Muitas imagens de registry carregam todo o userland de uma distribuição. |
# | "… deixando o container leve." | Leve, porque não há boot de nada e iniciar um contêiner não copia nenhum arquivo: um contêiner são processos do host em namespaces. Mas não isolado só por namespaces: os relatórios do kernel (`MemTotal`, a contagem de CPUs online) são os do host (§6), e o notebook 06 mostrou as outras camadas de que um contêiner precisa. E o "roda em qualquer lugar" vale para uma arquitetura e uma interface de kernel (§5). |
#
# A frase inteira, nas palavras das próprias notas de origem: *"E esse conceito serve também com o
# container aproveitando as dependências que já existe no sistema operacional, assim ele só tem os pedaços
# que ele precisa para funcionar, deixando o container leve."*
#
# ## O que foi provado
#
# * O `sleep` como PID 1 ignorou o `SIGTERM`: o `stop()` esperou o período de tolerância inteiro e
#   precisou do `SIGKILL`. Com `init=True`, o init que recolhe zumbis repassou o `SIGTERM`, e o contêiner
#   parou na hora (saída 143).
# * Três órfãos continuaram zumbis sob um PID 1 que não os recolhe; o `boxkit-init` recolheu todos eles.
# * Quando o PID 1 saiu, o kernel matou os três processos que ele deixou rodando.
# * Um único kernel: a mesma versão, o mesmo boot id e a mesma arquitetura lá dentro e no host.
# * Os relatórios do kernel são os do host: um contêiner de 500 MiB / 0,5 CPU vê o `MemTotal` do host; os
#   limites reais estão nos arquivos de cgroup dele. A afinidade de CPU acompanha um cpuset, não uma cota;
#   `os.cpu_count()` não acompanha nenhum dos dois.
# * Arquivos: os programas da imagem `host` são os próprios inodes do host (hard links) — o fecho do
#   python dela desenhado como uma árvore, a imagem uma lasca dos arquivos do host quase sem disco a mais;
#   a `busybox` é um único binário estático; o `/etc` de cada imagem é próprio.
# * Memória: dois contêineres e o próprio python do host rodam as mesmas páginas físicas do código do
#   python.
#
# ## <a id="Exercise"></a>Exercício
#
# O notebook parou dois contêineres: o `sleep` como PID 1 (SIGKILL depois do período de tolerância) e o
# `sleep` sob `init=True` (SIGTERM). Agora, mais cinco, cada um deles um comando `sh -c` do busybox,
# alguns sob `init=True`. Para cada um, preveja qual sinal o encerra quando ele é parado com um período de
# tolerância de 3 s: `"SIGTERM"` (ele termina com o SIGTERM) ou `"SIGKILL"` (ele ainda está lá quando o
# período de tolerância acaba). Os nomes ficam em inglês, porque são as chaves que a verificação procura:
# *shell with a trap* é um shell com um trap para o TERM, *in wait* quer dizer que ele espera o sleep com
# wait, e *ignoring TERM*, que ele ignora o TERM.

# %%
# boxkit: exercise
from boxkit import exercises_pid1

exercises_pid1.show()

# %%
# boxkit: exercise
my_prediction = {
    "shell": ...,
    "shell with a trap": ...,
    "shell with a trap, in wait": ...,
    "init=True, shell": ...,
    "init=True, shell ignoring TERM": ...,
}

# %%
# boxkit: exercise
exercises_pid1.check(my_prediction)

# %% [markdown]
# Travou depois de algumas tentativas? `exercises_pid1.solution()` mostra uma resposta e o raciocínio por
# trás dela.
#
# **Experimente em seguida:** rode um `python` com um handler de `SIGTERM` como PID 1 e chame `stop()`
# nele: `boxkit.run("host", [PY, "-c", HANDLER], detach=True)` com `HANDLER = "import signal, time;
# signal.signal(signal.SIGTERM, lambda *a: exit(0)); time.sleep(300)"`. Qual é o código de saída, e ele
# precisou do `SIGKILL`?
