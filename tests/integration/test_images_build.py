"""Builds with RUN in real containers, the cache, commit of a running container. Needs root."""

from __future__ import annotations

import os
import time

import pytest

from boxkit.build import build_file
from boxkit.errors import NotFoundError, SpecError
from boxkit.images.store import Store

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: RUN starts real containers"),
              pytest.mark.skipif(not os.path.exists("/bin/busybox"),
                                 reason="needs busybox-static: apt-get install busybox-static")]

BOXFILE = """FROM busybox
COPY deps /opt/deps
WORKDIR /app
COPY app.sh .
RUN echo built > /app/stamp && rm /bin/vi
ENV MODE=prod
CMD ["sh", "/app/app.sh"]
"""


@pytest.fixture
def ctx(tmp_path):
    (tmp_path / "deps").mkdir()
    (tmp_path / "deps" / "dep1").write_text("dependency one\n")
    (tmp_path / "app.sh").write_text('echo "app v1 $MODE $(cat /app/stamp)"\n')
    (tmp_path / "Boxfile").write_text(BOXFILE)
    return tmp_path


def _rmi(*refs):
    s = Store()
    for r in refs:
        if r in s.tags():
            s.remove(r)


def test_build_run_and_cached_rebuild(ctx):
    import boxkit

    try:
        first = build_file(str(ctx / "Boxfile"), "bk-test-app:v1", str(ctx), log=None, no_cache=True)
        assert first.built_steps == 3 and first.cached_steps == 0
        r = boxkit.run("bk-test-app:v1")
        assert r.exit_code == 0 and r.stdout.strip() == "app v1 prod built"
        r = boxkit.run("bk-test-app:v1", ["sh", "-c", "test -e /bin/vi || echo deleted"])
        assert r.stdout.strip() == "deleted"  # the RUN's deletion is a whiteout in its layer

        t = time.monotonic()
        again = build_file(str(ctx / "Boxfile"), "bk-test-app:v1", str(ctx), log=None)
        elapsed = time.monotonic() - t
        assert again.cached_steps == 3 and again.built_steps == 0
        assert again.digest == first.digest  # the same image, not a look-alike
        assert sum(1 for line in again.log if line == " ---> CACHED") == 3
        assert elapsed < 2.0  # the bench measures it properly; this only catches a cache that misses

        (ctx / "app.sh").write_text('echo "app v2"\n')  # change the app only
        v2 = build_file(str(ctx / "Boxfile"), "bk-test-app:v2", str(ctx), log=None)
        assert v2.cached_steps == 1 and v2.built_steps == 2  # deps cached; app and the RUN after it rebuilt
        s = Store()
        h1 = [h["diff_id"] for h in s.history("bk-test-app:v1") if h["diff_id"]]
        h2 = [h["diff_id"] for h in s.history("bk-test-app:v2") if h["diff_id"]]
        assert h1[-2:] == h2[-2:] and h1[1] != h2[1]  # base + deps shared, the app layer differs
        assert s.df()["shared_bytes"] > 0
    finally:
        _rmi("bk-test-app:v1", "bk-test-app:v2")


def test_failed_run_and_missing_copy_leave_no_image(ctx):
    s = Store()
    (ctx / "Bad").write_text("FROM busybox\nRUN exit 3\n")
    from boxkit.errors import BoxkitError

    with pytest.raises(BoxkitError, match="exited with 3"):
        build_file(str(ctx / "Bad"), "bk-test-bad:1", str(ctx), log=None)
    (ctx / "Missing").write_text("FROM busybox\nCOPY nothere /x\n")
    with pytest.raises(NotFoundError, match="nothere"):
        build_file(str(ctx / "Missing"), "bk-test-bad:1", str(ctx), log=None)
    (ctx / "Escape").write_text("FROM busybox\nCOPY ../../etc/passwd /x\n")
    with pytest.raises(SpecError, match="outside the build context"):
        build_file(str(ctx / "Escape"), "bk-test-bad:1", str(ctx), log=None)
    assert "bk-test-bad:1" not in s.tags()
    assert not any(t.startswith("boxkit-build-") for t in s.tags())  # the RUN's temporary tag is gone


def test_commit_a_running_container(tmp_path):
    import boxkit
    from boxkit.build.commit import commit_container

    # the note is written last: once it is in the upper dir, so is the whiteout of /bin/ls
    c = boxkit.run("busybox", ["sh", "-c", "rm /bin/ls; echo committed > /note.tmp; mv /note.tmp /note; sleep 30"],
                   detach=True, name="bk-test-commit")
    try:
        deadline = time.monotonic() + 5
        while not os.path.exists(os.path.join(c.upper_dir, "note")) and time.monotonic() < deadline:
            time.sleep(0.05)
        commit_container("bk-test-commit", "bk-test-committed:1")
    finally:
        c.remove()
    try:
        r = boxkit.run("bk-test-committed:1", ["sh", "-c", "cat /note; test -e /bin/ls || echo no-ls; "
                                                           "cat /etc/hostname"])
        lines = r.stdout.split()
        assert lines[:2] == ["committed", "no-ls"]
        assert lines[2] != c.id  # the old container's hostname file was not committed
        hist = Store().history("bk-test-committed:1")
        assert hist[0]["created_by"].startswith("boxkit commit") and hist[0]["size"] > 0
    finally:
        _rmi("bk-test-committed:1")


def test_a_new_cache_scope_builds_every_step_and_the_same_sources_make_the_same_layers(tmp_path):
    """The course's first builds: a fresh cache_scope builds (no CACHED from an earlier run), the next
    build in that scope is all CACHED, and a COPY layer's directories take the sources' mtime, not
    the clock's, so another scope's build of the same files yields the very same layer ids."""
    (tmp_path / "app.sh").write_text("echo hi\n")
    os.utime(tmp_path / "app.sh", (1767225600, 1767225600))
    (tmp_path / "Boxfile").write_text("FROM busybox\nCOPY app.sh /app/\nCMD [\"sh\", \"/app/app.sh\"]\n")
    scope = f"test-{time.monotonic_ns()}"
    try:
        first = build_file(str(tmp_path / "Boxfile"), "scope-test:1", str(tmp_path), log=None, cache_scope=scope)
        again = build_file(str(tmp_path / "Boxfile"), "scope-test:1", str(tmp_path), log=None, cache_scope=scope)
        assert (first.built_steps, first.cached_steps) == (1, 0)
        assert (again.built_steps, again.cached_steps) == (0, 1) and again.digest == first.digest
        time.sleep(1.1)   # a clock-stamped /app would now differ by a second
        other = build_file(str(tmp_path / "Boxfile"), "scope-test:2", str(tmp_path), log=None,
                           cache_scope=scope + "-other")
        assert other.built_steps == 1
        s = Store()
        assert [r["diff_id"] for r in s.layers_of("scope-test:2")] == [r["diff_id"] for r in s.layers_of("scope-test:1")]
    finally:
        _rmi("scope-test:1", "scope-test:2")
