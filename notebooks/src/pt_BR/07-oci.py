# %% [markdown]
# # 07 — O que o `docker run` faz de verdade: a cadeia OCI, com o boxkit no lugar do runc
#
# Nem o docker nem o podman iniciam um contêiner eles mesmos. Os dois escrevem um **bundle** OCI — um
# `config.json` que diz tudo sobre o contêiner, ao lado do seu sistema de arquivos raiz — e chamam um
# **runtime** por meio de cinco verbos: `create`, `start`, `state`, `kill`, `delete`. A “Open Container
# Initiative” (OCI) põe esses contratos por escrito: a *runtime spec* (o bundle e esses verbos) e a *image
# spec* (o que é uma imagem: um manifest, uma config, camadas, e como eles ficam dispostos no disco). Uma
# terceira, a *distribution spec*, diz como um registry os serve; este notebook não a usa.
#
# ```
# docker ─> containerd ─> containerd-shim ─> runc create, then runc start ─> the container
# podman ─> conmon ─> runc create ─> the container
#    └────> runc start   (podman runs start itself; conmon only runs create)
# ```
#
# O boxkit tem um runtime; o `boxkit-runtime` aceita essa mesma linha de comando, então o podman pode
# usá-lo no lugar do runc. Este notebook percorre a máquina de estados à mão, lê o bundle que o podman
# escreve e o compara com os padrões do docker, olha os processos enquanto um contêiner roda, compara os
# arquivos de cgroup (grupo de controle) que o boxkit-runtime e o runc escrevem para as mesmas opções e
# abre uma imagem do jeito que a image spec a organiza. Ele termina com um exercício: você edita um campo
# de um `config.json` e prevê o que o contêiner pode fazer.

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
import tempfile
import textwrap

import boxkit
from boxkit import compare, exercises_oci
from boxkit.oci import demo

work = tempfile.mkdtemp(prefix="oci-")

# %% [markdown]
# ## 1. A máquina de estados, à mão
#
# O `create` prepara o contêiner — namespaces (espaços de nomes), cgroup, montagens, `pivot_root`,
# capabilities — e deixa o PID 1 dele parado logo antes do `execve`. Então o comando `create` termina, mas
# nem tudo do runtime vai embora com ele: o PID 1 do contêiner *é* um processo do runtime, criado pelo
# `create` com um fork, assim como o do runc é o `runc init`. Ele espera num fifo, `exec.fifo`, no
# diretório de estado do runtime. O `start` é um comando novo: ele encontra o contêiner pelo `state.json`,
# abre o fifo e escreve um byte, e o PID 1 segue adiante e faz `execve` do comando. O `kill` e o `delete`
# o encontram do mesmo jeito. (O runc usa o fifo no sentido contrário: o `runc init` fica bloqueado ao
# abri-lo para escrita, e o `runc start` o abre e lê.)
#
# A execução abaixo cria um bundle próprio (uma raiz busybox e um `config.json` que roda `sleep`) e chama
# os quatro verbos, um depois do outro. Depois de cada verbo, ela pergunta `boxkit-runtime state demo`: a
# segunda coluna é o status que esse comando imprimiu ou, quando o contêiner já não existe, o erro dele.

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root
rows, created = demo.walk_state_machine(work)
for command, status, note in rows:
    print(f"boxkit-runtime {command:26} -> {status:34} {note}")
print()
argv = " ".join(os.path.basename(a) if a.startswith("/") else a for a in created["argv"])
print(f"entre create e start: o nome do PID 1 é {created['comm']!r}, a linha de comando dele é {argv!r}")
print(f"  os PIDs dele (no host, no próprio namespace): {created['nspid']}")
print(f"  ele mantém o exec.fifo aberto: {created['holds_fifo']}")
print(f"o diretório de estado contém: {', '.join(created['files'])}")

# %%
# boxkit: needs root
statuses = [status for _c, status, _n in rows]
print(f"os estados, em ordem ({' -> '.join(statuses[:3])}):",
      statuses[:3] == ["created", "running", "stopped"])
print(f"o comando create terminou com sucesso antes do start (código de saída {created['create_exit']}):",
      created["create_exit"] == 0)
print(f"antes do start, o PID 1 é um fork do comando create ({created['comm']}, o argv diz create):",
      "create" in created["argv"] and created["pid"] != created["create_pid"])
print("antes do start, o PID 1 é o processo 1 do seu namespace e espera no fifo "
      f"(NSpid {created['nspid']}, fifo aberto {created['holds_fifo']}):",
      created["nspid"][-1] == 1 and created["holds_fifo"])
