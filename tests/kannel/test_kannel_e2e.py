"""End to end through a real Kannel: the console (gunicorn, tasks eager, the ticker as beat) sends
through Debian's bearerbox and smsbox, run with deploy/kannel/kannel.conf, bound over SMPP to the
test SMSC (tests/kannel/smsc.py). Everything is checked through the public API and at the SMSC.

Skipped, saying so, where /usr/sbin/bearerbox is missing; `.ci/run` installs Kannel first, so CI
always runs it. `pytest -k kannel` selects these tests.
"""

import threading
import time
import uuid

import pytest

from tests.kannel import gateway as kannel_gateway
from tests.kannel.gateway import KannelGateway, wait_until
from tests.kannel.smsc import FAILURES, SmscProcess
from tests.kannel.stack import Console, database_for

pytestmark = [
    pytest.mark.kannel,
    pytest.mark.skipif(
        not kannel_gateway.is_installed(),
        reason=(
            f"Kannel is not installed ({kannel_gateway.BEARERBOX} missing): the end-to-end test through a "
            "real gateway is skipped. `apt-get install kannel` (as .ci/run does) to run it."
        ),
    ),
]

FINAL = {"delivered", "send_failed", "processing_failed"}
# The default intercept rules (DESIGN.md): code → scope, for the codes that intercept at all.
INTERCEPTING = {500: "global", 510: "global", 520: "local", 550: "local", 560: "global", 570: "global"}
REASONS = {
    500: "invalid_number",
    510: "suspended",
    520: "blacklisted",
    530: "busy",
    540: "no_answer",
    550: "content_intercepted",
    560: "device_fault",
    570: "out_of_service_area",
    580: "powered_off",
    590: "other",
}


