# %% [markdown]
# # Como os contêineres funcionam — no kernel à sua frente
#
# Um contêiner não é uma pequena máquina virtual. É um processo Linux comum, cercado pelo kernel. Quatro
# tipos de cerca decidem o que ele é: os **namespaces** (espaços de nomes) decidem o que ele pode *ver*;
# os **cgroups** (grupos de controle), o que ele pode *usar*; um **sistema de arquivos em camadas**, do
# que ele é *feito*; e as **camadas de segurança** (capabilities, seccomp, no_new_privs), o que o root
# dentro dele pode *fazer*. Os capítulos 01–04 e 06 desmontam as cercas (o 04 se aprofunda no namespace de
# rede); o 05 e os capítulos 07–09 voltam a juntá-las — como um serviço, como a cadeia OCI que o `docker
# run` aciona, à mão a partir de chamadas de sistema e em torno do primeiro processo do contêiner. Cada
# capítulo prova o que afirma no kernel da sua própria máquina, com contêineres de verdade que o pacote
# `boxkit` inicia a partir do notebook:
#
# | # | notebook | a ideia | o que você vai ver |
# |---|---|---|---|
# | 1 | [01-namespaces](01-namespaces.ipynb) | **namespaces**: o que um processo pode *ver* | `ps` mostrando o PID 1, um hostname privado, montagens que o host nunca vê, um root lá dentro que, do lado de fora, é um uid comum |
# | 2 | [02-cgroups](02-cgroups.ipynb) | **cgroups**: o que um processo pode *usar* | um limite de memória imposto pelo OOM killer, cota de CPU, uma fork bomb detida na hora |
# | 3 | [03-overlay](03-overlay.ipynb) | **sistema de arquivos overlay**: do que um processo é *feito* | duas versões de um aplicativo que compartilham no disco as camadas das suas dependências |
# | 4 | [04-network](04-network.ipynb) | **namespaces de rede, veth e bridges** | dois contêineres conversando pelo nome |
# | 5 | [05-capstone](05-capstone.ipynb) | **um serviço, todas as cercas** | construir, rodar sob limites, observar, fazer commit: tudo junto |
# | 6 | [06-security](06-security.ipynb) | **camadas de segurança**: o que o root numa caixa pode *fazer* | capabilities, seccomp, no_new_privs, caminhos mascarados, dispositivos e um cgroup próprio, cada um recusando alguma coisa; depois, cada um deles retirado (com `--privileged` onde o boxkit não tem uma opção só para aquele) |
# | 7 | [07-oci](07-oci.ipynb) | **a cadeia OCI**: o que o `docker run` chama de verdade | um bundle levado à mão por create, start, kill e delete; o podman acionando o `boxkit-runtime` no lugar do runc |
# | 8 | [08-by-hand](08-by-hand.ipynb) | **um contêiner à mão**: as chamadas de sistema, uma por célula | um cgroup, `unshare`, `/` privado, overlay, `/proc`, `pivot_root`, hostname, capabilities, `execve`, cada um seguido do que ele mudou; depois, o que o boxkit acrescenta e por quê, e os mapas de ids de um namespace de usuário |
# | 9 | [09-pid1](09-pid1.ipynb) | **PID 1, sinais e o que é compartilhado** | um PID 1 que ignora o SIGTERM, processos zumbis recolhidos por um init e um único kernel debaixo de todos os contêineres |
#
# Leia os capítulos em ordem. Cada demonstração termina com uma célula que imprime os fatos que ela
# provou.
#
# ## Primeiro: o que este host permite?
#
# Contêineres precisam de root (ou de namespaces de usuário), e os hosts variam: cgroup v1, v2 ou um
# híbrido dos dois, overlay permitido ou não, dentro de outro contêiner ou não. A primeira célula de cada
# notebook consulta `boxkit.probe()`, que *experimenta* cada recurso do kernel num processo descartável.
# Onde um host proíbe uma demonstração, os notebooks reproduzem a gravação de uma execução real e a marcam
# como **GRAVADO**. Aqui a verificação mostra todas as linhas; os outros notebooks mostram uma linha só —
# o modo, o kernel, o modo de cgroup, root ou não — com a tabela recolhida logo abaixo.

