# %% [markdown]
# # 03 — O sistema de arquivos overlay: camadas compartilhadas
#
# *"Desenvolvi uma nova funcionalidade e vou lançar a versão 2.0, o container junto com o overlay file
# system consegue realizar o reaproveitamento das dependências e atualizar apenas o que precisa. A segunda
# imagem só será gerada com o diferença das duas imagens."*
#
# Uma imagem de contêiner é uma **pilha de camadas**: árvores de diretórios somente leitura, cada uma com
# o que um passo do build acrescentou, mudou ou apagou. O `overlayfs` mostra a pilha como uma árvore só e
# põe por cima, para o contêiner, um diretório gravável, o **upper**:
#
# ```
# mount -t overlay overlay -o lowerdir=L2:L1,upperdir=U,workdir=W  MERGED
# ```
#
# | parte | papel |
# |---|---|
# | `lowerdir` | camadas somente leitura, a de cima primeiro; um arquivo em `L2` esconde o mesmo nome em `L1` |
# | `upperdir` | toda mudança vem parar aqui: arquivos escritos passam por *copy-up* (são copiados para cima), e remoções deixam *whiteouts* |
# | `workdir` | espaço de rascunho no sistema de arquivos do upper, para cada copy-up; o contêiner nunca o vê |
# | merged (a visão mesclada) | o que o contêiner vê como `/` |
#
# Primeiro montamos um overlay à mão; depois, a história das notas de origem, com imagens de verdade.

# %%
# NBVAL_IGNORE_OUTPUT
# edição em português (pt_BR): daqui em diante, o próprio boxkit também fala português
import boxkit
boxkit.set_language("pt_BR")
from boxkit import course

course.start("containers")

# %%
# boxkit: needs root
# NBVAL_IGNORE_OUTPUT
import os
import shutil
import stat

import boxkit
from boxkit.images.overlay import mount_overlay, unmount_overlay

demo = "/var/tmp/boxkit-overlay-demo"
shutil.rmtree(demo, ignore_errors=True)
for d in ("lower/etc", "lower/docs", "upper", "work", "merged"):
    os.makedirs(f"{demo}/{d}")
open(f"{demo}/lower/etc/config", "w").write("mode=v1\n")
open(f"{demo}/lower/etc/old", "w").write("to be deleted\n")
open(f"{demo}/lower/docs/a.txt", "w").write("a\n")
open(f"{demo}/lower/docs/b.txt", "w").write("b\n")

mount_overlay([f"{demo}/lower"], f"{demo}/upper", f"{demo}/work", f"{demo}/merged")
mounts = [line for line in open("/proc/self/mountinfo") if f"{demo}/merged" in line]
print(mounts[0].split(" - ")[1])

# %% [markdown]
# ## Escrever num arquivo do lower: copy-up
#
# A visão merged é igual ao diretório lower. Escrever em `etc/config` não pode mudar a camada lower, que é
# somente leitura; então o kernel primeiro copia o arquivo para `upper/` e depois escreve na cópia.

# %%
# boxkit: needs root
with open(f"{demo}/merged/etc/config", "a") as f:
    f.write("mode=v2\n")
merged_text = open(f"{demo}/merged/etc/config").read()
lower_text = open(f"{demo}/lower/etc/config").read()
copy = f"{demo}/upper/etc/config"
copied = os.path.getsize(copy) if os.path.exists(copy) else 0
print(f"merged lê {merged_text.split()}, as duas linhas:", merged_text == "mode=v1\nmode=v2\n")
print(f"lower ainda lê {lower_text.split()}, sem mudança:", lower_text == "mode=v1\n")
print(f"upper contém etc/config, {copied} bytes, o arquivo modificado inteiro:",
      copied == len(merged_text))

# %% [markdown]
# ## Apagar um arquivo do lower: um whiteout
#
# Um arquivo do lower também não pode ser removido. O diretório upper ganha um **whiteout**: um
# dispositivo de caractere com número de dispositivo 0/0 e o mesmo nome, que diz ao overlayfs "este nome
# não existe mais".