print(f"o start fez o PID 1 rodar o comando ({rows[1][2]}):", created["comm_after_start"] == "sleep")
pids = f"PID {created['pid']} no host antes do start, {created['pid_after_start']} depois"
print(f"o mesmo processo seguiu adiante e fez o execve ({pids}):",
      created["pid"] == created["pid_after_start"])
print(f"depois do delete, o contêiner não existe mais ({statuses[3]}):", "does not exist" in statuses[3])

# %% [markdown]
# ## 2. O bundle que o podman escreve
#
# `podman create --memory 64m --pids-limit 50` e `podman init` escrevem o bundle e chamam o `create` do
# runtime (aqui também com `--network none` e com `--ulimit nofile=1024:1024 --ulimit nproc=1024:1024`: os
# limites padrão do próprio podman exigem `CAP_SYS_RESOURCE`, que alguns hosts negam até ao root). Aqui
# está o `config.json` dele, resumido aos campos que este notebook lê, e, abaixo dele, o plano que o
# boxkit fez a partir dele — o mesmo tipo de plano (`boxkit.runtime.plan.Plan`) que o `boxkit run`
# preenche a partir das suas próprias opções. Como ler:
#
# * Um campo que o bundle não traz vale o padrão da spec: `root.readonly` ausente quer dizer uma raiz
#   gravável; `noNewPrivileges` ausente quer dizer false.
# * O JSON não tem octal, então o `umask` é escrito em decimal: umask 18 é o conhecido `022`.
# * O `swap` de memória da spec é o limite de memória e swap *juntos*; o podman pede o dobro da memória (o
#   capítulo 05 mediu isso).
# * O podman só pede um namespace de cgroup num host com cgroup v2. No v1 (e no híbrido), o contêiner fica
#   no namespace de cgroup do host: quais namespaces um contêiner recebe é decisão do bundle, e o runtime
#   só a executa (o capítulo 06 mostra por que isso importa no v1).

# %%
# boxkit: needs root
rootfs = os.path.join(work, "bundle", "rootfs")
config, plan, podman_cfg = demo.podman_bundle(rootfs, "--memory", "64m", "--pids-limit", "50")
width = max(len(k) for k in config)
for k, v in config.items():
    print(f"{k:{width}}  {v}")
print()
for k, v in plan.items():
    print(f"plan[{k!r}]".ljust(width + 2), v)

# %%
# boxkit: needs root
mode = boxkit.probe().cgroup_mode
limit = config["linux.resources.memory"]["limit"]
print(f"o podman pediu 64 MiB ({limit} bytes):", limit == 64 << 20)
namespaces = ", ".join(plan["ns"])
print(f"um namespace de cgroup só no cgroup v2, o padrão do podman (cgroup {mode}; {namespaces}):",
      ("cgroup" in plan["ns"]) == (mode == "v2"))
print(f"o plano tem as montagens do bundle ({plan['mount_entries']} de {len(config['mounts'])}):",
      plan["mount_entries"] == len(config["mounts"]))

# %% [markdown]
# ### Os padrões do podman não são os do docker
#
# O capítulo 06 rodou com os padrões do docker: uma lista curta de capabilities e o perfil seccomp do
# docker. O podman mantém uma lista própria (em `containers.conf`) e traz um perfil próprio. A execução
# abaixo lê os dois do bundle e os põe ao lado dos do docker, como o boxkit os guarda. Um perfil nomeia as
# chamadas de cada arquitetura que cobre: aqui, a da própria máquina e as de 32 bits que o kernel dela
# também roda, então as listas também têm chamadas de 32 bits (o `readdir` do i386, por exemplo). Nomes
# que não correspondem a nenhuma chamada dessas arquiteturas ficam de fora.

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root
vs = demo.against_docker(podman_cfg)
print(f"capabilities no conjunto delimitador do podman: {len(vs['caps'])}; no conjunto padrão do docker: "
      f"{len(vs['docker_caps'])}")
if vs["docker_only_caps"]:
    print(f"  do docker, não do podman: {', '.join(vs['docker_only_caps'])}")
else:
    print("  do docker, não do podman: nenhuma")
if vs["bundle_only_caps"]:
    print(f"  do podman, não do docker: {', '.join(vs['bundle_only_caps'])}")
else:
    print("  do podman, não do docker: nenhuma")
print(f"regras seccomp: {vs['bundle_rules']} no bundle do podman, {vs['docker_rules']} no perfil "
      "padrão do boxkit (as decisões do docker)")
