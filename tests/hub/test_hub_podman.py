"""A class on one VM, a user-namespaced system container per learner (issue 24 §2, route 2), with a real
JupyterHub: the model of Sysbox or ``hostUsers: false`` pods, rehearsed on one machine.

deploy/onevm/podman_spawner.py starts each learner's jupyterhub-singleuser in ``podman run
--userns=auto:size=165536 --cgroupns=private`` with a memory, pids and CPU limit, a read-only root and
tmpfs mounts of fixed sizes as the learner's disk, a slirp4netns network, and the server published on
the host's 127.0.0.1 only. The hub is tests/hub/hubctl.py's (``start_hub``); the learner's image is
tests/hub/podman_learner.py's skeleton with the host's /usr and the class's one install bind-mounted
read-only. The test adds ``containers:`` ranges to /etc/subuid and /etc/subgid for ``--userns=auto``
and puts both files back as it found them; podman runs on a store of boxkit's own (boxkit/podman.py),
removed at the end with its cgroups, mounts and late processes.

Each learner's kernel is root in its own user namespace, so boxkit runs in its root mode: the probe,
a container, an exercise check, all through the kernel's websocket. This host is cgroup v1: the
groups inside are the host's, owned by host root, so they are not delegated and the probe must say so;
boxkit finds that by itself (cgroups.host.groups_unavailable): its containers start without groups of
their own, and one that asks for a limit is refused in one sentence. The limits that hold are
podman's, on each learner.

The walls are attacked from learner A's kernel: B's processes, B's files, B's containers, B's server.
Then from A's user namespace with the host's PID view, the second wall: A's root is another host uid
than B's, so even a process that can name B's PIDs is refused (EPERM, EACCES). A memory hog and a fork
bomb in A meet A's limits while B's kernel answers; A fills its disk and only A gets ENOSPC. When the
hub stops nothing may be left: no container, store, cgroup directory, mount, network namespace or
process, and /etc/subuid and /etc/subgid as found.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import hubctl
import podman_learner as pl
import pytest
from hubctl import start_hub  # noqa: F401  (the fixture)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ONEVM = os.path.join(REPO, "deploy", "onevm")

N = 5
USERNS = 165536             # the spawner's default: room for the course's user-namespace demo
MEMORY = 768 * 1024**2      # each learner's limit (the spawner's docstring suggests 1G)
PIDS = 384
HOME_SIZE = 128 * 1024**2   # the learner's disk that the fill test fills
NAMES = [f"podlearner{i}" for i in range(1, N + 1)]
TINI = "/usr/bin/tini-static"
LOOPBACK = "10.0.2.2"       # the host's 127.0.0.1 as slirp4netns shows it to a learner

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("BOXKIT_SKIP_SLOW") == "1", reason="slow: BOXKIT_SKIP_SLOW=1"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: podman with --userns=auto, /etc/subuid"),
    pytest.mark.skipif(not shutil.which("podman"), reason="needs podman (apt-get install podman)"),
    pytest.mark.skipif(not shutil.which("slirp4netns"), reason="needs slirp4netns (apt-get install slirp4netns)"),
    pytest.mark.skipif(not os.path.exists(TINI), reason="needs tini-static as PID 1 (apt-get install tini)"),
    pytest.mark.skipif(not shutil.which("nsenter"), reason="needs nsenter (util-linux)"),
]


@dataclass
class Learner:
    name: str
    pid: int = 0               # the container's PID 1 on the host
    host_port: int = 0
    cgroups: dict[str, str] = field(default_factory=dict)   # controller -> host directory
    uid_map: tuple[int, int, int] = (0, 0, 0)
    gid_map: tuple[int, int, int] = (0, 0, 0)
    kernel: str = ""


@dataclass
class Class:
    hub: hubctl.Hub
    learners: list[Learner]
    spawn_seconds: dict[str, float]
    store: object
    subid_range: tuple[int, int]
    before: dict
    subids_before: dict
    stack: contextlib.ExitStack

    def run(self, who: Learner, code: str, timeout: float = 180) -> hubctl.Cell:
        return self.hub.run(who.name, who.kernel, code, timeout)

    def run_all(self, cells: list[tuple[Learner, str]], timeout: float = 240) -> list[hubctl.Cell]:
        return self.hub.run_all([(w.name, w.kernel, c) for w, c in cells], timeout)

    def close(self) -> None:
        """Stop the hub (its spawner stops every container), then the store, the install, the ids."""
        try:
            self.hub.stop()
        finally:
            self.stack.close()


# --- the host, read from outside -------------------------------------------------------------------

def host_state() -> dict[str, set[str]]:
    """What the test may not leave: mounts, top-level cgroup directories, network namespaces, and the
    processes podman starts beside a container (conmon, slirp4netns, its port forwarder)."""
    with open("/proc/self/mountinfo") as f:
        mounts = {line.split()[4] for line in f}
    groups = set()
    for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        for e in os.scandir(base) if os.path.isdir(base) else ():
            if e.is_dir(follow_symlinks=False):
                groups.update(os.path.join(e.path, d) for d in os.listdir(e.path)
                              if os.path.isdir(os.path.join(e.path, d)))
    netns = set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
    procs = set()
    for p in os.listdir("/proc"):
        if p.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{p}/comm") as f:
                comm = f.read().strip()
            if comm in ("conmon", "slirp4netns", "rootlessport", "rootlessport-ch"):
                procs.add(f"{p} {comm}")
    return {"mounts": mounts, "cgroup dirs": groups, "netns": netns, "podman's helpers": procs}


def host_cgroups(pid: int) -> dict[str, str]:
    out = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in ctrls.split(","):
                if c in ("memory", "pids", "cpu"):
                    out[c] = f"/sys/fs/cgroup/{c}{path}"
    return out


def read_map(pid: int, which: str) -> tuple[int, int, int]:
    with open(f"/proc/{pid}/{which}") as f:
        lines = [tuple(int(x) for x in ln.split()) for ln in f if ln.strip()]
    assert len(lines) == 1, f"/proc/{pid}/{which} has {len(lines)} lines, one expected: {lines}"
    return lines[0]


def group_value(path: str, name: str) -> int:
    with open(os.path.join(path, name)) as f:
        return int(f.read().split()[0])


def group_counter(path: str, name: str, key: str) -> int:
    """One ``key value`` line of a flat-keyed cgroup file (memory.oom_control, pids.events)."""
    with open(os.path.join(path, name)) as f:
        for line in f:
            k, _, v = line.partition(" ")
            if k == key:
                return int(v)
    raise AssertionError(f"{path}/{name} has no {key} line")


def procs_in(learner: Learner) -> list[int]:
    with open(os.path.join(learner.cgroups["pids"], "cgroup.procs")) as f:
        return [int(x) for x in f.read().split()]


def cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().decode(errors="replace").rstrip("\0").split("\0")


def nspid(pid: int) -> list[int]:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return [int(x) for x in line.split()[1:]]
    return []


def find_in(learner: Learner, argv: list[str]) -> int:
    """The host PID of the process in ``learner``'s container whose command line is ``argv``."""
    found = [p for p in procs_in(learner) if _safe(cmdline, p) == argv]
    assert len(found) == 1, f"{learner.name}'s container holds {len(found)} processes running {argv}"
    return found[0]


