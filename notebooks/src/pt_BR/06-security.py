# %% [markdown]
# # 06 — Segurança: o root numa caixa não é root
#
# Dentro de um contêiner, o comando roda como uid 0, o mesmo número do root do host. Os namespaces
# (espaços de nomes) sozinhos não tornam isso seguro: eles mudam o que um processo *vê*, não o que ele
# pode *fazer*. O que ele pode fazer é decidido por uma pilha de camadas independentes, cada uma capaz de
# recusar por conta própria, e cada uma delas é um recurso do kernel:
#
# | camada | o recurso do kernel | o que ela decide |
# |---|---|---|
# | capabilities | `capset`, `prctl(PR_CAPBSET_DROP)` | quais dos poderes do root o processo ainda tem (o docker mantém uma lista curta) |
# | seccomp | `prctl(PR_SET_SECCOMP)`, um programa BPF | quais *chamadas de sistema* chegam a alcançar o kernel, e com quais argumentos |
# | no_new_privs | `prctl(PR_SET_NO_NEW_PRIVS)` | programas setuid e capabilities de arquivo não conseguem acrescentar privilégios |
# | caminhos mascarados e somente leitura | montagens bind sobre arquivos de `/proc`; `/sys` e `/proc/sys` somente leitura | o que os próprios arquivos do kernel revelam e aceitam |
# | dispositivos | montagens `nodev`, o cgroup (grupo de controle) de dispositivos | quais nós de dispositivo podem ser abertos: nenhum disco do host, nada de `/dev/mem` |
# | um cgroup próprio | um grupo em cada hierarquia de cgroups, um namespace de cgroup | que as raízes de cgroup do host (e o `release_agent` delas) fiquem fora de alcance |
#
# **BPF** (de início, *Berkeley Packet Filter*) é um pequeno conjunto de instruções que o próprio kernel
# executa: um programa entregue ao kernel, verificado e executado num ponto fixo — no caso do seccomp, na
# entrada de cada chamada de sistema. O Docker acrescenta uma sétima camada onde o host tem uma, um
# **LSM** (*Linux Security Module*: AppArmor ou SELinux, regras que o kernel confere em operações de
# arquivo, de montagem e de rede); o boxkit não carrega nenhum.
#
# Cada seção mostra uma camada recusando alguma coisa e, depois, executa a *mesma* ação sem essa camada —
# num contêiner descartável, no seu kernel. Onde o boxkit não tem uma opção só para aquela camada
# (caminhos mascarados e somente leitura, dispositivos), a ação roda com `--privileged`, que retira as
# cinco primeiras camadas de uma vez; a sexta não pode ser retirada de jeito nenhum, e a seção 6 diz o
# que, por isso, fica sem teste.

# %%
# NBVAL_IGNORE_OUTPUT
# edição em português (pt_BR): daqui em diante, o próprio boxkit também fala português
import boxkit
boxkit.set_language("pt_BR")
from boxkit import course

course.start("containers")

# %% [markdown]
# ## <a id="Predict-first"></a>Primeiro, preveja
#
# Antes de ver qualquer camada em ação: quais destas coisas o root consegue fazer num contêiner *padrão*?
# Cada uma é uma tarefa que o root faz num host comum. Os nomes delas ficam em inglês, porque são as
# chaves que a verificação procura; na ordem: mudar o dono de um arquivo, escutar numa porta privilegiada,
# usar o ptrace num processo irmão, mudar o hostname, acertar o relógio, carregar um módulo do kernel, ler
# o log do kernel e ler o disco do host por um nó que o próprio root cria. Troque cada `...` por `True` ou
# `False`. A verificação executa cada ação num contêiner só para ela e diz quantas previsões acertaram; a
# dica diz em que pensar, nunca qual ação você errou. As seções abaixo mostram as camadas que decidem.

# %%
# boxkit: exercise
my_prediction = {
    "chown a file": ...,
    "listen on port 80": ...,
    "ptrace a sibling process": ...,
    "change the hostname": ...,
    "set the clock": ...,
    "load a kernel module": ...,
    "read the kernel log": ...,
    "read the host's disk through a node it makes": ...,
}

# %%
# boxkit: exercise
from boxkit import exercises

exercises.root_can(my_prediction)

# %% [markdown]
# Cada ação é uma linha de shell em `exercises.ROOT_ACTIONS`. Travou depois de algumas tentativas? Leia
# primeiro as seções abaixo; depois, `exercises.solution("security")` mostra uma resposta e o raciocínio
# por trás dela.
#
# ## 1. Capabilities
#
# O kernel divide o poder do root em **capabilities** (capacidades), um bit cada: `CAP_CHOWN`,
# `CAP_SYS_ADMIN` (montagens, a maior parte do trabalho com namespaces), `CAP_NET_ADMIN` (links, rotas,
# firewall) e assim por diante. Dentro do seu namespace de usuário, nenhum processo ganha, ao executar um
# programa, uma capability fora do seu **conjunto delimitador** (*bounding set*, `CapBnd` em
# `/proc/PID/status`) — a única exceção, uma capability que já esteja no seu conjunto *herdável*
# (*inheritable*), não ocorre aqui: o boxkit esvazia esse conjunto. Então, para um contêiner iniciado
# daqui sem um namespace de usuário próprio, "todas as capabilities" quer dizer o conjunto delimitador do
# root deste notebook. Ele não precisa ser tudo o que o kernel conhece: uma sandbox pode rodar o seu root
# com menos.