print("chamadas de sistema que cada perfil permite a um contêiner com as capabilities do "
      f"podman: o do podman {vs['bundle_allows']}, o do boxkit {vs['docker_allows']}")
arches = ", ".join(a.removeprefix("SCMP_ARCH_").lower() for a in vs["arches"]["bundle"])
left = ", ".join(sorted({*vs["foreign"]["bundle"], *vs["foreign"]["docker"]})) or "nenhum"
print(textwrap.fill(f"  as arquiteturas que o perfil do podman cobre: {arches}; nomes deixados de fora, que não "
                    f"correspondem a nenhuma chamada delas: {left}", 100, subsequent_indent="    "))
for who, calls in (("só pelo perfil do boxkit (o do docker)", vs["docker_only_calls"]),
                   ("só pelo perfil do podman", vs["bundle_only_calls"])):
    allowed = f"  permitidas {who}: {', '.join(calls)}" if calls else f"  permitidas {who}: nenhuma"
    print(textwrap.fill(allowed, 100, subsequent_indent="    "))

# %% [markdown]
# As listas de capabilities diferem exatamente nos nomes impressos nas primeiras linhas acima. O que cada
# um deles dá a um contêiner:
#
# | capability | o que o root no contêiner pode fazer com ela |
# |---|---|
# | `CAP_NET_RAW` | abrir sockets raw e de pacotes (um `ping` clássico faz isso; e também um programa que forja pacotes na rede do contêiner) |
# | `CAP_MKNOD` | criar nós de dispositivo com `mknod` (abri-los ainda depende da camada de dispositivos) |
# | `CAP_AUDIT_WRITE` | escrever registros no log de auditoria do kernel (o que o `login` e o `sshd` fazem) |
#
# As duas contagens de regras seccomp não são comparáveis: uma regra é uma entrada de `syscalls`, uma
# lista de nomes com uma ação. O podman escreve o seu perfil no bundle já resolvido para as capabilities
# deste contêiner, e lista algumas recusas como regras próprias; a cópia que o boxkit guarda do perfil do
# docker mantém as regras por capability (`includes`, `excludes`) e as resolve quando compila o filtro. O
# que se compara é o conjunto de chamadas que cada um deixa passar para as mesmas capabilities — as duas
# listas acima.
#
# O filtro do podman deixa passar `mount` e `unshare`, enquanto o do docker os recusa sem `CAP_SYS_ADMIN`.
# O `mount` continua falhando sob o podman: a verificação de capability o recusa. Mas criar um namespace
# de usuário não exige capability nenhuma (user_namespaces(7)), então, com os padrões do podman, o root no
# contêiner pode criar um, onde o host permite namespaces de usuário. Nele, quem o criou tem todas as
# capabilities sobre os namespaces que lhe pertencem — então, com um novo namespace de montagem ao lado
# (`unshare -Urm`, que também mapeia quem chama para root), o mesmo `mount` passa. As três tentativas,
# feitas sob o podman com o boxkit-runtime (`id -u` imprime 65534, o id de "overflow" do kernel, para um
# uid que o novo namespace não mapeia):

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root
in_userns = "unshare -Urm sh -c 'mount -t tmpfs none /tmp && grep \" /tmp \" /proc/self/mounts'"
tried = demo.podman_can(rootfs, {"montar um tmpfs": "mount -t tmpfs none /tmp",
                                 "criar um namespace de usuário": "unshare -U id -u",
                                 "montar um tmpfs nele": in_userns})
for label, (ok, said) in tried.items():
    if ok:
        print(f"{label:22} funciona: {said}")
    else:
        print(f"{label:22} recusado: {said}")

# %%
# boxkit: needs root
print(f"o conjunto do podman não tem {', '.join(vs['docker_only_caps'])}, que o docker tem:",
      set(vs["docker_only_caps"]) == {"CAP_NET_RAW", "CAP_MKNOD", "CAP_AUDIT_WRITE"})
n_caps = f"{len(vs['caps'])} e {len(vs['docker_caps'])} capabilities"
print(f"CAP_SYS_ADMIN não está em nenhum dos conjuntos ({n_caps}):",
      "CAP_SYS_ADMIN" not in vs["caps"] + vs["docker_caps"])
through = sorted({"mount", "unshare"} & set(vs["bundle_only_calls"]))
print(f"o filtro do podman deixa passar mount e unshare, o do docker não ({', '.join(through)}):",
      through == ["mount", "unshare"])