def _safe(fn, *a):
    try:
        return fn(*a)
    except OSError:
        return None


# --- /etc/subuid and /etc/subgid, put back ------------------------------------------------------------

@pytest.mark.parametrize("uid_text, gid_text", [
    (b"", b""),                                                    # this host's: both empty
    (b"alice:100000:65536\nbob:165536:65536", b"alice:100000:65536\n"),   # no newline at the end
    (None, b"containers:500000000:1000000\n"),                     # absent; a range already there
])
def test_subordinate_ids_puts_the_files_back_even_after_a_failure(tmp_path, uid_text, gid_text):
    files = (str(tmp_path / "subuid"), str(tmp_path / "subgid"))
    for path, text in zip(files, (uid_text, gid_text), strict=True):
        if text is not None:
            with open(path, "wb") as f:
                f.write(text)
            os.chmod(path, 0o640)
            os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    before = pl.subid_state(files)
    with pytest.raises(RuntimeError, match="the test failed here"):
        with pl.subordinate_ids(USERNS * 2, files) as (start, count):
            with open(files[0]) as f:
                lines = f.read().splitlines()
            assert f"containers:{start}:{count}" in lines and count >= USERNS * 2
            assert all(":" in ln for ln in lines), "no line glued to the one before it"
            raise RuntimeError("the test failed here")
    assert pl.subid_state(files) == before


# --- the class ---------------------------------------------------------------------------------------