# %%
# NBVAL_IGNORE_OUTPUT
import boxkit
from boxkit import _sys
from boxkit.exercise_runs import status_fields

with open("/proc/sys/kernel/cap_last_cap") as f:
    known = int(f.read()) + 1      # as capabilities são numeradas de 0 a cap_last_cap
with open("/proc/self/status") as f:
    host_bnd = _sys.cap_names(int(status_fields(f.read())["CapBnd"], 16))
lacking = [n for n, bit in _sys.CAPABILITIES.items() if bit < known and n not in host_bnd]
print(f"capabilities que este kernel conhece: {known}")
if lacking:
    print(f"no conjunto delimitador deste notebook: {len(host_bnd)}; faltam: {', '.join(lacking)}")
else:
    print(f"no conjunto delimitador deste notebook: {len(host_bnd)}; faltam: nenhuma")

# %% [markdown]
# `CapEff` é o que um processo pode usar agora. Num contêiner padrão, decodificado, ele é a lista padrão
# do docker:

# %%
import os
import sys

from boxkit.exercise_runs import attempt
from boxkit.viz.security import Probe

PY = os.path.realpath(sys.executable)   # a imagem host contém este python no mesmo caminho que ele tem no host
probes = []   # todas as ações abaixo: como um contêiner padrão as encontrou, e sem uma das camadas
r = boxkit.run("host", ["cat", "/proc/self/status"])
eff = _sys.cap_names(int(status_fields(r.stdout)["CapEff"], 16))
print(f"CapEff num contêiner padrão: {len(eff)} capabilities")
print(", ".join(n.removeprefix("CAP_").lower() for n in eff))
print(f"menos que as do conjunto delimitador ({len(eff)} de {len(host_bnd)}): {len(eff) < len(host_bnd)}")
print(f"CAP_SYS_ADMIN ficou de fora ({len(eff)} mantidas): {'CAP_SYS_ADMIN' not in eff}")
print(f"CAP_NET_ADMIN ficou de fora ({len(eff)} mantidas): {'CAP_NET_ADMIN' not in eff}")

# %% [markdown]
# Agora, duas coisas que o root normalmente faz, recusadas; depois, as mesmas, acrescentando a única
# capability de que cada uma precisa (`--cap-add`, a opção do docker). `attempt` (importada acima) roda
# uma linha de shell como root num contêiner descartável e devolve se funcionou e o que ela disse;
# `probes` junta todas as ações para a figura do fim.
#
# O `mount` esbarra em duas camadas, e cada uma o recusa por conta própria: o perfil seccomp do docker,
# que o boxkit segue, só deixa o `mount` passar pelo filtro num contêiner que tenha `CAP_SYS_ADMIN`, e a
# verificação do próprio kernel pede essa capability de novo. Por isso, `seccomp=unconfined` sozinho deixa
# a verificação de capability no lugar, e `--cap-add SYS_ADMIN` abre as duas. As duas respondem `EPERM`,
# "Operation not permitted" (o programa `mount` diz "permission denied"), então a mensagem não permite
# distingui-las; a ordem em que elas agem, sim. Quando a chamada chega a rodar, o kernel procura o ponto
# de montagem *antes* de verificar a capability, então uma montagem sobre um diretório que não existe
# falha com `ENOENT`, "No such file or directory" — a menos que o filtro tenha recusado a chamada antes
# que ela começasse. A segunda metade da célula faz essa chamada ela mesma, a partir do python.

# %%
# boxkit: needs root
mount = "mount -t tmpfs scratch /tmp && echo mounted"
ok, said = attempt(mount)
ok_u, said_u = attempt(mount, security_opt=["seccomp=unconfined"])
ok_c, said_c = attempt(mount, cap_add=["SYS_ADMIN"])
# sem o filtro, a verificação de capability recusa sozinha: essa execução é a primeira deste teste
probes.append(Probe("capabilities", "montar um tmpfs", not ok_u, said_u, "--cap-add SYS_ADMIN",
                    ok_c, said_c, "seccomp=unconfined"))
print(f"mount recusado num contêiner padrão ({said}): {not ok}")
print(f"mount recusado só com seccomp=unconfined ({said_u}): {not ok_u}")
print(f"mount funciona com --cap-add SYS_ADMIN ({said_c}): {ok_c}")

nowhere = f"""{PY} -c "import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
if libc.mount(b'scratch', b'/no/such/dir', b'tmpfs', 0, None) < 0:
    raise SystemExit('mount: ' + os.strerror(ctypes.get_errno()))" """
_, said_n = attempt(nowhere)
_, said_nu = attempt(nowhere, security_opt=["seccomp=unconfined"])
before, ran = "not permitted" in said_n, "No such file" in said_nu
probes.append(Probe("seccomp", "o mount chega ao kernel", before, said_n, "seccomp=unconfined",
                    ran, f"{said_nu}; o caminho foi procurado"))
print(f"sobre um diretório inexistente, recusado antes de o caminho ser procurado ({said_n}): {before}")
print(f"o mesmo com seccomp=unconfined: a chamada rodou e procurou ({said_nu}): {ran}")

link = "ip link add v0 type veth peer name v1 && echo link added"
ok, said = attempt(link)
ok_c, said_c = attempt(link, cap_add=["NET_ADMIN"])
probes.append(Probe("capabilities", "ip link add", not ok, said, "--cap-add NET_ADMIN",
                    ok_c, said_c))
