"""A small HTTP server that plays a customer's callback endpoint for the tests."""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from callbacks.signing import signature_is_valid
from tests.pipeline.carrier import SHUTDOWN_POLL_SECONDS


@dataclass
class ReceivedRequest:
    path: str
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def events(self) -> list[dict]:
        """The events of the request, whether it carried one or a batch."""
        document = self.json
        return document["events"] if "events" in document else [document]

    def is_signed_with(self, secret: str) -> bool:
        return signature_is_valid(body=self.body, secret=secret, header=self.headers.get("X-Signature", ""))


@dataclass
class Receiver:
    answers: list = field(default_factory=list)
    requests: list[ReceivedRequest] = field(default_factory=list)
    tls_context: object = None  # an ssl.SSLContext: serve HTTPS

    def __enter__(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(ReceivedRequest(self.path, dict(self.headers), body))
                answer = receiver.answers.pop(0) if receiver.answers else 200
                if isinstance(answer, tuple) and answer[0] == "drip":
                    # Headers a byte at a time: every read gets something, the answer never ends.
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    for _ in range(int(answer[1] / 0.1)):
                        self.wfile.write(b"X")
                        self.wfile.flush()
                        time.sleep(0.1)
                    return
                if isinstance(answer, tuple) and answer[0] == "sleep":
                    time.sleep(answer[1])
                    answer = 200
                reply = json.dumps({"answer": answer, "note": "x" * 300}).encode()
                self.send_response(answer)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls_context is not None:
            self.server.socket = self.tls_context.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS}, daemon=True
        )
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/sms"

    @property
    def events(self) -> list[dict]:
        return [event for request in self.requests for event in request.events]
