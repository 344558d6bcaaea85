#!/usr/bin/env python3
"""Collect the outputs of the executed course notebooks into boxkit/recordings/course.json.

    .venv/bin/python tools/record.py        # after tools/notebooks.py ran them live on a real kernel

The recording is what a host without privileges replays (see boxkit/course.py). It is made only from
notebooks executed for real; tools/notebooks.py calls this after every build. On a host that runs the
course live it also measures every exercise (boxkit.exercises.record_measurements, a few seconds):
what a recorded-mode learner's own answer is judged against. Elsewhere it keeps the measurements the
recording already has.
"""

from __future__ import annotations

import glob
import os
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)

from boxkit.course import record  # noqa: E402


def main() -> int:
    # the English chapters and every translated edition (notebooks/pt_BR/...): a translated cell's code
    # differs from the English one in its printed words and comments, so it has a key, and a replay, of
    # its own; a cell whose code is the same shares the English one's
    nbs = sorted(glob.glob(os.path.join(HERE, "notebooks", "[0-9][0-9]-*.ipynb"))) + \
        sorted(glob.glob(os.path.join(HERE, "notebooks", "*", "[0-9][0-9]-*.ipynb")))
    from boxkit import exercises, exercises_byhand, exercises_oci, exercises_pid1, probe

    measured = None
    if probe().live_for("containers") and os.environ.get("BOXKIT_MODE") in (None, "live"):
        measured = exercises.record_measurements()
        # the chapters 07-09 exercises, each a module of its own (see boxkit/exercises_oci.py)
        for mod in (exercises_oci, exercises_byhand, exercises_pid1):
            if hasattr(mod, "measure"):
                measured[mod.NAME] = mod.measure()
    n = record(nbs, exercises=measured)
    print(f"recorded {n} cells from {len(nbs)} notebooks"
          + (f", measured {len(measured)} exercises" if measured else ", kept the exercises' measurements"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
