"""Serves the repository's web/ folder on its own origin (127.0.0.1, a free port), for the browser tests.

    python3 Tests/Browser/static_server.py [--port N] [--root web]   # prints "serving http://127.0.0.1:PORT"

The page's origin must differ from the agent's: the agent checks the Origin of every request against its allowlist.
"""

import argparse
import functools
import http.server
import os
import threading

TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".html": "text/html; charset=utf-8",
         ".png": "image/png", ".svg": "image/svg+xml"}


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def end_headers(self):
        # Always the page as it is on disk: a test never runs yesterday's script from the cache.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format, *args):
        pass


class StaticServer:
    """A threaded server for `root` on 127.0.0.1:`port` (0: a free one); `origin` is its web origin."""

    def __init__(self, root, port=0):
        handler = functools.partial(Handler, directory=os.path.abspath(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.port = self.httpd.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", "..", "web"))
    arguments = parser.parse_args()
    server = StaticServer(arguments.root, arguments.port)
    print(f"serving {server.origin}", flush=True)
    try:
        server.thread.join()
    except KeyboardInterrupt:
        server.close()