print(f"ip link add recusado num contêiner padrão ({said}): {not ok}")
print(f"ip link add funciona com --cap-add NET_ADMIN ({said_c}): {ok_c}")

# %% [markdown]
# ## 2. seccomp
#
# Todo contêiner do boxkit que não foi iniciado com `--privileged` carrega um filtro seccomp como último
# passo antes do `execve`. O filtro é um programa BPF *clássico*: o kernel o executa a cada chamada de
# sistema, sobre o número e os argumentos da chamada, e ele devolve um veredito — deixar a chamada rodar,
# ou fazê-la falhar com um errno antes que ela comece. A libseccomp o compila a partir do perfil do boxkit
# (as mesmas decisões do perfil padrão do docker). Cada instrução BPF é uma `struct sock_filter` de 8
# bytes: uma operação de 16 bits, dois deslocamentos de salto de 8 bits e uma constante de 32 bits; assim,
# o tamanho do programa em bytes, dividido por 8, é o seu comprimento em instruções.
#
# A menos que o contêiner tenha `CAP_SYS_ADMIN`, o filtro recusa o `unshare` em qualquer caso, e o `clone`
# quando leva flags de namespace — um namespace de usuário aninhado daria ao root um conjunto completo de
# capabilities *lá dentro*, a porta por onde passou a CVE-2022-0185. Ele também recusa `keyctl`/`add_key`:
# os chaveiros (*keyrings*) pertencem a um usuário, e o root num contêiner sem namespace de usuário
# próprio é o mesmo uid 0 que o root do host. `Seccomp: 2` em `/proc/self/status` quer dizer "um filtro
# está carregado".

# %%
import base64

from boxkit.runtime import caps
from boxkit.security import seccomp

INSTRUCTION = 8   # bytes numa struct sock_filter
profile = seccomp.default_profile()
program = base64.b64decode(seccomp.program(profile, caps.DEFAULT_MASK))   # o plano guarda o programa em base64
print(f"perfil do boxkit: {len(profile.rules)} regras, ação padrão {profile.default_action} "
      f"(errno {profile.default_errno})")
print(f"compilado: {len(program)} bytes, {len(program) // INSTRUCTION} instruções BPF")
print(f"instruções inteiras ({len(program)} bytes): {len(program) % INSTRUCTION == 0}")
r = boxkit.run("host", ["cat", "/proc/self/status"])
mode = status_fields(r.stdout)["Seccomp"]
print(f"um filtro carregado num contêiner padrão (Seccomp: {mode}): {mode == '2'}")

# %%
keyctl = f"""{PY} -c "import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
nr = {{'x86_64': 248, 'aarch64': 217}}[os.uname().machine]   # add_key: glibc has no wrapper
if libc.syscall(nr, b'user', b'boxkit-demo', b'x', 1, -2) < 0:
    raise SystemExit('add_key: ' + os.strerror(ctypes.get_errno()))
print('add_key: a key was added to the kernel keyring')" """
nested = ("unshare -U -r sh -c 'echo user namespace: uid $(id -u), "
          "CapEff $(grep CapEff /proc/self/status | cut -f2)'")
for probe, cmd in (("unshare -U", nested), ("add_key", keyctl)):
    ok, said = attempt(cmd)
    ok_u, said_u = attempt(cmd, security_opt=["seccomp=unconfined"])
    probes.append(Probe("seccomp", probe, not ok, said, "seccomp=unconfined", ok_u, said_u))
    print(f"{probe} recusado num contêiner padrão ({said}): {not ok}")
    print(f"{probe} funciona com seccomp=unconfined ({said_u}): {ok_u}")

# %% [markdown]
# O `CapEff` do namespace de usuário aninhado tem todas as capabilities que o kernel conhece — dentro
# desse namespace, onde o kernel as confere contra objetos que pertencem ao namespace; ele pode ter bits
# que faltam no conjunto delimitador do host, porque um namespace de usuário novo começa com o conjunto
# completo.
#
# ## 3. no_new_privs
#
# Um programa setuid-root roda com o uid do dono do arquivo como uid efetivo — é assim que o `sudo` e o
# `passwd` funcionam. Aqui, o root do contêiner faz uma cópia setuid-root do `id`, vira o uid 1000 e a
# executa. Com `no_new_privs` (o padrão do boxkit), o kernel ignora o bit setuid; sem ele (`--security-opt
# no-new-privileges=false`, o padrão do docker), o `id` informa `euid=0(root)`.

# %%
# boxkit: needs root
setuid = (f"""{PY} -c "import shutil, os; shutil.copy('/usr/bin/id', '/tmp/id'); """
          """os.chmod('/tmp/id', 0o4755); os.setgid(1000); os.setuid(1000); """
          """os.execv('/tmp/id', ['id'])" """)
_, said = attempt(setuid)
_, said_n = attempt(setuid, security_opt=["no-new-privileges=false"])
probes.append(Probe("no_new_privs", "id com setuid-root", "euid=0" not in said, said,
                    "no-new-privileges=false", "euid=0" in said_n, said_n))
print(f"o bit setuid ignorado num contêiner padrão ({said}): {'euid=0' not in said}")
print(f"o bit setuid obedecido com no-new-privileges=false ({said_n}): {'euid=0' in said_n}")