def spawner_config(store, image: str, install: hubctl.LearnerInstall) -> str:
    vols = pl.volumes(install.python, install.pythonpath)
    return f"""
    c.JupyterHub.spawner_class = "podman_spawner.PodmanSpawner"
    # podman on the test's own store, its containers' groups under the store's cgroup parent
    c.PodmanSpawner.podman = {store.argv()!r}
    c.PodmanSpawner.extra_run_args = ["--cgroup-parent", {store.cgroup_parent!r}]
    c.PodmanSpawner.image = {image!r}
    c.PodmanSpawner.volumes = {vols!r}
    c.PodmanSpawner.init_path = {TINI!r}
    c.PodmanSpawner.cmd = {[os.path.realpath(install.python), "-m", "jupyterhub.singleuser"]!r}
    c.PodmanSpawner.mem_limit = {MEMORY}
    c.PodmanSpawner.cpu_limit = 1.0
    c.PodmanSpawner.pids_limit = {PIDS}
    c.PodmanSpawner.tmpfs = ["{pl.HOME}:rw,size={HOME_SIZE},mode=0700", "{pl.BOXKIT_ROOT}:rw,size=256m,mode=0711",
                             "/tmp:rw,size=32m,mode=1777", "/run:rw,size=16m,mode=0755"]
    # cgroup v1 here: the groups inside are not delegated, and boxkit does not yet start its containers
    # without groups by itself when it is root in a user namespace (see the module's docstring)
    c.PodmanSpawner.environment = {{"PYTHONPATH": {":".join(install.pythonpath)!r}}}
    """


@pytest.fixture(scope="module")
def klass(start_hub, learner_repo):  # noqa: F811 (the fixture imported above)
    from boxkit.podman import Podman

    before, subids_before = host_state(), pl.subid_state()
    stack = contextlib.ExitStack()
    hub = None
    try:
        subid_range = stack.enter_context(pl.subordinate_ids(USERNS * (N + 4)))
        store = stack.enter_context(Podman())
        # whatever the hub did not stop, podman removes with its network namespace before the store goes
        stack.callback(store.run, "rm", "-a", "-f", "-t", "0")
        image = pl.import_image(store, "localhost/boxkit-learner:test",
                                stack.enter_context(tempfile.TemporaryDirectory(prefix="boxkit-learner-")))
        pl.open_vfs_store(store.dir)
        install = stack.enter_context(hubctl.shared_install(learner_repo))
        hub = start_hub(spawner_config(store, image, install), pythonpath=[ONEVM])
        hub.add_users(NAMES)
        took = hub.spawn_all(NAMES)
        learners = []
        for name in NAMES:
            fmt = "{{.State.Pid}} {{.State.Running}}"
            r = store.run("inspect", "--format", fmt, f"jupyter-{name}")
            assert r.returncode == 0, r.stderr
            pid, running = r.stdout.split()
            assert running == "true", f"{name}'s container is not running"
            port = store.run("port", f"jupyter-{name}", "8888/tcp").stdout.split(":")[-1]
            w = Learner(name, int(pid), int(port), host_cgroups(int(pid)), read_map(int(pid), "uid_map"),
                        read_map(int(pid), "gid_map"))
            w.kernel = hub.kernel(name)
            learners.append(w)
    except BaseException:
        with contextlib.suppress(Exception):
            if hub is not None:
                print(f"the hub's log ends:\n{hub.log_tail(12000)}")
                hub.stop()
        stack.close()
        raise
    k = Class(hub, learners, took, store, subid_range, before, subids_before, stack)
    yield k
    k.close()


# --- the tests -----------------------------------------------------------------------------------------

def test_learners_spawn_in_user_namespaced_containers(klass):
    secs = sorted(klass.spawn_seconds.values())
    print(f"\n{N} learners spawned at once through the REST API: {secs[0]:.1f} s to {secs[-1]:.1f} s to ready "
          f"(median {secs[len(secs) // 2]:.1f} s)")
    assert len(klass.learners) == N
    for w in klass.learners:
        r = klass.store.run("inspect", "--format", "{{json .HostConfig}}", f"jupyter-{w.name}")
        assert r.returncode == 0, r.stderr
        hc = json.loads(r.stdout)
        assert (hc["Memory"], hc["PidsLimit"], hc["ReadonlyRootfs"]) == (MEMORY, PIDS, True), hc
        assert hc["NetworkMode"] == "slirp4netns", hc
        # podman 4.3's inspect says "private" for --userns=auto and nothing of the cgroup namespace: the
        # kernel's links say it (and test_uid_ranges_are_disjoint reads the map)
        for ns in ("user", "cgroup", "pid", "net", "mnt"):
            assert os.stat(f"/proc/{w.pid}/ns/{ns}").st_ino != os.stat(f"/proc/self/ns/{ns}").st_ino, ns
        # the limits are where the kernel reads them: the container's own groups on the host
        assert group_value(w.cgroups["memory"], "memory.limit_in_bytes") == MEMORY
        assert group_value(w.cgroups["pids"], "pids.max") == PIDS
        if "cpu" in w.cgroups:   # one CPU's worth: a quota of one period
            period = group_value(w.cgroups["cpu"], "cpu.cfs_period_us")
            assert group_value(w.cgroups["cpu"], "cpu.cfs_quota_us") == period
        # published on the host's loopback only
        r = klass.store.run("port", f"jupyter-{w.name}", "8888/tcp")
        assert r.stdout.strip() == f"127.0.0.1:{w.host_port}", r.stdout


