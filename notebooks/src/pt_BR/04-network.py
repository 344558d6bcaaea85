# %% [markdown]
# # 04 — Redes: um namespace, um cabo, um switch
#
# *"Network: Isolamento de redes"*. Um contêiner ganha um **namespace de rede** (um espaço de nomes de
# rede) só seu: as suas próprias interfaces, endereços, rotas, portas e firewall. Um namespace de rede
# novo contém só um dispositivo de loopback, o `lo`, e ainda por cima desativado: ele não alcança nada,
# nem mesmo o host. O Docker então o conecta com três objetos do kernel, e o `boxkit` faz o mesmo. Cada um
# deles é criado com uma mensagem **netlink**: netlink é a família de sockets pela qual um programa pede
# ao kernel que crie, altere e liste interfaces, endereços e rotas (o `ip` fala netlink, e o `boxkit`
# também).
#
# | objeto do kernel | o que é | criado com (mensagem netlink) |
# |---|---|---|
# | **par veth** | duas interfaces ligadas como as duas pontas de um cabo | `RTM_NEWLINK kind=veth` |
# | **bridge** (ponte) | um switch dentro do kernel; o host tem nele o endereço do gateway | `RTM_NEWLINK kind=bridge` |
# | **endereço + rota** | um endereço da sub-rede da bridge no `eth0` do contêiner, e uma rota padrão pelo gateway da bridge | `RTM_NEWADDR`, `RTM_NEWROUTE` |
#
# Primeiro fazemos uma ligação dessas à mão, com o [pyroute2](https://pyroute2.org) (a biblioteca netlink
# que o `boxkit` usa); depois deixamos o `boxkit` fazer isso para dois contêineres e medimos o que foi
# construído. Por fim, um contêiner alcança "o lado de fora" através do host, por NAT de saída.

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
import statistics
import subprocess
import time
import urllib.request

import boxkit
import boxkit.net as bn
from boxkit.net import firewall as fw
from boxkit.net import ipam, links, measure
from boxkit.net.topology import snapshot
from boxkit.viz.topology import rtt_figure, topology_figure

# o endereço IPv4 de um contêiner no eth0, como o busybox o imprime
ADDR = "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"

# %% [markdown]
# ## Nada: um namespace de rede novo
#
# O `unshare --net` roda um processo num namespace de rede novo (a chamada de sistema
# `unshare(CLONE_NEWNET)`). Esperamos até que o `/proc/PID/ns/net` do processo seja diferente do nosso
# (sinal de que o namespace existe) e então perguntamos ao kernel, por netlink *dentro* desse namespace,
# quais interfaces existem. `links.inside(pid)` e `links.host()` entregam objetos `IPRoute` do pyroute2
# que falam com o namespace do processo e com o do host; as chamadas feitas neles são pyroute2 puro.

# %%
# boxkit: needs root
lonely = subprocess.Popen(["unshare", "--net", "sleep", "600"])
own_net = os.readlink("/proc/self/ns/net")
for _ in range(500):   # uma espera limitada: no máximo 500 verificações, com 10 ms entre uma e outra
    if os.readlink(f"/proc/{lonely.pid}/ns/net") != own_net:
        break
    time.sleep(0.01)
with links.inside(lonely.pid) as ns:
    inside = [(link.get("ifname"), link.get("state")) for link in ns.link("dump")]
inside

# %%
# boxkit: needs root
names = [name for name, _ in inside]
print(f"só o lo no namespace novo ({', '.join(names)}):", names == ["lo"])
print(f"o lo está desativado ({inside[0][1]}):", inside[0][1] == "down")

# %% [markdown]
# ## Um cabo feito à mão
#
# Um único pedido netlink cria um par veth **e** põe uma das pontas dentro do namespace (`net_ns_pid`); o
# host fica com a outra. Cada ponta recebe um endereço e é ativada. O truque é só esse.

