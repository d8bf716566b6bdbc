"""A real webhook receiver for tests (tests/test_webhooks.py, tests/test_alerts.py): an
http.server on localhost that checks the gateway's signature with its own HMAC code."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SECRET = "whsec-test-0123456789abcdef"


# --- a real receiver -------------------------------------------------------------------------


@dataclass
class Receiver:
    """A webhook endpoint as an enterprise would run one: checks the signature over the
    exact bytes and the timestamp's age (its own HMAC code, not the gateway's), keeps what
    it got, answers `status`."""

    secret: bytes
    port: int = 0
    status: int = 204
    got: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                problem = receiver.check(dict(self.headers), body)
                if problem:
                    receiver.refused.append(problem)
                    self.send_response(401)
                else:
                    receiver.got.append({"headers": dict(self.headers), "body": json.loads(body)})
                    self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def check(self, headers: dict[str, str], body: bytes) -> str | None:
        stamp = headers.get("X-Gateway-Timestamp", "")
        given = headers.get("X-Gateway-Signature", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            return f"timestamp {stamp!r} missing or too old"
        mac = hmac.new(self.secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, f"sha256={mac}"):
            return "signature does not match"
        return None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/gateway"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def changes(self) -> list[dict[str, Any]]:
        return [c for g in self.got for c in g["body"]["changes"]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def secret_file(base: Path) -> Path:
    path = base / "webhook.secret"
    path.write_text(SECRET + "\n")
    path.chmod(0o600)
    return path
