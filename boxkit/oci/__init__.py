"""boxkit in runc's seat: the OCI runtime command line (``boxkit-runtime``) on boxkit's own engine.

Docker and podman do not start containers themselves: they write an OCI *bundle* (a ``config.json`` and
a root file system) and call a runtime through five verbs — ``create``, ``start``, ``state``, ``kill``,
``delete`` (runtime-spec ``runtime.md``). This package turns a bundle into boxkit's plan
(:mod:`.bundle`), keeps one state directory per container (:mod:`.state`) and speaks the verbs
(:mod:`.cli`); the container itself is set up by :mod:`boxkit.runtime.init`'s stages, as for
``boxkit run``.
"""
