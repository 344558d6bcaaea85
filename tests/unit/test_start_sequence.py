"""The one start sequence (boxkit/runtime/start.py), as logic: a scripted PID 1 on a real socket pair
says its messages, and the sequence must do the front's steps in order and turn every surprise into the
step's error. Real starts through it are the integration suites (test_runtime, test_oci_runtime,
test_isolation_routes: every route goes through run())."""

from __future__ import annotations

import socket

import pytest

from boxkit.errors import ContainerError, ExecError
from boxkit.runtime import start
from boxkit.runtime.plan import Plan
from boxkit.runtime.protocol import Msg, decode, encode, message


class Scripted:
    """A launch whose PID 1 is this test: ``says`` are sent before the sequence reads them; what the
    sequence sends is kept in ``heard``. ``end_after`` closes PID 1's side after that many messages
    heard (an exec, or a death)."""

    group = None
    dir_names_pid1 = False

    def __init__(self, says: list[dict | None], end_after: int | None = None):
        self.sock, self.pid1_side = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.says, self.end_after, self.heard, self.reaped = list(says), end_after, [], False

    def brings_directory(self, cid):
        return False

    def _speak(self):
        while self.says and self.says[0] is not None:
            self.pid1_side.send(encode(self.says.pop(0)))
        if self.says and self.says[0] is None:   # None: wait for the next thing the sequence says
            self.says.pop(0)

    def begin(self, plan, stdio):
        self._speak()
        return decode(self.sock.recv(65536))

    def reap_setup(self):
        self.reaped = True

    def hand_over(self, plan, stdio):
        pass

    def close(self):
        self.sock.close()
        return 0, None


@pytest.fixture
def run_front(monkeypatch):
    """A front that logs its steps, and the sequence's sends seen by the scripted PID 1."""

    def make(launch: Scripted, **front):
        calls = []
        real_send = start.send

        def send(sock, msg):
            launch.heard.append(msg)
            real_send(sock, msg)
            launch.pid1_side.recv(65536)   # PID 1 reads what it is told, as the real one does
            launch._speak()
            if launch.end_after is not None and len(launch.heard) >= launch.end_after:
                launch.pid1_side.close()

        monkeypatch.setattr(start, "send", send)
        f = start.Front(write_maps=lambda pid: calls.append(("maps", pid)),
                        placed=lambda pid: calls.append(("placed", pid)),
                        update=lambda: (calls.append(("update",)), {"files": {"/etc/hosts": "x"}})[1],
                        going=lambda: calls.append(("going",)), **front)
        return f, calls

    return make


@pytest.fixture
def plan():
    return Plan(id="c1", argv=["/bin/true"])


def test_the_steps_come_in_order_and_end_when_the_command_runs(plan, run_front):
    launch = Scripted([message(Msg.USERNS, 41), None, message(Msg.PID, 42), None], end_after=2)
    front, calls = run_front(launch)
    assert start.run(launch, plan, [0, 1, 2], front) == 42
    assert calls == [("maps", 41), ("placed", 42), ("update",), ("going",)]
    assert launch.heard == [message(Msg.MAPPED), message(Msg.GO, update={"files": {"/etc/hosts": "x"}})]


def test_an_oci_create_ends_at_the_gate(plan, run_front):
    launch = Scripted([message(Msg.PID, 7), None, message(Msg.CREATED)])
    front, calls = run_front(launch, done=Msg.CREATED)
    assert start.run(launch, plan, [0, 1, 2], front) == 7
    assert calls[0] == ("placed", 7) and ("maps", 7) not in calls


def test_a_stage_1_failure_is_its_step_error_and_its_process_is_reaped(plan, run_front):
    launch = Scripted([message(Msg.ERROR, "stage 1", errno=1)])
    front, calls = run_front(launch)
    with pytest.raises(ContainerError, match="cannot create the namespaces for container c1") as e:
        start.run(launch, plan, [0, 1, 2], front)
    assert e.value.errno == 1 and launch.reaped and calls == []


def test_a_failed_execve_is_an_exec_error(plan, run_front):
    launch = Scripted([message(Msg.PID, 9), None, message(Msg.ERROR, "exec", errno=2, path="/bin/nope")])
    front, calls = run_front(launch)
    with pytest.raises(ExecError) as e:
        start.run(launch, plan, [0, 1, 2], front)
    assert e.value.exit_code == 127 and ("placed", 9) in calls


def test_a_message_out_of_order_names_what_came_and_what_was_due(plan, run_front):
    launch = Scripted([message(Msg.READY)])
    front, _calls = run_front(launch)
    with pytest.raises(ContainerError, match='"ready".*"pid"'):
        start.run(launch, plan, [0, 1, 2], front)


def test_pid_1_ending_before_created_is_a_clear_error(plan, run_front):
    launch = Scripted([message(Msg.PID, 5), None], end_after=1)   # it dies right after go
    front, _calls = run_front(launch, done=Msg.CREATED)
    with pytest.raises(ContainerError, match="ended before"):
        start.run(launch, plan, [0, 1, 2], front)


def test_a_front_failing_before_go_is_its_own_error_not_a_wait(plan, run_front):
    """A failed prestart hook is a BoxkitError, an OSError: it must not be taken for PID 1's end and
    wait for a report PID 1 never sends (it waits for GO)."""
    launch = Scripted([message(Msg.PID, 3), None])

    def hook_fails():
        raise ContainerError("prestart hook failed:", "/hook", detail="exit status 1")

    front, _calls = run_front(launch, done=Msg.CREATED)
    front.update = hook_fails
    launch.sock.settimeout(5)
    with pytest.raises(ContainerError, match="prestart hook failed"):
        start.run(launch, plan, [0, 1, 2], front)
