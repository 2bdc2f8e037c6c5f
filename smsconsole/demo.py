"""The demo a fresh `make run` loads: three accounts and thirty days of traffic, through the real pipeline.

Every message goes through `messages_submit`, the eight checks, the simulator channel and receipt
ingestion; every reply through the replies inbox. The clock is replayed from thirty days ago to now
(`smsconsole.clock.frozen`), so request, delivery and receipt times, intercept expiries and frequency
limits all come out as they would have in real life.
"""

import datetime as dt
import heapq
import itertools
import json
import logging
import random
import sys
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from delivery.models import Channel, InboxItem, KeywordFilter, Template
from delivery.services.dispatch import due_messages_dispatch
from delivery.services.receipts import inbox_receive
from delivery.services.setup import channel_create, template_create
from delivery.services.submission import messages_submit
from smsconsole import clock
from smsconsole.celery import app as celery_app
from smsconsole.models import Account
from smsconsole.services import account_create, operator_create, sms_user_create

DEMO_OPERATOR = ("demo", "demo-password")
DEMO_STAFF = ("staff", "staff-password")
DAYS = 30
SEED = 20261128

CARRIERS = ["NTT docomo", "au (KDDI)", "SoftBank", "Rakuten Mobile"]
REPLIES = [
    ("ありがとうございます", 30),
    ("了解です", 20),
    ("OK", 15),
    ("予約を変更したいです。電話してもいいですか？", 8),
    ("Who is this?", 6),
    ("STOP", 8),
    ("配信停止", 8),
    ("ＳＴＯＰ", 3),
    ("stop sending me these", 4),
    ("もう送らないでください。やめてください", 3),
    ('<script>alert("hi")</script> lol', 1),
]
JST = ZoneInfo("Asia/Tokyo")
HOURLY_WEIGHTS_JST = [1, 1, 1, 1, 1, 2, 3, 6, 9, 10, 10, 10, 10, 10, 10, 10, 9, 9, 8, 8, 7, 5, 3, 2]
FILTER_KEYWORDS = ["casino", "カジノ", "bit.ly", "無料で稼げる"]
OUTAGE = dt.timedelta(hours=7)
OUTAGE_ACCOUNTS = {"acme-shop", "kumo-bank"}
SHOWCASE_ACCOUNT = "acme-shop"


@dataclass
class DemoTemplate:
    name: str
    type: str
    body: str
    approved: bool = True


@dataclass
class DemoAccount:
    slug: str
    name: str
    sms_users: list[str]
    templates: list[DemoTemplate]
    # (template name, tag, events per day, recipients per event (min, max))
    traffic: list[tuple[str, str, float, tuple[int, int]]]
    operator: tuple[str, str] | None = None


