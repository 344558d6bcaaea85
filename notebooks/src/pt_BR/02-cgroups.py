# %% [markdown]
# # 02 — cgroups: quanto um contêiner pode usar
#
# *"Foi possível a organização de containers graças ao Cgroups, ele nada mais é do que um controlador de
# recursos. Com isso podemos isolar os recursos computacionais dos meus container, assim definir que um
# container pode consumir apenas 500MB de memória."*
#
# Um **grupo de controle** (*control group*, ou cgroup) é um diretório no sistema de arquivos de cgroups.
# Um processo entra nele quando o seu PID é escrito em `cgroup.procs`; os limites são números escritos nos
# arquivos do grupo; o kernel os impõe a cada alocação, a cada decisão de escalonamento e a cada `fork()`,
# e conta o que aconteceu em outros arquivos.
#
# | controlador | o limite | o que o kernel faz no limite |
# |---|---|---|
# | `memory` | bytes | recupera memória e, depois, o OOM killer (de *out of memory*, memória esgotada) encerra um processo do grupo (SIGKILL, código de saída 137) |
# | `cpu` (cota) | tempo de CPU por período (o boxkit, como o docker, usa 100 ms) | tira o grupo das CPUs até o próximo período (limitação, *throttling*) |
# | `cpu` (peso) | uma fatia de uma CPU ocupada | divide o tempo de CPU disputado na proporção dos pesos |
# | `pids` | número de tarefas | `fork()`/`clone()` falham com EAGAIN |
#
# O boxkit cria um grupo por contêiner na sua própria subárvore, `boxkit/<id>`, abaixo do grupo em que
# roda o kernel deste notebook (na maioria dos hosts, o topo de cada hierarquia:
# `/sys/fs/cgroup/<controller>/boxkit/<id>` no cgroup v1, `/sys/fs/cgroup/boxkit/<id>` no v2), para que um
# limite no grupo do kernel do notebook valha também para os contêineres que ele inicia. Um *amostrador*
# (*sampler*) lê os arquivos do grupo enquanto o contêiner roda. Todos os gráficos abaixo mostram esses
# números.
#
# O Linux tem duas organizações desses arquivos. O **cgroup v1** monta uma árvore por hierarquia, cada uma
# com um controlador ou alguns (`/sys/fs/cgroup/memory/`, `/sys/fs/cgroup/pids/`, …); o **cgroup v2**
# monta uma árvore só para todos eles. Um host *híbrido* (*hybrid*) monta os dois: cada controlador fica
# em apenas um dos dois de cada vez, e, quando os que os contêineres usam (memory, cpu, pids) estão em
# árvores v1, o boxkit os controla do jeito do v1. A próxima célula diz qual é o caso deste host.

# %%
# NBVAL_IGNORE_OUTPUT
# edição em português (pt_BR): daqui em diante, o próprio boxkit também fala português
import boxkit
boxkit.set_language("pt_BR")
from boxkit import course

course.start("cgroups")

# %%
# NBVAL_IGNORE_OUTPUT
import os

import boxkit
from boxkit import cgroups
from boxkit import cgroup_experiments as experiments
from boxkit.viz import cgroups as viz

host = cgroups.detect()
print("modo de cgroup:", host.mode, "— o boxkit usa o cgroup", f"v{host.version}")
print("controladores:", ", ".join(host.controllers()))

# %% [markdown]
# ## Memória: 500 MiB, e nem um byte a mais
#
# O exemplo das notas de origem. Um contêiner limitado a 500 MiB (`500M`: o boxkit, como o docker, conta
# em potências de dois) roda um programa que aloca memória de 10 em 10 MiB e toca em cada página (páginas
# nunca tocadas não custam nada), com a meta de chegar a 900 MiB. O amostrador lê o uso do grupo 50 vezes
# por segundo, e o gráfico é redesenhado enquanto o programa roda. O trabalho desse programa guloso (o
# *hog*) é uma contagem (passos de 10 MiB até 900 MiB), então toda máquina desenha a mesma subida, só que
# mais depressa ou mais devagar.

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
fig, mem, r = viz.live_memory(memory="500M", target_mb=900, step_mb=10, hz=50)
r

