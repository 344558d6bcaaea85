"""Security layers of a container beyond its namespaces: the seccomp filter (:mod:`.seccomp`).

Capabilities are dropped by :mod:`boxkit.runtime.caps`; the typed values people give
(``--cap-add``, ``--security-opt``) are parsed in :mod:`boxkit.spec`.
"""