ACCOUNTS = [
    DemoAccount(
        slug="acme-shop",
        name="ACME Online Shop",
        sms_users=["web-backend", "campaign-batch"],
        operator=DEMO_OPERATOR,
        templates=[
            DemoTemplate("login-otp", "verification", "【ACME】認証コード: {{code}}（5分間有効）"),
            DemoTemplate(
                "shipping", "notification", "【ACME】ご注文{{order}}を発送しました。お届け予定日: {{date}}"
            ),
            DemoTemplate(
                "winter-sale",
                "marketing",
                "【ACME】冬のセール開催中！全品{{discount}}%OFF。クーポン: {{coupon}} {{url}}"
                " 配信停止はSTOPと返信",
            ),
            DemoTemplate("spring-preview", "marketing", "【ACME】春の新作を先行公開 {{url}}", approved=False),
        ],
        traffic=[
            ("login-otp", "login", 8, (1, 1)),
            ("shipping", "shipping", 6, (10, 40)),
            ("winter-sale", "winter-sale", 0.5, (200, 400)),
            ("spring-preview", "spring", 0.1, (3, 8)),
        ],
    ),
    DemoAccount(
        slug="sakura-clinic",
        name="さくらクリニック",
        sms_users=["reservations"],
        operator=("sakura", "sakura-password"),
        templates=[
            DemoTemplate(
                "reminder",
                "notification",
                "{{name}}様 明日{{time}}にご予約があります。変更はお電話で。さくらクリニック",
            ),
            DemoTemplate("web-otp", "verification", "さくらクリニック 予約確認コード {{code}}"),
            DemoTemplate(
                "checkup-campaign",
                "marketing",
                "健康診断キャンペーン実施中。{{url}} 配信停止は「配信停止」と返信",
            ),
        ],
        traffic=[
            ("reminder", "reminder", 2, (30, 90)),
            ("web-otp", "web", 4, (1, 1)),
            ("checkup-campaign", "checkup-2026", 0.2, (200, 400)),
        ],
    ),
    DemoAccount(
        slug="kumo-bank",
        name="Kumo Bank",
        sms_users=["auth-service", "alerts"],
        operator=("kumo", "kumo-password"),
        templates=[
            DemoTemplate(
                "otp-en", "verification", "Kumo Bank: your one-time code is {{code}}. Never share it."
            ),
            DemoTemplate(
                "card-alert",
                "notification",
                "Kumo Bank: a payment of ¥{{amount}} was made with card ending {{last4}}.",
            ),
            DemoTemplate(
                "cashback",
                "marketing",
                "Kumo Bank: get {{rate}}% cashback this month! {{url}} Reply STOP to opt out",
            ),
        ],
        traffic=[
            ("otp-en", "login", 10, (1, 1)),
            ("card-alert", "card", 8, (1, 8)),
            ("cashback", "cashback-q4", 0.2, (200, 400)),
        ],
    ),
]


def demo_is_loaded() -> bool:
    return Account.objects.exists()


class Progress:
    """Progress of the replay: a bar redrawn on one line on a terminal, a few plain lines elsewhere."""

    # Not a terminal (a log, CI, a pipe): a line at each quarter, not one per update.
    PLAIN_STEPS = 4

    def __init__(self, total: int, out=sys.stderr):
        self.total, self.out, self.done = max(total, 1), out, 0
        isatty = getattr(out, "isatty", None)
        self.bar = None
        if isatty is not None and isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("  messages"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(file=out),
                transient=False,
            )
            self.task = self.bar.add_task("replay", total=self.total)
            self.bar.start()
        self.next_step = 1

    def advance(self, count: int = 1) -> None:
        self.done = min(self.done + count, self.total)
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done)
            return
        while (
            self.next_step <= self.PLAIN_STEPS and self.done * self.PLAIN_STEPS >= self.next_step * self.total
        ):
            self.out.write(f"  {self.done:,} of about {self.total:,} messages\n")
            self.out.flush()
            self.next_step += 1

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=self.total)
            self.bar.stop()


@dataclass(order=True)
class Event:
    at: dt.datetime
    order: int
    kind: str = field(compare=False)
    payload: dict = field(compare=False, default_factory=dict)
    # A send's scripted replies, planned once the send has happened.
    replies: list = field(compare=False, default_factory=list)