# %% [markdown]
# O uso sobe degrau a degrau até a linha. Na linha, uma nova cobrança que a ultrapassaria faz o kernel
# recuperar primeiro as páginas do próprio grupo (as páginas de arquivo que ele trouxe para a memória, se
# houver). A memória do próprio programa guloso não pode ir para o swap: o boxkit escreve o mesmo limite
# para memória + swap (`memory.memsw.limit_in_bytes` no v1, `memory.swap.max` 0 no v2; lidos de volta no
# fim do capítulo). Quando não sobra nada para recuperar, o OOM killer encerra o programa guloso — só
# dentro deste grupo; o host e o kernel do notebook nem perceberam. O ✖ fica sobre a última amostra antes
# de o processo ser morto; a faixa sombreada é o intervalo entre amostras em que a morte aconteceu. Onde
# uma amostra pegou o momento logo depois da morte, a curva cai ali: é o kernel liberando a memória do
# programa morto, e não o programa abrindo mão dela. O boxkit tira o veredito de `oom_kill` em
# `memory.oom_control` (v1) ou `memory.events` (v2), e não só do código de saída: a saída 137 diz apenas
# "SIGKILL".

# %%
# boxkit: needs cgroups
MiB = 2**20
limit = 500 * MiB
peak = r.stats["memory_peak"]
print(f"código de saída {r.exit_code} (128 + 9, SIGKILL):", r.exit_code == 137)
print(f"oom_kill em memory.oom_control ou memory.events: {r.stats.get('oom_kills')}; morto pelo OOM killer:",
      r.oom_killed)
print(f"pico de {peak / MiB:.1f} MiB e maior amostra de {mem.peak_memory / MiB:.1f} MiB, nenhum "
      "dos dois acima do limite de 500 MiB:", peak <= limit and mem.peak_memory <= limit)
print(f"o programa guloso chegou ao limite: pico de {peak / MiB:.1f} de 500 MiB:", peak > 0.9 * limit)
print(f"uma amostra chegou perto do limite, 5% ou menos abaixo dele: {mem.peak_memory / MiB:.1f} MiB:",
      mem.peak_memory > 0.95 * limit)

# %% [markdown]
# ## Cota de CPU: meio núcleo
#
# `cpus=0.5` escreve uma cota de 50 ms a cada período de 100 ms (o grupo de um contêiner, lido de volta no
# fim do capítulo, mostra os dois números). Dois laços ocupados (*busy loops*, que só queimam CPU) querem
# dois núcleos inteiros; o grupo recebe metade de um. As barras no eixo da direita são o tempo que o grupo
# passou *limitado* (*throttled*) — estacionado até o próximo período — em cada amostra.
#
# Uma barra pode ser mais alta do que o tempo entre duas amostras: `throttled_time` (no `cpu.stat` do v1)
# soma o tempo que a fila de execução do grupo em cada CPU passou limitada; assim, dois laços ocupados em
# duas CPUs, ambos estacionados durante um intervalo inteiro entre amostras, contam esse intervalo duas
# vezes. Uma amostra isolada também pode mostrar mais ou menos do que meio núcleo: a cota é imposta a cada
# *período* de 100 ms, e os 100 ms de uma amostra raramente coincidem com um período. Uma amostra que
# abrange dois períodos pode conter os 50 ms que o grupo rodou no fim de um e os 50 ms do começo do
# seguinte (um núcleo inteiro), ou, na maior parte, o tempo estacionado entre eles; a própria imprecisão
# de tempo do amostrador (*jitter*) estica os dois casos um pouco mais. Na média de alguns segundos, o
# resultado é a cota.

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
fig, cpu, r = viz.live_cpu(cpus=0.5, seconds=4)
r

# %%
# boxkit: needs cgroups
used = cpu.mean_cores(skip=1.0)
print("cota:", cpu.cpu_limit, "núcleos")
print(f"medido: {used:.2f} núcleos, entre 0.4 e 0.6:", 0.4 <= used <= 0.6)
print(f"limitado em {cpu.nr_throttled[-1]} períodos, {cpu.throttled_usec[-1] / 1e6:.1f} s no total:",
      cpu.nr_throttled[-1] > 0)

# %% [markdown]
# ## Pesos de CPU: 1 para 3
#
# Uma cota é um teto. Um **peso** (`cpu.shares` no v1, `cpu.weight` no v2) não é: ele só decide como se
# divide uma CPU que vários grupos querem. Dois contêineres ocupados são fixados na CPU 0
# (`cpuset_cpus="0"`) com pesos (*shares*) 256 e 768. Outros programas desta máquina também podem tomar
# parte da CPU 0, então olhe para a divisão entre os dois, não para o total.

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
results, pair = experiments.cpu_weights(shares=(256, 768), seconds=4, cpuset="0")
viz.shares_figure(pair, [256, 768])