# %% [markdown]
# ## 4. Caminhos mascarados e somente leitura
#
# O boxkit, como o docker, *mascara* os arquivos de `/proc` que revelam coisas sobre o host: `/dev/null`
# montado sobre cada arquivo (`/proc/keys`, `/proc/timer_list` … e `/proc/kcore`, num kernel que o tenha),
# um `tmpfs` vazio e somente leitura sobre cada diretório (`/proc/acpi` …). Ele monta o `/sys` como
# somente leitura, e também o `/proc/sys` e algumas outras partes de `/proc`. A execução lista as
# montagens de cada contêiner sobre caminhos de `/proc`. O Docker retira só essas proteções com
# `--security-opt systempaths=unconfined`; `--privileged` as retira junto com todas as outras camadas. O
# boxkit só tem `--privileged` para elas, então cada uma é comparada com um contêiner privilegiado. Cada
# execução grava de volta em `ip_forward` o valor que leu.

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root
FORWARD = "/proc/sys/net/ipv4/ip_forward"
look = (f"wc -c < /proc/keys; v=$(cat {FORWARD}); echo held $v; "
        f"echo $v > {FORWARD} && echo proc-sys-written; cat /proc/self/mountinfo")


def over_proc(mountinfo):
    """As montagens sobre caminhos de /proc: (mascaradas, somente leitura); uma mascarada não é do tipo proc."""
    masked, read_only = [], []
    for line in mountinfo:
        left, _, right = line.partition(" - ")
        point = left.split()[4]
        if point.startswith("/proc/"):
            (read_only if right.split()[0] == "proc" else masked).append(point)
    return masked, read_only


normal = boxkit.run("host", look, timeout=30)
privileged = boxkit.run("host", look, timeout=30, privileged=True)
for name, r in (("default", normal), ("privileged", privileged)):
    out = r.stdout.splitlines()
    held = next(line.split()[1] for line in out if line.startswith("held "))
    written = f"reescrito ({held})" if "proc-sys-written" in out else "não escrito"
    masked, read_only = over_proc(line for line in out if " - " in line)
    print(f"{name:10}: /proc/keys {out[0]} bytes; ip_forward valia {held}, {written}")
    if masked:
        print(f"{'':12}mascarados: {' '.join(masked)}")
    else:
        print(f"{'':12}mascarados: nenhum")
    if read_only:
        print(f"{'':12}somente leitura: {' '.join(read_only)}")
    else:
        print(f"{'':12}somente leitura: nenhum")
if os.path.exists("/proc/kcore"):
    print("/proc/kcore neste kernel: presente")
else:
    print("/proc/kcore neste kernel: ausente")

# %%
# boxkit: needs root
keys, keys_p = normal.stdout.split()[0], privileged.stdout.split()[0]
masked, read_only = over_proc(line for line in normal.stdout.splitlines() if " - " in line)
refusal = normal.stderr.strip().splitlines()[-1] if normal.stderr.strip() else "nenhuma mensagem"
probes.append(Probe("masked paths", "ler /proc/keys", keys == "0", f"{keys} bytes lidos",
                    "--privileged", keys_p != "0", f"{keys_p} bytes lidos"))
probes.append(Probe("read-only paths", "escrever em /proc/sys", "proc-sys-written" not in normal.stdout,
                    refusal, "--privileged", "proc-sys-written" in privileged.stdout,
                    "ip_forward reescrito com o valor que tinha"))
print(f"/proc/keys mascarado num contêiner padrão ({keys} bytes): "
      f"{keys == '0' and '/proc/keys' in masked}")
print(f"/proc/sys recusou uma escrita ({refusal}): {'proc-sys-written' not in normal.stdout}")
lifted = over_proc(line for line in privileged.stdout.splitlines() if " - " in line) == ([], [])
print(f"--privileged não mascara nada e lê /proc/keys ({keys_p} bytes): "
      f"{lifted and keys_p != '0'}")

# %% [markdown]
# O contêiner privilegiado gravou de volta o valor que `ip_forward` tinha, então a escrita dele não mudou
# nada. Um valor diferente teria ficado no namespace de rede do contêiner: `/proc/sys/net` mostra o
# namespace do processo que o abre, e um contêiner privilegiado mantém o seu próprio (o fim deste notebook
# mede isso); esta execução não experimenta gravar um valor diferente. O resto de `/proc/sys` é outra
# história: a maior parte de `kernel.*` e todo o `vm.*` não têm namespace, então ali a escrita de um
# contêiner privilegiado é a do host (também não testado aqui).
#
# ## 5. Dispositivos
#
# O `/dev` de um contêiner é um `tmpfs` novo, montado `nodev`. O boxkit põe nele, como faz o docker:
#
# | entrada | o que é |
# |---|---|
# | `null`, `zero`, `full`, `random`, `urandom`, `tty` | os seis nós de dispositivo seguros, montagens bind dos nós do host |
# | `pts`, `ptmx` | um `devpts` do próprio contêiner para pseudoterminais; `ptmx` (um link para `pts/ptmx`) cria novos |
# | `shm` | um `tmpfs` para a memória compartilhada POSIX (`shm_open`) |
# | `mqueue` | as filas de mensagens POSIX do namespace IPC |
# | `fd`, `stdin`, `stdout`, `stderr` | links para dentro de `/proc/self/fd` |
# | `core` | um link para `/proc/kcore` (a memória do kernel, como um arquivo core), mascarado onde o kernel tem um (seção 4) |
# | `console` | o terminal de um contêiner iniciado com um (`-t`) |

