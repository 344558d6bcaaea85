"""Fixtures for the class-hub tests: a real JupyterHub per test module (tests/hub/hubctl.py says how it
runs and how a spawner plugs in).

``start_hub(config, subconfig=..., pythonpath=...)`` starts a hub with the caller's spawner settings
and returns the :class:`hubctl.Hub`; every hub the module started is stopped at the module's end and
must leave neither the hub, nor its proxy, nor a server it reported running. A route's test module uses
it as::

    def test_something(start_hub):
        hub = start_hub('c.JupyterHub.spawner_class = "podmanspawner.PodmanSpawner"', pythonpath=[HERE])
        hub.add_users(["ann"])
        hub.spawn("ann")
"""

from __future__ import annotations

import os

import hubctl
import pytest


@pytest.fixture(scope="module")
def start_hub():
    if os.geteuid() != 0:
        pytest.skip("needs root: the hub starts learners' servers as other users")
    why = hubctl.missing()
    if why:
        pytest.skip(why)
    hubs: list[hubctl.Hub] = []

    def start(config: str = "", **kw) -> hubctl.Hub:
        hub = hubctl.Hub(config, **kw)
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