def test_uid_ranges_are_disjoint(klass):
    start, count = klass.subid_range
    spans = []
    for w in klass.learners:
        for m in (w.uid_map, w.gid_map):
            inside, outside, n = m
            assert (inside, n) == (0, USERNS), f"{w.name}: {m}"
            assert start <= outside and outside + n <= start + count, f"{w.name}'s range {m} is not podman's"
        assert os.stat(f"/proc/{w.pid}").st_uid == w.uid_map[1], "root inside is the range's first uid outside"
        spans.append((w.uid_map[1], w.uid_map[1] + USERNS, w.name))
    print("\nuid ranges (host): " + ", ".join(f"{n} {a}-{b - 1}" for a, b, n in spans))
    spans.sort()
    for (_, end, a), (nxt, _, b) in zip(spans, spans[1:], strict=False):
        assert end <= nxt, f"the uid ranges of {a} and {b} overlap"


PROBE = """
import boxkit, json, os
r = boxkit.probe()
print(r.text())
c = r.check("cgroup.create")
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({"root": r.root, "cap_sys_admin": r.cap_sys_admin, "mode": r.mode,
                  "seccomp": status["Seccomp"].strip(), "sys_ro": bool(os.statvfs("/sys").f_flag & os.ST_RDONLY),
                  "usr_nosuid": bool(os.statvfs("/usr").f_flag & os.ST_NOSUID),
                  "root_ro": bool(os.statvfs("/").f_flag & os.ST_RDONLY),
                  "uid_map": open("/proc/self/uid_map").read().split(), "namespaces": r.namespaces,
                  "overlay": r.overlay, "pivot_root": r.pivot_root, "veth": r.veth,
                  "cgroup_mode": r.cgroup_mode, "cgroup_create": c.ok, "cgroup_why": c.why}))
"""


def test_probe_in_each_kernel_root_in_a_user_namespace(klass):
    from boxkit.cgroups import detect

    host_mode = detect().mode
    cells = klass.run_all([(w, PROBE) for w in klass.learners])
    for w, cell in zip(klass.learners, cells, strict=True):
        d = cell.json()
        assert d["root"] and d["cap_sys_admin"], f"{w.name}: {d}"
        assert d["uid_map"] == ["0", str(w.uid_map[1]), str(USERNS)], "root inside maps to the range, not to 0"
        assert all(v == "ok" for v in d["namespaces"].values()), d["namespaces"]
        assert d["overlay"] and d["pivot_root"] and d["veth"], d
        # what --privileged would drop, kept: podman's seccomp filter (mode 2) and a read-only /sys; the
        # host's /usr without set-uid; a read-only root
        assert (d["seccomp"], d["sys_ro"], d["usr_nosuid"], d["root_ro"]) == ("2", True, True, True), d
        if host_mode in ("v1", "hybrid"):
            # the groups podman mounts inside are the host's v1 hierarchies, owned by host root
            assert d["cgroup_create"] is False, f"{w.name}: cgroups inside are not delegated on v1: {d}"
    d = cells[0].json()
    print(f"\nprobe in {klass.learners[0].name}'s kernel: mode {d['mode']}, uid_map {' '.join(d['uid_map'])}, "
          f"cgroup {d['cgroup_mode']}: cgroup groups {'ok' if d['cgroup_create'] else 'missing'}: {d['cgroup_why']}")


SETUP = """
import boxkit, json, os, subprocess, sys
from boxkit import exercises
me = os.environ["JUPYTERHUB_USER"]
r = boxkit.run("busybox", ["sh", "-c", "hostname; cat /proc/self/uid_map; ps -o pid,comm"])
print(r.stdout)
# each learner's container sleeps a number of seconds of its own: its command line tells whose it is
box = boxkit.run("busybox", ["sleep", str(3600 + int(me.removeprefix("podlearner")))], detach=True,
                 name="box-" + me)
marker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", "marker-" + me])
with open(os.path.expanduser("~/secret-" + me), "w") as f:
    f.write("the secret of " + me)
right = exercises.namespaces(**exercises.solution("namespaces"))
wrong = exercises.namespaces(["mount", "uts"], {"mnt"})
try:   # a limit boxkit cannot set here must be refused, never dropped
    boxkit.run("busybox", ["true"], memory="64M")
    limited = "started"
except boxkit.BoxkitError as e:
    limited = str(e)
print(json.dumps({"exit": r.exit_code, "out": r.stdout.split(), "box_running": box.running,
                  "right": bool(right), "right_why": right.why, "wrong": bool(wrong), "limited": limited}))
"""