# %%
# boxkit: needs root
TABLE = {"null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "mqueue",
         "fd", "stdin", "stdout", "stderr", "core", "console"}
r = boxkit.run("host", "ls -l /dev | tail -n +2", timeout=30)
entries = []
for line in r.stdout.splitlines():   # modo, links, dono, grupo, tamanho ou major, minor, data, nome
    left, _, target = line.partition(" -> ")
    fields, name = left.split(), left.split()[-1]
    entries.append(name)
    kind = {"c": "dispositivo de caractere", "b": "dispositivo de bloco", "d": "diretório", "l": "link simbólico"}[fields[0][0]]
    numbers = f" {fields[4].rstrip(',')}:{fields[5]}" if fields[0][0] in "cb" else ""
    print(f"{name:8} {kind}{numbers}" + (f" -> {target}" if target else ""))
print(f"cada entrada é uma das que a tabela cita ({len(entries)} entradas): {set(entries) <= TABLE}")

nodev, devnodes = [], []   # o contêiner padrão da seção 4: as montagens dele, nodev ou não
for line in normal.stdout.splitlines():
    if " - " in line:
        point, opts = line.split()[4:6]
        if not point.startswith(("/proc/", "/sys/")):   # sem as máscaras da seção 4
            (nodev if "nodev" in opts.split(",") else devnodes).append(point)
print(f"montados com nodev: {' '.join(nodev)}")
print(f"sem nodev: {' '.join(devnodes)}")
writable = {"/", "/dev", "/dev/shm"}
print(f"a raiz, /dev e /dev/shm são nodev ({' '.join(sorted(writable & set(nodev)))}): "
      f"{writable <= set(nodev)}")

# %% [markdown]
# A ausência dos discos do host nessa lista prova pouco: as capabilities padrão incluem `CAP_MKNOD`, então
# o root lá dentro consegue *criar* um nó para qualquer dispositivo, dados o tipo e os números major:minor
# (o host lista os seus discos e os números deles em `/proc/partitions`). O que o kernel recusa é a
# *abertura*, e por dois caminhos. Todo sistema de arquivos em que o contêiner consegue criar um nó — a
# sua raiz, `/dev`, `/dev/shm` — é montado `nodev`: o kernel não abre um nó de dispositivo encontrado nele
# (`EACCES`, "Permission denied"). As seis montagens bind de dispositivos e o `devpts` não são `nodev`,
# como mostram as linhas acima: os nós deles precisam abrir. E, no cgroup v1, o cgroup de dispositivos do
# contêiner o deixa criar qualquer nó, mas abrir só os seguros (`EPERM`, "Operation not permitted"). O
# Docker acrescenta um dispositivo do host com `--device`; o boxkit só tem `--privileged`, que abre o
# cgroup de dispositivos para todos os nós.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit.exercise_runs import host_disk

disk, major, minor = host_disk()
try:
    with open(f"/dev/{disk}", "rb") as f:
        opened = f"ele lê {len(f.read(1))} byte"
except OSError as e:
    opened = e.strerror
print(f"o disco deste host: /dev/{disk}, dispositivo de bloco {major}:{minor}; o root dele, ao abri-lo: {opened}")

# %% [markdown]
# Em alguns hosts, até o root é impedido de abrir o próprio disco, por um motivo do host (uma sandbox, a
# proteção de uma máquina virtual), como a linha acima pode mostrar. Para que todo host mostre a mesma
# coisa, o disco abaixo é um **dispositivo loop**: um dispositivo de bloco que o kernel cria sobre um
# arquivo, aqui um arquivo pequeno que começa com a palavra `boxkit`, desanexado no fim da célula. A
# primeira execução cria o nó em `/tmp` (na raiz, que é `nodev`). Para que a abertura esbarre só no cgroup
# de dispositivos, a segunda execução monta um `tmpfs` próprio, sem `nodev` (isso exige `CAP_SYS_ADMIN`);
# a terceira faz o mesmo como privilegiada. Cada execução lê seis bytes do disco e não grava nada nele.

# %%
# boxkit: needs root
import subprocess
import tempfile

with tempfile.NamedTemporaryFile(dir="/var/tmp", prefix="boxkit-disk-") as backing:
    backing.write(b"boxkit".ljust(1 << 20, b"\0"))
    backing.flush()
    loop = subprocess.run(["losetup", "--find", "--show", backing.name], capture_output=True,
                          text=True, check=True).stdout.strip()
    try:
        rdev = os.stat(loop).st_rdev
        with open(loop, "rb") as f:
            on_host = f.read(6).decode()
        read = (f"mknod DIR/disk b {os.major(rdev)} {os.minor(rdev)} && echo node made && "
                "head -c6 DIR/disk > /tmp/six && echo read $(cat /tmp/six)")   # nunca uma escrita
        own_fs = "mkdir /tmp/m && mount -t tmpfs x /tmp/m && " + read.replace("DIR", "/tmp/m")
        runs = {"default": boxkit.run("busybox", read.replace("DIR", "/tmp"), timeout=30),
                "own tmpfs, --cap-add SYS_ADMIN": boxkit.run("busybox", own_fs, timeout=30,
                                                             cap_add=["SYS_ADMIN"]),
                "own tmpfs, --privileged": boxkit.run("busybox", own_fs, timeout=30,
                                                      privileged=True)}
    finally:
        subprocess.run(["losetup", "-d", loop], check=True)