# %%
# boxkit: needs network
with links.host() as ipr:
    peer = {"ifname": "eth0", "net_ns_pid": lonely.pid}
    ipr.link("add", ifname="bkdemo0", kind="veth", peer=peer)
    host_end = ipr.link_lookup(ifname="bkdemo0")[0]
    ipr.addr("add", index=host_end, address="10.213.250.1", prefixlen=24)
    ipr.link("set", index=host_end, state="up")

with links.inside(lonely.pid) as ns:
    eth0 = ns.link_lookup(ifname="eth0")[0]
    ns.addr("add", index=eth0, address="10.213.250.2", prefixlen=24)
    ns.link("set", index=eth0, state="up")
    ns.link("set", index=1, state="up")   # o lo tem o índice 1 em todo namespace

# %% [markdown]
# A figura é desenhada a partir do que o kernel informa agora: as duas pontas do veth conhecem o índice de
# interface uma da outra, e é assim que a linha entre elas é encontrada. Depois o host faz ping cinco
# vezes na ponta do cabo que está no namespace (`measure.ping(None, …)`: `None` quer dizer a partir do
# host).

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
by_hand = snapshot({"feito à mão": lonely.pid}, containers=False)
topology_figure(by_hand, title="Um namespace, um par veth")

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
rtts = measure.ping(None, "10.213.250.2", count=5, interval=0.2)
rtts

# %%
# boxkit: needs network
print(f"pings respondidos ({len(rtts)} de 5):", len(rtts) == 5)

# %% [markdown]
# Um namespace vive enquanto alguma coisa o segura: um processo dentro dele, um `/proc/PID/ns/net` aberto,
# uma montagem bind. Aqui só o `lonely` o segura; então, quando ele termina, o kernel libera o namespace
# (uma thread de trabalho do kernel faz isso instantes depois, e é por isso que a célula espera) e, com
# ele, a ponta do cabo que estava lá dentro — e um par veth não vive com uma ponta só, então a ponta do
# host vai embora também.

# %%
# boxkit: needs network
lonely.kill()
lonely.wait()
deadline = time.monotonic() + 5
while links.link_exists("bkdemo0") and time.monotonic() < deadline:
    time.sleep(0.01)
left = [n for n in ["bkdemo0"] if links.link_exists(n)]
print(f"a ponta do host foi embora com o namespace (restantes: {left}):", not left)

# %% [markdown]
# ## Dois contêineres numa bridge
#
# `network="bridge"` faz o mesmo com um switch no meio: a bridge do boxkit fica com o primeiro endereço da
# sua sub-rede (o gateway), e o veth de cada contêiner é uma porta dela. A sub-rede depende do host:
# quando uma rede é definida pela primeira vez, o boxkit lhe dá o /24 mais baixo do seu pool de endereços
# que nenhuma rota do host e nenhuma outra rede do boxkit usa, e a rede fica com ele (só muda se uma rota
# do host passar a entrar em conflito com ele). Por isso as células imprimem os endereços, em vez de este
# texto citá-los. `name=` torna o contêiner alcançável pelo nome: o `boxkit` escreve o `/etc/hosts` em
# cada contêiner da rede e o reescreve quando os vizinhos entram e saem. `publish=["8080:80"]` acrescenta
# uma entrada de NAT de destino na tabela `ip boxkit` do nftables: uma conexão à porta 8080 do host vai
# para a porta 80 do contêiner.

# %%
# boxkit: needs network
serve = "mkdir -p /www && echo hello from web > /www/index.html && httpd -f -p 80 -h /www"
web = boxkit.run("busybox", ["sh", "-c", serve],
                 detach=True, network="bridge", name="web", publish=["8080:80"])
client = boxkit.run("busybox", ["sleep", "600"], detach=True, network="bridge", name="client")

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
print(client.exec(["ip", "-4", "-o", "addr"]).stdout)
print(client.exec(["ip", "route"]).stdout)
print(client.exec(["cat", "/etc/hosts"]).stdout)

