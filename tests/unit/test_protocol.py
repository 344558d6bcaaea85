"""The set-up protocol (boxkit/runtime/protocol.py): one name per message, the bytes they always were,
and a surprise said as an error — not a KeyError, not a wait."""

from __future__ import annotations

import errno
import json
import socket

import pytest

from boxkit.errors import ContainerError, ExecError
from boxkit.runtime import protocol
from boxkit.runtime.plan import Plan
from boxkit.runtime.protocol import Event, Msg, Op, expect, kind_of, message

PLAN = Plan(id="c0ffee", argv=["/bin/true"])


@pytest.mark.parametrize("names", [Msg, Op, Event])
def test_every_message_has_one_name_and_one_wire_key(names):
    values = [m.value for m in names]
    assert len(values) == len(set(values)) == len(names.__members__), "an alias would give a message two names"
    assert all(v == v.lower() and " " not in v for v in values)


@pytest.mark.parametrize("kind,value,fields,wire", [
    (Msg.USERNS, 4242, {}, b'{"userns": 4242}'),
    (Msg.MAPPED, True, {}, b'{"mapped": true}'),
    (Msg.SEIZED, False, {}, b'{"seized": false}'),
    (Msg.PID, 7, {}, b'{"pid": 7}'),
    (Msg.PID, 7, {"group": {"memory": "/x"}}, b'{"pid": 7, "group": {"memory": "/x"}}'),
    (Msg.READY, True, {}, b'{"ready": true}'),
    (Msg.GO, True, {"update": {}}, b'{"go": true, "update": {}}'),
    (Msg.CREATED, True, {}, b'{"created": true}'),
    (Msg.ERROR, "set hostname", {"errno": 1, "path": None, "detail": "x", "code": 125},
     b'{"error": "set hostname", "errno": 1, "path": null, "detail": "x", "code": 125}'),
])
def test_the_bytes_are_what_they_were_before_the_names_and_read_back(kind, value, fields, wire):
    msg = message(kind, value, **fields)
    assert protocol.encode(msg) == wire == json.dumps(json.loads(wire)).encode()
    back = protocol.decode(protocol.encode(msg))
    assert back == msg and kind_of(back) is kind
    assert back[kind] == value   # a name looks itself up in a received dict


@pytest.mark.parametrize("kind", [m for m in Msg if m is not Msg.END])
def test_every_message_round_trips_over_a_seqpacket_pair(kind):
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with a, b:
        protocol.send(a, message(kind, extra=[1, "two"]))
        got = protocol.recv(b)
        assert kind_of(got) is kind and got["extra"] == [1, "two"]
        a.close()
        assert kind_of(protocol.recv(b)) is Msg.END, "a closed end reads as END at once"


def test_end_is_never_sent_and_an_unknown_key_is_no_message():
    with pytest.raises(ValueError):
        message(Msg.END)
    assert kind_of({}) is Msg.END and protocol.decode(b"") == {}
    assert kind_of({"hello": 1}) is None


def test_expect_returns_what_was_wanted():
    msg = message(Msg.PID, 9)
    assert expect(msg, Msg.USERNS, Msg.PID, plan=PLAN) is msg
    assert expect({}, Msg.END, plan=PLAN) == {}


def test_a_surprise_names_what_was_expected_and_what_came():
    with pytest.raises(ContainerError) as e:
        expect(message(Msg.READY), Msg.PID, Msg.USERNS, plan=PLAN, step="stage 1")
    err = e.value
    assert err.op == "cannot create the namespaces for container" and err.path == "c0ffee"
    assert '"ready"' in err.detail and '"pid" or "userns"' in err.detail and "expected" in err.detail
    assert "protocol.py" in err.hint
    assert str(err).startswith("cannot create the namespaces for container c0ffee: its set-up process said")


def test_an_end_where_a_message_was_due_is_a_process_that_ended():
    with pytest.raises(ContainerError) as e:
        expect({}, Msg.CREATED, plan=PLAN, step="set up")
    assert e.value.detail == 'its set-up process ended before it said "created"'
    assert e.value.hint == "see boxkit probe"


def test_an_unknown_message_is_a_surprise_too():
    with pytest.raises(ContainerError, match=r"said an unknown message where \"go\" was expected"):
        expect({"hello": 1}, Msg.GO, step="start spare container")


def test_an_error_report_is_the_failure_it_names():
    report = message(Msg.ERROR, "set hostname", errno=errno.EPERM, path=None, detail="x", code=125)
    with pytest.raises(ContainerError) as e:
        expect(report, Msg.END, plan=PLAN)
    assert e.value.errno == errno.EPERM
    assert str(e.value).startswith("cannot set hostname for container c0ffee: operation not permitted")
    with pytest.raises(ExecError) as e:
        expect(message(Msg.ERROR, "exec", errno=errno.ENOENT, path="/bin/nope", code=127), Msg.END, plan=PLAN)
    assert e.value.exit_code == 127 and e.value.path == "/bin/nope"


def test_requests_and_answers_keep_their_bytes():
    assert json.dumps(protocol.request(Op.KILL, signal=9)) == '{"op": "kill", "signal": 9}'
    assert json.dumps({protocol.REQ: 3, **protocol.reply(pid=5)}) == '{"req": 3, "ok": true, "pid": 5}'
    assert protocol.refused({"message": "m"}) == {"ok": False, "error": {"message": "m"}}
    wire = protocol.refused(ContainerError("cannot x for container", "c"))["error"]
    assert wire["type"] == "ContainerError" and wire["op"] == "cannot x for container"
    assert protocol.event(Event.EXITED, info={}) == {"event": "exited", "info": {}}
    assert {"op": "wait"}[protocol.OP] == Op.WAIT   # a received op compares equal to its name
