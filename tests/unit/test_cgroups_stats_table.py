"""``boxkit stats`` logic without root: choosing containers and drawing the table."""

from __future__ import annotations

import pytest

from boxkit.cli import cgroups as commands
from boxkit.errors import NotFoundError, SpecError

ROWS = [{"id": "a1b2c3d4e5f6", "name": "web"}, {"id": "a1ffffffffff", "name": ""}, {"id": "0123456789ab"}]


def test_select_by_name_id_and_unique_prefix():
    assert [r["id"] for r in commands.select(ROWS, ["web", "0123", "a1ff"])] == [
        "a1b2c3d4e5f6", "0123456789ab", "a1ffffffffff"]


def test_select_refuses_unknown_and_ambiguous():
    with pytest.raises(NotFoundError) as e:
        commands.select(ROWS, ["nope"])
    assert "nope" in str(e.value) and "boxkit ps" in str(e.value)
    with pytest.raises(SpecError) as e:
        commands.select(ROWS, ["a1"])
    assert "more than one" in str(e.value)


def test_table_shows_usage_against_limit():
    s = {"id": "a1b2c3d4e5f6", "name": "web", "cpu_percent": 49.87, "memory_current": 256 << 20,
         "memory_limit": 512 << 20, "memory_peak": 300 << 20, "pids_current": 3, "pids_max": 20,
         "nr_throttled": 7, "oom_kills": 0, "psi": None}
    unlimited = dict(s, id="0123456789ab", name="", memory_limit=None, pids_max=None, cpu_percent=None)
    lines = commands.table([s, unlimited]).splitlines()
    assert lines[0].split()[:3] == ["CONTAINER", "ID", "NAME"]
    assert "49.9%" in lines[1] and "256.0MiB / 512.0MiB" in lines[1] and "50.0%" in lines[1]
    assert "3/20" in lines[1] and "300.0MiB" in lines[1]
    assert "no limit" in lines[2] and " 3 " in lines[2]
