"""A test SMSC: what a carrier's SMPP server does, for Kannel to bind to. Tests only, never the product.

Built on `smpp34`'s server side. It accepts any bind, answers every `submit_sm` with a decimal
message id, reassembles concatenated parts (UDH), and then sends a delivery receipt (`deliver_sm`
with esm_class 0x04, the SMPP 3.4 receipt text) for each submit that asked for one, following the
simulator channel's convention on the recipient's last digits:

- ending 500, 510, …, 590: fails, with the (stat, err) that the default (stat, err) → return code
  table in the console maps to that code (`FAILURES` below);
- ending 000: no receipt, ever;
- anything else: delivered.

Receipts wait while no bind can take them (Kannel restarting) and go out after the next bind, as
a real SMSC stores and forwards them. `mo()` sends a message from a handset (MO). Every submit
is recorded, so a test can count how often each message reached the carrier.

It runs in a process of its own (`SmscProcess`, or `python -m tests.kannel.smsc --port 2775
--control-port 2780` as `make kannel-demo` does), driven through a small control port:
`/status` and `/messages` (JSON), `/mo?from=%2B819012345678&text=STOP`, `/hold` and `/release`
(receipts wait while held).
"""

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import smpp34

logger = logging.getLogger("tests.kannel.smsc")
ROOT = Path(__file__).resolve().parents[2]

# Return code → the (stat, err) a carrier would put in the receipt. The err values are GSM MAP
# errors, which the console's default SmppErrorMapping rows turn back into these codes.
FAILURES = {
    500: ("UNDELIV", "001"),  # unknown subscriber
    510: ("UNDELIV", "009"),  # illegal subscriber
    520: ("UNDELIV", "013"),  # call barred
    530: ("UNDELIV", "031"),  # subscriber busy for MT SMS
    540: ("UNDELIV", "006"),  # absent subscriber SM: no paging response
    550: ("REJECTD", "000"),  # rejected by the SMSC's content policy
    560: ("UNDELIV", "032"),  # SM delivery failure (memory full)
    570: ("EXPIRED", "000"),  # validity expired: out of coverage
    580: ("UNDELIV", "027"),  # absent subscriber: handset off
    590: ("UNDELIV", "034"),  # system failure
}
NO_RECEIPT_SUFFIX = "000"

# GSM 03.38 default alphabet (one septet per octet, as Kannel sends data_coding 0) and its
# extension table behind 0x1B.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~", 0x3E: "]"}
GSM_EXTENSION |= {0x40: "|", 0x65: "€"}


def gsm_decode(data: bytes) -> str:
    out, escape = [], False
    for byte in data:
        if escape:
            out.append(GSM_EXTENSION.get(byte, " "))
            escape = False
        elif byte == 0x1B:
            escape = True
        else:
            out.append(GSM_BASIC[byte & 0x7F])
    return "".join(out)


def gsm_encode(text: str) -> bytes | None:
    """The text in the GSM default alphabet, or None when it needs UCS-2."""
    reverse_extension = {char: code for code, char in GSM_EXTENSION.items()}
    out = bytearray()
    for char in text:
        if char in reverse_extension:
            out += bytes([0x1B, reverse_extension[char]])
        elif char in GSM_BASIC and char != "\x1b":
            out.append(GSM_BASIC.index(char))
        else:
            return None
    return bytes(out)


def decode_text(data_coding: int, payload: bytes) -> str:
    if data_coding == 8:
        return payload.decode("utf-16-be", errors="replace")
    if data_coding in (3, 4):  # Latin-1, 8-bit binary shown as Latin-1
        return payload.decode("latin-1")
    return gsm_decode(payload)


def split_udh(esm_class: int, short_message: bytes) -> tuple[tuple[int, int, int] | None, bytes]:
    """(reference, total, sequence) of a concatenated part, and the payload after the UDH."""
    if not esm_class & 0x40 or not short_message:
        return None, short_message
    length = short_message[0]
    udh, payload = short_message[1 : 1 + length], short_message[1 + length :]
    index = 0
    while index + 1 < len(udh):
        tag, size = udh[index], udh[index + 1]
        value = udh[index + 2 : index + 2 + size]
        if tag == 0x00 and size == 3:
            return (value[0], value[1], value[2]), payload
        if tag == 0x08 and size == 4:
            return (value[0] << 8 | value[1], value[2], value[3]), payload
        index += 2 + size
    return None, payload