def test_container_and_exercise_in_each_kernel(klass):
    cells = klass.run_all([(w, SETUP) for w in klass.learners], timeout=300)
    for w, cell in zip(klass.learners, cells, strict=True):
        d = cell.json()
        assert d["exit"] == 0 and d["box_running"], f"{w.name}: {d}"
        # a container of the learner's: PID 1 is its ps, root inside is still the learner's range
        assert d["out"][1:4] == ["0", str(w.uid_map[1]), str(USERNS)], d["out"]
        assert d["right"] and not d["wrong"], f"{w.name}: the right answer must pass, the wrong one not: {d}"
        assert d["limited"].startswith("cannot limit container") and "memory" in d["limited"], d["limited"]
        box = find_in(w, box_argv(w))
        assert os.stat(f"/proc/{box}").st_uid == w.uid_map[1], "boxkit's container runs as the learner's root"
    print(f"\nexercise check in {klass.learners[0].name}'s kernel: {cells[0].json()['right_why']}")


USERNS_DEMO = """
import boxkit, json
demo = boxkit.run("busybox", ["sleep", "301"], userns=True, detach=True, name="userns-demo")
print(json.dumps({"map": demo.exec(["cat", "/proc/self/uid_map"]).stdout.split(),
                  "id": demo.exec(["id", "-u"]).stdout.strip()}))
"""


def test_the_courses_user_namespace_demo_fits(klass):
    """Chapter 01 maps 65536 ids from 100000 inside a container: inside a learner's 165536 that is
    100000-165535 of the learner's own range, nested, and still no one else's."""
    a = klass.learners[0]
    d = klass.run(a, USERNS_DEMO).json()
    try:
        host_uid = os.stat(f"/proc/{find_in(a, ['sleep', '301'])}").st_uid
    finally:
        klass.run(a, "demo.remove()").ok()
    print(f"\nchapter 01's user namespace in {a.name}'s kernel: uid_map {' '.join(d['map'])} in {a.name}'s ids; "
          f"its root is host uid {host_uid}")
    assert d["map"] == ["0", "100000", "65536"] and d["id"] == "0", d
    assert host_uid == a.uid_map[1] + 100000, "nested: 100000 of the learner's range, which is its own"


def _a_b(klass) -> tuple[Learner, Learner]:
    return klass.learners[0], klass.learners[1]


WALLS_FROM_KERNEL = """
import json, os, signal, subprocess, sys, boxkit
b, b_pids = {b!r}, {b_pids!r}
seen, markers = 0, set()
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            with open(f"/proc/{{p}}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\\0")
        except OSError:
            continue
        seen += 1
        markers.update(a for a in argv if a.startswith("marker-"))
signals = {{}}
for p in b_pids:   # B's processes by their numbers on the host and in B's own namespace
    try:
        os.kill(p, 0)
        with open(f"/proc/{{p}}/cmdline", "rb") as f:
            signals[p] = "reached " + f.read().decode(errors="replace").replace("\\0", " ")
    except ProcessLookupError:
        signals[p] = "ESRCH"
ps = subprocess.run([sys.executable, "-m", "boxkit", "ps", "-a"], capture_output=True, text=True).stdout
from boxkit.runtime import state
found_b = bool(state.find_by_name("box-" + b))
stop = subprocess.run([sys.executable, "-m", "boxkit", "stop", "box-" + b], capture_output=True, text=True)
print(json.dumps({{"seen": seen, "markers": sorted(markers), "signals": signals, "ps": ps,
                  "found_b": found_b, "stop_rc": stop.returncode, "stop_err": stop.stderr.strip()[-300:],
                  "secret_b": os.path.exists(os.path.expanduser("~/secret-" + b)),
                  "pidns": os.stat("/proc/self/ns/pid").st_ino}}))
"""


def test_a_cannot_see_signal_or_stop_bs_processes_from_its_kernel(klass):
    a, b = _a_b(klass)
    b_marker = find_in_marker(b)
    b_box = find_in(b, box_argv(b))
    b_pids = sorted({b_marker, b_box, *nspid(b_marker)[1:], *nspid(b_box)[1:2]})
    d = klass.run(a, WALLS_FROM_KERNEL.format(b=b.name, b_pids=b_pids)).json()
    print(f"\nfrom {a.name}'s kernel: {d['seen']} processes visible, markers {d['markers']}; "
          f"{b.name}'s PIDs {b_pids}: {d['signals']}; boxkit stop box-{b.name}: {d['stop_err']}")
    assert d["markers"] == [f"marker-{a.name}"], "A sees its own marker and no one else's"
    assert d["pidns"] != os.stat(f"/proc/{b.pid}/ns/pid").st_ino
    for p, what in d["signals"].items():
        # a number B's process has may name one of A's in A's namespace, never B's
        assert what == "ESRCH" or (f"marker-{b.name}" not in what and what.split()[1:] != box_argv(b)), \
            f"A's kill({p}, 0) reached {what}"
    assert f"box-{a.name}" in d["ps"] and f"box-{b.name}" not in d["ps"], d["ps"]
    assert d["found_b"] is False and d["stop_rc"] != 0, d
    assert d["secret_b"] is False
    assert os.path.exists(f"/proc/{b_box}") and os.path.exists(f"/proc/{b_marker}"), "B's processes still run"


