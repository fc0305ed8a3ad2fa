"""A webhook receiver on localhost (http.server in a thread) that records what it gets, and the signature check
a receiver makes (the README's, in Python)."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """Whether `header` (X-CDP-Signature) signs `body` with `secret`, made within `tolerance` seconds."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", "")) and abs(time.time() - int(parts["t"])) < tolerance


@dataclass
class Received:
    """What the receiver got: (headers, raw body) per request, in arrival order (header names in any case)."""

    requests: list[tuple[Message, bytes]] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]


Answer = Callable[[dict[str, Any], int], int]
"""The status to answer an event with, given the event and how many requests came before it."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def receiver(port: int, answer: Answer = lambda event, seen: 200, delay: float = 0) -> Iterator[Received]:
    """A receiver listening on `port` while the context lasts, answering each event as `answer` says."""
    got = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen = len(got.requests)
            got.requests.append((self.headers, body))
            time.sleep(delay)
            self.send_response(answer(json.loads(body), seen))
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield got
    finally:
        server.shutdown()
        server.server_close()