told = {name: (r.stdout + r.stderr).strip().replace("\n", "; ") for name, r in runs.items()}
for name, text in told.items():
    print(f"{name:31}: {text}")
d, c, p = runs.values()
print(f"o root do host lê o dispositivo loop {os.major(rdev)}:{os.minor(rdev)} ({on_host}): "
      f"{on_host == 'boxkit'}")
print(f"o nó criado num contêiner padrão ({told['default']}): {'node made' in d.stdout}")
print(f"o nodev recusou a abertura ({d.stderr.strip()}): {'Permission denied' in d.stderr}")
print(f"o cgroup de dispositivos recusou a abertura num tmpfs sem nodev ({c.stderr.strip()}): "
      f"{'Operation not permitted' in c.stderr}")
print(f"um contêiner privilegiado o leu ({told['own tmpfs, --privileged']}): "
      f"{'read boxkit' in p.stdout}")
probes.append(Probe("devices", "abrir o nó do disco (nodev)", "read boxkit" not in d.stdout,
                    told["default"], "--privileged", "read boxkit" in p.stdout,
                    told["own tmpfs, --privileged"]))
probes.append(Probe("devices", "idem, tmpfs sem nodev", "read boxkit" not in c.stdout,
                    told["own tmpfs, --cap-add SYS_ADMIN"], "--privileged",
                    "read boxkit" in p.stdout, told["own tmpfs, --privileged"],
                    "--cap-add SYS_ADMIN"))

# %% [markdown]
# ## 6. O release_agent do cgroup
#
# No cgroup v1, o grupo **raiz** de cada hierarquia tem um arquivo `release_agent`: o caminho de um
# programa que o kernel *do host* executa, como o root do host, quando um grupo cujo `notify_on_release` é
# `1` perde o seu último processo e não tem mais nenhum grupo filho. Quem consegue escrever nele, e
# consegue esvaziar algum grupo com `notify_on_release=1`, executa qualquer programa como root no host. A
# fuga de contêiner da CVE-2022-0492 fez exatamente isso: com `CAP_SYS_ADMIN` — ou ganhando essa
# capability num novo namespace de usuário (`unshare -UrmC`), onde nenhum filtro seccomp recusasse isso —
# ela montou uma hierarquia que *já existe* (`-o rdma`), na qual o contêiner estava na raiz, e escreveu no
# `release_agent` dessa raiz.
#
# Uma montagem v1 feita dentro de um namespace de cgroup começa no grupo em que o namespace foi criado, e
# o `release_agent` só existe no grupo raiz de uma hierarquia. Então o que barra a fuga primeiro é o
# contêiner ter um grupo próprio em **todas** as hierarquias — inclusive nas nomeadas, como `name=systemd`
# — antes de o seu namespace de cgroup ser criado. Aqui estão as hierarquias v1 deste host, lidas de
# `/proc/self/mountinfo`, com as opções que montam cada uma de novo e o número de processos no grupo raiz
# de cada uma:

# %%
# NBVAL_IGNORE_OUTPUT
hierarchies = {}   # ponto de montagem -> as opções -o da mesma hierarquia
with open("/proc/self/mountinfo") as f:
    for line in f:
        left, _, right = line.partition(" - ")
        fstype, _source, options = right.split()[:3]
        if fstype != "cgroup":
            continue
        names = [o for o in options.split(",")
                 if o.startswith("name=") or o not in ("rw", "ro") and "=" not in o
                 and o not in ("xattr", "noprefix", "clone_children", "cpuset_v2_mode")]
        named_only = all(o.startswith("name=") for o in names)
        hierarchies[left.split()[4]] = ",".join((["none"] if named_only else []) + names)
for point, opts in hierarchies.items():
    has_agent = os.path.exists(os.path.join(point, "release_agent"))
    with open(os.path.join(point, "cgroup.procs")) as f:
        at_root = len(f.read().split())
    print(f"{point:24} -o {opts:18} {at_root:4} processos; release_agent na raiz: {has_agent}")
if not hierarchies:
    print("nenhuma hierarquia v1 está montada aqui: o cgroup v2 não tem release_agent nenhum")

# %% [markdown]
# Agora, o primeiro passo do ataque, de dentro, com `--cap-add SYS_ADMIN`: montar cada uma delas, procurar
# o `release_agent` e contar os processos que o grupo raiz da montagem contém (compare com as contagens do
# host acima). Nada é escrito. Do host, `/proc/PID/cgroup` mostra onde o contêiner está em cada
# hierarquia.

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root, cgroups
look = r'''mkdir -p /tmp/cg
for o in "$@"; do
  if mount -t cgroup -o "$o" cg /tmp/cg 2>/tmp/err; then
    agent=absent; [ -e /tmp/cg/release_agent ] && agent=PRESENT
    echo "$o mounted: release_agent $agent; processes in its root $(wc -l < /tmp/cg/cgroup.procs)"
    umount /tmp/cg
  else echo "$o refused: $(head -1 /tmp/err)"; fi
done'''
argv = ["sh", "-c", look, "sh", *hierarchies.values()]
default = boxkit.run("host", argv, timeout=30)
print("contêiner padrão:", default.stdout.rstrip(), sep="\n")
box = boxkit.run("host", ["sleep", "60"], detach=True, cap_add=["SYS_ADMIN"])
try:
    with open(f"/proc/{box.pid}/cgroup") as f:
        seen = [line.strip().split(":", 2) for line in f if line.split(":")[1]]   # só as linhas v1
    inside = box.exec(argv).stdout
    said = box.exec("mount -t cgroup -o none,name=escape cg /tmp/cg 2>&1 && umount /tmp/cg"
                    ).stdout.splitlines()
    new_name = said[0] if said else "montada"