def demo_load(*, target_messages: int = 20_000, out=sys.stderr) -> dict:
    """Create the demo accounts and replay `target_messages` messages over the last thirty days."""
    celery_app.conf.task_always_eager = True  # the replayed clock only means something in-process
    # The outage below is part of the story; its warnings would bury the progress bar.
    logging.getLogger("delivery.services.dispatch").setLevel(logging.ERROR)
    rng = random.Random(SEED)
    now = timezone.now()
    start = now - dt.timedelta(days=DAYS - 0.5)
    with clock.frozen(start - dt.timedelta(hours=1)):
        world = _create_world(rng)

    order = itertools.count()
    timeline = _plan_traffic(rng, world, start=start, end=now, target_messages=target_messages, order=order)
    timeline += _plan_showcase(rng, world, start=start, end=now, order=order)
    progress = Progress(sum(len(e.payload.get("recipients", ())) for e in timeline), out=out)
    heapq.heapify(timeline)

    def schedule(at: dt.datetime, callback) -> None:
        # What the pipeline wants done later (the simulator's receipts, seconds after the hand-over)
        # happens at its own time on the replayed timeline.
        heapq.heappush(timeline, Event(at, next(order), "call", {"callback": callback}))

    with clock.replaying(schedule):
        while timeline:
            event = heapq.heappop(timeline)
            if event.at > now and event.kind != "call":
                continue
            # A receipt due after the replay's end arrives at its end (the clock never runs ahead).
            with clock.frozen(min(event.at, now)):
                _replay(event, world, rng, timeline, order, progress)
    # The carrier outage is over: the channel is back, and what waits for it goes out at its next
    # attempt (`make run` runs the periodic jobs; with a broker, beat does).
    Account.objects.filter(default_channel=world["down_channel"]).update(default_channel=world["channel"])
    progress.finish()
    return {"accounts": len(world["accounts"])}


def _replay(event: "Event", world: dict, rng, timeline: list, order, progress: Progress) -> None:
    if event.kind == "send":
        messages = messages_submit(**event.payload)
        progress.advance(len(messages))
        for reply_event in _replies_to(rng, messages, event, order):
            heapq.heappush(timeline, reply_event)
        for reply in event.replies:
            heapq.heappush(timeline, reply)
    elif event.kind == "reply":
        _post_reply(world["channel"], event)
    elif event.kind == "outage":
        Account.objects.filter(pk__in=event.payload["account_ids"]).update(
            default_channel=world["down_channel"]
        )
    elif event.kind == "tick":
        due_messages_dispatch()
    elif event.kind == "call":
        event.payload["callback"]()


def _create_world(rng: random.Random) -> dict:
    with transaction.atomic():
        channel = channel_create(code="sim", kind=Channel.Kind.SIMULATOR, simulated_failure_rate=0.06)
        # A carrier API that is down (nothing listens on port 9): its messages wait and retry.
        down_channel = channel_create(
            code="jp-carrier-b", kind=Channel.Kind.HTTP, send_url="http://127.0.0.1:9/send"
        )
        for word in FILTER_KEYWORDS:
            KeywordFilter.objects.create(word=word)
        get_user_model().objects.create_superuser(
            username=DEMO_STAFF[0], password=DEMO_STAFF[1], email="staff@example.com"
        )
        accounts = []
        for spec in ACCOUNTS:
            account = account_create(slug=spec.slug, name=spec.name, default_channel=channel)
            if spec.operator:
                operator_create(account=account, username=spec.operator[0], password=spec.operator[1])
            sms_users = [sms_user_create(account=account, name=name)[0] for name in spec.sms_users]
            templates = {
                t.name: template_create(
                    account=account, name=t.name, type=t.type, body=t.body, is_approved=t.approved
                )
                for t in spec.templates
            }
            accounts.append(
                {"spec": spec, "account": account, "sms_users": sms_users, "templates": templates}
            )
    # Customers of each account, plus numbers every account has on its lists (so one account's
    # invalid numbers block the others through the global intercept list).
    shared = [_phone(rng, suffix) for suffix in ["500"] * 25 + ["510", "560", "570"] * 5]
    for entry in accounts:
        entry["customers"] = [_phone(rng) for _ in range(3000)] + shared
        entry["customers"] += [_phone(rng, suffix) for suffix in ["000", "520", "550", "530", "580"] * 4]
    return {"channel": channel, "down_channel": down_channel, "accounts": accounts}


def _phone(rng: random.Random, suffix: str = "") -> str:
    # Japanese mobile numbers: 090/080 then a subscriber number that does not start with 0.
    digits = str(rng.randint(1, 9)) + "".join(str(rng.randrange(10)) for _ in range(7 - len(suffix))) + suffix
    return f"+81{rng.choice(['90', '80'])}{digits}"


