"""The fast client: ``python -I -S boxkit/fastrun.py run --rm IMAGE CMD...`` (the ``bin/boxkit-fast`` launcher).

Run as a script by its path, not imported: importing ``boxkit`` would cost the imports this exists to
skip. It loads only builtin modules (``_socket``, ``_signal``, ``os``), connects to the user's warm
helper (:mod:`boxkit.cli.warm`, started here on first use), passes its argv, working directory and
stdin/stdout/stderr, forwards SIGINT, SIGTERM and SIGHUP (a second SIGINT sends SIGKILL; a SIGTERM the
container ignores is followed by SIGKILL after ``--stop-timeout``, and then exits 143), and exits
with the container's code. Whatever the helper does not take (``-d``, ``-t``, no ``--rm``, any other
verb) and any failure to reach it ends in ``exec`` of the full command line, so the result is the
same either way — only slower.

It speaks the locale's language (:func:`boxkit.i18n.from_environment`), as the full command line does,
but looks it up only when it has something to say: an error the helper sends back whole
(:func:`boxkit.errors.to_wire`: English message ids and their fields), rendered here by
:func:`boxkit.errors.from_wire`, or one of its own two sentences. A run that succeeds imports nothing more.
"""

import _signal
import _socket
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def _root() -> str:
    env = os.environ.get("BOXKIT_ROOT")
    if env:
        return env
    if os.geteuid() == 0:
        return "/var/lib/boxkit"
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "boxkit")


def _package():
    """``boxkit.i18n`` and ``boxkit.errors``, for the client's few sentences. Run as a script, the
    client has no ``boxkit`` package (its ``__init__`` costs what this client skips): a bare package
    object gives those two modules alone, which import only ``os`` and ``errno`` (and ``gettext`` for a
    language other than English). The language is the locale's, set once."""
    pkg = sys.modules.get("boxkit")
    if pkg is None:
        pkg = type(sys)("boxkit")
        pkg.__path__ = [HERE]
        sys.modules["boxkit"] = pkg
    from boxkit import errors, i18n

    if not _said:
        _said.append(True)
        try:
            i18n.set_language(i18n.from_environment())
        except ValueError:   # no catalogue for it: English, as gettext falls back
            pass
    return i18n, errors


_said: list = []


def _say(message: str, **fields) -> None:
    """One of the client's own sentences on stderr, in the locale's language (English if that fails)."""
    try:
        text = _package()[0]._(message).format(**fields)
    except Exception:  # noqa: BLE001 - the sentence in English rather than none
        text = message.format(**fields)
    os.write(2, b"boxkit: " + text.encode(errors="replace") + b"\n")


def _say_error(payload: str) -> None:
    """The helper's error: a :func:`boxkit.errors.to_wire` object rendered here, in our language (an
    older helper's plain sentence is printed as it came)."""
    if payload.startswith("{"):
        try:
            import json

            d = json.loads(payload)
        except ValueError:
            d = None
        if isinstance(d, dict):
            try:
                payload = "boxkit: " + str(_package()[1].from_wire(d))
            except Exception:  # noqa: BLE001 - the helper's own English rather than nothing
                payload = "boxkit: " + str(d.get("message", ""))
    os.write(2, payload.encode(errors="replace") + b"\n")


def _full(argv: list) -> None:
    os.execv(sys.executable, [sys.executable, "-m", "boxkit", *argv])