finally:
    box.kill()
    box.wait(10)
    box.remove()
print("com --cap-add SYS_ADMIN:", inside, sep="\n")
print("o grupo do contêiner em cada hierarquia, visto do host:")
for _n, hierarchy, group in seen:
    print(f"  {hierarchy:14} {group}")

# %%
# boxkit: needs root, cgroups
mounted = [line for line in inside.splitlines() if " mounted:" in line]
refused = [line for line in default.stdout.splitlines() if " refused:" in line]
print(f"um contêiner padrão não consegue montar nenhuma ({len(refused)} de {len(hierarchies)} recusadas): "
      f"{len(refused) == len(hierarchies)}")
print(f"com CAP_SYS_ADMIN ele monta cada uma ({len(mounted)} de {len(hierarchies)}): "
      f"{len(mounted) == len(hierarchies)}")
print(f"release_agent ausente de todas as montagens ({len(mounted)} montagens examinadas): "
      f"{mounted != [] and not any('PRESENT' in line for line in mounted)}")
print(f"um grupo próprio em cada hierarquia, não a raiz ({len(seen)} hierarquias): "
      f"{seen != [] and all(group != '/' for _n, _h, group in seen)}")
print(f"uma hierarquia nova recusada mesmo com CAP_SYS_ADMIN ({new_name}): {'denied' in new_name}")
hidden = sum("PRESENT" not in line for line in mounted)
probes.append(Probe("a cgroup of its own", "alcançar um release_agent",
                    bool(mounted) and hidden == len(mounted),
                    f"release_agent ausente em {hidden} de {len(mounted)} montagens",
                    "sem grupo próprio", None, "o boxkit sempre cria um",
                    "--cap-add SYS_ADMIN"))

# %% [markdown]
# O que a execução mostra, e o que mais fica no caminho:
#
# * **Um grupo próprio em cada hierarquia.** Cada montagem mostra o grupo do próprio contêiner: nenhum
#   `release_agent`, e só os poucos processos do contêiner, enquanto as raízes do host têm muitos. O
#   contrário não é testado aqui, porque o boxkit não tem como deixar um contêiner na raiz de uma
#   hierarquia: um runtime que faça isso entrega o `release_agent` dessa hierarquia a um contêiner que
#   tenha `CAP_SYS_ADMIN` e nenhum namespace de usuário próprio.
# * **Sem `CAP_SYS_ADMIN`.** Sem ela, o `mount` é recusado pela verificação de capability e pelo seccomp,
#   cada um por conta própria (seção 1): o contêiner padrão acima não montou nenhuma hierarquia.
# * O **seccomp** recusa `mount` e `unshare` a um contêiner sem `CAP_SYS_ADMIN`, então o caminho por um
#   namespace de usuário aninhado também está fechado (seções 1 e 2).
# * **Um LSM**: o perfil AppArmor do docker nega todo `mount` nos hosts que têm AppArmor. Não mostrado
#   aqui: o boxkit não carrega nenhum perfil de LSM.
# * **`userns=True`.** Desde o Linux 5.17, o kernel só deixa um processo escrever no `release_agent`
#   quando o namespace de cgroup dele pertence ao namespace de usuário *inicial* do host e ele tem
#   `CAP_SYS_ADMIN` ali. O root num namespace de usuário próprio falha nas duas condições; o root num
#   contêiner sem um passa nas duas, então, para ele, essa verificação sozinha não protege nada. Também
#   não mostrado aqui: nenhum contêiner deste notebook vê um `release_agent` em que testar essa
#   verificação.
# * **`notify_on_release`.** Mesmo um `release_agent` escrito só roda quando um grupo com
#   `notify_on_release` igual a `1` se esvazia; quem consegue escrever no `release_agent` em geral também
#   consegue ligar o `notify_on_release` num grupo que pode esvaziar, então isso é uma condição, não uma
#   proteção.
#
# A última linha de fato acima é uma regra à parte, mais fraca: num namespace de cgroup que não seja o do
# host, o kernel se recusa a *criar* uma nova hierarquia v1 (`-o none,name=escape` nomeia uma que não
# existe), mas deixa montar as que já existem — que é tudo de que o ataque precisa. O cgroup v2 não tem
# arquivo `release_agent` nenhum.
#
# ## --privileged: a soma de tudo o que foi retirado
#
# `--privileged` (no sentido do docker) dá todas as capabilities do conjunto delimitador do host, nenhum
# filtro seccomp, nenhum `no_new_privs`, os dispositivos do host, `/sys` e `/proc` graváveis, nenhum
# caminho mascarado. Ele *não* entra nos namespaces do host nem sai dos seus próprios grupos: o contêiner
# mantém os seus namespaces, como mostram os números de inode de `/proc/PID/ns` ao lado dos do host
# (impressos para o contêiner privilegiado), e o seu próprio grupo em cada hierarquia, como mostra
# `/proc/PID/cgroup`.

# %%
# NBVAL_IGNORE_OUTPUT
# boxkit: needs root
from boxkit import nsinfo