# %%
# boxkit: needs network
gateway = {n["name"]: n["gateway"] for n in bn.list_networks()}["bridge"]
route = client.exec(["ip", "route"]).stdout
via = next((ln.split()[2] for ln in route.splitlines() if ln.startswith("default via ")), None)
print(f"a rota padrão do client passa por {via}, o gateway da bridge ({gateway}):", via == gateway)

# %% [markdown]
# A topologia como o kernel a informa, com a porta publicada: uma seta tracejada vai da porta 8080 do host
# até o contêiner para cujo endereço a regra de DNAT reescreve a conexão (a regra é explicada mais
# abaixo).

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
ports = fw.published()
topology_figure(snapshot(), ports=ports, rule=fw.dnat_rule())

# %%
# boxkit: needs network
web_ip = web.exec(["sh", "-c", ADDR]).stdout.strip()
to_addr, to_port = ports.get(("tcp", 8080), ("", 0))
print(f"a porta 8080 é reescrita para {to_addr}:{to_port}, a porta 80 do eth0 do web ({web_ip}:80):",
      (to_addr, to_port) == (web_ip, 80))

# %% [markdown]
# ## Idas e voltas
#
# Um `ping` pelo nome, do `client` para o `web`: o pacote vai `eth0` → veth → bridge → veth → `eth0`, tudo
# dentro de um mesmo kernel. Para comparar, o `client` faz ping no seu próprio loopback, onde o pacote
# nunca sai do namespace, e o host faz ping no `web` a partir do seu endereço na bridge: passando pela
# bridge e por um único par veth.

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
rtt = {
    "client → web (pela bridge)": measure.ping(client, "web", count=20, interval=0.05),
    "client → 127.0.0.1 (pelo lo)": measure.ping(client, "127.0.0.1", count=20, interval=0.05),
    "host → web": measure.ping(None, web_ip, count=20, interval=0.05),
}
rtt_figure(rtt)

# %%
# boxkit: needs network
bridged, loop, host_rtts = (rtt[k] for k in rtt)
print(f"alcançável pelo nome ({len(bridged)} de 20 pings):", len(bridged) == 20)
print(f"alcançável a partir do host ({len(host_rtts)} de 20 pings):", len(host_rtts) == 20)

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
# os tempos dependem de quão ocupada a máquina está: a mais rápida de 20 idas e voltas é a medida
# mais estável
med_bridge, med_lo = statistics.median(bridged), statistics.median(loop)
med_host = statistics.median(host_rtts)
print(f"medianas: bridge {med_bridge:.3f} ms, loopback {med_lo:.3f} ms, host {med_host:.3f} ms")
ratio = min(bridged) / min(loop)
print(f"a ida e volta mais rápida pela bridge leva {ratio:.2f} vezes o tempo da mais rápida pelo loopback, menos de dez:", ratio < 10)
ratio = min(host_rtts) / min(loop)
print(f"a ida e volta mais rápida a partir do host leva {ratio:.2f} vezes o tempo da mais rápida pelo loopback, menos de dez:", ratio < 10)

# %% [markdown]
# Leia as duas linhas do `client`. Pela bridge, um ping atravessa dois pares veth e a bridge, na ida e na
# volta; pelo `lo`, ele nunca sai do namespace. Mesmo assim, as linhas têm a mesma ordem de grandeza: a
# ida e volta mais rápida de uma leva menos de dez vezes o tempo da mais rápida da outra (as razões estão
# impressas acima), e com a linha do host acontece o mesmo. Um par veth e o dispositivo de loopback
# entregam um pacote do mesmo jeito: o lado que envia o põe na fila de backlog da CPU (`netif_rx`) e o
# kernel o processa instantes depois, sem fio, sem placa de rede e sem cópia; a bridge é só uma consulta
# no caminho. Nessa escala, o ping mede sobretudo a si mesmo (acordar, enviar, ser acordado pela
# resposta), e isso é igual em todas as linhas; por isso, saber qual de duas medianas tão próximas é a
# menor diz pouco.