def box_argv(w: Learner) -> list[str]:
    return ["sleep", str(3600 + int(w.name.removeprefix("podlearner")))]


def find_in_marker(w: Learner) -> int:
    found = [p for p in procs_in(w) if f"marker-{w.name}" in (_safe(cmdline, p) or [])]
    assert len(found) == 1, f"{w.name}'s marker process: {found}"
    return found[0]


UID_WALL = """
import errno, json, os, signal
b_marker, b_box, a_marker = {b_marker}, {b_box}, {a_marker}
out = {{"uid": os.getuid(), "uid_map": open("/proc/self/uid_map").read().split()}}
def attempt(what, fn):
    try:
        fn()
        out[what] = "done"
    except OSError as e:
        out[what] = errno.errorcode[e.errno]
attempt("signal B's kernel-side process", lambda: os.kill(b_marker, signal.SIGTERM))
attempt("kill B's container", lambda: os.kill(b_box, signal.SIGKILL))
attempt("open B's mount namespace", lambda: os.close(os.open(f"/proc/{{b_marker}}/ns/mnt", os.O_RDONLY)))
attempt("open B's user namespace", lambda: os.close(os.open(f"/proc/{{b_marker}}/ns/user", os.O_RDONLY)))
attempt("list B's home", lambda: os.listdir(f"/proc/{{b_marker}}/root/home/learner"))
attempt("read B's environment", lambda: open(f"/proc/{{b_marker}}/environ", "rb").read())
attempt("signal 0 to A's own process", lambda: os.kill(a_marker, 0))
print(json.dumps(out))
"""


def test_as_a_root_with_the_hosts_pid_view_the_uids_still_wall_b_off(klass):
    """The second wall, if A ever escaped its PID namespace: A's root is another host uid than B's. The
    attempts run in A's user namespace (nsenter -U) but in the host's PID and mount namespaces, where
    B's processes have names."""
    a, b = _a_b(klass)
    b_marker, b_box, a_marker = find_in_marker(b), find_in(b, box_argv(b)), find_in_marker(a)
    r = subprocess.run(["nsenter", "--user", f"--target={a.pid}", "/usr/bin/python3", "-c",
                        UID_WALL.format(b_marker=b_marker, b_box=b_box, a_marker=a_marker)],
                       capture_output=True, text=True, timeout=60, cwd="/")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    print(f"\nas {a.name}'s root (host uid {a.uid_map[1]}), in the host's PID view: "
          + "; ".join(f"{k}: {v}" for k, v in d.items() if k not in ("uid", "uid_map")))
    assert d["uid_map"] == ["0", str(a.uid_map[1]), str(USERNS)]
    assert d["signal 0 to A's own process"] == "done", "the attempts can succeed where the uid is A's"
    for k in ("signal B's kernel-side process", "kill B's container"):
        assert d[k] == "EPERM", (k, d[k])
    for k in ("open B's mount namespace", "open B's user namespace", "list B's home", "read B's environment"):
        assert d[k] == "EACCES", (k, d[k])
    assert os.path.exists(f"/proc/{b_box}") and os.path.exists(f"/proc/{b_marker}"), "B's processes still run"


REACH_SERVER = """
import json, os, urllib.request, urllib.error
token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
def get(url):
    req = urllib.request.Request(url, headers={{"Authorization": f"token {{token}}"}} if token else {{}})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError as e:
        return repr(e)
print(json.dumps({{"token": bool(token),
    "b_direct": get("http://{lo}:{b_port}/user/{b}/api/status"),
    "b_proxy": get("http://{lo}:{proxy}/user/{b}/api/status"),
    "a_proxy": get("http://{lo}:{proxy}/user/{a}/api/status")}}))
"""