# %%
# boxkit: needs cgroups
light, heavy = experiments.measured_shares(pair, skip=1.0)
ended_by = [r.signal for r in results]
print(f"sinais que os encerraram depois da janela de medição: {ended_by}; os dois ainda queimavam CPU até ali:",
      all(ended_by))
print(f"fatia do mais pesado {heavy:.0%}, perto de 75% (65-85):", 0.65 <= heavy <= 0.85)
print(f"o mais leve recebeu menos: {light:.0%} contra {heavy:.0%}:", light < heavy)

# %% [markdown]
# ## pids: uma fork bomb que não vai a lugar nenhum
#
# Um programa faz fork o mais rápido que pode num contêiner com `pids_limit=20` (`pids.max`). Com 20
# tarefas, todo `fork()` a mais falha com EAGAIN — o programa conta as recusas. O próprio programa é uma
# das 20 tarefas, então ele consegue criar um filho a menos do que o limite. Quando a bomba já ocupa o
# limite, o kernel do notebook inicia 20 processos seus no host e lê o `pids.current` do grupo antes e
# depois: o limite é do grupo, não da máquina. Em seguida, o notebook espera um número fixo de amostras
# (`seconds=3` a 20 amostras por segundo) e para a bomba com SIGTERM: a execução é medida em contagens,
# então uma máquina lenta mostra a mesma história.

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
fig, pids, r = viz.live_pids(pids_limit=20, seconds=3, host_forks=20)
print(r.stdout)

# %%
# boxkit: needs cgroups
made, refused = int(r.stdout.split()[1]), int(r.stdout.split()[3])
print(f"máximo de pids {max(pids.pids_current)}, no máximo 20:", max(pids.pids_current) <= 20)
print(f"a bomba chegou ao limite: {max(pids.pids_current)} de 20:", max(pids.pids_current) >= 15)
print(f"o kernel recusou {refused} forks:", refused > 0)
print(f"a bomba criou {made} filhos; com ela mesma, {made + 1} tarefas, pids.max {pids.pids_max}:",
      made + 1 == pids.pids_max)
hf = r.stats["host_forks"]
print(f"pids.current {hf['pids_before']} antes e {hf['pids_after']} depois dos forks do host; a "
      "bomba ocupava o limite nas duas leituras:",
      hf["pids_before"] == hf["pids_after"] == hf["limit"])
print(f"enquanto isso, o host iniciou {hf['started']} de {hf['asked']} processos:",
      hf["started"] == hf["asked"])

# %% [markdown]
# ## memory.high: frear antes de matar (cgroup v2)
#
# O cgroup v2 tem uma segunda linha de memória, `memory.high`: acima dela, o kernel não mata; ele deixa o
# grupo mais lento e recupera a memória dele, e essa espera aparece como *pressão de memória*. O kernel a
# mede como **PSI**, *pressure stall information* (informação de paradas por pressão): a fração do tempo
# recente em que tarefas esperaram por memória (`memory.pressure`).
#
# O cgroup v1 não tem nada equivalente. O seu `memory.soft_limit_in_bytes` (o `--memory-reservation` do
# docker) não faz nada até a máquina inteira ficar com pouca memória; aí o kernel recupera memória
# primeiro dos grupos que estão *acima* do seu limite flexível (*soft limit*). Ele está sendo
# descontinuado: kernels recentes registram "soft_limit_in_bytes is deprecated and will be removed" no log
# na primeira vez, depois do boot, que alguém escreve nele. No v2, o runc escreve essa reserva em
# `memory.low`, que protege a memória de um grupo *abaixo* desse valor — até onde os grupos pais também
# concedem proteção: o kernel limita o `memory.low` de um grupo pelo dos seus ancestrais (cgroup-v2.rst,
# "effective low boundary"). Nenhum dos dois deixa um grupo mais lento.
#
# Por isso, a próxima célula precisa de um host com cgroup v2. Num host v1 ou híbrido, ela mostra, em vez
# disso, uma execução gravada numa máquina com cgroup v2, marcada com o selo GRAVADO.
#
# Um programa guloso cresce rumo a 300 MiB com `memory.high` em 200 MiB e `memory.max` em 400 MiB. O
# kernel não o mata: segura-o perto da linha *high*, fazendo cada alocação esperar, e o tempo que as
# tarefas dele passam paradas à espera de memória sobe (o `some avg10` do PSI, a fração dos últimos 10 s
# em que pelo menos uma tarefa esperou por memória). A célula imprime como o programa terminou: se ele
# nunca chegou à meta, foi o boxkit que o parou quando o tempo do experimento acabou.

