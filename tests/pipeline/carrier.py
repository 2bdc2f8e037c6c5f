"""A small local carrier HTTP API for testing the `http` channel adapter over a real socket."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from delivery.channels.base import signature_problem

# How often a test server's loop looks for shutdown(): at the default 0.5 s, every test using
# one would spend half a second in its teardown.
SHUTDOWN_POLL_SECONDS = 0.01


class FakeCarrier:
    """Answers like a carrier. `mode`: "accept", "reject" (code 520), "error" (HTTP 500), "slow"
    (answers after `delay` seconds), "partial" (answers only the first ref), "scripted" (answers
    `script(messages)`, for answers a careless carrier might give). Records what it got."""

    def __init__(self, secret: str):
        self.secret = secret
        self.mode = "accept"
        self.delay = 0.0
        self.script = None
        self.received: list[dict] = []  # each message as sent, per accepted request
        self.bad_signatures = 0
        carrier = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if signature_problem(
                    body,
                    carrier.secret,
                    signature=self.headers.get("X-Signature"),
                    timestamp=self.headers.get("X-Signature-Timestamp"),
                    accepts_legacy=False,
                ):
                    carrier.bad_signatures += 1
                    return self._answer(401, {"error": "bad signature"})
                if carrier.mode == "slow":
                    time.sleep(carrier.delay)
                if carrier.mode == "error":
                    return self._answer(500, {"error": "internal"})
                messages = json.loads(body)["messages"]
                if carrier.mode == "scripted":
                    carrier.received.extend(messages)
                    return self._answer(200, carrier.script(messages))
                if carrier.mode == "reject":
                    return self._answer(
                        200,
                        {
                            "accepted": [],
                            "rejected": [
                                {"ref": m["ref"], "code": 520, "detail": "BLACKLISTED"} for m in messages
                            ],
                        },
                    )
                answered = messages[:1] if carrier.mode == "partial" else messages
                carrier.received.extend(answered)
                self._answer(
                    200,
                    {
                        "accepted": [{"ref": m["ref"], "id": f"c-{m['ref']}"} for m in answered],
                        "rejected": [],
                    },
                )

            def _answer(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/send"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def refs(self) -> list[int]:
        return [m["ref"] for m in self.received]
