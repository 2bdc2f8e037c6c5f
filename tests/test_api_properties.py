"""Properties of the parsers in front of the database: whatever a client or a channel sends, the
answer is either a 4xx with nothing stored, or a 2xx after which everything it accepted is stored.

Webhooks: a 2xx body is ingested (eagerly, as the pipeline does after the commit) with no failed
attempt, and every receipt is applied to its message or kept as an early receipt, every reply stored.
Send API: a 2xx stores exactly the messages it names. Nothing ever answers 5xx.
"""

import datetime as dt
import json

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from delivery.channels.smpp import parse_dlr_text
from delivery.models import EarlyReceipt, InboxItem, Message, MessageEvent, MessageStatus
from replies.models import Reply
from tests.factories import MessageFactory, TemplateFactory
from tests.pipeline.helpers import post_webhook

pytestmark = pytest.mark.django_db

PROPERTY_SETTINGS = settings(
    max_examples=120,
    derandomize=True,  # the same inputs on every run
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Characters that have broken a parser or a database write somewhere: NUL, lone surrogates, astral
# characters, Unicode line separators and control characters that str.splitlines() splits at.
UNSTORABLE = ["\x00", "\ud800", "\udfff", "\ud83d"]
AWKWARD = ["😀", "𠮷", "\u2028", "\x85", "\x1e", "\r", "\t", " ", "\u3000", "\ufeff"]
storable_text = st.lists(st.one_of(st.characters(), st.sampled_from(AWKWARD)), max_size=12).map("".join)
odd_text = st.lists(st.one_of(st.characters(), st.sampled_from(AWKWARD + UNSTORABLE)), max_size=12).map(
    "".join
)
# Text with at least one character the database refuses.
unstorable_text = st.tuples(storable_text, st.sampled_from(UNSTORABLE), storable_text).map("".join)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    odd_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(odd_text, inner, max_size=3),
    max_leaves=6,
)


def aware_datetimes(min_year=2000, max_year=2100):
    offsets = st.sampled_from(
        [dt.UTC, dt.timezone(dt.timedelta(hours=9)), dt.timezone(dt.timedelta(hours=-12))]
    )
    return st.datetimes(
        min_value=dt.datetime(min_year, 1, 2), max_value=dt.datetime(max_year, 12, 30), timezones=offsets
    ).map(dt.datetime.isoformat)


bad_timestamps = st.one_of(
    aware_datetimes(1, 1999),  # implausible years
    st.datetimes().map(dt.datetime.isoformat),  # no offset
    odd_text,
    json_values,
)
good_ids = st.one_of(
    st.just("m1"),  # the message awaiting a receipt
    st.text(st.characters(exclude_categories=["Cs", "Zs", "Cc"]), min_size=1, max_size=64),
    st.integers(min_value=-(10**20), max_value=10**20),
)
good_phones = st.sampled_from(["+819011112222", "+81 80 3333 4444", "+44 20 7946 0958", "+1 201 555 0123"])
bad_phones = st.one_of(
    st.sampled_from(["+819012345678;ext=12", "+81 90 1234 5678 ext. 3", "+1555", "", "09011112222"]), odd_text
)