class Stack:
    """What the tests talk to: the console's API as the customer, and the SMSC as the carrier."""

    def __init__(self, console, gateway, smsc, key, template_id):
        self.console, self.gateway, self.smsc = console, gateway, smsc
        self.api = console.api(key)
        self.template_id = template_id

    def url(self, path: str) -> str:
        return self.console.base_url + path

    def send(self, *messages: tuple[str, str], tag: str) -> list[int]:
        body = {
            "template": self.template_id,
            "tag": tag,
            "messages": [{"to": to, "vars": {"text": text}} for to, text in messages],
        }
        response = self.api.post(self.url("/api/v1/messages"), json=body, timeout=60)
        assert response.status_code == 202, response.text
        return [item["id"] for item in response.json()["messages"]]

    def messages(self, tag: str) -> dict[int, dict]:
        response = self.api.get(self.url("/api/v1/messages"), params={"tag": tag, "limit": 500}, timeout=30)
        assert response.status_code == 200, response.text
        return {row["id"]: row for row in response.json()["results"]}

    def message(self, message_id: int) -> dict:
        response = self.api.get(self.url(f"/api/v1/messages/{message_id}"), timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_final(self, tag: str, ids: list[int], *, timeout: float = 60) -> dict[int, dict]:
        def done():
            rows = self.messages(tag)
            return rows if all(rows.get(i, {}).get("status") in FINAL for i in ids) else None

        try:
            return wait_until(done, timeout=timeout, interval=0.5, what=f"messages {ids} to be final")
        except TimeoutError:
            rows = self.messages(tag)
            waiting = {
                i: rows.get(i, {}).get("status") for i in ids if rows.get(i, {}).get("status") not in FINAL
            }
            pytest.fail(f"not final in {timeout:.0f} s: {waiting}\n{self.diagnostics()}")

    def intercepts(self, phone: str) -> list[dict]:
        response = self.api.get(self.url("/api/v1/intercepts"), params={"phone": phone}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["results"]

    def replies(self, phone: str) -> list[dict]:
        response = self.api.get(self.url("/api/v1/replies"), params={"phone": phone}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["results"]

    def diagnostics(self) -> str:
        return f"{self.gateway.logs()}\n{self.console.logs()}\nSMSC: {self.smsc.status()}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("kannel-e2e")
    database_url, drop_database = database_for(directory)
    console = Console(directory, database_url=database_url)
    smsc = SmscProcess(directory=directory, receipt_delay=0.2).start()
    gateway = KannelGateway(directory, smsc_port=smsc.port)
    try:
        console.manage("migrate", "--verbosity", "0")
        lines = console.manage(
            "create_channel",
            "kannel",
            "--kind",
            "kannel",
            "--send-url",
            gateway.sendsms_url,
            "--username",
            gateway.username,
            "--password",
            gateway.password,
        )
        [get_url] = [line.strip() for line in lines if line.strip().startswith("get-url = ")]
        gateway.replies_url = get_url.removeprefix("get-url = ").strip('"')
        gateway.start()
        gateway.wait_bound()
        console.manage("create_account", "kannel-e2e", "--name", "Kannel E2E", "--channel", "kannel")
        key = console.manage("create_sms_user", "kannel-e2e", "e2e")[-1]
        template_id = int(
            console.manage(
                "create_template",
                "kannel-e2e",
                "free",
                "--type",
                "notification",
                "--body",
                "{{text}}",
                "--approved",
            )[-1]
        )
        console.start()
        yield Stack(console, gateway, smsc, key, template_id)
    finally:
        console.stop()
        gateway.stop()
        smsc.stop()
        drop_database()


def unique_tag() -> str:
    return "e2e-" + uuid.uuid4().hex[:8]


def test_kannel_delivers_a_message_through_the_real_gateway(stack):
    tag = unique_tag()
    [message_id] = stack.send(("+819012340001", "Your code is 4821"), tag=tag)
    rows = stack.wait_final(tag, [message_id])
    assert rows[message_id]["status"] == "delivered", stack.message(message_id)
    detail = stack.message(message_id)
    assert (detail["channel"], detail["channel_message_id"]) == ("kannel", f"kannel-{message_id}")
    assert detail["receipt_at"] and detail["channel_delivered_at"]
    log = [(event["kind"], event["detail"].get("status")) for event in detail["send_log"]]
    assert ("handed_to_channel", None) in log
    # The SMSC's ack (type 8) is logged, never final; smsbox may call it back after the delivery
    # report (both are queued at once), and then it is logged as ignored.
    assert {("receipt", "pending"), ("receipt_ignored", "pending")} & set(log)
    assert ("receipt", "delivered") in log
    [carried] = stack.smsc.carried_to("+819012340001")
    assert (carried["text"], carried["data_coding"], carried["parts"]) == ("Your code is 4821", 0, 1)


def test_kannel_return_codes_fail_with_their_intercepts(stack):
    tag = unique_tag()
    numbers = {code: f"+81901234{5000 + code}" for code in FAILURES}  # +819012345500 … 5590
    silent = "+819012346000"  # ending 000: the carrier never sends a receipt
    ids = stack.send(
        *[(numbers[code], f"Code test {code}") for code in sorted(FAILURES)], (silent, "silent"), tag=tag
    )
    by_code = dict(zip(sorted(FAILURES), ids, strict=False))
    rows = stack.wait_final(tag, list(by_code.values()))
    for code, message_id in by_code.items():
        row = rows[message_id]
        assert (row["status"], row["return_code"], row["reason"]) == ("send_failed", code, REASONS[code]), row
        stat, err = FAILURES[code]
        assert row["failure_detail"].startswith(f"stat:{stat} err:{err}")
        records = stack.intercepts(numbers[code])
        if code in INTERCEPTING:
            [record] = records
            assert (record["scope"], record["return_code"], record["is_live"]) == (
                INTERCEPTING[code],
                code,
                True,
            )
        else:
            assert records == [], code
    assert stack.messages(tag)[ids[-1]]["status"] == "awaiting_receipt"
    assert len(stack.smsc.carried_to(silent)) == 1


def test_kannel_two_part_ucs2_message_is_delivered_as_one(stack):
    tag = unique_tag()
    text = (
        "ご注文ありがとうございます。商品は本日発送いたしました。お届けは二、三日後の予定です。"
        "配送状況はマイページでご確認いただけます。またのご利用をお待ちしております。"
    )
    assert 70 < len(text) <= 134  # two UCS-2 parts
    [message_id] = stack.send(("+819012347001", text), tag=tag)
    rows = stack.wait_final(tag, [message_id])
    assert rows[message_id]["status"] == "delivered"
    assert rows[message_id]["message_count"] == 2
    [carried] = stack.smsc.carried_to("+819012347001")
    assert (carried["parts"], carried["data_coding"], carried["text"]) == (2, 8, text)  # UCS-2, intact
    # Kannel asks for a receipt on the first part only; that one receipt stands for the message.
    assert [rd & 1 for rd in carried["registered_delivery"]] == [1, 0]


def test_kannel_reply_stop_unsubscribes_the_number(stack):
    tag = unique_tag()
    phone = "+819012348001"
    [first] = stack.send((phone, "Spring sale starts today"), tag=tag)
    assert stack.wait_final(tag, [first])[first]["status"] == "delivered"
    stack.smsc.mo(source=phone, text="STOP")
    [reply] = wait_until(lambda: stack.replies(phone), timeout=30, interval=0.5, what="the reply")
    assert (reply["content"], reply["message"], reply["template"], reply["is_unsubscribe"]) == (
        "STOP",
        first,
        stack.template_id,
        True,
    )
    [second] = stack.send((phone, "Last day of the sale"), tag=tag)
    row = stack.wait_final(tag, [second])[second]
    assert (row["status"], row["reason"]) == ("processing_failed", "unsubscribed")
    assert len(stack.smsc.carried_to(phone)) == 1  # the second never reached the carrier


def test_kannel_restarted_mid_run_loses_nothing_and_sends_nothing_twice(stack):
    """Traffic before, during and after a restart of bearerbox and smsbox, with the receipts of
    the messages sent before it still at the carrier: every message is delivered, and each reached
    the carrier exactly once."""
    tag = unique_tag()
    numbers = iter(f"+81902000{n:04d}" for n in range(1, 1000))
    ids: list[int] = []
    sent: list[str] = []

    lock = threading.Lock()

    def send(count: int) -> list[int]:
        with lock:
            batch = [next(numbers) for _ in range(count)]
        new = stack.send(*[(number, f"restart test {number}") for number in batch], tag=tag)
        with lock:
            ids.extend(new)
            sent.extend(batch)
        return new

    stack.smsc.hold_receipts()  # Kannel must still know these DLRs after its restart
    for _ in range(3):
        send(5)
    assert wait_until(
        lambda: stack.smsc.status()["submits"] >= 15, timeout=30, what="the first 15 at the SMSC"
    )

    # One message every quarter second while Kannel goes down and comes back.
    keep_sending = threading.Event()
    keep_sending.set()
    failures: list[BaseException] = []

    def trickle():
        try:
            while keep_sending.is_set():
                send(1)
                time.sleep(0.25)
        except BaseException as exc:  # reported below
            failures.append(exc)

    sender = threading.Thread(target=trickle)
    sender.start()
    try:
        time.sleep(0.5)
        stack.gateway.stop()
        while_down = send(5)  # refused, retried with backoff
        stack.gateway.start()
        stack.gateway.wait_bound()
        time.sleep(0.5)
    finally:
        keep_sending.clear()
        sender.join(30)
    assert not failures, failures
    send(5)
    stack.smsc.release_receipts()

    rows = stack.wait_final(tag, ids, timeout=120)
    assert {rows[i]["status"] for i in ids} == {"delivered"}, {i: rows[i]["status"] for i in ids}
    for message_id in while_down:
        kinds = [event["kind"] for event in stack.message(message_id)["send_log"]]
        assert "channel_error" in kinds, (message_id, kinds)  # it was tried while Kannel was down
    carried = stack.smsc.messages()
    counts = {number: sum(1 for m in carried if m["destination"] == number) for number in sent}
    assert {number: count for number, count in counts.items() if count != 1} == {}, stack.diagnostics()
    for message_id in ids:
        kinds = [event["kind"] for event in stack.message(message_id)["send_log"]]
        assert kinds.count("handed_to_channel") == 1, (message_id, kinds)
