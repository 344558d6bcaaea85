"""A JupyterHub spawner for one VM where each learner's server runs in a user-namespaced system container:
``podman run --userns=auto``, the model of Sysbox or Kubernetes' ``hostUsers: false`` pods, on one machine.

Each learner gets, from podman:

* **a user namespace of their own** (``--userns=auto:size=165536``): root inside is a range of host uids
  that podman takes from the ``containers:`` lines of ``/etc/subuid`` and ``/etc/subgid`` and that no
  other container of the same store holds. So the learner's kernel is root (boxkit runs in its root mode:
  mounts, pivot_root, bridges) over its own namespaces only, and two learners are two different host
  users: a signal, a ``setns`` or a ``/proc/PID/root`` from one to the other is refused by the kernel's
  uid checks even where a process could be named. 165536 ids leave room for the course's user-namespace
  demo, which maps 65536 ids from 100000 inside (Sysbox and ``hostUsers: false`` give 65536: no room).
* **its own pid, mount, network, ipc, uts and cgroup namespaces**: the learner sees only their processes,
  their mounts, and their group as the top of the cgroup tree (``--cgroupns=private``).
* **limits** on its container group: ``mem_limit`` (``-m``, swap included), ``pids_limit`` (threads
  count), ``cpu_limit``. A memory hog or a fork bomb meets them inside the learner's group.
* **a disk of its own**: the root file system is read-only (``--read-only``) and what a learner may write
  is tmpfs mounts of a fixed size (``tmpfs``: the home, /tmp), whose pages also count against the
  learner's memory limit. A learner who fills the disk gets ENOSPC in their container; the host's disks
  and the other learners do not move. (podman's default, a writable overlay root, would put every byte
  on the host's disk.)
* **a network of its own** (``slirp4netns``: a user-mode network stack, no bridge or firewall rule on the
  host). The server's port is published on the host's 127.0.0.1 only, where the proxy reaches it. The
  hub's API is reached at 10.0.2.2, slirp's name for the host's loopback (``allow_host_loopback``), so
  every service on the host's 127.0.0.1 is within a learner's reach: the other learners' servers answer
  only to their own learner's tokens, as behind the proxy, and nothing else there may trust a caller for
  coming from loopback. (``hub_connect_url`` names another address for the hub, with ``network`` to
  match.)

Capabilities: ``--cap-add=all`` and ``--security-opt unmask=ALL`` are enough for boxkit's root mode
inside a user namespace (every capability counts only over the learner's namespaces; an unmasked /proc
lets a nested container mount its own). podman's seccomp profile stays on and /sys stays read-only,
which ``--privileged`` would both drop.

What it does not give: a kernel of its own (one kernel bug reachable from a user namespace reaches every
learner); cgroups for the learner's own containers on a cgroup v1 host (the groups inside are the
host's, owned by host root: ``boxkit probe`` inside says so, and the limits demos replay RECORDED runs).
On cgroup v2, crun hands the container's group to its root when the cgroup file system is writable.

The podman command line is used, not podman's REST API: the CLI needs no service to start, secure and
stop beside the hub (``podman system service``), each call is a process whose exit status and stderr
say what failed, and every call here is awaited without blocking the hub. A teacher's config::

    c.JupyterHub.spawner_class = "podman_spawner.PodmanSpawner"
    c.PodmanSpawner.image = "localhost/boxkit"   # deploy/Containerfile built with WITH_JUPYTERHUB=true
    c.PodmanSpawner.mem_limit = "1G"              # the default; the tmpfs disk counts in it
    c.PodmanSpawner.pids_limit = 512

Before the first class: ``echo containers:2147483647:2147483648 >> /etc/subuid`` (and the same for
``/etc/subgid``), the range podman's documentation suggests for ``--userns=auto``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shlex
import tempfile
from urllib.parse import urlparse

from jupyterhub.spawner import Spawner
from traitlets import Bool, Integer, List, Unicode, default

# slirp4netns's address for the host's loopback, seen from inside the container
SLIRP_HOST_LOOPBACK = "10.0.2.2"


class PodmanError(RuntimeError):
    pass


class PodmanSpawner(Spawner):
    """Each learner's jupyterhub-singleuser in a ``podman run --userns=auto`` container (see the module)."""

    podman = List(Unicode(), ["podman"], help="The podman command and its global options.").tag(config=True)
    image = Unicode("", help="The learner's image: it runs `cmd` (jupyterhub-singleuser).").tag(config=True)
    userns_size = Integer(165536, help="How many uids and gids each learner's user namespace maps.").tag(
        config=True)
    pids_limit = Integer(512, help="Processes and threads per learner (--pids-limit).").tag(config=True)
    security_args = List(Unicode(), ["--cap-add=all", "--security-opt", "unmask=ALL"],
                         help="What lets root inside make namespaces and mounts.").tag(config=True)
    # podman asks for a hard nofile limit of 1048576 by default, which needs CAP_SYS_RESOURCE on the host
    ulimits = List(Unicode(), ["nofile=1024:1024", "nproc=4096:4096"]).tag(config=True)
    read_only = Bool(True, help="A read-only root: the learner writes only to `tmpfs`.").tag(config=True)
    # the learner's disk: the home, boxkit's images and containers, /tmp, /run (boxkit's locks)
    tmpfs = List(Unicode(), ["/home/learner:rw,size=256m,mode=0700", "/var/lib/boxkit:rw,size=512m,mode=0711",
                             "/tmp:rw,size=64m,mode=1777", "/run:rw,size=16m,mode=0755"],
                 help="PATH:OPTIONS tmpfs mounts, each of a fixed size and counted in the learner's memory.").tag(
                     config=True)
    volumes = List(Unicode(), help="SRC:DST[:OPTIONS] bind mounts; {username} is replaced.").tag(config=True)
    network = Unicode("slirp4netns:allow_host_loopback=true").tag(config=True)
    container_port = Integer(8888, help="Where the server listens inside its network namespace.").tag(
        config=True)
    init_path = Unicode("", help="An init for PID 1 (podman --init --init-path), e.g. tini-static.").tag(
        config=True)
    extra_run_args = List(Unicode(), help="More `podman run` options (the hub's own, e.g. --cgroup-parent).").tag(
        config=True)
    name_prefix = Unicode("jupyter").tag(config=True)
    home = Unicode("/home/learner", help="HOME inside: one of the `tmpfs` mounts (the root is read-only).").tag(
        config=True)

    @default("env_keep")
    def _env_keep(self):
        return ["LANG", "LC_ALL"]   # never the hub's PATH or PYTHONPATH: the container has its own

    @default("cmd")
    def _cmd(self):
        return ["jupyterhub-singleuser"]

    @default("mem_limit")
    def _mem_limit(self):
        # never unlimited: the learner's tmpfs disk lives in this memory too (z2jh's default guarantee)
        return 1024**3

    container_name = Unicode("")
    container_id = Unicode("")
    host_port = Integer(0)
    pid = Integer(0)

    # --- what the hub keeps across restarts --------------------------------------------------------
    def load_state(self, state):
        super().load_state(state)
        self.container_name = state.get("container_name", "")
        self.container_id = state.get("container_id", "")
        self.host_port = state.get("host_port", 0)
        self.pid = state.get("pid", 0)

    def get_state(self):
        state = super().get_state()
        if self.container_name:
            state.update(container_name=self.container_name, container_id=self.container_id,
                         host_port=self.host_port, pid=self.pid)
        return state

    def clear_state(self):
        super().clear_state()
        self._forget()

    def _forget(self) -> None:
        self.container_name, self.container_id, self.host_port, self.pid = "", "", 0, 0

    # --- podman ---------------------------------------------------------------------------------
    async def _podman(self, *args: str, timeout: float = 120, check: bool = True, both: bool = False) -> str:
        argv = [*self.podman, *args]
        proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise PodmanError(f"podman {args[0]} for {self.user.name} did not finish in {timeout:.0f} s") from None
        if check and proc.returncode != 0:
            raise PodmanError(f"podman {args[0]} for {self.user.name} failed (exit {proc.returncode}): "
                              f"{err.decode(errors='replace').strip()[-800:]}; the command was "
                              f"{shlex.join(argv)[-400:]}")
        return (out + err if both else out).decode(errors="replace").strip()

    def _name(self) -> str:
        # podman names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*; a JupyterHub user name may hold anything else
        who = self.user.name + (f"-{self.name}" if self.name else "")
        safe = re.sub(r"[^a-zA-Z0-9_.-]", "_", who)
        tail = "" if safe == who else "-" + hashlib.sha256(who.encode()).hexdigest()[:8]
        return f"{self.name_prefix}-{safe}{tail}"

    def _hub_connect_url(self) -> str | None:
        if self.hub_connect_url is not None or not self.network.startswith("slirp4netns"):
            return self.hub_connect_url
        if "allow_host_loopback=true" not in self.network:
            return None
        api = urlparse(self.hub.api_url)
        if api.hostname not in ("127.0.0.1", "localhost"):
            return None
        return f"{api.scheme}://{SLIRP_HOST_LOOPBACK}:{api.port}"

    def run_argv(self, env_file: str) -> list[str]:
        """The ``podman run`` arguments for this learner (after the global options)."""
        if not self.image:
            raise PodmanError("PodmanSpawner.image is empty: set it to the learner's image in jupyterhub_config.py")
        args = ["run", "-d", "--name", self._name(), "--label", f"boxkit.hub.user={self.user.name}",
                "--hostname", re.sub(r"[^a-zA-Z0-9-]", "-", self.user.name)[:63] or "learner",
                f"--userns=auto:size={self.userns_size}", "--cgroupns=private",
                "--pids-limit", str(self.pids_limit), *self.security_args,
                "--network", self.network, "-p", f"127.0.0.1::{self.container_port}",
                "--env-file", env_file]
        if self.mem_limit:
            args += ["--memory", str(self.mem_limit), "--memory-swap", str(self.mem_limit)]
        if self.cpu_limit:
            args += ["--cpus", str(self.cpu_limit)]
        for u in self.ulimits:
            args += ["--ulimit", u]
        if self.read_only:
            args += ["--read-only", "--read-only-tmpfs=false"]
        for t in self.tmpfs:
            args += ["--tmpfs", t]
        for v in self.volumes:
            args += ["-v", v.format(username=self.user.name)]
        if self.init_path:
            args += ["--init", "--init-path", self.init_path]
        # root in here is root of the learner's user namespace only, which Jupyter cannot tell from the
        # host's root: it refuses to start as uid 0 unless told (z2jh's Sysbox setup passes the same)
        server = [*self.cmd, *self.get_args()]
        if "--allow-root" not in server:
            server.append("--allow-root")
        return args + list(self.extra_run_args) + [self.image, *server]

    # --- the Spawner API ------------------------------------------------------------------------
    async def start(self):
        name = self._name()
        await self._podman("rm", "-f", "--ignore", name, check=False)   # one a crashed hub left
        # the server listens on every address of its own network namespace, which only slirp4netns's
        # forward from the host's 127.0.0.1 reaches; its environment names that address, not the host's
        self.ip, self.port = "0.0.0.0", self.container_port
        connect = self._hub_connect_url()
        saved, self.hub_connect_url = self.hub_connect_url, connect
        try:
            env = self.get_env()
        finally:
            self.hub_connect_url = saved
        env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        env.setdefault("HOME", self.home)
        # the token goes in a file only root reads, never on a command line every host user can read
        with tempfile.TemporaryDirectory(prefix="podman-spawner-") as d:
            env_file = os.path.join(d, "env")
            with open(os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
                for k, v in env.items():
                    if "\n" in str(v):
                        raise PodmanError(f"the environment variable {k} for {self.user.name} holds a newline, "
                                          "which podman's --env-file cannot carry")
                    f.write(f"{k}={v}\n")
            self.container_name = name
            try:
                self.container_id = await self._podman(*self.run_argv(env_file), timeout=self.start_timeout)
            except PodmanError:
                # a run that failed may have left its container created, and podman its network
                # namespace in /run/netns: rm -f cleans up both
                await self._podman("rm", "-f", "--ignore", name, check=False)
                self._forget()
                raise
        try:
            where = await self._podman("port", name, f"{self.container_port}/tcp")
            self.host_port = int(where.splitlines()[0].rsplit(":", 1)[1])
            self.pid = int(await self._podman("inspect", "--format", "{{.State.Pid}}", name))
        except (PodmanError, ValueError, IndexError) as e:
            await self.stop(now=True)
            raise PodmanError(f"podman published no port for {self.user.name}'s server: {e}") from e
        return ("127.0.0.1", self.host_port)

    async def poll(self):
        if not self.container_name:
            return 0
        try:
            out = await self._podman("inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}",
                                     self.container_name)
        except PodmanError as e:
            if "no such" in str(e).lower():
                return 0   # removed behind the hub's back
            # podman could not answer (its lock held by a start, say): not a reason to call the server dead
            self.log.warning("%s", e)
            return None
        running, _, code = out.partition(" ")
        if running == "true":
            return None
        if running == "false":   # ended by itself: its last words go to the hub's log, where a teacher looks
            logs = await self._podman("logs", "--tail", "30", self.container_name, check=False, both=True)
            self.log.warning("%s's container %s ended (exit %s); its log ends:\n%s", self.user.name,
                             self.container_name, code.strip(), logs)
        return int(code) if code.strip().lstrip("-").isdigit() else 0

    async def stop(self, now=False):
        if not self.container_name:
            return
        await self._podman("stop", "--ignore", "-t", "0" if now else "10", self.container_name, check=False)
        await self._podman("rm", "-f", "--ignore", self.container_name)
        self.clear_state()