# %%
# boxkit: needs root
os.unlink(f"{demo}/merged/etc/old")
st = os.lstat(f"{demo}/upper/etc/old")
merged_etc = sorted(os.listdir(f"{demo}/merged/etc"))
kind = "dispositivo de caractere" if stat.S_ISCHR(st.st_mode) else stat.filemode(st.st_mode)
print(f"merged etc/ lista {merged_etc}, old sumiu:", "old" not in merged_etc)
old_lower = f"{demo}/lower/etc/old"
kept = os.path.getsize(old_lower) if os.path.exists(old_lower) else 0
print(f"lower etc/old ainda guarda {kept} bytes:", kept == len("to be deleted\n"))
print(f"upper etc/old é um {kind} {os.major(st.st_rdev)}/{os.minor(st.st_rdev)}, um whiteout:",
      stat.S_ISCHR(st.st_mode) and st.st_rdev == 0)

# %% [markdown]
# ## Substituir um diretório: opaco
#
# Remova `docs/` e crie-o de novo: o novo diretório não pode mostrar os `a.txt` e `b.txt` do lower. O
# `docs/` do upper é marcado como **opaco** (*opaque*) com o atributo estendido
# `trusted.overlay.opaque=y`: nada do que está abaixo aparece através dele.

# %%
# boxkit: needs root
shutil.rmtree(f"{demo}/merged/docs")
os.mkdir(f"{demo}/merged/docs")
open(f"{demo}/merged/docs/new.txt", "w").write("new\n")
merged_docs = sorted(os.listdir(f"{demo}/merged/docs"))
lower_docs = sorted(os.listdir(f"{demo}/lower/docs"))
marks = os.listxattr(f"{demo}/upper/docs")
mark = (os.getxattr(f"{demo}/upper/docs", "trusted.overlay.opaque")
        if "trusted.overlay.opaque" in marks else None)
print(f"merged docs/ lista {merged_docs}, só o arquivo novo:", merged_docs == ["new.txt"])
print(f"lower docs/ ainda lista {lower_docs}, intacto:", lower_docs == ["a.txt", "b.txt"])
print(f"upper docs/ tem trusted.overlay.opaque = {mark!r}, opaco:", mark == b"y")

# %% [markdown]
# As três marcas numa figura só, lidas dos quatro diretórios enquanto o overlay está montado: uma coluna
# por caminho; as linhas na ordem em que o kernel resolve um nome (primeiro o upper, e o lower onde o
# upper não tem nada); um painel por diretório de topo. Abaixo deles, o que o diretório **work** contém,
# com cada entrada explicada: além do diretório de rascunho `work/`, o kernel guarda ali um whiteout
# próprio (chamado `#` seguido de um número hexadecimal) e faz de cada whiteout que põe no upper um hard
# link para ele, um único inode para todos. A célula depois da figura confere isso pelo número do inode.

# %%
# boxkit: needs root
# NBVAL_IGNORE_OUTPUT
from boxkit.images.upper import scan_overlay
from boxkit.viz.overlay import overlay_figure

scan = scan_overlay(f"{demo}/lower", f"{demo}/upper", f"{demo}/work", f"{demo}/merged")
overlay_figure(scan)

# %%
# boxkit: needs root
whiteouts = [p for p, k in scan["upper"].items() if k == "whiteout"]
opaques = [p for p, k in scan["upper"].items() if k == "opaque"]
print(f"whiteouts no upper {whiteouts}, etc/old entre eles:", "etc/old" in whiteouts)
print(f"diretórios opacos no upper {opaques}, docs entre eles:", "docs" in opaques)
hidden = sorted(p for p in scan["lower"] if p not in scan["merged"])
print(f"caminhos do lower ausentes do merged {hidden}:",
      hidden == ["docs/a.txt", "docs/b.txt", "etc/old"])
old = os.lstat(f"{demo}/upper/etc/old")
spare = [p for p, k in scan["work"].items() if k == "whiteout"]
same = [p for p in spare if os.lstat(f"{demo}/work/{p}").st_ino == old.st_ino]
print(f"whiteouts no work: {len(spare)}, cada um com o inode do etc/old do upper ({old.st_nlink} links):",
      bool(spare) and same == spare)

# %%
# boxkit: needs root
unmount_overlay(f"{demo}/merged")
changes = sorted(os.path.relpath(os.path.join(d, n), f"{demo}/upper")
                 for d, ds, fs in os.walk(f"{demo}/upper") for n in fs + ds)
print(f"upper contém {changes}, só as mudanças:",
      changes == ["docs", "docs/new.txt", "etc", "etc/config", "etc/old"])
shutil.rmtree(demo, ignore_errors=True)
print(f"os diretórios da demonstração ({demo}) removidos:", not os.path.exists(demo))