def _plan_traffic(rng, world, *, start, end, target_messages, order) -> list[Event]:
    events: list[Event] = []
    span_days = (end - start).total_seconds() / 86400
    expected = sum(
        rate * span_days * (low + high) / 2
        for entry in world["accounts"]
        for _, _, rate, (low, high) in entry["spec"].traffic
    )
    scale = target_messages / expected
    for entry in world["accounts"]:
        for template_name, tag, rate, (low, high) in entry["spec"].traffic:
            template = entry["templates"][template_name]
            count = max(1, round(rate * span_days * scale))
            for _ in range(count):
                at = _business_time(rng, start, end)
                recipients = rng.sample(entry["customers"], rng.randint(low, high))
                events.append(_send_event(rng, entry, template, tag, recipients, at, next(order)))
                if template.type == "verification" and rng.random() < 0.04:
                    # An impatient user asks for a second code: the frequency limit stops it.
                    events.append(
                        _send_event(
                            rng, entry, template, tag, recipients, at + dt.timedelta(seconds=20), next(order)
                        )
                    )
    # Carrier B, which ACME Shop and Kumo Bank send through, is down for the last hours: messages
    # wait and retry, the first ones run out of attempts (processing failed, other), and the ones
    # still waiting at the end go out once it is back (`demo_load` restores it).
    outage_at = end - OUTAGE
    affected = [e["account"].pk for e in world["accounts"] if e["spec"].slug in OUTAGE_ACCOUNTS]
    events.append(Event(outage_at, next(order), "outage", {"account_ids": affected}))
    tick = outage_at
    while tick < end:
        tick += dt.timedelta(minutes=5)
        events.append(Event(tick, next(order), "tick"))
    return events


def _plan_showcase(rng, world, *, start, end, order) -> list[Event]:
    """Scripted sends of the biggest account, so that every status and reason is in it, whatever
    the demo's size: each return code once, the intercepts they make, content the checks refuse, a
    second code within the minute, an unsubscribe, and sends caught by the carrier outage."""
    entry = next(e for e in world["accounts"] if e["spec"].slug == SHOWCASE_ACCOUNT)
    templates = entry["templates"]
    events: list[Event] = []

    def send(at, template_name, phones, *, variables=None, replies=()):
        template = templates[template_name]
        tag = next(tag for name, tag, *_ in entry["spec"].traffic if name == template_name)
        event = _send_event(rng, entry, template, tag, phones, at, next(order))
        for recipient in event.payload["recipients"]:
            recipient["vars"] = dict(
                variables if variables is not None else SHOWCASE_VARIABLES[template_name]
            )
        event.replies = list(replies)
        events.append(event)

    day = start + dt.timedelta(days=1, hours=1)
    minute = dt.timedelta(minutes=1)
    # Numbers ending 500…590 fail with that code at the simulator; one ending 000 never gets a receipt.
    failing = {code: _phone(rng, str(code)) for code in range(500, 600, 10)}
    send(day, "shipping", [*failing.values(), _phone(rng, "000"), _phone(rng)])
    # The records those failures made block the next sends: 500's is global, 520's ACME's own.
    send(day + 10 * minute, "shipping", [failing[500], failing[520]])
    send(
        day + 11 * minute,
        "winter-sale",
        [_phone(rng)],
        variables={**SHOWCASE_VARIABLES["winter-sale"], "url": "bit.ly/3xYz"},
    )
    send(day + 12 * minute, "login-otp", [_phone(rng)], variables={})
    send(day + 13 * minute, "spring-preview", [_phone(rng)])
    impatient = _phone(rng)
    send(day + 14 * minute, "login-otp", [impatient])
    send(day + 14 * minute + dt.timedelta(seconds=20), "login-otp", [impatient])
    unsubscriber = _phone(rng)
    stop = Event(
        day + 75 * minute,
        next(order),
        "reply",
        {"from": unsubscriber, "content": "STOP", "carrier": CARRIERS[0]},
    )
    send(day + 60 * minute, "winter-sale", [unsubscriber], replies=[stop])
    send(day + dt.timedelta(days=1), "winter-sale", [unsubscriber])
    # Caught by the outage: one runs out of attempts before it ends, one is still waiting at the end.
    send(end - OUTAGE + dt.timedelta(minutes=30), "login-otp", [_phone(rng)])
    send(end - dt.timedelta(minutes=20), "login-otp", [_phone(rng)])
    return events


