"""Run in the v2 VM by ``python -m tools.v2vm --record`` (a pytest file, not collected by the suite):
execute the notebooks of :data:`tools.v2vm.runner.NOTEBOOKS_ON_V2` top to bottom on the cgroup v2
kernel and write them, with their outputs, to the io share's ``out/``. The host then takes the outputs
of the cells that need cgroup v2 into boxkit/recordings/course.json (``boxkit.course.record_from``):
what a v1 host replays of memory.high and PSI is a real run on a v2 kernel."""

from __future__ import annotations

import os

import pytest

from tools.v2vm.runner import NOTEBOOKS_ON_V2, REPO

OUT = "/run/v2vm/out"


@pytest.mark.parametrize("path", NOTEBOOKS_ON_V2)
def test_execute_for_the_recording(path):
    import nbformat
    from nbclient import NotebookClient

    if not os.path.isdir(OUT):
        pytest.skip("runs inside the v2 VM only (python -m tools.v2vm --record)")
    with open(os.path.join(REPO, path)) as f:
        nb = nbformat.read(f, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": os.path.dirname(os.path.join(REPO, path))}}).execute()
    # notebooks/pt_BR/02-cgroups.ipynb -> pt_BR-02-cgroups.ipynb: one file per edition
    with open(os.path.join(OUT, "-".join(path.split("/")[1:])), "w") as f:
        nbformat.write(nb, f)
