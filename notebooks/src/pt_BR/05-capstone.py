# %% [markdown]
# # 05 — Projeto final: um serviço, todos os mecanismos
#
# Tudo o que vimos até aqui, numa só sequência das chamadas que um motor de contêineres faz: **construir**
# a imagem de um aplicativo com cache de camadas; **rodar** essa imagem com limites de memória, de CPU e
# de processos, numa rede bridge com uma porta publicada; **observar** a memória e a CPU do serviço
# enquanto um gerador de carga o bombardeia; **fazer commit** de uma mudança como uma camada nova; e
# comparar os arquivos de cgroup (grupo de controle) que o boxkit escreveu com os que o podman escreve
# para as mesmas opções.

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
import shutil
import tempfile

import boxkit
from boxkit import compare, examples, loadgen
from boxkit.images import resolve
from boxkit.build import build_file

# %% [markdown]
# ## 1. Construir
#
# O aplicativo é uma minúscula loja HTTP (`boxkit/examples/shop/`): cada pedido gasta um pouco de CPU e
# guarda 32 KiB. O `Boxfile` dela começa com `FROM host`: a imagem `host` do boxkit, uma única camada que
# o boxkit criou offline a partir dos arquivos deste próprio host (o python3 dele, os seus shells e
# ferramentas de linha de comando, e as bibliotecas que eles carregam). O Boxfile copia o aplicativo por
# cima e define o comando.

# %%
ctx = tempfile.mkdtemp(prefix="shop-")
shutil.copytree(examples.path("shop"), ctx, dirs_exist_ok=True)
print(open(os.path.join(ctx, "Boxfile")).read())

# %% [markdown]
# O primeiro build roda num cache de build novo, só dele (`cache_scope`: um por execução deste notebook),
# então cada camada é construída de verdade aqui, como numa máquina que nunca construiu a loja. Só os
# passos `COPY` criam uma camada (as linhas `--->` com um tempo); `FROM`, `WORKDIR`, `ENV` e `CMD` só
# definem a configuração da imagem.

# %%
# NBVAL_IGNORE_OUTPUT
import uuid

lesson_cache = f"capstone-{uuid.uuid4().hex[:12]}"
first = build_file(os.path.join(ctx, "Boxfile"), "shop:1.0", ctx, cache_scope=lesson_cache)

# %% [markdown]
# O segundo build, abaixo: nada mudou, então cada passo que produz uma camada vem do cache.

# %%
# NBVAL_IGNORE_OUTPUT
again = build_file(os.path.join(ctx, "Boxfile"), "shop:1.0", ctx, cache_scope=lesson_cache)

# %%
print(f"primeiro build: todas as camadas construídas ({first.built_steps} construídas, {first.cached_steps} do cache):",
      first.built_steps > 0 and first.cached_steps == 0)
print(f"novo build: tudo do cache ({again.built_steps} construídas, {again.cached_steps} do cache):",
      again.built_steps == 0 and again.cached_steps > 0)
print(f"a mesma imagem nas duas vezes ({again.digest[7:19]}):", again.digest == first.digest)

# %% [markdown]
# ## 2. Rodar como um serviço de verdade
#
# 200 MiB de memória, meia CPU, no máximo 50 tarefas, na bridge padrão, com a porta 8000 publicada no host
# como 18080 — o `run -d --memory 200m --cpus 0.5 --pids-limit 50 -p 18080:8000` do docker (nos dois,
# `200M` e `200m` querem dizer 200 MiB, 200 × 2²⁰ bytes). Uma tarefa é um processo ou uma thread: o
# `pids.max` conta os dois, e a loja atende cada pedido numa thread própria. Cada requisição que a loja
# atende é um pedido, e a página dela diz quantos pedidos ela guarda, incluindo esta primeira requisição.

# %%
# boxkit: needs network, cgroups
import time
import urllib.request

shop = boxkit.run("shop:1.0", detach=True, name="shop", network="bridge", publish=["18080:8000"],
                  memory="200M", cpus=0.5, pids_limit=50)
page = ""
for _ in range(100):   # o servidor precisa de um instante para começar a escutar
    try:
        page = urllib.request.urlopen("http://127.0.0.1:18080/", timeout=1).read().decode().strip()
        break
    except OSError:
        time.sleep(0.1)
print(f"a loja respondeu na porta 18080 do host ({page!r}):", page.startswith("shop 1.0"))