def weighted(*choices):
    """One of the strategies, picked with the given weights: (3, valid), (1, spoiled), ..."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    # sampled_from picks evenly; integers() would lean towards the first entries.
    return st.sampled_from(table).flatmap(lambda strategy: strategy)


@st.composite
def spoiled(draw, valid, bad_values: dict):
    """A valid item with one field made bad, or left out."""
    item = dict(draw(valid))
    name = draw(st.sampled_from(sorted(bad_values)))
    if draw(st.integers(min_value=0, max_value=4)) == 4:
        item.pop(name, None)
    else:
        item[name] = draw(bad_values[name])
    return item


def mostly_valid(valid, bad_values):
    """Items that are mostly valid, else a near miss, now and then anything at all."""
    return weighted((5, valid), (3, spoiled(valid, bad_values)), (1, json_values))


@st.composite
def good_receipts(draw):
    item = {
        "id": draw(good_ids),
        "status": draw(st.sampled_from(["delivered", "failed"])),
        "done_at": draw(aware_datetimes()),
    }
    if item["status"] == "failed":
        item["code"] = draw(st.integers(min_value=500, max_value=599))
    elif draw(st.booleans()):
        item["code"] = draw(st.one_of(st.just(0), st.none(), st.integers()))  # ignored when delivered
    if draw(st.booleans()):
        item["detail"] = draw(st.one_of(storable_text, st.none()))
    if draw(st.booleans()):
        parts = draw(st.integers(min_value=1, max_value=255))
        item["part"], item["parts"] = draw(st.integers(min_value=1, max_value=parts)), parts
    return item


receipt_items = mostly_valid(
    good_receipts(),
    {
        "id": weighted((4, unstorable_text), (1, st.text(min_size=65, max_size=70)), (1, json_values)),
        "status": st.one_of(st.sampled_from(["pending", "DELIVERED", ""]), json_values),
        "code": st.one_of(st.integers(min_value=400, max_value=499), st.integers(min_value=600), json_values),
        "detail": weighted((4, unstorable_text), (1, json_values)),
        "done_at": bad_timestamps,
        "part": st.one_of(st.integers(min_value=-5, max_value=300), json_values),
    },
)
reply_items = mostly_valid(
    st.fixed_dictionaries(
        {"from": good_phones, "content": storable_text.filter(str.strip), "received_at": aware_datetimes()},
        optional={"carrier": st.one_of(storable_text, st.none())},
    ),
    {
        "from": st.one_of(bad_phones, json_values),
        "content": weighted((3, unstorable_text), (1, st.just(" \u3000 ")), (1, json_values)),
        "received_at": bad_timestamps,
        "carrier": weighted((3, unstorable_text), (1, json_values)),
    },
)


def documents(key, items):
    return weighted(
        (6, st.fixed_dictionaries({key: st.lists(items, min_size=1, max_size=3)})),
        (2, st.fixed_dictionaries({key: st.lists(items, max_size=3)}, optional={"extra": json_values})),
        (1, json_values),
    )


def nested(depth):
    return "[" * depth + "]" * depth


raw_bodies = st.one_of(
    st.integers(min_value=1, max_value=200_000).map(nested),
    st.integers(min_value=4000, max_value=6000).map(lambda n: '{"receipts": [{"id": ' + "9" * n + "}]}"),
    st.binary(max_size=40),
    odd_text.map(lambda text: text.encode("utf-8", "surrogatepass")),  # encoded surrogates: not UTF-8
)


def as_body(document) -> bytes:
    # ensure_ascii: a lone surrogate travels as the escape "\ud800", as a channel's JSON would carry it.
    return document if isinstance(document, bytes) else json.dumps(document).encode()


@pytest.fixture
def no_rate_limits(settings):
    # Rate limits are tested on their own; here they would turn the hundredth request into a 429.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            scope: None for scope in settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})
        },
    }


@pytest.fixture
def awaiting(account, simulator, no_rate_limits):
    return MessageFactory(
        account=account,
        phone="+819011112222",
        status=MessageStatus.AWAITING_RECEIPT,
        channel=simulator,
        channel_message_id="m1",
        channel_delivered_at=timezone.now() - dt.timedelta(days=1),
    )


def assert_refused_and_nothing_stored(response):
    assert 400 <= response.status_code < 500, response.content[:300]
    body = response.json()
    assert isinstance(body["detail"], str) and isinstance(body["code"], str)
    assert not InboxItem.objects.exists()


def assert_ingested_without_failure(response) -> InboxItem:
    assert response.status_code == 202, response.content[:300]
    item = InboxItem.objects.get()
    assert response.json() == {"accepted": item.item_count}
    assert item.processed_at is not None, item.last_error
    assert (item.attempts, item.last_error) == (0, "")
    return item


def start_afresh():
    """Each example starts from an empty inbox (examples share the test's transaction)."""
    InboxItem.objects.all().delete()
    EarlyReceipt.objects.all().delete()
    Reply.objects.all().delete()


def assert_receipts_kept(ids: set[str], awaiting):
    """Every receipt reached its message (a logged receipt event) or waits as an early receipt."""
    early = set(EarlyReceipt.objects.values_list("channel_message_id", flat=True))
    for channel_message_id in ids:
        if channel_message_id == awaiting.channel_message_id:
            assert MessageEvent.objects.filter(message=awaiting, kind__startswith="receipt").exists()
        else:
            assert channel_message_id in early, (channel_message_id, early)


@PROPERTY_SETTINGS
@given(document=weighted((5, documents("receipts", receipt_items)), (1, raw_bodies)))
def test_a_receipts_body_is_refused_whole_or_ingested_whole(simulator, awaiting, document):
    start_afresh()
    response = post_webhook(simulator, "receipts", as_body(document))
    event(f"answered {response.status_code}")
    if response.status_code != 202:
        assert_refused_and_nothing_stored(response)
        assert not EarlyReceipt.objects.exists()
        return
    assert_ingested_without_failure(response)
    sent = json.loads(as_body(document))  # as the server read it: escaped surrogate pairs joined
    assert_receipts_kept({str(item["id"]).strip() for item in sent["receipts"]}, awaiting)


SMPP_FIELDS = {
    "id": st.one_of(
        st.just("m1"), st.text(st.characters(exclude_characters=" \t\r\n\x00"), min_size=1, max_size=64)
    ),
    "sub": st.sampled_from(["001", "1", "000"]),
    "date": st.sampled_from(["2611281203", "261128120459", "0001010000"]),
    "stat": st.sampled_from(["DELIVRD", "undeliv", "ENROUTE", "REJECTD", "EXPIRED"]),
    "err": st.sampled_from(["000", "1", "027", "0a"]),
    "sep": st.sampled_from([" ", "\t", "  \t"]),
    "text": st.one_of(st.just(""), storable_text.map(lambda t: " text:" + t.replace("\n", ""))),
}
SMPP_SPOILS = {
    "id": st.one_of(st.text(min_size=65, max_size=70).map(lambda t: t.replace(" ", "x")), st.just("")),
    "sub": st.sampled_from(["x", "١", ""]),
    "date": st.sampled_from(["2613281203", "26112812", "٢٦١١٢٨١٢٠٣", "2602301200"]),
    "stat": st.sampled_from(["MAYBE", ""]),
    "err": st.sampled_from(["", "-1"]),
    "sep": st.sampled_from(["\u3000", "\x1e", ""]),
    "text": unstorable_text.map(lambda t: " text:" + t.replace("\n", "")),
}


@st.composite
def smpp_lines(draw):
    fields = {name: draw(strategy) for name, strategy in SMPP_FIELDS.items()}
    if draw(st.integers(min_value=0, max_value=5)) == 0:
        name = draw(st.sampled_from(sorted(SMPP_SPOILS)))
        fields[name] = draw(SMPP_SPOILS[name])
    f, sep = fields, fields["sep"]
    return sep.join(
        [
            f"id:{f['id']}",
            f"sub:{f['sub']}",
            f"dlvrd:{f['sub']}",
            f"submit date:{f['date']}",
            f"done date:{f['date']}",
            f"stat:{f['stat']}",
            f"err:{f['err']}{f['text']}",
        ]
    )


smpp_bodies = weighted(
    (
        6,
        st.tuples(
            st.lists(weighted((6, smpp_lines()), (1, st.just("")), (1, odd_text)), min_size=1, max_size=4),
            st.sampled_from(["\n", "\r\n"]),
        ).map(lambda parts: parts[1].join(parts[0])),
    ),
    (1, odd_text),
)


@PROPERTY_SETTINGS
@given(text=smpp_bodies, encoding=st.sampled_from(["utf-8", "surrogatepass"]))
def test_an_smpp_body_is_refused_whole_or_ingested_whole(simulator, awaiting, text, encoding):
    start_afresh()
    body = (
        text.encode("utf-8", "surrogatepass")
        if encoding == "surrogatepass"
        else text.encode("utf-8", "replace")
    )
    response = post_webhook(simulator, "receipts", body, content_type="text/plain")
    event(f"answered {response.status_code}")
    if response.status_code != 202:
        assert_refused_and_nothing_stored(response)
        return
    assert_ingested_without_failure(response)
    assert_receipts_kept({dlr.channel_message_id for dlr in parse_dlr_text(body)}, awaiting)


@PROPERTY_SETTINGS
@given(document=weighted((5, documents("replies", reply_items)), (1, raw_bodies)))
def test_a_replies_body_is_refused_whole_or_ingested_whole(simulator, awaiting, document):
    start_afresh()
    response = post_webhook(simulator, "replies", as_body(document))
    event(f"answered {response.status_code}")
    if response.status_code != 202:
        assert_refused_and_nothing_stored(response)
        assert not Reply.objects.exists()
        return
    assert_ingested_without_failure(response)
    sent = json.loads(as_body(document))  # as the server read it: escaped surrogate pairs joined
    stored = set(Reply.objects.values_list("content", flat=True))
    assert {item["content"][:2000] for item in sent["replies"]} == stored


good_vars = st.dictionaries(
    st.one_of(st.sampled_from(["code", "order"]), storable_text.filter(lambda name: len(name) <= 64)),
    st.one_of(
        storable_text,
        st.integers(min_value=-(10**20), max_value=10**20),
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    max_size=3,
)
recipients = mostly_valid(
    st.fixed_dictionaries({"to": good_phones}, optional={"vars": good_vars}),
    {
        "to": st.one_of(
            bad_phones, st.integers(min_value=0, max_value=10**12), st.text(min_size=33, max_size=40)
        ),
        "vars": st.one_of(
            st.dictionaries(unstorable_text, st.just("1"), min_size=1, max_size=2),
            st.dictionaries(st.just("code"), unstorable_text, min_size=1, max_size=1),
            st.dictionaries(st.just("code"), st.one_of(st.booleans(), json_values), min_size=1, max_size=1),
            st.dictionaries(st.text(min_size=65, max_size=70), st.just("1"), min_size=1, max_size=1),
            st.dictionaries(st.just("code"), st.text(min_size=2001, max_size=2001)),
            json_values,
        ),
    },
)


def send_documents(template_id):
    good = st.fixed_dictionaries(
        {"template": st.just(template_id), "messages": st.lists(recipients, min_size=1, max_size=3)},
        optional={"tag": storable_text.filter(lambda tag: len(tag) <= 64)},
    )
    bad = {
        "template": st.one_of(
            st.sampled_from([str(template_id), template_id + 1000, 0, -1, True, 2**63, template_id + 0.5]),
            json_values,
        ),
        "tag": st.one_of(unstorable_text, st.integers(), st.text(min_size=65, max_size=70), json_values),
        "messages": st.one_of(st.just([]), st.lists(json_values, max_size=2), json_values),
    }
    return weighted((6, good), (2, spoiled(good, bad)), (1, json_values))


@pytest.fixture
def template(account):
    return TemplateFactory(account=account, body="Code {{code}} for {{order}}")


@PROPERTY_SETTINGS
@given(
    data=st.data(),
    # Mostly none; "k1" again and again (replays and conflicts); now and then a malformed key.
    key=st.sampled_from([None] * 12 + ["k1", "k1", "", " k", "k" * 256, "ключ", "a\tb"]),
)
def test_a_send_is_refused_whole_or_stored_whole(api, template, no_rate_limits, data, key):
    document = data.draw(weighted((5, send_documents(template.pk)), (1, raw_bodies)))
    before = set(Message.objects.values_list("pk", flat=True))
    headers = {"Idempotency-Key": key} if key is not None else {}
    response = api.generic(
        "POST", "/api/v1/messages", as_body(document), content_type="application/json", headers=headers
    )
    new = set(Message.objects.values_list("pk", flat=True)) - before
    errors = sorted(response.json().get("errors") or {}) if response.status_code == 400 else []
    event(f"answered {response.status_code} {errors[:2]}")
    if not 200 <= response.status_code < 300:
        assert 400 <= response.status_code < 500, response.content[:300]
        body = response.json()
        assert isinstance(body["detail"], str) and isinstance(body["code"], str)
        assert not new
        return
    answered = response.json()["messages"]
    if response.get("Idempotent-Replayed") == "true":
        assert not new  # a replay stores nothing
    else:
        assert len(answered) == len(json.loads(as_body(document))["messages"])
        assert {m["id"] for m in answered} == new
    stored = Message.objects.in_bulk([m["id"] for m in answered])
    assert [stored[m["id"]].phone for m in answered] == [m["to"] for m in answered]
    assert all(phone.startswith("+") for phone in (m["to"] for m in answered))
