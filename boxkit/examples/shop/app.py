"""A tiny shop: each request burns ~5 ms of CPU and keeps 32 KiB (a cache that never shrinks)."""
import hashlib
import http.server
import os

CACHE = []
VERSION = open(os.path.join(os.path.dirname(__file__), "VERSION")).read().strip()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        h = hashlib.sha256()
        for _ in range(2000):
            h.update(b"x" * 64)
        CACHE.append(b"c" * (32 << 10))
        body = f"shop {VERSION}: {len(CACHE)} orders\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
