"""boxkit.files: the lock and the atomic write every shared file goes through, tried with real
processes (no root needed)."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import time

import pytest

from boxkit import files


def test_write_atomic_replaces_the_file_with_the_mode_asked_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old")
    files.write_json(str(target), {"a": 1}, 0o600)
    assert json.loads(target.read_text()) == {"a": 1}
    assert target.stat().st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path) == ["state.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "index.json"
    target.mkdir()   # os.replace of a file over a directory fails: IsADirectoryError
    (target / "x").write_text("keep")
    with pytest.raises(OSError):
        files.write_atomic(str(target), b"new")
    assert sorted(os.listdir(tmp_path)) == ["index.json"] and (target / "x").read_text() == "keep"


def test_a_reader_never_sees_a_half_written_file(tmp_path):
    target = str(tmp_path / "leases.json")
    files.write_json(target, {"n": -1, "pad": "x" * 200_000})
    writers = []
    for w in range(2):
        pid = os.fork()
        if pid == 0:
            try:
                for n in range(150):
                    files.write_json(target, {"n": n, "w": w, "pad": str(w) * 200_000})
            finally:
                os._exit(0)
        writers.append(pid)
    reads = bad = 0
    while reads < 400:
        with open(target) as f:
            text = f.read()
        try:
            json.loads(text)
        except ValueError:
            bad += 1
        reads += 1
    for pid in writers:
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert bad == 0, f"{bad} of {reads} reads saw a half-written file"
    assert [n for n in os.listdir(tmp_path) if files.is_temporary(n)] == []


def test_the_lock_excludes_another_process_and_dies_with_its_holder(tmp_path):
    path = str(tmp_path / "images.lock")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        with files.locked(path):
            os.write(w, b"1")
            time.sleep(60)
        os._exit(0)
    os.close(w)
    assert os.read(r, 1) == b"1"
    os.close(r)
    fd = os.open(path, os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError) as e:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert e.value.errno in (errno.EAGAIN, errno.EWOULDBLOCK)
        os.kill(pid, signal.SIGKILL)   # no clean-up runs: the kernel's close of its fds drops the lock
        os.waitpid(pid, 0)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


def test_the_lock_fd_is_not_inherited_by_an_exec(tmp_path):
    with files.locked(str(tmp_path / "net.lock")) as fd:
        assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC


def test_temporary_names_are_recognised_and_nothing_else(tmp_path):
    assert files.is_temporary("state.json.tmp-4242-0")
    for name in ("state.json", "state.json.tmp", "a.tmp-x-1", ".tmp-1-2", "state.json.tmp-1"):
        assert not files.is_temporary(name), name