@dataclass
class Submit:
    """One submit_sm as the SMSC received it."""

    message_id: str
    source: str
    destination: str
    data_coding: int
    registered_delivery: int
    part: tuple[int, int, int] | None
    text: str
    at: float


@dataclass
class CarriedMessage:
    """A whole message as the handset sees it: one submit, or every part of a concatenated one."""

    destination: str
    text: str
    data_coding: int
    submits: list[Submit] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def smpp_time(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%y%m%d%H%M%S")


class TestSmsc:
    """The SMSC, running its asyncio loop in a thread of its own; every public method is thread-safe."""

    __test__ = False  # not a pytest test class

    def __init__(self, *, port: int | None = None, host: str = "127.0.0.1", receipt_delay: float = 0.05):
        self.host = host
        self.port = port or free_port()
        self.receipt_delay = receipt_delay
        self.submits: list[Submit] = []
        self.messages: list[CarriedMessage] = []
        self.receipts_sent: list[str] = []
        self.mo_sent: list[tuple[str, str]] = []
        self.binds = 0
        self.hold_receipts = False
        self._lock = threading.Lock()
        # Ids never repeat across runs: Kannel keeps pending receipts by id in its DLR store.
        self._next_id = int(time.time() * 1000)
        self._parts: dict[tuple[str, int], dict[int, Submit]] = defaultdict(dict)
        self._sessions: dict[str, smpp34.Esme] = {}
        self._outbox: list[tuple[str, str, bytes, int, int]] = []  # (to, from, payload, esm_class, coding)
        self._wake: asyncio.Event | None = None
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    # --- running -------------------------------------------------------------------------------

    def start(self) -> "TestSmsc":
        self._thread = threading.Thread(target=self._run, name="test-smsc", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the test SMSC did not start")
        if self._error:
            raise RuntimeError(f"the test SMSC did not start: {self._error}")
        return self

    def stop(self) -> None:
        if self._loop and self._stopping and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread:
            self._thread.join(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        try:
            self._server = smpp34.Server(host=self.host, port=self.port, system_id="TESTSMSC")
            await self._server.start()
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._started.set()
            return
        tasks = [asyncio.create_task(self._events()), asyncio.create_task(self._sender())]
        self._started.set()
        await self._stopping.wait()
        for task in tasks:
            task.cancel()
        try:
            await self._server.stop()
        except Exception:
            logger.exception("stopping the SMPP server")

    # --- what the carrier does -----------------------------------------------------------------

    async def _events(self) -> None:
        while True:
            event = await self._server.next()
            if isinstance(event, smpp34.Esme):
                with self._lock:
                    self._sessions[event.session_id] = event
                    self.binds += 1
                logger.info("bind from %s (%s)", event.system_id, event.session_id)
                self._wake.set()
            elif isinstance(event, smpp34.Unbound):
                with self._lock:
                    self._sessions.pop(event.session_id, None)
                logger.info("unbound %s", event.session_id)
            elif isinstance(event, smpp34.SubmitSmEvent):
                self._submit(event)

    def _submit(self, event) -> None:
        with self._lock:
            self._next_id += 1
            message_id = str(self._next_id)
            part, payload = split_udh(event.esm_class, event.short_message)
            submit = Submit(
                message_id=message_id,
                source=event.source_addr,
                destination=event.destination_addr,
                data_coding=event.data_coding,
                registered_delivery=event.registered_delivery,
                part=part,
                text=decode_text(event.data_coding, payload),
                at=time.time(),
            )
            self.submits.append(submit)
            self._carry(submit)
        event.accept(message_id)
        # A receipt only for a submit that asked for one: Kannel asks on the first part of a
        # concatenated message, and that receipt stands for the whole message.
        if submit.registered_delivery & 0x01:
            receipt = self._receipt_text(submit)
            if receipt is not None:
                self._loop.call_later(self.receipt_delay, self._queue_receipt, submit, receipt)

    def _carry(self, submit: Submit) -> None:
        if submit.part is None:
            self.messages.append(
                CarriedMessage(submit.destination, submit.text, submit.data_coding, [submit])
            )
            return
        reference, total, sequence = submit.part
        parts = self._parts[(submit.destination, reference)]
        parts[sequence] = submit
        if len(parts) == total:
            ordered = [parts[i] for i in sorted(parts)]
            self.messages.append(
                CarriedMessage(
                    submit.destination, "".join(p.text for p in ordered), submit.data_coding, ordered
                )
            )
            del self._parts[(submit.destination, reference)]

    def _receipt_text(self, submit: Submit) -> str | None:
        suffix = submit.destination[-3:]
        if suffix == NO_RECEIPT_SUFFIX:
            return None
        stat, err = ("DELIVRD", "000")
        if suffix.isdigit() and int(suffix) in FAILURES:
            stat, err = FAILURES[int(suffix)]
        now = dt.datetime.now(dt.UTC)
        delivered = "001" if stat == "DELIVRD" else "000"
        return (
            f"id:{submit.message_id} sub:001 dlvrd:{delivered} submit date:{smpp_time(now)} "
            f"done date:{smpp_time(now)} stat:{stat} err:{err} text:{submit.text[:20]}"
        )

    def _queue_receipt(self, submit: Submit, receipt: str) -> None:
        self._outbox.append(
            (submit.source, submit.destination, receipt.encode("latin-1", "replace"), 0x04, 0)
        )
        self._wake.set()

    async def _sender(self) -> None:
        """Send what waits (receipts, MO) through a bound session; keep it while none can take it."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while (index := self._next_to_send()) is not None:
                with self._lock:
                    sessions = [s for s in self._sessions.values() if s.can_receive]
                if not sessions:
                    break
                to, source, payload, esm_class, coding = self._outbox[index]
                try:
                    answer = await sessions[0].deliver_sm(
                        destination_addr=to,
                        source_addr=source,
                        source_addr_ton=1,
                        source_addr_npi=1,
                        esm_class=esm_class,
                        data_coding=coding,
                        short_message=payload,
                    )
                except Exception:
                    logger.info("deliver_sm failed; keeping it for the next bind", exc_info=True)
                    with self._lock:
                        for session_id, session in list(self._sessions.items()):
                            if session is sessions[0]:
                                del self._sessions[session_id]
                    await asyncio.sleep(0.2)
                    continue
                if not answer.is_success:
                    logger.info("deliver_sm refused (status %s); retrying", answer.command_status)
                    await asyncio.sleep(0.2)
                    continue
                self._outbox.pop(index)  # only this coroutine removes items: the index still holds
                if esm_class == 0x04:
                    self.receipts_sent.append(payload.decode("latin-1"))
            if self._next_to_send() is not None:
                await asyncio.sleep(0.2)
                self._wake.set()

    def _next_to_send(self) -> int | None:
        """The first waiting item that may go now: receipts wait while they are held, MO never."""
        for index, item in enumerate(self._outbox):
            if not (self.hold_receipts and item[3] == 0x04):
                return index
        return None

    # --- for tests -----------------------------------------------------------------------------

    def mo(self, *, source: str, text: str, destination: str = "12345") -> None:
        """A handset sends `text` from `source` (E.164) to the platform's number."""
        gsm = gsm_encode(text)
        payload, coding = (gsm, 0) if gsm is not None else (text.encode("utf-16-be"), 8)
        self.mo_sent.append((source, text))
        self._loop.call_soon_threadsafe(self._queue_mo, destination, source.lstrip("+"), payload, coding)

    def _queue_mo(self, destination, source, payload, coding) -> None:
        self._outbox.append((destination, source, payload, 0x00, coding))
        self._wake.set()

    def release_receipts(self) -> None:
        self.hold_receipts = False
        self._loop.call_soon_threadsafe(self._wake.set)

    def status(self) -> dict:
        with self._lock:
            return {
                "bound": any(session.can_receive for session in self._sessions.values()),
                "binds": self.binds,
                "submits": len(self.submits),
                "messages": len(self.messages),
                "receipts_sent": len(self.receipts_sent),
                "receipts_waiting": sum(1 for item in self._outbox if item[3] == 0x04),
                "mo_sent": len(self.mo_sent),
                "holding_receipts": self.hold_receipts,
            }

    def carried(self) -> list[dict]:
        with self._lock:
            return [
                {
                    "destination": "+" + m.destination.lstrip("+"),
                    "text": m.text,
                    "data_coding": m.data_coding,
                    "parts": len(m.submits),
                    "registered_delivery": [s.registered_delivery for s in m.submits],
                    "message_ids": [s.message_id for s in m.submits],
                }
                for m in self.messages
            ]


def _control_server(smsc: TestSmsc, port: int) -> ThreadingHTTPServer:
    """GET /status, /messages (JSON), /mo?from=…&text=…, /hold and /release (receipts)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            if url.path == "/mo":
                if not (query.get("from") and query.get("text")):
                    return self._answer(400, {"detail": "GET /mo?from=+81…&text=…"})
                smsc.mo(source=query["from"], text=query["text"])
                return self._answer(202, {"queued": True})
            if url.path == "/status":
                return self._answer(200, smsc.status())
            if url.path == "/messages":
                return self._answer(200, smsc.carried())
            if url.path == "/hold":
                smsc.hold_receipts = True
                return self._answer(200, smsc.status())
            if url.path == "/release":
                smsc.release_receipts()
                return self._answer(200, smsc.status())
            return self._answer(404, {"detail": "/status, /messages, /mo, /hold, /release"})

        def _answer(self, status: int, payload):
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class SmscProcess:
    """The test SMSC in a process of its own, driven through its control port.

    Tests talk to it as to any outside carrier; its SMPP engine (Rust threads) stays out of the
    test process."""

    def __init__(
        self,
        *,
        directory: Path,
        receipt_delay: float = 0.05,
        port: int | None = None,
        control_port: int | None = None,
    ):
        self.port, self.control_port = port or free_port(), control_port or free_port()
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.receipt_delay = receipt_delay
        self.process: subprocess.Popen | None = None

    def start(self, *, timeout: float = 20) -> "SmscProcess":
        with open(self.directory / "smsc.log", "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.kannel.smsc",
                    "--port",
                    str(self.port),
                    "--control-port",
                    str(self.control_port),
                    "--receipt-delay",
                    str(self.receipt_delay),
                ],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the test SMSC exited; see {self.directory / 'smsc.log'}")
            try:
                self.status()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError("the test SMSC's control port did not answer") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _get(self, path: str, **params):
        url = f"http://127.0.0.1:{self.control_port}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as answer:
            return json.loads(answer.read())

    def status(self) -> dict:
        return self._get("/status")

    def is_bound(self) -> bool:
        return self.status()["bound"]

    def messages(self) -> list[dict]:
        """Every whole message the carrier took: destination (+81…), text, data_coding, parts."""
        return self._get("/messages")

    def carried_to(self, destination: str) -> list[dict]:
        return [m for m in self.messages() if m["destination"] == destination]

    def mo(self, *, source: str, text: str) -> None:
        self._get("/mo", **{"from": source, "text": text})

    def hold_receipts(self) -> None:
        self._get("/hold")

    def release_receipts(self) -> None:
        self._get("/release")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=2775)
    parser.add_argument("--control-port", type=int, default=2780)
    parser.add_argument("--receipt-delay", type=float, default=1.0, help="seconds before a receipt goes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s test-smsc %(message)s")
    smsc = TestSmsc(port=args.port, receipt_delay=args.receipt_delay).start()
    _control_server(smsc, args.control_port)
    print(
        f"test SMSC on 127.0.0.1:{args.port}; "
        f"MO: curl 'http://127.0.0.1:{args.control_port}/mo?from=%2B819012345678&text=STOP'",
        flush=True,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    last = None
    while not stopping.wait(5):
        now = smsc.status()
        if now != last:
            logger.info("%s", now)
            last = now
    # Leave without unwinding the SMPP engine's threads: nothing of this process needs to survive.
    os._exit(0)


if __name__ == "__main__":
    main()