# %% [markdown]
# ## 3. Observar sob carga
#
# O amostrador lê os arquivos de cgroup do contêiner 10 vezes por segundo enquanto 4 threads no host
# enviam **1.500 pedidos**; ele começa meio segundo antes do primeiro pedido e para meio segundo depois do
# último, então o gráfico mostra a loja ociosa dos dois lados. A memória sobe a cada pedido (1.500 × 32
# KiB = 47 MiB além do que a loja ociosa usa, muito abaixo do limite de 200 MiB) e continua alta quando os
# pedidos param: a loja nunca os solta. O uso de CPU encosta na cota de 0,5: o kernel dá ao grupo 50 ms de
# tempo de CPU em cada período de 100 ms (`cpu.cfs_quota_us` sobre `cpu.cfs_period_us`; a parte 5 os
# imprime) e o limita (*throttling*) pelo resto de um período cuja cota ele já gastou. Num período em que
# os pedidos chegam mais devagar do que a loja conseguiria atendê-los, ela usa menos. Um ponto do painel
# de CPU é o tempo de CPU usado entre duas leituras, dividido pelo tempo entre elas; as leituras do
# amostrador não caem nas fronteiras dos períodos do kernel, então um ponto pode subir acima da linha
# tracejada, enquanto a média sobre todos os pedidos não pode (além do equivalente a um período em cada
# ponta). A carga é uma quantidade de pedidos, não uma duração: numa máquina mais rápida, os mesmos
# pedidos chegam antes, e a loja termina no mesmo estado. A última linha pede a página da loja mais uma
# vez, e essa requisição também é um pedido.

# %%
# boxkit: needs network, cgroups
# NBVAL_IGNORE_OUTPUT
sampler = shop.sample(hz=10)
ORDERS = 1500
time.sleep(0.5)   # a loja ociosa antes dos pedidos
load = loadgen.http_load("http://127.0.0.1:18080/", requests=ORDERS, concurrency=4)
time.sleep(0.5)   # e depois deles
series = sampler.stop()
from boxkit.viz.capstone import usage_figure

usage_figure(series, title=f"a loja sob carga: {load.requests} pedidos, enviados em {load.seconds:.1f} s")

# %%
# boxkit: needs network, cgroups
MiB = 1 << 20
grew = series.memory_current[-1] - series.memory_current[0]
served = load.requests
print(f"pedidos atendidos ({served} de {ORDERS}, {load.errors} erros):", served == ORDERS)
# o tempo de CPU que a loja usou (os meios segundos ociosos quase não somam nada), dividido pelo
# tempo dos pedidos; o tempo dos pedidos pode começar e terminar no meio de um período de 100 ms (a
# parte 5 imprime o período), e o grupo pode usar a cota de um período inteiro em cada um desses
# dois, daí a folga
cpu_s = (series.cpu_usage_usec[-1] - series.cpu_usage_usec[0]) / 1e6
cores = cpu_s / load.seconds
allowed = series.cpu_limit * (load.seconds + 2 * 0.1) / load.seconds
print(f"CPU mantida na cota de {series.cpu_limit:g} ({cpu_s:.2f} s de CPU em {load.seconds:.2f} s de "
      f"pedidos: {cores:.2f} núcleos em média, no máximo {allowed:.2f}):", cores <= allowed)
throttled = series.nr_throttled[-1] - series.nr_throttled[0]
print(f"a loja queria mais: o kernel a limitou ({throttled} períodos):", throttled > 0)
expected = ORDERS * (32 << 10)
print(f"a memória cresceu com os pedidos (+{grew / MiB:.0f} "
      f"MiB; {ORDERS} x 32 KiB = {expected / MiB:.0f} MiB):", grew >= expected * 0.8)
peak, limit = series.peak_memory, series.memory_limit
print(f"a memória ficou muito abaixo do limite, abaixo da metade dele (pico de {peak / MiB:.0f} MiB "
      f"de {limit / MiB:.0f} MiB):", peak < limit / 2)
tasks = max(series.pids_current)
print(f"as threads da loja são tarefas: um único processo contou como até {tasks} de {series.pids_max}:",
      1 < tasks <= series.pids_max)
page = urllib.request.urlopen("http://127.0.0.1:18080/", timeout=5).read().decode().strip()
print(f"a loja ainda responde depois da carga ({page!r}):", page.startswith("shop 1.0"))

# %% [markdown]
# ## 4. Fazer commit de uma mudança como uma camada nova
#
# Editamos o contêiner em execução (um `VERSION` novo) e então fazemos commit do diretório *upper* dele —
# só o que mudou — como uma camada por cima de `shop:1.0`. Além do arquivo alterado, a camada contém os
# diretórios acima do que o contêiner escreveu: o `app` e o `etc`, onde o runtime escreveu os arquivos
# `hosts`, `hostname` e `resolv.conf` do contêiner, arquivos que um commit deixa de fora (eles pertencem a
# esta execução, não à imagem).

# %%
# boxkit: needs network, cgroups
from boxkit.build.commit import commit_container

