"""Making images by running containers: ``RUN`` steps of a build file (:mod:`.builder`) and ``commit``
(:mod:`.commit`), which turns what a container changed — its overlay upper dir — into a layer.

This sits above :mod:`boxkit.runtime` because it starts containers, and above :mod:`boxkit.images`
because what it makes is stored there; the image store itself never starts anything.
"""

from __future__ import annotations

from .builder import Build, build_file
from .commit import commit_container, layer_from_upper

__all__ = ["Build", "build_file", "commit_container", "layer_from_upper"]