# %% [markdown]
# Essas três marcas são exatamente o que uma camada de imagem guarda: uma camada *é* um diretório upper,
# escrito como um tar em que os whiteouts viram arquivos `.wh.NAME` e os diretórios opacos, um arquivo
# `.wh..wh..opq` (o `boxkit commit` faz essa conversão).
#
# ## Quanto custa um copy-up
#
# **Preveja primeiro.** Um contêiner acrescenta um byte a um arquivo da sua imagem. A próxima célula faz
# isso com arquivos do lower de 4 KiB até 128 MiB, cada vez num overlay novo, e mede o tempo do primeiro
# acréscimo (open, write, close). O arquivo de 128 MiB vai levar mais ou menos o mesmo tempo que o de 4
# KiB? Se não, por que a primeira escrita num arquivo grande do lower é lenta? E um segundo acréscimo
# também seria lento? Anote o seu palpite e só então rode a célula.

# %%
# boxkit: needs root
# NBVAL_IGNORE_OUTPUT
from boxkit.image_experiments import copy_up_latency, fs_type
from boxkit.viz.layers import copyup_figure

sizes = [4 << 10, 256 << 10, 4 << 20, 32 << 20, 128 << 20]
points = copy_up_latency(sizes)
param = "/sys/module/overlay/parameters/metacopy"   # Y ou N: o padrão quando nenhuma opção é dada
meta = open(param).read().strip() if os.path.exists(param) else "?"
if meta == "Y":
    print(f"diretórios lower, upper e work em {fs_type('/var/tmp')}; metacopy ligado (nenhuma opção metacopy= "
          f"dada; {param}: {meta})")
else:
    print(f"diretórios lower, upper e work em {fs_type('/var/tmp')}; metacopy desligado (nenhuma opção metacopy= "
          f"dada; {param}: {meta})")
for size, secs in points:
    print(f"{size >> 10:>8} KiB  {secs * 1000:8.2f} ms")
copyup_figure(points)

# %%
# boxkit: needs root
big, small = points[-1][1] * 1000, points[0][1] * 1000
print(f"primeiro acréscimo ao arquivo de 128 MiB {big:.1f} ms, ao de 4 KiB {small:.2f} ms; mais de 5 vezes mais lento:",
      big > 5 * small)

# %% [markdown]
# A resposta: o arquivo do lower é somente leitura; então, antes que qualquer coisa possa mudá-lo, o
# kernel **copia o arquivo inteiro** para o diretório upper, seja qual for o tamanho da escrita. O tempo
# cresce com o arquivo, e não com o único byte. Esse custo é pago uma vez só: as escritas seguintes vão
# para a cópia no upper. Esse é um dos motivos por que os contêineres guardam dados grandes e que mudam
# (um banco de dados, um log) em volumes, e não na imagem.
#
# *Quando* esse custo é pago? Não na escrita: na primeira **abertura para escrita**. A próxima célula abre
# um arquivo de 32 MiB do lower só para leitura, depois para escrita sem escrever nenhum byte, e conta o
# que o diretório upper contém depois de cada abertura; em seguida, acrescenta um byte e abre o arquivo
# para escrita mais uma vez.

# %%
# boxkit: needs root
from boxkit.image_experiments import copy_up_at_open

at_open = copy_up_at_open(32 << 20)
print(f"depois de uma abertura só para leitura, o upper contém {at_open['after_read_open']} bytes dele:",
      at_open["after_read_open"] == 0)
print(f"depois de uma abertura para escrita, sem nada escrito: {at_open['after_write_open']} bytes de "
      f"{at_open['size']}, o arquivo inteiro:", at_open["after_write_open"] >= at_open["size"])
print(f"uma segunda abertura para escrita usou essa cópia (inode {at_open['upper_inode']}), nenhuma cópia nova:",
      at_open["same_inode"])

# %% [markdown]
# Duas exceções. Onde o sistema de arquivos do diretório upper sabe fazer *reflink* (xfs, btrfs; o ext4
# não sabe) e o arquivo do lower está nesse mesmo sistema de arquivos, o overlayfs clona os blocos do
# arquivo em vez de copiá-los, e o copy-up sai barato qualquer que seja o tamanho. E um overlay com
# `metacopy=on` copia só os metadados num `chmod`/`chown`, e os dados mais tarde, na primeira abertura
# para escrita, como faz um copy-up comum. A medição acima imprimiu o sistema de arquivos que esses
# overlays usaram e se o metacopy estava ligado.

