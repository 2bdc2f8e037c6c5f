"""A stand-in for Kannel's smsbox on a real socket, answering `sendsms` the way smsbox does.

For the adapter's own tests (answers Kannel gives rarely, on demand); the real Kannel is in
test_kannel_e2e.py. `answer(params)` returns (HTTP status, body) or "drop" (read the request, then
close the connection without a word: the answer is lost).
"""

import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.pipeline.carrier import SHUTDOWN_POLL_SECONDS

ACCEPTED = (202, "0: Accepted for delivery")
QUEUED = (202, "3: Queued for later delivery")
AUTH_FAILED = (403, "Authorization failed for sendsms")
TEMPORAL = (503, "Temporal failure, try again later.")
NOT_ROUTABLE = (403, "Not routable. Do not try again.")
DENIED = (400, "Number(s) has/have been denied by white- and/or black-lists.")


class FakeSmsbox:
    def __init__(self):
        self.answer = lambda params: ACCEPTED
        self.delay = 0.0
        self.requests: list[dict] = []  # the parameters of every request that reached it
        self._lock = threading.Lock()
        box = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
                with box._lock:
                    box.requests.append(params)
                if box.delay:
                    time.sleep(box.delay)
                answer = box.answer(params)
                if answer == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                status, text = answer
                data = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: its answer is lost, as a test may want

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/cgi-bin/sendsms"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def tos(self) -> list[str]:
        with self._lock:
            return [params.get("to") for params in self.requests]