def test_a_cannot_use_bs_server(klass):
    """A reaches the host's loopback (slirp4netns's 10.0.2.2: the hub's API is there), so it can reach
    B's server's port: B's server must refuse A, directly and through the proxy."""
    a, b = _a_b(klass)
    d = klass.run(a, REACH_SERVER.format(lo=LOOPBACK, b_port=b.host_port, b=b.name, a=a.name,
                                         proxy=klass.hub.port)).json()
    print(f"\n{a.name}'s kernel to {b.name}'s server: direct {d['b_direct']}, through the proxy {d['b_proxy']}; "
          f"to its own through the proxy {d['a_proxy']} (its token in the kernel: {d['token']})")
    assert d["b_direct"] == 403 and d["b_proxy"] == 403, d
    if d["token"]:
        assert d["a_proxy"] == 200, "A's own token opens A's own server: the refusal above is about B"


B_ANSWERS = """
import json, time
stamps = []
t_end = time.time() + {seconds}
while time.time() < t_end:
    stamps.append(time.time())
    time.sleep(0.1)
print(json.dumps({{"stamps": stamps, "answer": 1 + 1}}))
"""

HOG = """
import json, subprocess, sys, time
hog = '''
import time
chunks = []
while len(chunks) < {chunks}:
    chunks.append(b"x" * (32 << 20))
    time.sleep(0.03)
'''
t0 = time.time()
p = subprocess.run([sys.executable, "-c", hog])
print(json.dumps({{"rc": p.returncode, "t0": t0, "t1": time.time()}}))
"""


def _overlap(stamps: list[float], t0: float, t1: float) -> int:
    return sum(t0 <= s <= t1 for s in stamps)


def test_memory_hog_in_a_is_oom_killed_while_b_answers(klass):
    a, b = _a_b(klass)
    mem_a, mem_b = a.cgroups["memory"], b.cgroups["memory"]
    kills_a, kills_b = (group_counter(m, "memory.oom_control", "oom_kill") for m in (mem_a, mem_b))
    chunks = 2 * MEMORY // (32 << 20)   # twice the limit: only the limit can stop it
    hog, ans = klass.run_all([(a, HOG.format(chunks=chunks)), (b, B_ANSWERS.format(seconds=4))])
    h, d = hog.json(), ans.json()
    during = _overlap(d["stamps"], h["t0"], h["t1"])
    peak = group_value(mem_a, "memory.max_usage_in_bytes")
    print(f"\n{a.name}'s hog asked for {chunks * 32} MiB: exit {h['rc']} after {h['t1'] - h['t0']:.1f} s, "
          f"peak {peak >> 20} MiB of {MEMORY >> 20} MiB, oom_kill +"
          f"{group_counter(mem_a, 'memory.oom_control', 'oom_kill') - kills_a}; {b.name} answered "
          f"{during} times meanwhile")
    assert h["rc"] == -9, "the kernel's OOM killer ended the hog (SIGKILL)"
    assert group_counter(mem_a, "memory.oom_control", "oom_kill") > kills_a
    assert peak <= MEMORY
    assert group_counter(mem_b, "memory.oom_control", "oom_kill") == kills_b, "B lost nothing"
    assert d["answer"] == 2 and during >= 3, "B's kernel ran cells while A's hog was at its limit"
    assert klass.run(a, "print(40 + 2)").ok().stdout.strip() == "42", "A's kernel itself survives"


BOMB = """
import json, subprocess, sys, time
bomb = '''
import json, os, subprocess, time
kids, err = [], None
while len(kids) < {most}:
    try:
        kids.append(subprocess.Popen(["sleep", "60"]))
    except OSError as e:
        err = e.errno
        break
time.sleep(2)
for k in kids:
    k.kill()
for k in kids:
    k.wait()
print(json.dumps({{"made": len(kids), "errno": err}}))
'''
t0 = time.time()
p = subprocess.run([sys.executable, "-c", bomb], capture_output=True, text=True)
out = json.loads(p.stdout) if p.stdout.strip() else {{"made": None, "errno": None, "err": p.stderr[-500:]}}
out.update(t0=t0, t1=time.time())
print(json.dumps(out))
"""


def test_fork_bomb_in_a_stops_at_its_pids_limit_while_b_answers(klass):
    a, b = _a_b(klass)
    pids_a = a.cgroups["pids"]
    refused = group_counter(pids_a, "pids.events", "max")
    bomb, ans = klass.run_all([(a, BOMB.format(most=4 * PIDS)), (b, B_ANSWERS.format(seconds=5))])
    f, d = bomb.json(), ans.json()
    during = _overlap(d["stamps"], f["t0"], f["t1"])
    print(f"\n{a.name}'s fork loop made {f['made']} processes before {errno.errorcode.get(f['errno'], f['errno'])} "
          f"(pids.max {PIDS}, refused forks +{group_counter(pids_a, 'pids.events', 'max') - refused}); "
          f"{b.name} answered {during} times meanwhile")
    assert f["errno"] == errno.EAGAIN, f"the loop ended at the pids limit (EAGAIN): {f}"
    assert f["made"] < PIDS
    assert group_counter(pids_a, "pids.events", "max") > refused
    assert d["answer"] == 2 and during >= 3, "B's kernel ran cells while A's processes were at their limit"
    assert klass.run(a, "print(40 + 2)").ok().stdout.strip() == "42", "A's kernel itself survives"