# %% [markdown]
# ## A história das notas de origem: versão 1.0 e versão 2.0
#
# Um aplicativo com duas dependências, construído com um arquivo de build (o subconjunto do Dockerfile que
# o boxkit aceita):
#
# ```
# FROM busybox
# COPY dep-a /deps/a
# COPY dep-b /deps/b
# COPY app.sh /app/
# CMD ["sh", "/app/app.sh"]
# ```
#
# Cada `COPY` cria uma camada. A versão 2.0 muda só o `app.sh`. Cada passo recebe uma chave de cache
# calculada a partir do seu pai e das suas entradas: a base (uma imagem que o build só nomeia e nunca
# constrói) e os dois passos das dependências não mudaram, então o segundo build diz `CACHED` para os dois
# passos das dependências e cria uma camada nova. O primeiro build roda num cache de build só seu (um
# `cache_scope` novo a cada execução deste notebook), então ele constrói todos os passos, como faria um
# primeiro build em qualquer lugar.

# %%
# NBVAL_IGNORE_OUTPUT
import tempfile

from boxkit.image_experiments import build_seed_app, shared_layers
from boxkit.images.store import Store

import uuid

work = tempfile.mkdtemp(prefix="bk-seed-", dir="/var/tmp")
builds = []
scope = f"overlay-{uuid.uuid4().hex[:12]}"
v1, v2 = build_seed_app(work, log=print, cache_scope=scope, results=builds)

# %%
b1, b2 = builds
print(f"1.0: {b1.built_steps} passos de camada construídos, {b1.cached_steps} do cache:",
      b1.built_steps == 3 and b1.cached_steps == 0)
print(f"2.0: {b2.built_steps} construído (o COPY app.sh que mudou), {b2.cached_steps} do cache:",
      b2.built_steps == 1 and b2.cached_steps == 2)

# %%
# NBVAL_IGNORE_OUTPUT
out2 = boxkit.run(v2).stdout
print(boxkit.run(v1).stdout + out2)
header = ("camada", "em disco", "passo")
print(f"{header[0]:<13} {header[1]:>9}  {header[2]}")
for h in Store().history(v2):
    print(f"{(h['diff_id'] or 'sha256:<none>')[7:19]:<13} {h['size']:>9}  {h['created_by'][:60]}")

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit.viz.layers import layers_figure

store = Store()
layers_figure({v1: store.layers_of(v1), v2: store.layers_of(v2)},
              "a versão 2.0 reaproveita as dependências; só a camada do aplicativo é nova")

# %%
from boxkit.viz.layers import disk_totals

totals = disk_totals({v1: store.layers_of(v1), v2: store.layers_of(v2)})
print(f"as duas imagens no disco: {totals['stored']} B; os tamanhos delas somam {totals['summed']} B; o "
      "armazenamento guarda menos do que a soma:", totals["stored"] < totals["summed"])
share = shared_layers(v1, v2)
print(f"camadas que a 2.0 compartilha com a 1.0: {share['shared']} (o busybox e as 2 dependências):",
      share["shared"] == 3)
print(f"camadas novas na 2.0: {share['added']} (o aplicativo):", share["added"] == 1)
print(f"a v2 acrescentou um tar de camada de {share['added_bytes']} bytes, abaixo de 16 kB:",
      share["added_bytes"] < 16_000)
print(f"a v2 acrescentou menos de 1% dos {share['shared_bytes']} bytes que compartilha:",
      share["added_bytes"] < share["shared_bytes"] / 100)