def _start_helper(path: str) -> None:
    env = dict(os.environ)
    parent = os.path.dirname(HERE)
    env["PYTHONPATH"] = parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                nul = os.open("/dev/null", os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(nul, fd)
                os.closerange(3, 1024)
                os.execve(sys.executable, [sys.executable, "-m", "boxkit.cli.warm"], env)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _connect(path: str):
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    try:
        s.connect(path)
    except OSError:
        s.close()
        return None
    return s


def main(argv: list) -> int:
    if not argv or argv[0] != "run" or "--rm" not in argv:
        _full(argv)
    path = os.path.join(_root(), "warm.sock")
    s = _connect(path)
    if s is None:
        _start_helper(path)
        for _ in range(200):   # the helper's first start imports everything: up to a few seconds
            s = _connect(path)
            if s is not None:
                break
            os.sched_yield()
            _sleep(0.02)
        else:
            _full(argv)
    msg = b"\0".join([b"run", os.getcwd().encode(), *(a.encode() for a in argv)])
    cmsg = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, (0).to_bytes(4, sys.byteorder)
             + (1).to_bytes(4, sys.byteorder) + (2).to_bytes(4, sys.byteorder))]
    pending: list = []

    def caught(n, _frame):
        # raised, not queued: recv() is retried after a handler that returns (PEP 475)
        raise _Signal(n)

    for sig in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP):
        _signal.signal(sig, caught)
    try:
        s.sendmsg([msg], cmsg)
    except OSError:
        _full(argv)
    interrupts = 0
    started = False
    grace = 10.0          # seconds from a SIGTERM to SIGKILL (run --stop-timeout; the helper says)
    until = None          # when the grace period ends, once a SIGTERM was passed on
    killed = False
    while True:
        try:
            reply = s.recv(65536)
        except _Signal as e:
            pending.append(e.args[0])
            reply = None
        except TimeoutError:   # the grace period is over: docker stop's SIGKILL
            s.settimeout(None)
            killed = True
            s.send(b"kill\0" + b"9")
            continue
        while pending:
            n = pending.pop(0)
            interrupts += n == _signal.SIGINT
            if interrupts >= 2:
                # i18n: printed by the fast client when the user presses Ctrl+C twice
                _say(N_("second interrupt: killing the container"))
                n = 9
            if started:
                s.send(b"kill\0" + str(n).encode())
            if n == _signal.SIGTERM and until is None:
                until = _monotonic() + grace
        if until is not None and not killed:
            s.settimeout(max(0.001, until - _monotonic()))
        if reply is None:
            continue
        words = reply.decode(errors="replace").split(" ", 2)
        if not reply:
            return 125 if started else _full(argv) or 125
        if words[0] == "fallback":
            s.close()
            _full(argv)
        if words[0] == "ok":
            started = True
            if len(words) > 2:
                grace = float(words[2])
                if until is not None:   # a SIGTERM came before the start: its period starts now
                    until = _monotonic() + grace
            for n in pending:
                s.send(b"kill\0" + str(n).encode())
            continue
        if words[0] == "err":
            if len(words) > 2 and words[2]:
                _say_error(words[2])
            return int(words[1])
        if words[0] == "exit":
            if killed:
                _say(N_("the container ignored SIGTERM for {seconds} s: killed"), seconds=f"{grace:g}")
                return 143   # 128 + SIGTERM: it ended because it was told to
            return int(words[1])


def entry() -> int:
    """pip's ``boxkit`` command (``[project.scripts]``): what a ``pip install boxkit`` — Binder, a hub's
    image — puts on PATH. ``run --rm`` goes the fast way above; any other verb runs the full command
    line in this process (no second interpreter). Importing this module costs the ``boxkit`` package's
    light ``__init__`` and nothing else (``python -X importtime -c 'import boxkit.fastrun'``)."""
    argv = sys.argv[1:]
    if argv and argv[0] == "run" and "--rm" in argv:
        return main(argv)   # it looks the language up when it has something to say
    from boxkit.cli import main as full
    from boxkit.cli import speak_locale

    speak_locale()   # the locale's language, as every gettext program
    return full(argv)


def N_(message: str) -> str:
    """Marks a message for extraction (:func:`boxkit.i18n.N_`, not imported here: see :func:`_package`)."""
    return message


class _Signal(Exception):
    pass


def _monotonic() -> float:
    import time  # builtin module: nothing imported from disk

    return time.monotonic()


def _sleep(t: float) -> None:
    import select

    select.select([], [], [], t)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
