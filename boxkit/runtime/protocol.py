"""The messages boxkit's processes send each other while they make and run a container, in one place.

A container start is a conversation between processes that cannot share memory: the supervisor, the
stage 1 it forks, the container's PID 1, a spare's first process, an exec's joiner. Each pair talks
over a ``socketpair(AF_UNIX, SOCK_SEQPACKET)`` made before the ``fork``. ``SOCK_SEQPACKET`` keeps the
boundaries of what was sent: one ``send`` is one ``recv``, so a message is one JSON object and never
needs framing. Python makes every socket close-on-exec (``SOCK_CLOEXEC``), and that is the last word
of the conversation: when the container's command ``execve``\\ s, the kernel closes the last copy of
the child's end and the supervisor's ``recv`` returns end of file — :data:`Msg.END`. No message says
"exec'd": a process that got that far cannot say anything any more, and one that failed to get there
sends :data:`Msg.ERROR` and exits.

Each message is a JSON object whose *first* key names it (:class:`Msg`; :func:`kind_of`), its value
and any further keys are its content. The names below are what travelled, byte for byte, before they
had names — but for SOCKET, which was a bare ``{}`` (read back, the same as END). Both ends of this
set-up socket are always forks of one process (the code that sends is the code that reads), so it
never speaks to an older boxkit.

**The long way** (:class:`.start.LongWay`, and ``boxkit-runtime create``, :mod:`boxkit.oci.verbs`)::

    supervisor                           stage 1 (init.stage1)             PID 1 (init.stage2)
    ──────────                           ─────────────────────             ───────────────────
    socketpair, fork ──────────────────▶ [a user namespace whose maps the supervisor writes:
                                          unshare(CLONE_NEWUSER)
                      ◀── USERNS {"userns": pid}
    write /proc/pid/{uid,gid}_map
    MAPPED {"mapped": true} ───────────▶  setresuid(0)]
                                         unshare(the rest), fork ────────▶ waits for GO
                      ◀── PID {"pid": n}, exit(0)   (the supervisor, a sub-reaper, becomes PID 1's
                                                     parent)
    state file, cgroup, network
    GO {"go": true, "update": {...}} ───────────────────────────────────▶ root, session, confine
                      ◀──────────────────────── CREATED {"created": true}   (OCI create only: PID 1
                                                 then closes its end and waits at exec.fifo)
                      ◀──────────────────────── END: execve closed the socket — the command runs

**A spare** (:mod:`.spare` on the supervisor's side, :mod:`.spare_child` on the other)::

    supervisor (idle)                    first process (spare_child.stage1)   PID 1
    socketpair, fork ──────────────────▶ waits for SEIZED
    PTRACE_SEIZE it (may be refused)
    SEIZED {"seized": bool} ───────────▶ unshare(...)
    [seized: SOCKET {"socket": true}       + a new socket's end (SCM_RIGHTS) ──▶ read by PID 1, made by
                                         vfork_sibling: its own socket, which its execve closes]
                      ◀────────────── PID {"pid": n, "group": dirs | null}   (from the first process
                                       after fork, or from PID 1 itself after vfork_sibling)
                      ◀────────────── READY {"ready": true}   /proc, /sys, /dev staged (a prebuilt
                                       spare: its root mounted too)
    ... a start takes it (Spares.take):
    PLAN {"plan": wire} + stdio fds (SCM_RIGHTS) ────────────────────────▶ builds the root, writes files
    GO {"go": true, "update": {...}} ────────────────────────────────────▶ the rest
                      ◀────────────── END (exec'd) or ERROR

**An exec** (:func:`.join.start_in`)::

    caller                               joiner (join.joiner)               the command (its child)
    socketpair, fork ──────────────────▶ cgroup, setns, chroot, fork ─────▶ confine
                      ◀── PID {"pid": n}, exit(0)
                      ◀──────────────────────────────────────────────────── END (exec'd) or ERROR

**A failure**, at any step of any of them: ``ERROR {"error": step, "errno": n, "path": p, "detail":
text, "code": exit code}`` (:func:`.init.fail`), then the sender exits. :func:`error_of` turns it into
the error the caller raises. The child side never raises on a surprise: a supervisor that did not say
MAPPED or GO has failed and kills what it started, so the child only exits (``STAGE_FAIL``). The
supervisor's side reads through :func:`expect`, so a message out of order, a report, or the end of a
process that died is an error with a sentence — never a ``KeyError``, never a wait for a message
that will not come (a closed socket reads as END at once).

runc draws the same exchange in ``libcontainer/sync.go`` (``procReady``/``procRun``,
``procHooks``/``procHooksDone``), where ``readSync(pipe, expected)`` refuses a surprise as
:func:`expect` does; youki names it ``enum Message`` (``process/message.rs``).

**Requests** (:class:`Op`) go from a caller to a process that holds containers, over a socket that
lives as long as the caller:

* a notebook kernel to its zygote (:mod:`.client` → :mod:`.zygote`): ``{"op": ..., "req": n, ...}``
  with stdio fds for RUN and EXEC; the answer ``{"req": n, "ok": true, ...}`` or ``{"req": n, "ok":
  false, "error": ...}`` (:func:`boxkit.errors.to_wire`); at any moment the event ``{"event":
  "exited", "id", "what", "pid", "info"}``. The socket's end of file ends the zygote and its
  containers.
* ``boxkit`` commands to a container's keeper (:mod:`.keeper`): first, over the pair ``boxkit run``
  made, ``{"ok": true, "pid", "id"}`` or a refusal; then, on ``keeper.sock``, KILL, WAIT, REMOVE,
  DETACH and PING, answered ``{"ok": ...}``, and the event ``{"event": "exited", "info"}`` for each
  waiter. A keeper outlives the command that started it, so a newer ``boxkit`` may talk to an older
  keeper: these names keep the same bytes.

The fast client and the warm helper speak a fourth, line-based one (NUL-separated argv, answered by
one line of text): :mod:`boxkit.cli.warm` and ``boxkit/fastrun.py``, which runs as ``python -I -S``
and so keeps its words to itself.
"""