facts = {}
for name, opts in (("default", {}), ("privileged", {"privileged": True})):
    c = boxkit.run("host", ["sleep", "60"], detach=True, **opts)
    try:
        table = nsinfo.NamespaceTable(nsinfo.compare(c.pid))
        own = [row.type for row in table if row.isolated]
        with open(f"/proc/{c.pid}/cgroup") as f:
            rows = [line.strip().split(":", 2) for line in f]
        groups = [g for _n, ctl, g in rows if ctl] or [g for _n, _c, g in rows]   # só v2: um grupo
        r = c.exec("cat /proc/self/status; grep ' /sys ' /proc/self/mounts; ls /dev | wc -l")
    finally:
        c.kill()
        c.wait(10)
        c.remove()
    st, lines = status_fields(r.stdout), r.stdout.splitlines()
    n = len(_sys.cap_names(int(st["CapEff"], 16)))
    facts[name] = (own, n, groups)
    print(f"{name:10}: {n:2} capabilities, Seccomp {st['Seccomp']}, NoNewPrivs {st['NoNewPrivs']}, "
          f"/sys gravável {' rw,' in lines[-2]}, entradas em /dev {lines[-1]}")
    print(f"{'':10}  namespaces próprios: {' '.join(own)}; grupos: {' '.join(set(groups))}")
print(f"o /dev do host: {len(os.listdir('/dev'))} entradas")
print("os namespaces do contêiner privilegiado ao lado dos deste notebook:", table, sep="\n")

# %%
# boxkit: needs root
own, n, groups = facts["privileged"]
kept = {"mnt", "pid", "net", "uts", "ipc", "cgroup"} <= set(own)
print(f"privilegiado: todas as capabilities do conjunto delimitador do host ({n} de {len(host_bnd)}): "
      f"{n == len(host_bnd)}")
print("privilegiado: ainda com os seus próprios namespaces mnt, pid, net, uts, ipc e cgroup "
      f"({' '.join(own)}): {kept}")
print(f"privilegiado: ainda com um grupo próprio, não a raiz ({len(groups)} hierarquias): "
      f"{groups != [] and '/' not in groups}")

# %% [markdown]
# ## A pilha, com todos os testes
#
# Uma faixa por camada, com o jeito como ela recusa. À esquerda: o que o teste encontrou no seu primeiro
# contêiner, um contêiner padrão (*padrão* na caixa), a menos que a caixa indique outra configuração
# (vermelho: *recusado*). À direita: o que ele encontrou sem essa camada (verde: *funciona*; vermelho:
# *ainda recusado*; cinza: *não testado*). Onde a caixa da direita diz `--privileged`, todas as outras
# camadas saíram junto (seções 4 e 5).

# %%
# boxkit: needs root
from boxkit.viz.security import stack_figure

stack_figure(probes)

# %%
# boxkit: needs root
from boxkit.viz.security import layer_name, setting_name

for p in probes:
    print(f"{layer_name(p.layer)}: {p.probe}: recusado, {setting_name(p.setting)} ({p.said}): {p.refused}")
    if p.works_without is not None:
        outcome = "funciona" if p.works_without else "ainda recusado, por outra camada"
        print(f"    com {p.without}: {outcome} ({p.said_without})")

# %% [markdown]
# ## O que foi provado
#
# * O root num contêiner padrão tem a lista curta de capabilities do docker, menos que o conjunto
#   delimitador do host; `mount` e `ip link add` são recusados e funcionam quando a única capability de
#   que cada um precisa é acrescentada. O `mount` é recusado pelo seccomp antes que o kernel olhe para ele
#   (nenhum `ENOENT` para um diretório inexistente) e, sem o filtro, pela verificação de capability.
# * Um filtro seccomp, um programa BPF, é carregado em todo contêiner que não seja `--privileged`: um
#   namespace de usuário aninhado e o `add_key` são recusados com EPERM e funcionam com
#   `seccomp=unconfined`.
# * O `no_new_privs` faz um programa setuid-root rodar sem root; sem ele, o mesmo programa ganha `euid=0`.
# * `/proc/keys` é mascarado e `/proc/sys` é somente leitura; `--privileged` retira as duas proteções.
# * O root lá dentro consegue criar um nó para um disco, mas não abri-lo: o `nodev` (em todo sistema de
#   arquivos em que ele consegue criar um nó) recusa, e o cgroup de dispositivos recusa onde não há
#   `nodev`; com `--privileged`, o disco é lido.
# * Com `CAP_SYS_ADMIN`, um contêiner monta todas as hierarquias v1 do host e encontra nelas o seu próprio
#   grupo, sem `release_agent`.
# * `--privileged` retira as cinco primeiras camadas e ainda deixa ao contêiner os seus próprios
#   namespaces e grupos. Um contêiner privilegiado nem precisa do `release_agent`: todas as capabilities,
#   nenhum filtro e os dispositivos do host deixam o root lá dentro carregar um módulo do kernel ou abrir
#   o disco do host, onde quer que o próprio root do host possa fazê-lo (não testado aqui).
#
# De volta às suas previsões: cada ação do exercício é decidida por uma destas camadas. Se a verificação
# disse "ainda não", encontre a camada de cada ação e rode a verificação de novo.
#
# **Experimente em seguida:** escreva um perfil seu — `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls":
# [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}` — e rode `boxkit.run("busybox", "mkdir
# /tmp/x", security_opt=["seccomp=/path/to/it.json"])`. Qual erro o `mkdir` imprime, e qual `errnoRet` o
# faria dizer "Permission denied"?
