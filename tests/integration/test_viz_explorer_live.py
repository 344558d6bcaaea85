"""The namespace explorer on real containers: unticking pid lets the host's processes in."""

from __future__ import annotations

import os
import re

import pytest

from boxkit.viz import explorer


@pytest.mark.skipif(os.geteuid() != 0, reason="starts real containers: needs root")
def test_unticking_pid_shows_the_hosts_processes():
    pytest.importorskip("ipywidgets")
    panel = explorer.namespace_explorer()
    panel.run()
    own = panel.result.value
    panel.boxes["pid"].value = False
    panel.run()
    def count(v):
        return int(re.search(r"processes it sees \(PID 1\)</td><td>(\d+)", v).group(1))
    assert count(own) <= 3 < count(panel.result.value), (own, panel.result.value)
