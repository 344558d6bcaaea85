"""The load generator is bounded by a count of served requests, so a demo's outcome does not depend on
the machine's speed (issue 11)."""

import http.server
import threading

import pytest

from boxkit import loadgen


@pytest.fixture
def server():
    served = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            served.append(1)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/", served
    srv.shutdown()
    srv.server_close()


def test_exactly_the_count_is_served(server):
    url, served = server
    res = loadgen.http_load(url, requests=137, concurrency=4)
    assert res.requests == 137 and len(served) == 137
    assert len(res.latencies_ms) == 137 and not res.timed_out and res.errors == 0


def test_a_dead_server_ends_the_run_by_its_error_bound():
    # port 9 on localhost: nothing listens, every request is refused at once
    res = loadgen.http_load("http://127.0.0.1:9/", requests=10, concurrency=2, max_errors=6, max_seconds=30)
    assert res.requests == 0 and res.timed_out
    assert 6 <= res.errors < 6 + 2   # each worker may have one request in flight when the bound is hit
    assert res.seconds < 10


def test_bad_bounds_are_refused():
    with pytest.raises(ValueError):
        loadgen.http_load("http://127.0.0.1:9/", requests=0)