mount_ok, mount_said = tried["montar um tmpfs"]
userns_ok, userns_said = tried["criar um namespace de usuário"]
print(f"sob o podman, o mount é recusado ({mount_said}):", not mount_ok)
print(f"sob o podman, o root criou um namespace de usuário (uid lá dentro: {userns_said}):", userns_ok)
inside_ok, inside_said = tried["montar um tmpfs nele"]
print(f"sob o podman, o root montou um tmpfs no seu próprio namespace de usuário ({inside_said}):",
      inside_ok and inside_said.startswith("none /tmp tmpfs"))

# %% [markdown]
# ## 3. Os processos enquanto ele roda
#
# `podman run -d` com `sleep` como comando: o podman inicia o **conmon** (o monitor que mantém o stdio do
# contêiner e espera pelo código de saída dele), o conmon roda `boxkit-runtime create`, o podman roda
# `boxkit-runtime start`, e os dois comandos do runtime terminam. O PID 1 do contêiner passou a ser filho
# do conmon, um *sub-reaper* (`PR_SET_CHILD_SUBREAPER`), e assim o conmon fica sabendo o código de saída
# dele. A árvore, lida de `/proc`: os ancestrais do contêiner até o conmon e, depois, todos os filhos que
# o conmon tem.

# %%
# boxkit: needs root
tree = demo.process_tree(rootfs)
print("\n".join(tree["lines"]))
if tree["children"]:
    print(f"filhos do conmon: {', '.join(tree['children'])}")
else:
    print("filhos do conmon: nenhum")

# %%
# boxkit: needs root
print(f"o pai do contêiner é o conmon ({' > '.join(tree['chain'])}):",
      len(tree["chain"]) == 2 and tree["chain"][0] == "conmon")
children = ", ".join(tree["children"])
print(f"o único filho do conmon é o próprio comando, nenhum runtime sobrou ({children}):",
      tree["children"] == ["sleep"])

# %% [markdown]
# ## 4. Os mesmos limites, dois runtimes
#
# `--memory 64m --cpus 0.5 --pids-limit 50` pelo podman, uma vez com o runc e outra com o boxkit-runtime:
# um limite é um número num arquivo de cgroup, e os dois runtimes escrevem os mesmos números.

# %%
# boxkit: needs root
mine = compare.podman_limits(rootfs, "64m", 0.5, 50, runtime=demo.runtime_path())
runc = compare.podman_limits(rootfs, "64m", 0.5, 50)
for what in mine:
    name, ours, theirs = os.path.basename(mine[what][0]), mine[what][1], runc[what][1]
    print(f"{what:13} {name:24} boxkit-runtime {ours:>10}   runc {theirs:>10}")

# %%
# boxkit: needs root
same = sum(mine[w][1] == runc[w][1] for w in mine)
print(f"os mesmos arquivos, os mesmos valores ({same} de {len(mine)} arquivos):", same == len(mine))

# %% [markdown]
# ## 5. O outro contrato: uma imagem, do jeito que a image spec a organiza
#
# O `rootfs` do bundle veio de uma imagem. A image spec diz como uma imagem é guardada: um `index.json`
# nomeia um **manifest** pelo seu digest; o manifest nomeia uma **config** e as **camadas** (arquivos
# tar), cada uma pelo seu digest; a config lista o digest de cada camada descompactada (`rootfs.diff_ids`)
# e o comando a rodar. Um digest é o sha256 dos bytes que ele nomeia, então cada salto pode ser conferido.
# O digest de uma camada é o dos bytes como estão guardados, e um diff_id é o do tar puro: os dois diferem
# numa camada compactada (`…tar+gzip`, como os registries servem a maioria) e são um só numa camada
# guardada sem compressão (`…tar`). O armazenamento de imagens do boxkit é um layout desses; aqui está a
# imagem `busybox` dele, salto por salto.

# %%
# NBVAL_IGNORE_OUTPUT
chain = demo.image_chain("busybox")
print("index.json   ->", chain["index"]["mediaType"], chain["index"]["digest"])
print("manifest     -> config", chain["manifest"]["config"])
for media, size, digest in chain["manifest"]["layers"]:
    print(f"             -> camada {media}, {size} bytes, {digest}")
print("config       ->", {k: chain["config"][k] for k in ("os", "architecture", "cmd")})
print("               rootfs.diff_ids", chain["config"]["diff_ids"])

# %%
blobs = {"manifest": chain["index"]["digest"], "config": chain["manifest"]["config"],
         **{f"camada {i}": d for i, (_m, _s, d) in enumerate(chain["manifest"]["layers"], 1)}}