# %%
# boxkit: needs cgroups, cgroup2
# NBVAL_IGNORE_OUTPUT
from IPython.display import display

MiB = 2**20
r, s, psi = experiments.memory_high(high="200M", memory="400M", target_mb=300)
display(viz.memory_high_figure(s, psi, 200 * MiB))
print(f"cgroup {host.mode}, kernel {os.uname().release}")
ended = f"pelo tempo limite do boxkit, após {r.wall_time:.0f} s" if r.timed_out else f"com código de saída {r.exit_code}"
print(f"o programa guloso terminou {ended}; oom_kill {r.stats.get('oom_kills')}: o memory.high o "
      f"segurou, não o matou: {not r.oom_killed}")
print(f"pico de {s.peak_memory / MiB:.0f} MiB, abaixo do memory.max (400 MiB): "
      f"{s.peak_memory <= 400 * MiB}")
top = max((p for _, p in psi), default=None)
print(f"pressão de memória (PSI some avg10) no ponto mais alto: {top} %; acima de 0: {bool(top)}")

# %% [markdown]
# ## Os mesmos limites, duas organizações de arquivos
#
# O cgroup v1 tem uma árvore por hierarquia (um controlador ou alguns), cada uma com os seus próprios
# nomes de arquivo; o v2 tem uma árvore só para todos, com nomes de arquivo próprios (`memory.max` onde o
# v1 tem `memory.limit_in_bytes`). Os dois drivers do boxkit escrevem os mesmos limites nesses arquivos
# (`boxkit.cgroups.FILE_MAP`); a coluna que este host usa aparece destacada. Os nomes das linhas ficam em
# inglês, porque a célula seguinte procura os arquivos por eles: *memory limit* é o limite de memória,
# *memory in use* a memória em uso, *OOM kills* as mortes pelo OOM killer, *CPU quota* a cota de CPU,
# *process limit* o limite de processos e *processes* os processos. Uma *reserva* (*reservation*) não é um
# limite: como diz a seção acima, ela só orienta a recuperação de memória (o limite flexível do v1 quando
# o host inteiro fica com pouca memória; o `memory.low` do v2 também quando o limite de um grupo ancestral
# é atingido).

# %%
# NBVAL_IGNORE_OUTPUT
viz.file_map(host.mode)

# %% [markdown]
# A tabela é a do boxkit. Para ver o lado do kernel, a próxima célula inicia um contêiner com limite de
# memória, cota de CPU e limite de pids, procura cada arquivo da coluna deste host no próprio grupo do
# contêiner (os diretórios que o `/proc/PID/cgroup` dele indica) e lê de volta desses arquivos os limites
# que eles guardam. Alguns arquivos só existem em alguns kernels (memória + swap precisa da contabilização
# de swap; `memory.peak` precisa do Linux 5.19), por isso a célula lista os que faltam neste host. No v1,
# o arquivo de memória + swap guarda o limite de memória (nenhum swap além dele); no v2, o arquivo de swap
# guarda só o swap, 0.

# %%
# boxkit: needs cgroups
limits = {"memory": "64M", "cpus": 0.5, "pids_limit": 50}
with boxkit.run("busybox", ["sleep", "60"], detach=True, **limits) as box:
    found = experiments.group_files(box.pid, cgroups.FILE_MAP, host.mode)
    limit_file = next(x for x in found if x[0] == "memory limit")
    held = experiments.read_back(found)   # arquivo → os números da sua primeira linha
missing = [name for _, name, path in found if path is None]
core = {"memory limit", "memory in use", "OOM kills", "CPU quota", "process limit", "processes"}
# as mesmas palavras no v1 e no v2 (a VM também roda este notebook): caminhos e nomes só onde eles
# coincidem
group = "/".join(os.path.dirname(limit_file[2] or "").split("/")[-2:])
print(f"o arquivo do limite de memória está no próprio grupo do contêiner ({group}):", group == f"boxkit/{box.id}")
print(f"arquivos da tabela encontrados no grupo do contêiner: {len(found) - len(missing)} de {len(found)}:",
      len(found) > len(missing))
if missing:
    print("ausentes neste host:", ", ".join(missing))