shop.exec(["sh", "-c", "echo 1.1 > /app/VERSION"])
commit_container("shop", "shop:1.1", comment="echo 1.1 > /app/VERSION")
base_layers = resolve("shop:1.0").layers
new_layers = resolve("shop:1.1").layers

# %%
# boxkit: needs network, cgroups
shared = sum(a == b for a, b in zip(base_layers, new_layers))
print(f"shop:1.1 reaproveita todas as camadas de shop:1.0 ({shared} de {len(base_layers)}):",
      new_layers[:len(base_layers)] == base_layers)
print(f"uma camada nova ({len(base_layers)} -> {len(new_layers)} camadas):",
      len(new_layers) == len(base_layers) + 1)
top = new_layers[-1]   # a camada nova, desempacotada no armazenamento de imagens
entries = sorted(os.path.relpath(os.path.join(d, n), top)
                 for d, dirs, names in os.walk(top) for n in dirs + names)
files = [e for e in entries if not os.path.isdir(os.path.join(top, e))]
print(f"o único arquivo da camada nova é o alterado ({', '.join(files)}):",
      files == ["app/VERSION"])
print("os diretórios acima dele:", ", ".join(e for e in entries if e not in files))
said = boxkit.run("shop:1.1", ["cat", "/app/VERSION"]).stdout.strip()
print(f"um contêiner de shop:1.1 lê a versão do commit ({said!r}):", said == "1.1")

# %% [markdown]
# ## 5. Os mesmos limites, escritos pelo podman
#
# Um limite é um número num arquivo de cgroup. Aqui estão os arquivos por trás da loja em execução e os
# arquivos que o podman (com o runc) escreve para as mesmas opções `--memory 200m --cpus 0.5 --pids-limit
# 50`. Um deles difere de propósito: o swap. Sem `--memory-swap`, o docker e o podman deixam um contêiner
# usar em swap a mesma quantidade do seu limite de memória; o boxkit não dá swap nenhum a um contêiner, a
# menos que isso seja pedido, e assim o OOM killer age no limite de memória. O cgroup v1 limita memória e
# swap juntos (`memory.memsw.limit_in_bytes`, mostrado como `memory+swap`), e o v2 limita só o swap
# (`memory.swap.max`, mostrado como `swap`); um kernel que não contabiliza swap não tem nenhum dos dois
# arquivos.

# %%
# boxkit: needs network, cgroups
# NBVAL_IGNORE_OUTPUT
ours = compare.limits_of(shop.pid, swap=True)
theirs = compare.podman_limits(resolve("busybox").layers[-1], "200m", 0.5, 50, swap=True)
for what, (path, value) in ours.items():
    other = theirs.get(what, ("", "—"))[1] if isinstance(theirs, dict) else "—"
    print(f"{what:13} boxkit {value:>12}   podman {other:>12}   {os.path.basename(path)}")
if isinstance(theirs, str):
    print("podman:", theirs)

# %%
# boxkit: needs network, cgroups
SWAP = ("memory+swap", "swap")


def swap_room(limits):
    """Bytes de swap que um contêiner pode usar além da sua memória; None onde o swap não é contabilizado."""
    if "memory+swap" in limits:   # v1: memória e swap juntos
        return int(limits["memory+swap"][1]) - int(limits["memory limit"][1])
    return int(limits["swap"][1]) if "swap" in limits else None


if isinstance(theirs, dict):
    limits = [k for k in ours if k not in SWAP]
    equal = sum(k in theirs and theirs[k][1] == ours[k][1] for k in limits)
    print(f"o boxkit e o podman escreveram os mesmos limites de memória, CPU e pids ({equal} de {len(limits)} "
          "arquivos iguais):", equal == len(limits))
    mine, podmans = swap_room(ours), swap_room(theirs)
    if mine is None or podmans is None:
        print("este kernel não contabiliza swap: não há limite de swap para comparar")
    else:
        memory = int(ours["memory limit"][1])
        print(f"swap: o podman permite outro tanto igual à memória, o boxkit nenhum ({podmans} e "
              f"{mine} bytes além da memória):", podmans == memory and mine == 0)
else:
    print("o podman não está disponível aqui: nada para comparar")

# %% [markdown]
# ## Limpeza
#
# O `remove()` pede ao auxiliar do boxkit que mate a loja e leve embora tudo o que ela criou, e retorna
# sem esperar. Por isso perguntamos ao host, durante alguns segundos, se os rastros sumiram: o processo,
# os diretórios de cgroup dele (aqueles de onde os limites acima foram lidos), o diretório *upper* do
# overlay e a porta publicada.

# %%
# boxkit: needs network, cgroups
from boxkit.net import firewall as fw