for what, digest in blobs.items():
    got = demo.blob_sha256(chain["root"], digest)   # o sha256 dos bytes do arquivo do blob
    print(f"{what}: o digest é o sha256 dos seus bytes ({got[:19]}…):", got == digest)
layers, diffs = chain["manifest"]["layers"], chain["config"]["diff_ids"]
print(f"um diff_id por camada (camadas {len(layers)}, diff_ids {len(diffs)}):",
      len(layers) == len(diffs))
kinds = ", ".join(media.rsplit(".", 1)[-1] for media, _size, _digest in layers)
plain = [media.endswith(".tar") for media, _size, _digest in layers]
print(f"digest e diff_id são um só exatamente nas camadas sem compressão ({kinds}):",
      [digest == diff for (_m, _s, digest), diff in zip(layers, diffs)] == plain)

# %% [markdown]
# ## O que levar daqui
#
# * Um motor de contêineres (*engine*) é uma fachada: ele transforma as suas opções num `config.json`. O
#   runtime transforma o `config.json` em chamadas de sistema. Dentro do boxkit, o `boxkit run` (a partir
#   das suas opções) e o `boxkit-runtime` (a partir de um `config.json`) preenchem o mesmo plano, que um
#   único runtime executa.
# * `create` e `start` são dois verbos para que o motor possa trabalhar no contêiner entre um e outro — de
#   fora, pelo PID do PID 1 — com os namespaces dele já prontos e o comando ainda sem rodar, retido pelo
#   próprio processo do runtime, que é o PID 1. (Os hooks da spec são do próprio runtime: ele os executa
#   dentro do `create`, do `start` e do `delete`.)
# * "O padrão" é do motor: o podman e o docker entregam ao mesmo runtime capabilities diferentes e filtros
#   diferentes.
# * A suíte de validação runtime-tools da OCI aciona qualquer runtime por essa linha de comando; os
#   números dela para o boxkit-runtime e o runc, medidos num único host (o documento diz qual), estão em
#   `docs/oci-runtime.md`.
#
# ## <a id="Exercise"></a>Exercício
#
# O bundle do exercício é escrito à mão, um bundle curto, do tipo que o `runc spec` escreve (o do podman,
# na seção 2, é mais longo). Estes são os campos dele que decidem o que o root no contêiner pode fazer — e
# um campo que ele *não* tem (o `runc spec` também o deixa de fora):

# %%
spec = exercises_oci.bundle_config()
print("root                  ", spec["root"])
print("process.user          ", spec["process"]["user"])
print("process.capabilities  ", spec["process"]["capabilities"]["bounding"],
      "(o mesmo em bounding, effective e permitted)")
print("process.noNewPrivileges", spec["process"]["noNewPrivileges"])
print("linux.namespaces      ", [n["type"] for n in spec["linux"]["namespaces"]])
print("linux.seccomp         ", spec["linux"].get("seccomp", "ausente"))
print()
print("as edições, um campo cada:")
for name in exercises_oci.EDITS:
    print("  ", name)

# %% [markdown]
# Escolha **uma** das edições. Com ela aplicada, o shell do contêiner (root no contêiner, a menos que a
# sua edição diga outra coisa) consegue escrever um arquivo em `/`, montar um tmpfs em `/tmp`, mudar o
# hostname e escutar na porta 80? Troque cada `...` abaixo: `edit` pelo nome da edição, como foi impresso,
# e cada ação por `True` ou `False`. Os nomes das edições e as chaves das ações ficam em inglês, porque é
# assim que a verificação os procura: *add* acrescenta uma capability, *remove* a tira, e as ações são, na
# ordem, escrever o arquivo, montar o tmpfs, mudar o hostname e escutar na porta. A verificação escreve o
# `config.json` editado ao lado de uma raiz busybox, roda `boxkit-runtime create` e `start` nele e lê o
# que o shell conseguiu fazer.

# %%
# boxkit: exercise
edit = ...
my_prediction = {
    "write a file in /": ...,
    "mount a tmpfs on /tmp": ...,
    "change the hostname": ...,
    "listen on port 80": ...,
}

# %%
# boxkit: exercise
from boxkit import exercises_oci

exercises_oci.check(my_prediction, edit=edit)

# %% [markdown]
# Travou depois de algumas tentativas? `exercises_oci.solution()` mostra uma resposta e o raciocínio por
# trás dela.
#
# **Experimente em seguida:** as outras três edições, cada uma prevista antes de você rodá-la. Quais das
# quatro ações um `linux.seccomp` como o do docker mudaria, na edição que acrescenta `CAP_SYS_ADMIN`?