# %% [markdown]
# ## HTTP pelo nome e por uma porta publicada
#
# O `web` roda o `httpd` do busybox. O `client` busca a página pelo nome; o notebook (no host) a busca
# pela porta 8080 de `127.0.0.1`, que o kernel reescreve para a porta 80 do `web`.

# %%
# boxkit: needs network
by_name = client.exec(["wget", "-q", "-O", "-", "http://web/"]).stdout.strip()
with urllib.request.urlopen("http://127.0.0.1:8080/", timeout=5) as r:
    from_host = r.read().decode().strip()
print(f"o client buscou o web pelo nome ({by_name!r}):", by_name == "hello from web")
print(f"o host buscou 127.0.0.1:8080 ({from_host!r}):", from_host == "hello from web")

# %% [markdown]
# Como `127.0.0.1:8080` chega a um contêiner? Nenhum processo escuta na porta 8080 (uma célula mais abaixo
# verifica isso): uma regra do nftables reescreve o destino do pacote (**DNAT**, NAT de destino) a partir
# de um mapa de portas publicadas. Para pacotes que chegam de outro lugar, a regra fica na cadeia
# `prerouting`, antes de eles serem roteados; para as conexões do próprio host, como esta, ela fica na
# cadeia `output`, depois da consulta de rota do socket, e o kernel então roteia de novo o pacote
# reescrito. Esse pacote ainda leva a origem 127.0.0.1, e a consulta de rota do kernel recusa uma origem
# 127/8 em qualquer interface que não seja o `lo` (um endereço *marciano*, nas palavras da documentação de
# `route_localnet`); por isso o boxkit põe `route_localnet=1` na bridge. A resposta também precisa voltar,
# e um contêiner não consegue responder para 127.0.0.1 (esse é o loopback dele mesmo); então uma regra em
# `postrouting` **mascara** esses pacotes (*masquerade*): masquerade é NAT de origem, que reescreve o
# endereço de *origem* de um pacote para o endereço do próprio host na interface por onde ele sai (aqui, o
# gateway da bridge); o rastreamento de conexões (conntrack) lembra a reescrita e a desfaz nas respostas.
# (Uma cadeia `guard` descarta pacotes 127/8 que chegam *de* uma bridge: se houvesse apenas o
# `route_localnet`, sem essa cadeia, um contêiner conseguiria alcançar os serviços do host em 127.0.0.1, a
# CVE-2020-8558.) Aqui está a tabela, como `nft list table ip boxkit` a imprime; cada regra de masquerade
# tem um `counter`:

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
nft = [fw.nft_path(), "list", "table", "ip", fw.TABLE]
print(subprocess.run(nft, capture_output=True, text=True).stdout)
bridge = ipam.bridge_name("bridge")
localnet = open(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet").read().strip()
print(f"route_localnet em {bridge}:", localnet)

# %% [markdown]
# A regra de masquerade para 127/8 só age no primeiro pacote de uma conexão (o conntrack cuida do resto);
# por isso o contador dela conta conexões: a busca em `127.0.0.1:8080` acima é uma delas.

# %%
# boxkit: needs network
listening = [line.split()[1] for name in ("/proc/net/tcp", "/proc/net/tcp6")
             for line in open(name).read().splitlines()[1:]
             if line.split()[1].endswith(":1F90") and line.split()[3] == "0A"]   # porta 8080, estado LISTEN
print(f"nenhum socket do host escuta na porta 8080 ({len(listening)} encontrados):", not listening)
print(f"o route_localnet na bridge da rede bridge ({localnet}) vale 1:", localnet == "1")
rule, counted = measure.masquerade_rules().get("127.0.0.0/8", ("", None))
print(f"uma regra de postrouting mascara 127/8 rumo às bridges e contou {counted} conexão(ões):",
      "masquerade" in rule and (counted or 0) >= 1)

# %% [markdown]
# ## Isolamento
#
# Uma segunda rede é uma segunda bridge, com outra sub-rede. Os contêineres dela não estão ligados ao
# primeiro switch. Será que o host poderia levar pacotes de uma bridge para a outra? Isso não é uma
# propriedade das bridges: um host Linux só roteia entre as suas interfaces quando `net.ipv4.ip_forward`
# vale 1. O boxkit o liga quando uma rede pede NAT de saída (`--nat`, mais abaixo) e o deixa ligado, como
# faz o docker; outro software do host pode tê-lo ligado antes. Uma vez ligado, a cadeia `forward` do
# nftables do boxkit descarta o tráfego de uma bridge do boxkit para outra — o que as cadeias
# `DOCKER-ISOLATION` do docker fazem.

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
private = bn.create_network("private")
loner = boxkit.run("busybox", ["sleep", "600"], detach=True, network="private", name="loner")
print(private.subnet, loner.exec(["ip", "-4", "-o", "addr", "show", "eth0"]).stdout)

# %%
# boxkit: needs network
r = loner.exec(["ping", "-c", "1", "-W", "1", web_ip])
print(f"o web está fora de alcance a partir da rede private (código de saída do ping {r.exit_code}):", r.exit_code != 0)
hosts = loner.exec(["cat", "/etc/hosts"]).stdout
print(f"o nome web é desconhecido lá ({len(hosts.splitlines())} linhas no /etc/hosts):",
      "web" not in hosts)

# %% [markdown]
# Qual dos dois mantém as bridges separadas neste host: o `ip_forward` desligado ou a cadeia `forward`? A
# célula imprime o `ip_forward` medido, o que ele significa aqui e a cadeia `forward` do boxkit.

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
forwarding = int(fw.ip_forward())
nat_nets = [n["name"] for n in bn.list_networks() if n["nat"]]
print("net.ipv4.ip_forward =", forwarding)
if not forwarding:
    print("Desligado: este host não roteia nada entre as suas interfaces, então nenhum pacote passa de uma bridge para outra.")
elif nat_nets:
    print(f"Ligado: quem o ligou foi a(s) rede(s) com NAT {', '.join(nat_nets)}.")
else:
    print("Ligado, e nenhuma rede do boxkit aqui pede NAT: outra coisa neste host o ligou (ou uma "
          "rede --nat anterior, já que o boxkit o deixa ligado). Quem decide é a cadeia forward.")
chain = [fw.nft_path(), "list", "chain", "ip", fw.TABLE, "forward"]
forward = subprocess.run(chain, capture_output=True, text=True)
print(forward.stdout or forward.stderr)

# %%
# boxkit: needs network
drops = "drop" in forward.stdout
print(f"nenhum caminho entre as bridges (ip_forward {forwarding}, uma regra drop em forward: {drops}):",
      not forwarding or drops)

# %% [markdown]
# ## NAT de saída: um contêiner alcança o lado de fora
#
# Até aqui, um contêiner alcançou os seus vizinhos e o host. Ir *além* do host exige duas coisas. O host
# precisa **rotear** adiante os pacotes do contêiner (`ip_forward`). E o lado de fora precisa conseguir
# responder: a sub-rede de um contêiner é privada deste host, e nenhuma máquina lá fora conhece uma rota
# de volta para ela. Por isso o host **mascara** (veja acima) cada pacote que sai de uma rede com NAT rumo
# a qualquer destino que não seja uma bridge do boxkit: a origem do pacote passa a ser o endereço do host
# na interface de saída. `boxkit network create --nat` (`bn.create_network(name, nat=True)`) só registra a
# rede. Quando o primeiro contêiner dela inicia e a bridge dela sobe, o boxkit liga o `ip_forward` e
# acrescenta a sub-rede da rede ao conjunto `nat_nets` da tabela (e a retira quando a bridge vai embora);
# uma única regra em `postrouting` mascara o que vem desse conjunto, e o contador dela conta as conexões
# que ela reescreveu.
#
# Aqui, o lado de fora é local, criado por este notebook: um namespace de rede ligado ao host por um par
# veth, como o cabo feito à mão lá em cima, com endereços de uma faixa reservada para documentação (RFC 5737)
# e nenhuma rota além do seu próprio enlace. O único processo dele é um pequeno servidor web que responde
# a cada pedido com o endereço de origem que viu (`measure.Outside`).

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
forwarding_before = fw.ip_forward()
outside = measure.Outside().start()
outbound = bn.create_network("outbound", nat=True)
roamer = boxkit.run("busybox", ["sleep", "600"], detach=True, network="outbound", name="roamer")
roamer_ip = roamer.exec(["sh", "-c", ADDR]).stdout.strip()
print(f"o lado de fora: {outside.address}; a ponta do host, {outside.ifname}: {outside.host_address}")
print(f"rede outbound: sub-rede {outbound.subnet}, nat {outbound.nat}; roamer: {roamer_ip}")
print(f"net.ipv4.ip_forward: {int(forwarding_before)} antes, {int(fw.ip_forward())} agora")
nft_set = [fw.nft_path(), "list", "set", "ip", fw.TABLE, "nat_nets"]
nat_set = subprocess.run(nft_set, capture_output=True, text=True).stdout
elements = [line.strip() for line in nat_set.splitlines() if "elements" in line]
print("conjunto nat_nets:", elements[0] if elements else "nenhum elemento")
print(measure.masquerade_rules()["@nat_nets"][0])

# %% [markdown]
# O `roamer` busca a página do lado de fora cinco vezes, cada uma numa conexão TCP nova, e depois faz ping
# nele três vezes (um único fluxo ICMP: o ping mantém um só identificador, e o conntrack acompanha os
# pedidos de eco por ele). O contador é lido antes e depois de cada etapa.

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
FETCHES = 5
url = f"http://{outside.address}:{outside.port}/"
before = measure.masquerade_rules()["@nat_nets"][1]
seen = [roamer.exec(["wget", "-q", "-O", "-", url]).stdout.strip() for _ in range(FETCHES)]
after_fetches = measure.masquerade_rules()["@nat_nets"][1]
pinged = roamer.exec(["ping", "-c", "3", "-i", "0.2", outside.address])
after_ping = measure.masquerade_rules()["@nat_nets"][1]
print("endereços de origem que o lado de fora viu:", seen)
print(f"o contador da regra de nat_nets: {before} -> {after_fetches} -> {after_ping} pacotes")

# %%
# boxkit: needs network
print(f"a sub-rede de outbound está no conjunto nat_nets ({outbound.subnet}):", outbound.subnet in nat_set)
print(f"net.ipv4.ip_forward está ligado ({int(fw.ip_forward())}):", fw.ip_forward())
print(f"buscas que o lado de fora respondeu ({sum(map(bool, seen))} de {FETCHES}):", all(seen))
print(f"o lado de fora viu o endereço do host {sorted(set(seen))}, e não o do roamer, {roamer_ip}:",
      set(seen) == {outside.host_address})
rose = after_fetches - before
print(f"o contador de masquerade subiu {rose} pacotes em {FETCHES} conexões:", rose == FETCHES)
rose = after_ping - after_fetches
print(f"3 pings (código de saída {pinged.exit_code}), um só fluxo: o contador subiu {rose}:",
      pinged.exit_code == 0 and rose == 1)

# %% [markdown]
# O lado de fora respondeu a um host que ele enxerga no seu próprio enlace; nunca ficou sabendo o endereço
# do `roamer`. Cada resposta voltou ao host, e o conntrack reescreveu o destino dela de volta para o
# `roamer`. O contador subiu uma vez por conexão, e não uma vez por pacote: a regra decide no primeiro
# pacote de uma conexão, e o conntrack aplica a decisão ao resto.

# %% [markdown]
# ## Limpeza
#
# Parar um contêiner libera o endereço e a porta dele; o kernel apaga o veth dele junto com o namespace.
# Uma rede continua definida até o `remove_network` (`boxkit network rm`, como o `docker network rm`), que
# também derruba a bridge dela na hora; a bridge da rede padrão vai embora sozinha depois que o último
# contêiner dela sai (o boxkit remove uma bridge ociosa quando não tem mais nada para fazer). O veth do
# lado de fora vai embora com o namespace dele. O boxkit deixa o `ip_forward` ligado depois de uma rede
# com NAT (o docker faz o mesmo: outra rede ainda pode precisar dele); este notebook põe de volta o valor
# que encontrou antes da seção de NAT.

# %%
# boxkit: needs network
ours = {ipam.bridge_name("bridge"), private.bridge, outbound.bridge, outside.ifname}
ours |= {ipam.veth_name(c.id) for c in (roamer, loner, client, web)}
for c in (roamer, loner, client, web):
    c.kill()
    c.wait()
    c.remove()
bn.remove_network("private")
bn.remove_network("outbound")
outside.close()
if not forwarding_before and fw.ip_forward():
    with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
        f.write("0")
deadline = time.monotonic() + 5
while any(map(links.link_exists, ours)) and time.monotonic() < deadline:
    time.sleep(0.05)
left = sorted(name for name in ours if links.link_exists(name))
print(f"bridges e veths deste notebook que restaram no host ({left}):", not left)
kept = fw.published().get(("tcp", 8080))
print(f"a porta 8080 saiu do mapa de DNAT (a entrada dela agora: {kept}):", kept is None)
now = fw.ip_forward()
print(f"net.ipv4.ip_forward como este notebook o encontrou ({int(now)}):", now == forwarding_before)

# %% [markdown]
# ## O que foi provado
#
# * Um namespace de rede novo contém só o `lo`, e o `lo` está desativado; um único pedido netlink pôs um
#   par veth atravessando a fronteira dele, e a ponta do namespace — e, com ela, o par inteiro — foi
#   embora junto com o namespace.
# * Dois contêineres numa bridge se alcançaram pelo nome, por ping e por HTTP; uma porta publicada levou
#   as conexões do host até a porta de um contêiner, e uma regra de masquerade, com contador, trouxe as
#   respostas de volta.
# * Uma ida e volta por uma bridge custou a mesma ordem de grandeza de tempo que uma pelo loopback: não há
#   fio no meio.
# * Um contêiner numa segunda rede não alcançou o `web`, nem pelo endereço nem pelo nome.
# * Um contêiner numa rede `--nat` alcançou um namespace além do namespace de rede do host, e esse
#   namespace viu só o endereço do host; o contador de masquerade subiu uma vez por conexão.
#
# ## <a id="Exercise"></a>Exercício
#
# Os contêineres `a` e `b` entram na rede `bridge`, e o `c` numa segunda rede, `exercise`; nenhuma das
# duas é criada com `--nat`. `outside` é um namespace como o de cima. `"host@bridge"` é o endereço do host
# na rede `bridge` (o gateway de `a` e `b`), e `"host@exercise"`, o endereço dele em `exercise` (o gateway
# de `c`). Quais pings recebem resposta? Defina cada par em `my_prediction` como `True` ou `False`. A
# verificação inicia os três contêineres e o lado de fora, e faz um ping em cada par.

# %%
# boxkit: exercise
my_prediction = {   # True (responde) ou False
    ("c", "host@bridge"): ...,
    ("a", "host@exercise"): ...,
    ("a", "outside"): ...,
    ("outside", "c"): ...,
}

# %%
# boxkit: exercise
from boxkit import exercises

exercises.reachability(my_prediction)

# %% [markdown]
# Travou depois de algumas tentativas? `exercises.solution("network")` mostra uma resposta e o raciocínio
# por trás dela.
#
# **Experimente em seguida:** acrescente `("c", "outside")` e `("outside", "host")` a `my_prediction`
# (`"host"` sozinho é o endereço do host no próprio enlace de quem faz o ping), faça a sua previsão e rode
# a verificação de novo. Quais das suas respostas mudariam se `exercise` fosse criada com `--nat`?
#
# Próximo: [05 — projeto final](05-capstone.ipynb), onde tudo o que vimos até aqui vira um pequeno docker.
