"""Our Django app as a real HTTP server on a free 127.0.0.1 port, in a background thread."""

from __future__ import annotations

import threading

from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002  (the stdlib's signature)
        pass


class LiveServer:
    """`with LiveServer() as server: server.url` — Django's threaded WSGI server, one thread per request
    (each closes its database connection when the request ends)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.httpd = ThreadedWSGIServer((host, port), _QuietHandler, allow_reuse_address=False)
        self.httpd.set_app(WSGIHandler())
        self.host, self.port = self.httpd.server_address[:2]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="demo-api-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
