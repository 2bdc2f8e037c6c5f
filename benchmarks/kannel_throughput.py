"""Messages per second through a real Kannel with one SMPP bind, measured on this machine.

    .venv/bin/python -m benchmarks.kannel_throughput --messages 3000

Starts the test SMSC (tests/kannel/smsc.py, answering every submit_sm at once and sending each
receipt at once), Debian's bearerbox and smsbox with deploy/kannel/kannel.conf (throughput = 0:
no cap on the bind), and a DLR sink standing in for the console's webhook. The console's own
adapter (delivery.channels.kannel.KannelChannel) hands the messages over in batches of 100, as
dispatch does. Three figures:

- handed over: sendsms requests answered "0: Accepted" per second (smsbox → bearerbox);
- at the SMSC: submit_sm per second over the bind (bearerbox → SMSC);
- receipts back: type-1 DLR callbacks per second at the sink (SMSC → bearerbox → smsbox → HTTP).

No database: the console's recording and ingestion are measured by `make bench`.
"""

import argparse
import shutil
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from delivery.channels.base import Outbound
from delivery.channels.kannel import KannelChannel
from tests.kannel import gateway as kannel_gateway
from tests.kannel.gateway import KannelGateway, wait_until
from tests.kannel.smsc import SmscProcess

BATCH = 100


class _Server(ThreadingHTTPServer):
    # smsbox opens many callbacks at once; a short listen backlog would refuse some, and smsbox
    # would retry those only after its http-queue-delay (5 s).
    request_queue_size = 1024


class DlrSink:
    """Counts Kannel's DLR callbacks by type, and when each type-1 arrived."""

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.last_delivered_at = 0.0
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                with sink.lock:
                    kind = query.get("type", "?")
                    sink.counts[kind] = sink.counts.get(kind, 0) + 1
                    if kind == "1":
                        sink.last_delivered_at = time.monotonic()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/dlr"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self) -> int:
        with self.lock:
            return self.counts.get("1", 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4], help="sendsms requests in flight")
    args = parser.parse_args()
    if not kannel_gateway.is_installed():
        raise SystemExit(f"{kannel_gateway.BEARERBOX} is missing: apt-get install kannel")
    directory = Path(tempfile.mkdtemp(prefix="kannel-bench-"))
    sink = DlrSink()
    try:
        with SmscProcess(directory=directory, receipt_delay=0) as smsc:
            gateway = KannelGateway(directory, smsc_port=smsc.port, replies_url="http://127.0.0.1:9/unused")
            with gateway:
                gateway.wait_bound()
                ref = 0
                for concurrency in args.concurrency:
                    adapter = KannelChannel(
                        send_url=gateway.sendsms_url,
                        username=gateway.username,
                        password=gateway.password,
                        secret="bench",
                        dlr_endpoint=sink.url,
                        timeout=10,
                        concurrency=concurrency,
                    )
                    submits_before, delivered_before = smsc.status()["submits"], sink.delivered()
                    outbound = [
                        # Ending in 1: never a number the test SMSC fails or leaves without a receipt.
                        Outbound(
                            ref=ref + n, to=f"+8190{(ref + n) % 10**7:07d}1", content=f"Benchmark message {n}"
                        )
                        for n in range(1, args.messages + 1)
                    ]
                    ref += args.messages
                    started = time.monotonic()
                    accepted = 0
                    for start in range(0, len(outbound), BATCH):
                        accepted += len(adapter.send(outbound[start : start + BATCH]).accepted)
                    handed_s = time.monotonic() - started
                    wait_until(
                        lambda before=submits_before: smsc.status()["submits"] - before >= args.messages,
                        timeout=300,
                        interval=0.05,
                        what="every submit_sm at the SMSC",
                    )
                    submitted_s = time.monotonic() - started
                    wait_until(
                        lambda before=delivered_before: sink.delivered() - before >= args.messages,
                        timeout=120,
                        interval=0.05,
                        what=f"every delivery report (so far {sink.counts}, SMSC {smsc.status()})",
                    )
                    receipts_s = sink.last_delivered_at - started
                    print(
                        f"{args.messages} messages, one bind, {concurrency} sendsms in flight: "
                        f"handed over {accepted / handed_s:,.0f}/s ({handed_s:.1f} s), "
                        f"at the SMSC {args.messages / submitted_s:,.0f}/s ({submitted_s:.1f} s), "
                        f"receipts back {args.messages / receipts_s:,.0f}/s ({receipts_s:.1f} s)",
                        flush=True,
                    )
    finally:
        sink.server.shutdown()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