from __future__ import annotations

import json
import socket
from enum import Enum, unique
from typing import TYPE_CHECKING

from ..errors import BoxkitError, ContainerError, ExecError, to_wire

if TYPE_CHECKING:
    from .plan import Plan

MAX_MSG = 65536   # one set-up message: a plan travels with PLAN, read by its own recv_fds


@unique
class Msg(str, Enum):
    """The set-up socket's messages. The value is the message's key on the wire (and, being a
    ``str``, looks itself up in a received dict: ``msg[Msg.PID]``)."""

    USERNS = "userns"     # stage 1 → supervisor: my user namespace exists, write its maps (value: my pid)
    MAPPED = "mapped"     # supervisor → stage 1: written (true), or not (anything else: exit)
    SEIZED = "seized"     # supervisor → a spare's first process: whether ptrace holds you (bool)
    SOCKET = "socket"     # supervisor → a spare's PID 1: a socket of your own, attached (SCM_RIGHTS)
    PID = "pid"           # → supervisor: PID 1's (or an exec's command's) pid; a spare adds "group"
    READY = "ready"       # spare PID 1 → supervisor: staged, waiting for a plan
    PLAN = "plan"         # supervisor → spare PID 1: the plan (Plan.to_wire), the stdio fds attached
    GO = "go"             # supervisor → PID 1: in your cgroup and network; "update": what the plan gained
    CREATED = "created"   # OCI PID 1 → create: set up, waiting at the start gate
    ERROR = "error"       # → supervisor: a step failed (value: the step), then the sender exited
    END = ""              # never sent: the end of file, when the sender's execve (or exit) closed it


def message(kind: Msg, value: object = True, **fields) -> dict:
    """The message ``kind`` as the wire carries it: ``{kind: value, **fields}``."""
    if kind is Msg.END:
        raise ValueError("END is not sent: it is the socket's end of file")
    return {kind.value: value, **fields}


def encode(msg: dict) -> bytes:
    return json.dumps(msg).encode()


def decode(data: bytes) -> dict:
    """One received packet as a message; no bytes (end of file) as ``{}``, which is :data:`Msg.END`."""
    return json.loads(data) if data else {}


def send(sock: socket.socket, msg: dict) -> None:
    sock.send(encode(msg))


def recv(sock: socket.socket) -> dict:
    return decode(sock.recv(MAX_MSG))


def kind_of(msg: dict) -> Msg | None:
    """Which message ``msg`` is: its first key; :data:`Msg.END` for ``{}``; None for a key no
    message has."""
    if not msg:
        return Msg.END
    try:
        return Msg(next(iter(msg)))
    except ValueError:
        return None


def name(kind: Msg | None) -> str:
    """A message as an error sentence names it: its wire key in quotes."""
    if kind is Msg.END:
        return "end of file"
    return "an unknown message" if kind is None else f'"{kind.value}"'


