"""A real JupyterHub for the tests and the class benchmark: started on 127.0.0.1, driven through its
REST API and the kernels' websockets, stopped, and checked for leftovers.

What runs is what a teacher runs: ``python -m jupyterhub`` (as root, in a temporary directory that holds
its database, cookie secret and log), which starts configurable-http-proxy itself. Nothing is faked:
learners are spawned by ``POST /hub/api/users/NAME/server``, their kernels are made by ``POST
/user/NAME/api/kernels`` through the proxy, and a cell is an ``execute_request`` on the kernel's
websocket (``/user/NAME/api/kernels/ID/channels``), read back from the iopub messages until the kernel
says ``idle`` for it, as JupyterLab does.

The launcher knows nothing of how a learner's server is started. The hub's own settings come first
(free ports on 127.0.0.1, the database, a DummyAuthenticator with a random password, and a service
``hubctl`` with an admin token whose role may make users and start, stop and use their servers), then
the caller's ``config`` (Python lines for ``jupyterhub_config.py``), which picks the spawner. Another
spawner plugs in by its config alone::

    from hubctl import Hub
    cfg = '''
    c.JupyterHub.spawner_class = "mymodule.PodmanSpawner"      # importable by the hub (root)
    c.PodmanSpawner.image = "boxkit-class"
    '''
    with Hub(config=cfg, subconfig="/path/to/teachers/jupyterhub_config.py", pythonpath=[here]) as hub:
        hub.add_users(["ann", "bob"])
        hub.spawn_all(["ann", "bob"])                  # seconds to ready, per learner
        k = hub.kernel("ann")
        print(hub.run("ann", k, "print(1 + 1)").stdout)
    assert not hub.leftovers()                         # hub, proxy and every server's process gone

A test module takes the :func:`start_hub` fixture by importing it (``from hubctl import start_hub  # noqa:
F401``): a ``conftest.py`` here would shadow tests/conftest.py, which other modules import by name.

``subconfig`` is a teacher's config file, loaded *before* the launcher's settings, so that the test runs
the teacher's spawner settings on the test's ports. ``pythonpath`` is added to the hub's PYTHONPATH so
that ``spawner_class`` can name a module outside the venv. The hub learns learners only through the API
(``add_users``); whether they are Unix users is the spawner's business.

Concurrency: the websockets and HTTP calls run on one asyncio loop in a thread of this process, so that
the tests call plain methods while :meth:`Hub.spawn_all` and :meth:`Hub.run_all` start many at once.
Every wait is bounded and a failure names the learner, the request and the hub's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest

# Debian's node-configurable-http-proxy keeps its modules in /usr/share/nodejs, which Debian's nodejs
# searches by itself; a node from elsewhere (nodesource's, as on this VM) finds them only by NODE_PATH.
DEBIAN_NODE_PATH = "/usr/share/nodejs:/usr/lib/nodejs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing() -> str | None:
    """Why a hub cannot start here (a sentence), or None."""
    if shutil.which("configurable-http-proxy") is None:
        return ("needs configurable-http-proxy: apt-get install node-configurable-http-proxy "
                "(./course test installs it)")
    try:
        import jupyterhub  # noqa: F401
        import tornado.websocket  # noqa: F401
    except ImportError as e:
        return f"needs JupyterHub in this venv ({e}): pip install -e '.[test]'"
    return None


@dataclass
class LearnerInstall:
    """How a learner's server runs the class's one install: an interpreter every user may execute and
    the directories for its PYTHONPATH (boxkit's source first, then the venv's site-packages)."""
    python: str
    pythonpath: list[str]

    @property
    def cmd(self) -> list[str]:
        return [self.python, "-m", "jupyterhub.singleuser"]


def _open_to_all(path: str, bit: int) -> bool:
    """Whether any user may reach ``path`` (every directory above it o+x) and has ``bit`` on it."""
    path = os.path.realpath(path)
    parts = path.split("/")
    for i in range(2, len(parts)):
        if not os.stat("/".join(parts[:i])).st_mode & 0o001:
            return False
    return bool(os.stat(path).st_mode & bit)


def outside_tmp() -> str:
    """A new directory open to all (0755) that is not under /tmp or /var/tmp: a spawner that gives each
    learner a private /tmp (PrivateTmp=) hides everything there from the learners."""
    base = "/run" if os.path.isdir("/run") else "/var/lib"
    d = tempfile.mkdtemp(prefix="boxkit-class-", dir=base)
    os.chmod(d, 0o755)
    return d


def _bind(src: str, dst: str) -> None:
    os.makedirs(dst, exist_ok=True)
    subprocess.run(["mount", "--bind", src, dst], check=True, capture_output=True, text=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", dst], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def shared_install(learner_repo: str):
    """The checkout's venv and boxkit as every learner may read them, for the time of a hub: one install
    for the class.

    The venv may sit where no learner can reach it (a clone in /root, mode 0700; here its python is a
    link into root's pyenv), and ``learner_repo`` (tests/learners.py: boxkit's source, open to all) sits
    in /tmp, which a private /tmp hides. Both are bind-mounted read-only below one directory outside
    /tmp, boxkit's source ahead of the venv's site-packages (whose editable install of boxkit points into
    the checkout). The learners run the venv's interpreter if they can, else the system's of the same
    version (the packages are built for the version, not for one interpreter). The mounts are removed
    on exit."""
    import sysconfig

    site = sysconfig.get_paths()["purelib"]
    want = f"python{sys.version_info.major}.{sys.version_info.minor}"
    python = next((p for p in (sys.executable, f"/usr/bin/{want}", f"/usr/local/bin/{want}")
                   if os.path.exists(p) and _open_to_all(p, 0o001)), None)
    if python is None:
        raise HubError(f"no {want} that every user may run: {sys.executable} is not reachable by others; "
                       f"install Debian's python3 ({want}) for the learners")
    sample = os.path.join(site, "jupyterhub", "__init__.py")
    if not os.stat(sample).st_mode & 0o004:
        raise HubError(f"{sample} is not readable by others (the venv was installed under a umask like "
                       "077): reinstall it under umask 022 so that learners can import it")
    top = outside_tmp()
    made = []
    try:
        for src, name in ((learner_repo, "boxkit-src"), (site, "site-packages")):
            _bind(src, os.path.join(top, name))
            made.append(os.path.join(top, name))
        yield LearnerInstall(python, made[:])
    finally:
        for d in reversed(made):
            subprocess.run(["umount", d], check=True, capture_output=True, text=True)
        shutil.rmtree(top)


@contextlib.contextmanager
def learner_home(user, parent: str, size: int):
    """``user``'s home (a tests/learners.py ``User``) moved to a tmpfs of ``size`` bytes under ``parent``
    (outside /tmp, which a private /tmp hides), mode 0755 as Debian's useradd leaves a home: a home of
    its own size, so that a learner who fills it fills nothing else. Their processes are killed and the
    tmpfs unmounted and removed afterwards; the user's removal stays ``make_user``'s."""
    from learners import pids_of

    home = os.path.join(parent, user.name)
    os.mkdir(home)
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755,uid={user.uid},gid={user.uid}",
                        "boxkit-class-home", home], check=True, capture_output=True, text=True)
        try:
            subprocess.run(["usermod", "--home", home, user.name], check=True, capture_output=True, text=True)
            user.home = home
            yield user
        finally:
            deadline = time.monotonic() + 10
            while pids_of(user.uid) and time.monotonic() < deadline:   # a mount in use cannot go
                for pid in pids_of(user.uid):   # the learner's processes, which this test started
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.05)
            subprocess.run(["umount", home], check=True, capture_output=True, text=True)
    finally:
        os.rmdir(home)


@dataclass
class Cell:
    """What one executed cell sent back: its streams, its result and its error, if any."""
    code: str
    stdout: str = ""
    stderr: str = ""
    result: str | None = None           # text/plain of execute_result
    error: tuple[str, str] | None = None  # (ename, evalue)
    traceback: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def ok(self) -> Cell:
        """This cell, after checking it raised nothing (the assertion names the error and the code)."""
        assert self.error is None, (f"the cell raised {self.error[0]}: {self.error[1]}\n--- code:\n{self.code}"
                                    f"\n--- stderr:\n{self.stderr[-2000:]}")
        return self

    def json(self):
        """The last line the cell printed, read as JSON (the cells here end by printing their findings)."""
        self.ok()
        lines = [ln for ln in self.stdout.splitlines() if ln.strip()]
        assert lines, f"the cell printed nothing; stderr: {self.stderr[-2000:]}\n--- code:\n{self.code}"
        return json.loads(lines[-1])


class HubError(RuntimeError):
    pass


class Hub:
    """One JupyterHub and its proxy, in a temporary directory; a context manager that stops both."""

    def __init__(self, config: str = "", *, subconfig: str | None = None, pythonpath: list[str] = (),
                 env: dict | None = None, start_timeout: float = 60, log_level: str = "INFO") -> None:
        self.dir = tempfile.mkdtemp(prefix="boxkit-hub-")
        os.chmod(self.dir, 0o700)   # the hub's database, secret and token are root's alone
        self.port, self.hub_port, self.api_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(32)
        self.config, self.subconfig = config, subconfig
        self.pythonpath, self.env = list(pythonpath), dict(env or {})
        self.start_timeout, self.log_level = start_timeout, log_level
        self.log = os.path.join(self.dir, "jupyterhub.log")
        self.proc: subprocess.Popen | None = None
        self.proxy_pid: int | None = None
        self.server_pids: dict[str, int] = {}    # learner -> the server's pid, as the hub reported it
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hubctl-loop", daemon=True)
        self._thread.start()

    # --- starting and stopping -------------------------------------------------------------------

    def config_text(self) -> str:
        d = self.dir
        head = f"load_subconfig({self.subconfig!r})\n" if self.subconfig else ""
        return head + textwrap.dedent(f"""
            # written by tests/hub/hubctl.py: the hub on 127.0.0.1 for a test
            c = get_config()  # noqa
            c.JupyterHub.bind_url = "http://127.0.0.1:{self.port}"
            c.JupyterHub.hub_ip = "127.0.0.1"
            c.JupyterHub.hub_port = {self.hub_port}
            c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{self.api_port}"
            c.ConfigurableHTTPProxy.pid_file = {os.path.join(d, 'proxy.pid')!r}
            c.ConfigurableHTTPProxy.should_start = True
            c.JupyterHub.pid_file = {os.path.join(d, 'hub.pid')!r}
            c.JupyterHub.db_url = "sqlite:///{os.path.join(d, 'jupyterhub.sqlite')}"
            c.JupyterHub.cookie_secret_file = {os.path.join(d, 'cookie_secret')!r}
            c.JupyterHub.cleanup_servers = True
            c.JupyterHub.cleanup_proxy = True
            c.JupyterHub.log_level = {self.log_level!r}
            c.JupyterHub.authenticator_class = "dummy"
            c.DummyAuthenticator.password = {secrets.token_hex(16)!r}
            c.Authenticator.allow_all = True
            c.JupyterHub.services = [{{"name": "hubctl", "api_token": {self.token!r}}}]
            c.JupyterHub.load_roles = [{{
                "name": "hubctl",
                "scopes": ["admin:users", "admin:servers", "admin:server_state", "access:servers", "list:users",
                           "read:users"],
                "services": ["hubctl"],
            }}]
            c.Spawner.ip = "127.0.0.1"
            c.Spawner.start_timeout = 240
            c.Spawner.http_timeout = 240
            """) + "\n# the caller's settings: the spawner\n" + textwrap.dedent(self.config)

    def start(self) -> Hub:
        with open(os.path.join(self.dir, "jupyterhub_config.py"), "w") as f:
            f.write(self.config_text())
        env = dict(os.environ)
        env["NODE_PATH"] = ":".join(p for p in (env.get("NODE_PATH"), DEBIAN_NODE_PATH) if p)
        if self.pythonpath:
            env["PYTHONPATH"] = ":".join(self.pythonpath + [p for p in [env.get("PYTHONPATH")] if p])
        env.update(self.env)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", "jupyterhub_config.py"], cwd=self.dir, env=env,
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise HubError(f"starting JupyterHub failed (exit {self.proc.returncode}); its log "
                               f"{self.log} ends:\n{self.log_tail()}")
            with contextlib.suppress(OSError, HubError):
                if self.api("GET", "/hub/api/")[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise HubError(f"JupyterHub did not answer on {self.url} within {self.start_timeout:.0f} s; "
                               f"its log {self.log} ends:\n{self.log_tail()}")
            time.sleep(0.2)
        with contextlib.suppress(OSError, ValueError), open(os.path.join(self.dir, "proxy.pid")) as f:
            self.proxy_pid = int(f.read())
        return self

    def stop(self, timeout: float = 60) -> None:
        """Stop every server through the API, then the hub (SIGTERM: it stops the proxy itself); kill what
        is left of the two after ``timeout``. Safe to call twice."""
        try:
            if self.proc is not None and self.proc.poll() is None:
                with contextlib.suppress(Exception):
                    names = [u["name"] for u in self.api("GET", "/hub/api/users")[1] if u.get("servers")]
                    self.call(_gather(*(self._stop_server(n) for n in names)), timeout)
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(10)
            if self.proxy_pid and alive(self.proxy_pid):
                deadline = time.monotonic() + 10
                while alive(self.proxy_pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
                if alive(self.proxy_pid):
                    os.kill(self.proxy_pid, signal.SIGKILL)
        finally:
            if self._loop.is_running():
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(10)

    def leftovers(self) -> list[str]:
        """What of this hub still runs after :meth:`stop`: the hub, the proxy, a server it reported."""
        left = []
        if self.proc is not None and self.proc.poll() is None:
            left.append(f"the hub, pid {self.proc.pid}")
        if self.proxy_pid and alive(self.proxy_pid):
            left.append(f"configurable-http-proxy, pid {self.proxy_pid}")
        left += [f"{n}'s server, pid {p}" for n, p in self.server_pids.items() if alive(p)]
        return left

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Hub:
        try:
            return self.start()
        except BaseException:
            self.stop()
            self.remove()
            raise

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        finally:
            if exc[0] is None:
                self.remove()   # kept after a failure, for its log

    def log_tail(self, n: int = 4000) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return "(no log)"

    # --- the REST API ------------------------------------------------------------------------------

    def call(self, coro, timeout: float):
        """Run ``coro`` on the launcher's loop and wait for it (bounded)."""
        return asyncio.run_coroutine_threadsafe(asyncio.wait_for(coro, timeout), self._loop).result(timeout + 5)

    async def _request(self, method: str, path: str, body=None, timeout: float = 60):
        from tornado.httpclient import AsyncHTTPClient, HTTPClientError

        headers = {"Authorization": f"token {self.token}"}
        data = None if body is None else json.dumps(body)
        if data is None and method in ("POST", "PUT", "PATCH"):
            data = ""
        try:
            r = await AsyncHTTPClient().fetch(self.url + path, method=method, headers=headers, body=data,
                                              request_timeout=timeout, allow_nonstandard_methods=True)
        except HTTPClientError as e:
            if e.response is None:
                raise HubError(f"{method} {path}: {e}") from e
            r = e.response
        text = r.body.decode(errors="replace") if r.body else ""
        try:
            return r.code, json.loads(text) if text else None
        except ValueError:
            return r.code, text

    def api(self, method: str, path: str, body=None, timeout: float = 60):
        """``(status, parsed JSON)`` of one request to the hub with the admin token."""
        return self.call(self._request(method, path, body, timeout), timeout + 5)

    def add_users(self, names: list[str]) -> None:
        code, out = self.api("POST", "/hub/api/users", {"usernames": list(names)})
        if code not in (200, 201):
            raise HubError(f"POST /hub/api/users for {names} answered {code}: {out}")

    async def _spawn(self, name: str, timeout: float) -> float:
        t0 = time.monotonic()
        code, out = await self._request("POST", f"/hub/api/users/{quote(name)}/server")
        if code not in (201, 202):
            raise HubError(f"starting {name}'s server: POST answered {code}: {out}")
        while True:
            code, user = await self._request("GET", f"/hub/api/users/{quote(name)}")
            server = (user or {}).get("servers", {}).get("", {}) if code == 200 else {}
            if server.get("ready"):
                took = time.monotonic() - t0
                if server.get("state", {}).get("pid"):
                    self.server_pids[name] = server["state"]["pid"]
                return took
            if code == 200 and not server.get("pending") and not server.get("ready") and time.monotonic() - t0 > 2:
                raise HubError(f"{name}'s server stopped before it was ready; the hub's log ends:\n"
                               f"{self.log_tail()}")
            if time.monotonic() - t0 > timeout:
                raise HubError(f"{name}'s server was not ready within {timeout:.0f} s; the hub's log ends:\n"
                               f"{self.log_tail()}")
            await asyncio.sleep(0.2)

    def spawn(self, name: str, timeout: float = 240) -> float:
        """Start ``name``'s server and wait until the hub says it is ready: the seconds it took."""
        return self.call(self._spawn(name, timeout), timeout + 5)

    def spawn_all(self, names: list[str], timeout: float = 300) -> dict[str, float]:
        """Start every server at once (as a class does at nine o'clock): seconds to ready, per learner."""
        took = self.call(_gather(*(self._spawn(n, timeout) for n in names)), timeout + 5)
        return dict(zip(names, took, strict=True))

    async def _stop_server(self, name: str, timeout: float = 60) -> None:
        code, out = await self._request("DELETE", f"/hub/api/users/{quote(name)}/server")
        if code not in (202, 204):
            raise HubError(f"stopping {name}'s server: DELETE answered {code}: {out}")
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            code, user = await self._request("GET", f"/hub/api/users/{quote(name)}")
            if code == 200 and not user.get("servers"):
                return
            await asyncio.sleep(0.2)
        raise HubError(f"{name}'s server did not stop within {timeout:.0f} s")

    def stop_server(self, name: str, timeout: float = 60) -> None:
        self.call(self._stop_server(name, timeout), timeout + 5)

    # --- kernels and cells -------------------------------------------------------------------------

    def kernel(self, name: str, timeout: float = 60) -> str:
        """A new python3 kernel in ``name``'s server (through the proxy): its id."""
        code, out = self.api("POST", f"/user/{quote(name)}/api/kernels", {"name": "python3"}, timeout)
        if code != 201:
            raise HubError(f"starting a kernel in {name}'s server: POST answered {code}: {out}")
        return out["id"]

    async def _run(self, name: str, kernel: str, code: str, timeout: float) -> Cell:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        url = (self.url.replace("http", "ws", 1) + f"/user/{quote(name)}/api/kernels/{kernel}/channels"
               f"?session_id={uuid.uuid4().hex}")
        ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {self.token}"},
                                                 connect_timeout=30, request_timeout=timeout))
        cell, t0 = Cell(code), time.monotonic()
        msg_id = uuid.uuid4().hex
        try:
            ws.write_message(json.dumps({
                "header": {"msg_id": msg_id, "username": name, "session": uuid.uuid4().hex,
                           "msg_type": "execute_request", "version": "5.3",
                           "date": datetime.datetime.now(datetime.timezone.utc).isoformat()},
                "parent_header": {}, "metadata": {}, "buffers": [], "channel": "shell",
                "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True},
            }))
            while True:
                raw = await ws.read_message()
                if raw is None:
                    raise HubError(f"{name}'s kernel {kernel} closed its websocket during the cell:\n{code}")
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id or msg.get("channel") != "iopub":
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    if content["name"] == "stdout":
                        cell.stdout += content["text"]
                    else:
                        cell.stderr += content["text"]
                elif kind == "execute_result":
                    cell.result = content["data"].get("text/plain")
                elif kind == "error":
                    cell.error = (content["ename"], content["evalue"])
                    cell.traceback = content.get("traceback", [])
                elif kind == "status" and content["execution_state"] == "idle":
                    break
        finally:
            ws.close()
        cell.seconds = time.monotonic() - t0
        return cell

    def run(self, name: str, kernel: str, code: str, timeout: float = 120) -> Cell:
        """Execute ``code`` in ``name``'s kernel as a notebook cell: what it printed, returned and raised."""
        return self.call(self._run(name, kernel, textwrap.dedent(code), timeout), timeout)

    def run_all(self, cells: list[tuple[str, str, str]], timeout: float = 300) -> list[Cell]:
        """Many ``(learner, kernel, code)`` cells at once, one per kernel: the cells, in the same order."""
        return self.call(_gather(*(self._run(n, k, textwrap.dedent(c), timeout) for n, k, c in cells)),
                         timeout)


async def _gather(*coros):
    # gather inside the loop: a gather made in the caller's thread would belong to no running loop
    return await asyncio.gather(*coros)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie has exited: only its parent has not read its status yet
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    return False


@pytest.fixture(scope="module")
def start_hub():
    """``start_hub(config, subconfig=..., pythonpath=...)`` starts a :class:`Hub` with the caller's spawner
    settings and returns it; every hub the module started is stopped at the module's end and must leave
    neither the hub, nor its proxy, nor a server it reported running."""
    if os.geteuid() != 0:
        pytest.skip("needs root: the hub starts learners' servers as other users")
    why = missing()
    if why:
        pytest.skip(why)
    hubs: list[Hub] = []

    def start(config: str = "", **kw) -> Hub:
        hub = Hub(config, **kw)
        hubs.append(hub)
        return hub.start()

    yield start
    left = []
    for hub in hubs:
        try:
            hub.stop()
        finally:
            left += hub.leftovers()
            if not left:
                hub.remove()
    assert not left, f"the hub left these running: {left}"