in_group = (held.get(limit_file[1]) or [None])[0]
print(f"o arquivo do limite de memória guarda {in_group} bytes, os 64 MiB pedidos:", in_group == 64 * MiB)
swap = next(((held.get(name) or [None])[0] for what, name, _ in found
             if what == "memory + swap limit"), None)
print(f"nenhum swap além do limite (o arquivo de memória + swap guarda {swap}):", swap in (64 * MiB, 0))
quota = [n for what, name, _ in found if what == "CPU quota" for n in held.get(name, [])]
print(f"a cota de CPU nos arquivos: {quota}, 50 ms a cada período de 100 ms:", quota[:2] == [50_000, 100_000])
there = sum(1 for what, _, path in found if what in core and path)
print("arquivos de limite, uso, OOM, cota de CPU e pids presentes: "
      f"{there} de {sum(1 for what, _, _ in found if what in core)}:",
      all(path for what, _, path in found if what in core))

# %% [markdown]
# ## O que foi provado
#
# * Um contêiner limitado a 500 MiB foi morto pelo OOM killer quando pediu mais, e o seu pico nunca passou
#   do limite; o boxkit soube que foi o OOM killer, e não um SIGKILL qualquer.
# * Uma cota de 0,5 CPU segurou dois laços ocupados em cerca de meio núcleo, por limitação (*throttling*).
# * Os pesos 256:768 dividiram uma CPU disputada em cerca de 25:75 (um peso só divide uma CPU disputada;
#   esta execução não mostrou nenhum dos dois contêineres sozinho).
# * Uma fork bomb parou no `pids.max` 20 enquanto o host continuava fazendo fork.
# * Os arquivos da coluna deste host na tabela v1/v2 são os do kernel: o grupo de um contêiner os contém,
#   com os limites que o boxkit escreveu.
#
# ## <a id="Exercise"></a>Exercício
#
# Um grupo é cobrado pelas páginas que os seus processos trazem para a memória — e não só pela memória que
# um programa pede (uma página que já está na memória continua cobrada do grupo que a trouxe primeiro).
# Três programas põem, cada um, **100 MiB** em algum lugar, cada um num contêiner limitado a **48 MiB**:
#
# * `heap`: o python guarda 100 MiB num objeto bytes;
# * `file`: o `dd` escreve um arquivo de 100 MiB em `/tmp`;
# * `shm`: o `dd` escreve 100 MiB em `/dev/shm`.
#
# Para cada programa, preveja `"finishes"` (termina) ou `"killed"` (morto pelo OOM killer). Onde os bytes
# de cada um vão parar faz diferença: `boxkit.run("busybox", ["mount"]).stdout` lista o que são o `/` e o
# `/dev/shm` de um contêiner. A verificação roda os três programas e lê o `oom_kill` de cada um.

# %%
from boxkit.exercise_runs import CHARGE_LIMIT, CHARGE_MIB, CHARGE_PROGRAMS

print(f"limite de cada contêiner: {int(CHARGE_LIMIT.rstrip('M'))} MiB ({CHARGE_LIMIT}); "
      f"cada programa põe {CHARGE_MIB} MiB em algum lugar:")
for name, (image, argv) in CHARGE_PROGRAMS.items():
    print(f"  {name} (imagem {image}): {' '.join(argv)}")

# %%
# boxkit: exercise
my_prediction = {"heap": ..., "file": ..., "shm": ...}   # "finishes" (termina) ou "killed" (morto)

# %%
# boxkit: exercise
from boxkit import exercises

exercises.memory_charge(my_prediction)

# %% [markdown]
# Travou depois de algumas tentativas? `exercises.solution("memory")` mostra uma resposta e o raciocínio
# por trás dela.

# %% [markdown]
# ## Experimente os limites você mesmo
#
# Mova os controles deslizantes e clique em **Executar**: um programa guloso de 600 MiB roda sob o limite
# de memória e, depois, dois laços ocupados rodam sob a cota de CPU. A célula roda uma vez com os
# controles na posição inicial, então uma cópia deste notebook salva sem os widgets (ou mostrada como
# GRAVADO) ainda mostra o gráfico dessa execução.

# %%
# boxkit: needs cgroups
# NBVAL_IGNORE_OUTPUT
viz.panel(hog_mb=600, seconds=3, run_now=True)

# %% [markdown]
# Próximo: [03 — o sistema de arquivos overlay](03-overlay.ipynb).
