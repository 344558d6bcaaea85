"""The ELF reader against the host's own binaries (read, never executed)."""

from __future__ import annotations

import os
import sys

from boxkit.images.elf import closure, read_elf


def test_python_needs_libc_and_a_loader():
    info = read_elf(os.path.realpath(sys.executable))
    assert info is not None and info.interp and info.interp.startswith("/")
    libs = closure([os.path.realpath(sys.executable)])
    assert info.interp in libs
    assert any(os.path.basename(p).startswith("libc.so") for p in libs)
    assert all(os.path.exists(p) for p in libs)


def test_not_elf_is_none(tmp_path):
    p = tmp_path / "script"
    p.write_text("#!/bin/sh\necho hi\n")
    assert read_elf(str(p)) is None
    assert closure([str(p)]) == []


def test_static_binary_has_no_interpreter():
    if not os.path.exists("/bin/busybox"):
        import pytest

        pytest.skip("needs busybox-static: apt-get install busybox-static")
    info = read_elf("/bin/busybox")
    if info.needed:
        import pytest

        pytest.skip("needs a static busybox (busybox-static), this one is dynamic")
    assert info.interp is None and closure(["/bin/busybox"]) == []
