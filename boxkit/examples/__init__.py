"""Small apps the course builds into images (data for the notebooks, not part of the runtime).

``shop/``: a tiny HTTP service (``app.py``) and its build file (``Boxfile``) for the capstone: each
request burns a little CPU and keeps 32 KiB, so a load generator makes both climb on a plot.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name: str) -> str:
    """The directory of an example app, to use as a build context."""
    return os.path.join(HERE, name)