groups = sorted({os.path.dirname(path) for path, _value in ours.values()})
pid, upper = shop.pid, shop.upper_dir
shop.remove()
shutil.rmtree(ctx)   # o contexto de build, uma cópia temporária do exemplo
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    left = [p for p in (f"/proc/{pid}", upper, *groups) if os.path.exists(p)]
    published = ("tcp", 18080) in fw.published()
    if not left and not published:
        break
    time.sleep(0.05)

# %%
# boxkit: needs network, cgroups
print(f"o processo da loja (PID {pid} no host) sumiu:", not os.path.exists(f"/proc/{pid}"))
gone = [g for g in groups if not os.path.exists(g)]
print(f"os diretórios de cgroup da loja sumiram ({len(gone)} de {len(groups)}):", len(gone) == len(groups))
# o caminho abaixo da raiz do boxkit (um BOXKIT_ROOT muda a raiz de lugar; os testes usam uma
# própria)
print(f"o diretório upper da loja sumiu ({'/'.join(upper.split('/')[-3:])}):", not os.path.exists(upper))
print(f"a porta 18080 não está mais publicada ({len(fw.published())} portas no mapa de DNAT):",
      not published)

# %% [markdown]
# ## O que foi provado
#
# * Um arquivo de build fez uma imagem camada por camada (com um cache novo: todas as camadas
#   construídas), e um segundo build tirou todas as camadas do cache.
# * A loja rodou sob limites de memória, CPU e processos numa bridge e respondeu numa porta publicada;
#   removê-la tirou do host o processo, os diretórios de cgroup, o diretório upper e a porta dela.
# * Sob carga, o kernel limitou a CPU da loja à cota, as threads dela contaram para o seu limite de
#   tarefas e a memória cresceu com os pedidos, muito abaixo do limite.
# * Uma mudança no contêiner em execução virou uma única camada nova por cima das camadas da imagem
#   antiga, contendo o arquivo alterado.
# * Os limites são números em arquivos de cgroup — os mesmos números que o podman escreve, onde o podman
#   está instalado, exceto o swap, que o podman permite por padrão e o boxkit não.
#
# ## <a id="Exercise"></a>Exercício
#
# A loja guarda 32 KiB por pedido. Sob um limite de memória de `my_memory` (e sem swap, como o boxkit
# configura), quantos pedidos ela vai atender antes que o OOM killer acabe com ela? Ponha a sua estimativa
# em `my_orders`. A verificação roda a loja sob esse limite e envia pedidos um a um até ela morrer; uma
# estimativa próxima o bastante está certa (a verificação diz quão próxima).

# %%
# boxkit: exercise
my_memory = "30M"
my_orders = ...   # um número inteiro de pedidos

# %%
# boxkit: exercise
from boxkit import exercises

exercises.shop_orders(my_memory, my_orders)

# %% [markdown]
# Travou depois de algumas tentativas? `exercises.solution("shop")` mostra uma resposta e o raciocínio por
# trás dela.
#
# **Experimente em seguida:** inicie de novo a loja da parte 2 com `cpus=0.1` e envie a ela os pedidos da
# parte 3: um limite de CPU chega a matar? O que dizem `series.nr_throttled` e o `load.latencies_ms` da
# carga (o tempo de cada pedido, em milissegundos)? Remova a loja quando terminar.
#
# ## O que vem a seguir, e o que o curso deixa de fora
#
# Os próximos capítulos abrem ainda mais a caixa:
#
# * 06 — [camadas de segurança](06-security.ipynb): o que mantém pequeno o root numa caixa (capabilities,
#   o filtro seccomp sobre chamadas de sistema, no_new_privs, caminhos somente leitura e mascarados);
# * 07 — [a cadeia OCI](07-oci.ipynb): do docker e do podman até o runtime;
# * 08 — [um contêiner à mão](08-by-hand.ipynb): feito a partir de chamadas de sistema, uma célula de cada
#   vez;
# * 09 — [o primeiro processo](09-pid1.ipynb): o que o PID 1 deve aos seus filhos.
#
# O que o curso inteiro deixa de fora:
#
# * **perfis LSM**: as regras do AppArmor e do SELinux são citadas no capítulo 06, mas nunca escritas nem
#   carregadas aqui.
# * **contêineres rootless como um todo**: o capítulo 01 mostra um namespace (espaço de nomes) de usuário
#   e o seu mapa de ids, e o capítulo 08 escreve um mapa desses à mão; os intervalos de `/etc/subuid`, o
#   `newuidmap` e os cgroups delegados a um usuário não são mostrados.
# * **orquestração**: muitos contêineres em muitas máquinas (o Kubernetes inicia cada pod com os mesmos
#   recursos do kernel que você usou aqui, por meio do runc ou do crun).