# %%
# NBVAL_IGNORE_OUTPUT
# edição em português (pt_BR): daqui em diante, o próprio boxkit também fala português
import boxkit
boxkit.set_language("pt_BR")
from boxkit import course

course.start("containers", full=True)   # todas as linhas da verificação do host, em palavras simples

# %% [markdown]
# O curso roda **ao vivo** quando todas as linhas de que as demonstrações precisam dizem *sim*; **sem
# root** onde o kernel deixa um usuário criar namespaces de usuário (a maioria das demonstrações roda ao
# vivo num namespace de usuário só seu, e o resto é reproduzido); e **gravado** num host sem nenhum dos
# dois (o mybinder.org público, por exemplo).
#
# ## Como ler as células de um notebook
#
# Algumas células começam com uma linha de comentário que é para as ferramentas, não para você:
#
# | a linha | o que ela quer dizer |
# |---|---|
# | `# boxkit: needs root` | a célula precisa do que o nome diz; o mesmo vale para `needs cgroups`, `needs network`, `needs cgroup2` (um host com cgroup v2) e `needs idmap` (um kernel cujo namespace de usuário pode entregar a um contêiner a faixa de ids de usuário que as demonstrações de namespace de usuário mapeiam), e vários podem vir juntos, separados por vírgulas. Num host que não tem o recurso, a célula reproduz uma execução gravada, com o selo GRAVADO, em vez de falhar |
# | `# boxkit: exercise` | uma célula de exercício: ela sempre roda do jeito que está escrita, em qualquer modo, para que a resposta julgada seja a *sua* |
# | `# NBVAL_IGNORE_OUTPUT` | os testes executam de novo cada notebook e comparam cada saída com a que está guardada aqui ([nbval](https://nbval.readthedocs.io)); a saída desta célula depende do host (uma versão do kernel, um PID, um gráfico), então ela não é comparada |
#
# Uma linha de fato imprime entre parênteses o que foi medido e, depois, `True` ou `False`; `True` é o
# resultado que o texto afirma: `o contêiner terminou com sucesso (código de saída 0): True`. Os testes
# comparam só o `True` ou `False` de uma linha de fato: os números antes dele podem mudar de uma execução
# para outra.
#
# A verificação também é um objeto Python, cujos campos respondem a perguntas. Duas linhas de fato logo
# abaixo perguntam a ela quantos tipos de namespace funcionaram aqui e se ela experimentou todos os tipos
# que este kernel tem.

# %%
import os

import boxkit

report = boxkit.probe()   # a mesma verificação, como objeto: seus campos respondem a perguntas

# %%
# NBVAL_IGNORE_OUTPUT
print(f"modo do curso neste host: {report.mode}")
tried = ", ".join(f"{ns} {state}" for ns, state in report.namespaces.items())
print(f"tipos de namespace que a verificação experimentou: {tried}")

# %%
works = [ns for ns, state in report.namespaces.items() if state in ("ok", "userns")]
print(f"tipos de namespace que funcionaram aqui ({len(works)} de {len(report.namespaces)}):",
      len(works) == len(report.namespaces))
# o kernel lista um link por tipo de namespace em /proc/self/ns (mnt é o namespace de montagem); os
# links *_for_children indicam os namespaces que os próximos filhos deste processo vão receber, não
# são tipos a mais
listed = {"mount" if n == "mnt" else n for n in os.listdir("/proc/self/ns")
          if not n.endswith("_for_children")}
print(f"todos os tipos que o kernel lista foram experimentados ({len(listed)} listados):",
      listed <= set(report.namespaces))

