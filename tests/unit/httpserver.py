"""A real HTTP server on 127.0.0.1, in a thread, that plays scripted replies per path.

Each request to a path takes the next scripted ``Reply`` for it; the last one repeats. Replies can
delay their headers, drip their headers or body one byte at a time, cut the body off after N bytes
(then close the connection), omit Content-Length, or redirect. ``hits`` counts requests per path so
tests can check retries. Kept beside pytest-httpserver (used by the newer tests) because these
misbehaviours (drips, cuts) need control of the socket that werkzeug's server does not give.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_headers: float = 0.0  # wait this long before sending anything
    cut_after: int | None = None  # send only this many body bytes, then close
    content_length: bool = True  # announce Content-Length (else the body runs to EOF)
    drip: float = 0.0  # send the body one byte at a time, this many seconds apart
    drip_headers: float = 0.0  # send the status line and headers one byte at a time


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status=status, headers={"Location": location})


class ScriptedServer:
    def __init__(self) -> None:
        self._scripts: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        self.hits: Counter[str] = Counter()
        self.stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:
                server._serve(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients that gave up (timeouts) make the handler's writes fail

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *replies: Reply) -> str:
        with self._lock:
            self._scripts[path] = list(replies)
        return self.url(path)

    def _next(self, path: str) -> Reply | None:
        with self._lock:
            self.hits[path] += 1
            replies = self._scripts.get(path)
            if not replies:
                return None
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        reply = self._next(h.path)
        if reply is None:
            h.send_error(404)
            return
        if reply.delay_headers and self.stopping.wait(reply.delay_headers):
            return
        head = [f"HTTP/1.0 {reply.status} {HTTPStatus(reply.status).phrase}\r\n"]
        head += [f"{key}: {value}\r\n" for key, value in reply.headers.items()]
        if reply.content_length:
            head.append(f"Content-Length: {len(reply.body)}\r\n")
        head.append("\r\n")
        body = reply.body if reply.cut_after is None else reply.body[: reply.cut_after]
        try:
            self._send(h, "".join(head).encode("latin-1"), reply.drip_headers)
            self._send(h, body, reply.drip)
        except OSError:
            return  # the client gave up
        if reply.cut_after is not None:
            h.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, h: BaseHTTPRequestHandler, data: bytes, drip: float) -> None:
        if not drip:
            h.wfile.write(data)
            h.wfile.flush()
            return
        for i in range(len(data)):
            if self.stopping.wait(drip):
                return
            h.wfile.write(data[i : i + 1])
            h.wfile.flush()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def running_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def refused_url(path: str = "/x") -> str:
    """A URL on a port nobody listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


@contextmanager
def tls_header_drip(cert: str, key: str, drip: float = 0.05) -> Iterator[str]:
    """An https server on 127.0.0.1 that drips a response's headers one byte at a time, for ever
    (until the test ends); yields its URL. ``cert`` and ``key`` are PEM files for 127.0.0.1."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.1)
    stopping = threading.Event()

    def handle(conn: socket.socket) -> None:
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(4096)
                head = b"HTTP/1.0 200 OK\r\nX-Pad: "
                while not stopping.wait(drip):
                    tls.send(head[:1] or b"p")
                    head = head[1:]
        except OSError:
            pass  # the client went away

    def serve() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}/t.csv"
    finally:
        stopping.set()
        listener.close()