FILL = """
import json, os
path, written, err = os.path.expanduser("~/fill"), 0, None
block = b"x" * (1 << 20)
try:
    with open(path, "wb") as f:
        while written < {most}:
            f.write(block)
            f.flush()
            written += len(block)
except OSError as e:
    err = e.errno
st = os.statvfs(os.path.expanduser("~"))
print(json.dumps({{"written": written, "errno": err, "free": st.f_bavail * st.f_frsize}}))
"""

WRITE = """
import json, os
p = os.path.expanduser("~/small")
with open(p, "wb") as f:
    f.write(b"y" * (16 << 20))
print(json.dumps({"size": os.path.getsize(p)}))
os.unlink(p)
"""


def test_filling_as_disk_harms_only_a(klass):
    """A learner's disk is the tmpfs mounts the spawner gives it: a fixed size each, pages counted in
    the learner's memory. A fills its home: ENOSPC for A; the host's disk and B's writes are untouched."""
    a, b = _a_b(klass)
    host = os.statvfs(REPO)
    free_before = host.f_bavail * host.f_frsize
    d = klass.run(a, FILL.format(most=2 * HOME_SIZE)).json()
    host = os.statvfs(REPO)
    dropped = free_before - host.f_bavail * host.f_frsize
    w = klass.run(b, WRITE).json()
    print(f"\n{a.name} wrote {d['written'] >> 20} MiB before {errno.errorcode.get(d['errno'], d['errno'])} "
          f"(home {HOME_SIZE >> 20} MiB); the host's disk moved {dropped / 2**20:+.1f} MiB; "
          f"{b.name} wrote {w['size'] >> 20} MiB")
    try:
        assert d["errno"] == errno.ENOSPC and d["written"] <= HOME_SIZE and d["free"] == 0, d
        assert dropped < 32 << 20, "A's bytes are not on the host's disk"
        assert w["size"] == 16 << 20
    finally:
        klass.run(a, "import os; os.unlink(os.path.expanduser('~/fill'))").ok()


BRIDGE = """
import boxkit, json
r = boxkit.run("busybox", ["ip", "-4", "-o", "addr", "show", "eth0"], network="bridge")
print(json.dumps({"exit": r.exit_code, "addr": r.stdout.split()[3] if r.stdout.split() else r.stderr}))
"""


def test_two_learners_make_the_same_bridge_without_a_clash(klass):
    """T3: both learners' containers get boxkit's bridge network, the same subnet in each learner's own
    network namespace, and nothing appears among the host's links."""
    a, b = _a_b(klass)
    links = set(subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout.split("\n"))
    links = {ln.split(":")[1].strip() for ln in links if ln.strip()}
    ra, rb = (c.json() for c in klass.run_all([(a, BRIDGE), (b, BRIDGE)]))
    after = {ln.split(":")[1].strip() for ln in subprocess.run(
        ["ip", "-o", "link", "show"], capture_output=True, text=True).stdout.split("\n") if ln.strip()}
    print(f"\nbridge network: {a.name}'s container {ra['addr']}, {b.name}'s {rb['addr']}; "
          f"new host links: {sorted(after - links) or 'none'}")
    assert ra["exit"] == 0 and rb["exit"] == 0, (ra, rb)
    assert ra["addr"] == rb["addr"], "the same address in two learners' own networks"
    assert not after - links


def test_nothing_is_left_after_the_hub_stops(klass):
    pids = [w.pid for w in klass.learners]
    store_dir, run_dir = klass.store.dir, klass.store.run_dir
    t0 = time.monotonic()
    klass.close()
    print(f"\nhub, {N} containers, store and ids closed in {time.monotonic() - t0:.1f} s")
    assert not klass.hub.leftovers()
    assert not [p for p in pids if os.path.exists(f"/proc/{p}")], "a learner's container still runs"
    assert not os.path.exists(store_dir) and not os.path.exists(run_dir), "podman's store is gone"
    # conmon, slirp4netns and the port forwarder end a moment after their container: wait (bounded)
    deadline = time.monotonic() + 15
    while True:
        after = host_state()
        left = {k: sorted(after[k] - klass.before[k]) for k in after}
        if not any(left.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not any(left.values()), f"left on the host: { {k: v for k, v in left.items() if v} }"
    assert pl.subid_state() == klass.subids_before, "/etc/subuid and /etc/subgid are back as they were"