# %% [markdown]
# ## Seu primeiro contêiner
#
# Uma linha inicia um contêiner de verdade: namespaces novos, uma raiz overlay sobre uma imagem `busybox`
# minúscula, construída a partir do `busybox-static` desta própria máquina, `pivot_root`, capabilities
# descartadas. Ele imprime o que vê.

# %%
r = boxkit.run("busybox", ["sh", "-c", "echo hello from $(hostname); ps"], hostname="first")
print(r.stdout)

# %% [markdown]
# Um único processo, e ele é o `ps`: `{ps} sh -c echo hello…` quer dizer um processo cujo nome é `ps`, mas
# cuja linha de comando ainda é a do shell. O `sh` do busybox roda o *último* comando de `-c` no seu
# próprio processo, sem fork; e, como o `ps` é um dos programas do próprio busybox, ele nem chega a fazer
# `execve`: chama o código do `ps` diretamente e muda o próprio nome para `ps` (`prctl(PR_SET_NAME)`). Um
# `execve` teria trocado também a linha de comando. Então o PID 1 deste contêiner é o shell, agora rodando
# `ps`, listando o único processo que o seu namespace de PID contém: ele mesmo.

# %%
lines = r.stdout.splitlines()
rows = [line.split() for line in lines[2:] if line.strip()]   # as linhas abaixo do cabeçalho do ps
pid1 = " ".join(rows[0][0:3:2]) if rows else "nenhum"          # o PID e o nome da primeira linha
print(f"o contêiner terminou com sucesso (código de saída {r.exit_code}):", r.exit_code == 0)
print(f"o hostname lá dentro era o dele ({lines[0].split()[-1]}):", lines[0] == "hello from first")
print(f"o contêiner viu um único processo, o PID 1 chamado ps (vistos: {len(rows)}; {pid1}):",
      len(rows) == 1 and pid1 == "1 {ps}")

# %% [markdown]
# ## O que experimentar em seguida
#
# Todos os capítulos, do 01 ao 09, têm um **exercício** (o 06 pede primeiro as suas previsões, antes das
# demonstrações; os outros, no fim, depois do que provaram): você troca cada `...` pela sua previsão, e
# uma célula de verificação inicia contêineres de verdade e responde *certo* ou *ainda não* a partir do
# que o kernel fez, com uma dica que diz por quê, nunca a resposta. Num host que não consegue rodá-los
# (modo gravado), a sua resposta é julgada com base em medições gravadas num kernel real.
#
# | notebook | o exercício |
# |---|---|
# | [01-namespaces](01-namespaces.ipynb#Exercise) | escolha os namespaces de um contêiner que vê os processos do host, mas tem o seu próprio hostname |
# | [02-cgroups](02-cgroups.ipynb#Exercise) | qual de três programas um limite de memória mata: um que enche o seu heap, um que escreve um arquivo, um que escreve em `/dev/shm` |
# | [03-overlay](03-overlay.ipynb#Exercise) | o que um comando deixa no diretório upper: whiteouts, copy-ups, arquivos novos |
# | [04-network](04-network.ipynb#Exercise) | quais pings recebem resposta entre duas redes e o host |
# | [05-capstone](05-capstone.ipynb#Exercise) | quantos pedidos a loja atende sob um limite de memória antes que o OOM killer acabe com ela |
# | [06-security](06-security.ipynb#Predict-first) | quais ações o root consegue fazer num contêiner padrão |
# | [07-oci](07-oci.ipynb#Exercise) | edite um campo do `config.json` de um bundle e preveja o que o root do contêiner pode fazer depois disso |
# | [08-by-hand](08-by-hand.ipynb#Exercise) | os passos de um contêiner à mão em outra ordem: qual passo o kernel recusa, e com qual erro |
# | [09-pid1](09-pid1.ipynb#Exercise) | qual sinal encerra cada um de cinco contêineres quando eles são parados |
#
# Próximo: [01 — namespaces](01-namespaces.ipynb), onde cada namespace da verificação do host é
# desmontado.