# %% [markdown]
# Existem dois tamanhos: o histórico e a figura dão os bytes de cada camada **no disco** (o diretório
# desempacotado dela, em blocos inteiros do sistema de arquivos; a largura de cada caixa segue esse valor,
# menos a de uma camada que a figura marca como "fora de escala"); o armazenamento de imagens (o *store*)
# também sabe o tamanho do **tar** da camada (`Store().layers_of(ref)` tem os dois). E por que a 2.0
# consegue compartilhar as camadas da 1.0? As camadas são **endereçadas por conteúdo**: o nome de uma
# camada é o SHA-256 do seu tar sem compressão (o *diff id* no histórico acima), então os mesmos arquivos,
# empacotados do mesmo jeito, são a mesma camada, seja qual for o build que os criou — e o armazenamento a
# guarda uma vez só.
#
# Mas atenção: agora o `busybox` tem dois ids na tela. O `FROM busybox ---> …` do log do build não é uma
# camada: é o digest do **manifesto** (*manifest*) do busybox, o pequeno JSON que nomeia o config da
# imagem e as suas camadas. A linha de baixo do histórico é o **diff id** da única camada do busybox. Um
# terceiro, o digest do **config** (o JSON com `Cmd`, `Env` e a lista de diff ids), é o que o docker chama
# de *image id*. (A linha `Successfully built` do boxkit também nomeia o digest do manifesto da nova
# imagem, onde o builder clássico do docker imprime o image id.) A próxima célula lê os três no
# armazenamento.

# %%
# NBVAL_IGNORE_OUTPUT
bb_manifest_digest, bb_manifest, bb_config = store.manifest_of("busybox")
bb_diff = bb_config["rootfs"]["diff_ids"][0]
from_id = next(line.split()[-1] for line in b1.log if line.startswith(" --->"))
print(f"log do build, FROM busybox --->  {from_id}")
print(f"digest do manifesto do busybox   {bb_manifest_digest[7:19]}  (config + lista de camadas)")
print(f"digest do config do busybox      {bb_manifest['config']['digest'][7:19]}  (o image id do docker)")
print(f"diff id da única camada dele     {bb_diff[7:19]}  (sha256 do tar sem compressão)")

# %%
base_row = Store().history(v2)[-1]
print(f"o log do build nomeia o manifesto do busybox ({from_id}):", from_id == bb_manifest_digest[7:19])
print(f"a camada base do histórico é o diff id do busybox ({base_row['diff_id'][7:19]}):",
      base_row["diff_id"] == bb_diff)

# %% [markdown]
# Que ids outro host teria? Uma imagem busybox construída em outro host, ou em outro momento, empacota
# outras datas de modificação de arquivo (e talvez outro binário), então a camada dela tem outro diff id.
# As camadas das dependências guardam os mesmos bytes, com datas de modificação fixas, mas um tar também
# registra o modo e o dono de cada arquivo: outro host só obtém os mesmos ids onde eles coincidem (outra
# umask, ou um build feito por um usuário comum, dá outros ids). As figuras desta história no README
# (`docs/img/overlay1.png`, `overlay2.png`) foram desenhadas pelo código da figura acima num único host,
# então mostram os ids daquele host.
#
# ## Push e pull: o que um registry guarda
#
# Um registry (o Docker Hub, ou o que roda aqui) é um servidor HTTP que guarda **blobs** por digest (as
# camadas, o config e o próprio manifesto) e **tags** que nomeiam um manifesto. O `docker push` envia cada
# camada **comprimida** (gzip); por isso o blob, e o digest que o manifesto lista para ele, são os dos
# bytes *comprimidos*; o config viaja sem mudança, e o seu `rootfs.diff_ids` continua nomeando os tars
# *sem compressão*. Quem faz pull baixa os blobs comprimidos, desempacota cada um e o confere com o diff
# id que o config indica.
#
# A próxima célula inicia o `docker-registry` do Debian em 127.0.0.1 (numa porta livre, com o
# armazenamento num diretório novo), faz push de `seed-app:2.0` para ele como faria o `docker push` (cada
# camada em gzip), lê de volta o manifesto e o config e depois faz pull da imagem com o `pull` do boxkit
# (o que o `boxkit pull` roda): primeiro para um armazenamento vazio, depois para este. Ela roda a imagem
# baixada e, em seguida, para o registry e remove o diretório dele, o armazenamento vazio e a tag baixada.

# %%
# boxkit: needs root
# NBVAL_IGNORE_OUTPUT
from boxkit.image_experiments import registry_roundtrip

trip = registry_roundtrip(v2, repo="seed-app", tag="2.0", pulled="seed-app:pulled")
if "missing" in trip:
    print(trip["missing"])