# what a stage's own failure (not one of its named steps) means, in words: "cannot stage 1 for ..." said nothing
STAGE_SENTENCES = {"stage 1": "create the namespaces", "stage 2": "set up the root file system and process",
                   "start": "start the first process"}


def error_of(plan: Plan | None, msg: dict) -> BoxkitError:
    """The error an ERROR report names, as the caller raises it (the other end of :func:`.init.fail`):
    the step in words, the container, the errno or the detail. A failed ``execve`` is an
    :class:`~boxkit.errors.ExecError` (exit code 126 or 127, as a shell says)."""
    step = msg.get(Msg.ERROR, "start")
    eno = msg.get("errno") or None
    if step == "exec":
        return ExecError(msg.get("path") or (plan.argv[0] if plan is not None and plan.argv else "?"), eno or 2)
    step = STAGE_SENTENCES.get(step, step)
    return ContainerError(f"cannot {step} for container", plan.id if plan is not None else None, errno=eno,
                          detail=None if eno else msg.get("detail"),
                          hint=(f"at {msg['path']}; " if msg.get("path") else "") + "see boxkit probe")


def expect(got: dict, *wanted: Msg, plan: Plan | None = None, step: str = "start") -> dict:
    """``got`` when it is one of the ``wanted`` messages; else the error it means, raised
    (:func:`unexpected`). ``plan`` names the container; ``step`` is where the sender was, as an
    ERROR names it ("stage 1", "start", "set up": :data:`STAGE_SENTENCES` says them in words)."""
    if kind_of(got) in wanted:
        return got
    raise unexpected(got, *wanted, plan=plan, step=step)


def unexpected(got: dict, *wanted: Msg, plan: Plan | None = None, step: str = "start") -> BoxkitError:
    """What ``got``, arriving where one of ``wanted`` was due, means: an ERROR report is the failure it
    names (:func:`error_of`); an end of file, a process that ended before it said what was wanted;
    anything else, a message out of order — a boxkit bug, said as one."""
    kind = kind_of(got)
    if kind is Msg.ERROR:
        return error_of(plan, got)
    said = " or ".join(name(w) for w in wanted) or "why"
    cid = plan.id if plan is not None else None
    words = STAGE_SENTENCES.get(step, step)
    if kind is Msg.END:
        return ContainerError(f"cannot {words} for container", cid,
                              detail=f"its set-up process ended before it said {said}", hint="see boxkit probe")
    return ContainerError(f"cannot {words} for container", cid,
                          detail=f"its set-up process said {name(kind)} where {said} was expected",
                          hint="the two ends disagree on boxkit/runtime/protocol.py: a boxkit bug, please report it")


# --- requests: a caller to its zygote or to a container's keeper ----------------------------------

@unique
class Op(str, Enum):
    """A request's ``"op"``. Z: a zygote answers it (:mod:`.zygote`); K: a keeper (:mod:`.keeper`)."""

    RUN = "run"         # Z: start {"plan"}, stdio fds attached → {"pid", "started"}
    EXEC = "exec"       # Z: {"id", "argv", "env", "cwd", "user"}, stdio fds attached → {"pid"}
    KILL = "kill"       # Z, K: {"signal"} (Z: and "id") → {}
    REMOVE = "remove"   # Z: {"id"}, "noreply": nobody waits; K: kill, then the exited event
    WAIT = "wait"       # K: no answer but the exited event
    DETACH = "detach"   # K: the foreground command lets go; the container stays → {}
    PING = "ping"       # Z, K → {"pid": the server's}


@unique
class Event(str, Enum):
    """What a zygote or keeper says unasked: ``{"event": ..., ...}``."""

    EXITED = "exited"   # a container's PID 1 or an exec ended: "info" (exit code, signal, ...)


OP, REQ, OK, EVENT, NOREPLY = "op", "req", "ok", "event", "noreply"   # the requests' and answers' keys


def request(op: Op, **fields) -> dict:
    return {OP: op.value, **fields}


def reply(**fields) -> dict:
    """A request done: ``{"ok": true, **fields}`` (a zygote puts ``"req"`` in front)."""
    return {OK: True, **fields}


def refused(err: BaseException | dict) -> dict:
    """A request that failed: the error whole (:func:`boxkit.errors.to_wire`), or a payload already made."""
    return {OK: False, "error": err if isinstance(err, dict) else to_wire(err, "cannot start container")}


def event(ev: Event, **fields) -> dict:
    return {EVENT: ev.value, **fields}
