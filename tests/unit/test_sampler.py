"""The sampler's handling of a group that disappears while it reads (logic only: a fake group)."""

from __future__ import annotations

import pytest

from boxkit.cgroups import Stats
from boxkit.cgroups.sampler import Sampler


class FakeGroup:
    def __init__(self, reads: list[Stats]):
        self.reads = list(reads)

    def stats(self) -> Stats:
        return self.reads.pop(0)


def _full(cpu: int) -> Stats:
    return Stats(memory_current=10 << 20, memory_limit=500 << 20, cpu_usage_usec=cpu, pids_current=2)


def test_a_read_racing_with_removal_is_dropped_not_kept_as_zeros():
    # the third read lost cpu.stat (the group was being removed) but still had memory.current
    half_gone = Stats(memory_current=10 << 20, memory_limit=None, cpu_usage_usec=None, pids_current=None)
    s = Sampler(FakeGroup([_full(0), _full(500_000), half_gone]))
    s._t0 = 0.0
    s.sample()
    s.sample()
    with pytest.raises(FileNotFoundError):
        s.sample()
    assert s.series.cpu_usage_usec == [0, 500_000], "no zero appended: the rate stays positive"
    assert s.series.memory_limit == 500 << 20


def test_a_group_gone_entirely_ends_sampling():
    s = Sampler(FakeGroup([_full(0), Stats()]))
    s.sample()
    with pytest.raises(FileNotFoundError):
        s.sample()
    assert len(s.series.t) == 1


def test_memory_pressure_is_kept_per_sample_and_none_where_the_kernel_has_no_psi():
    with_psi = _full(0)
    with_psi.psi = {"memory": 12.5}
    s = Sampler(FakeGroup([with_psi, _full(1000)]))
    s.sample()
    s.sample()
    assert s.series.memory_psi == [12.5, None]
    assert len(s.series.memory_psi) == len(s.series.t)


def test_a_charge_the_kernel_is_refusing_is_not_drawn_as_memory_in_use():
    # page_counter_try_charge adds a 2 MiB huge page to memory.current, sees the limit passed and takes
    # it back; memory.peak (read after memory.current) never counted it
    limit = 500 << 20
    in_flight = Stats(memory_current=limit + (440 << 12), memory_peak=limit - (72 << 12), memory_limit=limit,
                      cpu_usage_usec=1, pids_current=1)
    below = Stats(memory_current=100 << 20, memory_peak=limit - (72 << 12), memory_limit=limit,
                  cpu_usage_usec=2, pids_current=1)
    no_peak_file = Stats(memory_current=limit + 4096, memory_limit=limit, cpu_usage_usec=3, pids_current=1)
    s = Sampler(FakeGroup([in_flight, below, no_peak_file]))
    for _ in range(3):
        s.sample()
    assert s.series.memory_current == [limit - (72 << 12), 100 << 20, limit + 4096]