else:
    steps = ["base: busybox" if r["created_by"].startswith("boxkit base") else r["created_by"][:24]
             for r in Store().layers_of(v2)]
    tars = [x["tar_bytes"] for x in trip["pushed"]["layers"]]
    header = ("camada", "diff id (config)", "B do tar", "digest (manifest)", "B do gzip")
    print(f"{header[0]:<25} {header[1]:<17} {header[2]:>9}   {header[3]:<17} {header[4]:>9}")
    for step, diff, tar, desc in zip(steps, trip["config"]["rootfs"]["diff_ids"], tars,
                                     trip["manifest"]["layers"]):
        print(f"{step:<25} {diff[7:19]:<17} {tar:>9}   "
              f"{desc['digest'][7:19]:<17} {desc['size']:>9}")
    print("blobs no disco do registry:", [d[7:19] for d in trip["registry_blobs"]])

# %%
# boxkit: needs root
if "missing" in trip:
    print(trip["missing"])
else:
    diffs = trip["config"]["rootfs"]["diff_ids"]
    digests = [desc["digest"] for desc in trip["manifest"]["layers"]]
    local = [r["diff_id"] for r in Store().layers_of(v2)]
    named = set(digests) | {trip["manifest"]["config"]["digest"], trip["manifest_digest"]}
    print(f"digests de camada no manifesto que são diff ids: {len(set(digests) & set(diffs))} de "
          f"{len(digests)}, nenhum:", not set(digests) & set(diffs))
    print(f"o config vindo do registry lista os {len(diffs)} diff ids locais:", diffs == local)
    print(f"o disco do registry guarda {len(trip['registry_blobs'])} blobs: camadas em gzip, config, "
          "manifesto:", set(trip["registry_blobs"]) == named)
    fetched = trip["empty_fetched"]
    want = set(digests) | {trip["manifest"]["config"]["digest"]}
    print(f"para um armazenamento vazio: {len(fetched)} blobs baixados ({sum(fetched.values())} B), o "
          "config e as camadas em gzip; cada camada desempacotada no seu diff id:",
          set(fetched) == want and trip["empty_diff_ids"] == diffs)
    print(f"para este armazenamento: {len(trip['new_blobs'])} blob novo, o manifesto; todas as camadas encontradas "
          "pelo diff id:", trip["new_blobs"] == [trip["manifest_digest"]])
    mine = trip["pushed"]["local_manifest_digest"]
    print(f"o manifesto do registry, {trip['manifest_digest'][7:19]}, não é o local, {mine[7:19]}:",
          trip["manifest_digest"] != mine)
    print(f"a imagem baixada roda e diz {trip['run_pulled'].split()}:",
          trip["run_pulled"] == out2)
    print(f"registry parado (código de saída {trip['registry_exit']}); o diretório dele, o armazenamento "
          "vazio e a tag baixada, removidos:",
          trip["registry_exit"] is not None and not trip["registry_dir_left"]
          and not trip["pulled_tag_left"])

# %% [markdown]
# Então uma camada tem dois nomes. O digest do manifesto nomeia os bytes que viajam e que o registry
# guarda (comprimidos); o diff id do config nomeia o conteúdo (sem compressão), que é o que um
# armazenamento compara. É por isso que o pull para este armazenamento não baixou nenhuma camada: os blobs
# em gzip do registry eram novos para ele, mas cada diff id do config já estava aqui. E o digest do
# manifesto nomeia exatamente aquele upload: o manifesto do registry lista camadas em gzip, então o digest
# dele não é o que `seed-app:2.0` tem no armazenamento local. No Docker Hub você vê digests de manifesto e
# tamanhos comprimidos, nunca diff ids: eles ficam no config de cada imagem.
#
# ## Dez contêineres da 2.0
#
# Todo contêiner de uma imagem monta os **mesmos** diretórios de camada como os seus diretórios lower; só
# o diretório upper é dele. A próxima célula inicia dez contêineres da 2.0, cada um escrevendo 4 KiB num
# arquivo novo em `/tmp`, lê quais diretórios o overlay raiz de cada contêiner empilha (no próprio
# `/proc/PID/mountinfo` do contêiner) e mede cada diretório upper. Um diretório upper guarda mais do que o
# arquivo novo: os arquivos que o boxkit escreve em todo contêiner (como o `/etc/hosts`) e os diretórios
# acima de cada arquivo (copiados para cima como pais), todos em blocos inteiros do sistema de arquivos. A
# célula imprime o conteúdo do upper de um dos contêineres.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit.image_experiments import containers_cost
from boxkit.viz.layers import containers_figure

cost = containers_cost(v2, n=10)
print(f"camadas da imagem: {cost['image_bytes']} B, diretórios upper: {cost['upper_bytes']}")
print(f"o diretório upper do primeiro contêiner contém {cost['upper_paths']}")
containers_figure(cost)