SHOWCASE_VARIABLES = {
    "login-otp": {"code": "482193"},
    "shipping": {"order": "A-0004821", "date": "12/3"},
    "winter-sale": {"discount": "30", "coupon": "WINTER042", "url": "https://acme.example/s"},
    "spring-preview": {"url": "https://acme.example/spring"},
}


def _business_time(rng, start, end) -> dt.datetime:
    """A moment between start and end, on a Japanese day's rhythm (busiest 8:00-21:00 JST)."""
    while True:
        day = (start + (end - start) * rng.random()).astimezone(JST).date()
        hour = rng.choices(range(24), weights=HOURLY_WEIGHTS_JST)[0]
        moment = dt.datetime.combine(day, dt.time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=JST)
        if start <= moment <= end:
            return moment.astimezone(dt.UTC)


def _send_event(rng, entry, template, tag, recipients, at, order) -> Event:
    sms_user = entry["sms_users"][0] if template.type != "marketing" else entry["sms_users"][-1]
    return Event(
        at,
        order,
        "send",
        {
            "sms_user": sms_user,
            "template_id": template.pk,
            "tag": tag,
            "recipients": [{"to": phone, "vars": _variables(rng, template)} for phone in recipients],
        },
    )


def _variables(rng: random.Random, template: Template) -> dict:
    values = {
        "code": f"{rng.randrange(10**6):06d}",
        "order": f"A-{rng.randrange(10**7):07d}",
        "date": f"12/{rng.randint(1, 28)}",
        "discount": str(rng.choice([10, 20, 30, 50])),
        "coupon": f"WINTER{rng.randrange(1000):03d}",
        "url": rng.choices(
            ["https://acme.example/s", "https://example.jp/c", "bit.ly/3xYz"], weights=[60, 37, 3]
        )[0],
        "name": rng.choice(["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺"]),
        "time": f"{rng.randint(9, 17)}:{rng.choice(['00', '30'])}",
        "amount": f"{rng.randrange(300, 80000):,}",
        "last4": f"{rng.randrange(10**4):04d}",
        "rate": rng.choice(["0.5", "1", "2"]),
    }
    chosen = {name: values[name] for name in template.variable_names}
    if chosen and rng.random() < 0.01:
        chosen.pop(rng.choice(list(chosen)))  # a bug in the customer's integration: a missing variable
    return chosen


def _replies_to(rng, messages, event, sequence):
    replied_share = 0.08 if event.payload["tag"] in {"winter-sale", "checkup-2026", "cashback-q4"} else 0.01
    for message in messages:
        if rng.random() < replied_share:
            content = rng.choices([text for text, _ in REPLIES], weights=[w for _, w in REPLIES])[0]
            at = event.at + dt.timedelta(minutes=rng.uniform(1, 240))
            yield Event(
                at,
                next(sequence),
                "reply",
                {"from": message.phone, "content": content, "carrier": rng.choice(CARRIERS)},
            )


def _post_reply(channel: Channel, event: Event) -> None:
    body = {"replies": [{**event.payload, "received_at": event.at.isoformat()}]}
    inbox_receive(
        channel=channel,
        kind=InboxItem.Kind.REPLIES,
        body=json.dumps(body, ensure_ascii=False).encode(),
        content_type="application/json",
    )