# %%
n_box, n_layers = cost["containers"], cost["image_lowerdir"].count(":") + 1
same = cost["lowerdirs"].count(cost["image_lowerdir"])
print(f"overlays raiz que empilham os {n_layers} diretórios de camada da imagem como lower: {same} de {n_box}:",
      same == n_box)
print(f"diretórios upper, um por contêiner: {len(set(cost['upperdirs']))} de {n_box}:",
      len(set(cost["upperdirs"])) == n_box)
print(f"diretórios upper com o arquivo de {cost['write_bytes']} bytes do seu contêiner: "
      f"{cost['wrote']} de {n_box}:", cost["wrote"] == n_box)
print(f"maior diretório upper {max(cost['upper_bytes'])} B, imagem {cost['image_bytes']} B; todo "
      "diretório upper é menor:", max(cost["upper_bytes"]) < cost["image_bytes"])
print(f"dez contêineres custam {cost['total_bytes']} B, menos do que duas cópias da imagem:",
      cost["total_bytes"] < 2 * cost["image_bytes"])
print(f"dez cópias completas da imagem custariam {cost['without_sharing_bytes']} B, mais:",
      cost["without_sharing_bytes"] > cost["total_bytes"])

# %%
held = sum(len(files) for _d, _ds, files in os.walk(work))
shutil.rmtree(work, ignore_errors=True)
print(f"o contexto do build ({held} arquivos) removido:", not os.path.exists(work))

# %% [markdown]
# ## O que foi provado
#
# * Escrever num arquivo do lower o copiou inteiro para o diretório upper; apagar um deixou um whiteout
#   (um dispositivo de caractere 0/0); um diretório criado de novo por cima de um do lower foi marcado
#   como opaco. O diretório lower nunca mudou.
# * O copy-up de uma escrita de um byte demorou mais quanto maior era o arquivo do lower (aqui, sem
#   reflink nem metacopy), e o arquivo inteiro foi copiado na primeira abertura para escrita, antes de
#   qualquer byte ser escrito.
# * A versão 1.0 construiu todos os passos; a 2.0 reaproveitou a base e as camadas das dependências da 1.0
#   (o build disse `CACHED` para os dois passos das dependências) e construiu uma camada nova e pequena.
# * Um registry guardou cada camada em gzip, sob o digest dos bytes comprimidos que o seu manifesto lista;
#   o config manteve os diff ids. O boxkit fez pull da imagem de volta, conferiu cada camada com o seu
#   diff id e não baixou nada que um armazenamento já tinha.
# * Dez contêineres de uma mesma imagem empilharam exatamente os mesmos diretórios de camada, lidos da
#   tabela de montagens de cada um; cada um custou só o seu próprio diretório upper, pequeno.
#
# ## <a id="Exercise"></a>Exercício
#
# Um contêiner `busybox` roda `my_command`. Preveja o que ele deixa no diretório upper do contêiner: para
# cada caminho que o comando apaga, muda ou cria, `"whiteout"` (um arquivo da imagem apagado), `"copy-up"`
# (um arquivo da imagem modificado), `"new"` (novo: não está na imagem) ou `"opaque"` (opaco: um diretório
# da imagem substituído por inteiro). A verificação roda o comando num contêiner de verdade e lê o
# diretório upper dele antes e depois; assim, os arquivos que o boxkit escreveu ali antes de o comando
# rodar não contam, nem um diretório que a imagem já tem e que só está no upper como pai de um desses
# caminhos (como o `etc` acima, ao lado de `etc/config`).

# %%
# boxkit: exercise
my_command = "rm /bin/ls; echo admin >> /etc/passwd; echo hi > /tmp/note"
my_prediction = ...   # um dict: caminho sem a / do começo (por exemplo "usr/lib/x") -> o tipo dele

# %%
# boxkit: exercise
from boxkit import exercises

exercises.overlay_upper(my_command, my_prediction)

# %% [markdown]
# Travou depois de algumas tentativas? `exercises.solution("overlay")` mostra uma resposta e o raciocínio
# por trás dela.
#
# **Experimente em seguida:** substitua um diretório inteiro (`rm -r /home; mkdir /home; touch /home/me`)
# e preveja de novo. Continue com [04 — redes](04-network.ipynb).
