"""What a person reads of a message's send log: one translated sentence per event, with its facts.

The send log (`MessageEvent.detail`) is machine data: snake_case keys, ISO times in UTC, carrier
fingerprints, the channel's exception text. This module is the one place that turns it into what
the console and the API show: a sentence in the active language, times in the active zone (the
account's, in the console), return codes and reasons with their labels, "part 2 of 3".

Customers never see platform internals: consecutive channel errors read as one "the carrier
connection was unavailable; the platform retried N times over H hours", without the exception.
Staff (`is_staff`) see the same sentences and, beside them, every event's raw detail.
"""

import datetime as dt
import re
from dataclasses import dataclass, field

from django.utils import dateformat, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from delivery.models import Message, MessageEvent, MessageStatus, Reason, ReturnCode

Kind = MessageEvent.Kind

# Detail keys that mean nothing to a customer, wherever they appear (the API leaves them out too).
INTERNAL_KEYS = frozenset({"fingerprint", "error", "cause"})


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass
class SendLogEntry:
    """One line of the send log as a person reads it; it may stand for several events."""

    at: dt.datetime
    kind: str
    title: str
    sentence: str
    message_id: int
    facts: list[Fact] = field(default_factory=list)
    tone: str = "info"  # "ok", "info", "warn" or "fail": how the line is coloured
    until: dt.datetime | None = None  # the last event's time, when the line stands for several
    # Staff only: (time, kind, [(key, value)]) of each event the line stands for, as stored.
    technical: list[tuple] = field(default_factory=list)


@dataclass(frozen=True)
class FailureSummary:
    """Why a failed message failed, in a sentence, and what the carrier said (its own words)."""

    sentence: str
    carrier_answer: str = ""


# --- times and amounts ---------------------------------------------------------------------------


def _parse_time(value) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, dt.UTC)


def time_text(value, *, now: dt.datetime | None = None, seconds: bool = False) -> str:
    """A time in the active zone: "12:05" on the same day as `now`, else "2026-11-28 12:05"."""
    at = _parse_time(value)
    if at is None:
        return ""
    local = timezone.localtime(at)
    clock_format = "H:i:s" if seconds else "H:i"
    if now is not None and timezone.localtime(now).date() == local.date():
        return dateformat.format(local, clock_format)
    return dateformat.format(local, f"Y-m-d {clock_format}")


def duration_text(seconds: float) -> str:
    """A length of time as a person says it: "40 seconds", "12 minutes", "5 hours", "30 days"."""
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    minutes = round(seconds / 60)
    if minutes < 60:
        return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    hours = round(seconds / 3600)
    if hours < 48:
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    days = round(seconds / 86400)
    return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}


def return_code_text(code) -> str:
    """ "530 Busy": a return code with its label."""
    try:
        code = int(code)
    except (TypeError, ValueError):
        return str(code or "")
    if code in ReturnCode.values:
        return f"{code} {ReturnCode(code).label}"
    return str(code)


def _reason_label(value) -> str:
    return str(Reason(value).label) if value in Reason.values else str(value or "")


def _status_label(value) -> str:
    return str(MessageStatus(value).label) if value in MessageStatus.values else str(value or "")


def _scope_label(value) -> str:
    # intercepts.models.Scope, spelled here: delivery's models must not import the intercepts app.
    return {"global": _("global"), "local": _("local")}.get(value, str(value or ""))


# --- one sentence per event ----------------------------------------------------------------------


def _requested(detail: dict) -> tuple[str, list[Fact], str]:
    facts = [Fact(_("SMS_USER"), detail.get("sms_user", "")), Fact(_("Template"), detail.get("template", ""))]
    if detail.get("tag"):
        facts.append(Fact(_("Tag"), detail["tag"]))
    return _("Accepted by the platform, waiting to be sent."), [f for f in facts if f.value], "info"


# Causes of "other" that older versions logged as English text only.
_LEGACY_UNAVAILABLE_RE = re.compile(r"^channel \S+ unavailable after (\d+) attempts")
_LEGACY_EXHAUSTED_RE = re.compile(r"^gave up after (\d+) attempts")


def other_problem(detail: dict) -> tuple[str, int | None]:
    """(problem, attempts) of an "other" check failure, for rows written before problems had codes."""
    if detail.get("problem"):
        return detail["problem"], detail.get("attempts")
    cause = str(detail.get("cause", ""))
    if match := _LEGACY_UNAVAILABLE_RE.match(cause):
        return "channel_unavailable", int(match[1])
    if match := _LEGACY_EXHAUSTED_RE.match(cause):
        return "attempts_exhausted", int(match[1])
    if cause == "account suspended":
        return "account_suspended", None
    if cause == "no channel configured for the account":
        return "no_channel", None
    if cause.startswith("channel ") and cause.endswith(" is inactive"):
        return "channel_inactive", None
    return "", None


def check_failed_sentence(detail: dict, *, now: dt.datetime | None = None) -> str:
    """Why the platform did not send a message, from its check_failed detail."""
    reason = detail.get("reason", "")
    if reason in (Reason.GLOBAL_INTERCEPT, Reason.LOCAL_INTERCEPT):
        listed = (
            _("the global intercept list") if reason == Reason.GLOBAL_INTERCEPT else _("your intercept list")
        )
        sentence = _("Not sent: the number is on %(list)s") % {"list": listed}
        if detail.get("return_code"):
            sentence += " " + _("(return code %(code)s)") % {"code": return_code_text(detail["return_code"])}
        if detail.get("expires_at"):
            sentence += " " + _("until %(time)s") % {"time": time_text(detail["expires_at"], now=now)}
        return sentence + "."
    if reason == Reason.UNSUBSCRIBED:
        return _("Not sent: the recipient unsubscribed from your messages.")
    if reason == Reason.KEYWORD_FILTERED:
        return _("Not sent: the content contains the filtered keyword “%(keyword)s”.") % {
            "keyword": detail.get("keyword", "")
        }
    if reason == Reason.VARIABLE_ERROR:
        missing = detail.get("missing") or []
        return _("Not sent: template variables missing or empty: %(names)s.") % {"names": ", ".join(missing)}
    if reason == Reason.CONTENT_NONCOMPLIANT:
        problem = detail.get("problem")
        if problem == "template_not_approved":
            return _("Not sent: the template is not approved for sending.")
        if problem == "empty_content":
            return _("Not sent: the message has no content.")
        if problem == "too_long":
            return _("Not sent: the message is %(segments)s parts long; at most %(max)s are allowed.") % {
                "segments": detail.get("segments", "?"),
                "max": detail.get("max_segments", "?"),
            }
        return _("Not sent: the content is not allowed.")
    if reason == Reason.FREQUENCY_EXCEEDED:
        return _(
            "Not sent: %(sent)s messages already went to this number in the last %(window)s "
            "(at most %(max)s allowed)."
        ) % {
            "sent": detail.get("sent_in_window", "?"),
            "window": duration_text(detail.get("window_seconds", 0)),
            "max": detail.get("max_messages", "?"),
        }
    problem, attempts = other_problem(detail)
    if problem == "channel_unavailable":
        return ngettext(
            "Not sent: the carrier could not be reached in %(count)d attempt, so the platform gave up.",
            "Not sent: the carrier could not be reached in %(count)d attempts, so the platform gave up.",
            attempts or 0,
        ) % {"count": attempts or 0}
    if problem == "attempts_exhausted":
        return ngettext(
            "Not sent: the platform gave up after %(count)d attempt without the carrier's answer on record.",
            "Not sent: the platform gave up after %(count)d attempts without the carrier's answer on record.",
            attempts or 0,
        ) % {"count": attempts or 0}
    if problem == "account_suspended":
        return _("Not sent: the account is suspended.")
    if problem == "no_channel":
        return _("Not sent: no carrier is set up for the account.")
    if problem == "channel_inactive":
        return _("Not sent: the account's carrier connection is switched off.")
    return _("Not sent: the platform could not send it. Contact support if it keeps happening.")


# What Kannel's smsbox answers (and what the console logs when Kannel already had a message),
# by how it starts: the rest is Kannel's wording, not the reader's.
_KANNEL_ANSWERS = {
    "0:": lambda: _("accepted it for delivery"),
    "3:": lambda: _("queued it for later delivery"),
    "not sent again: Kannel already has this message": lambda: _(
        "already had this message (it was not sent again)"
    ),
}


def _handed(detail: dict) -> tuple[str, list[Fact], str]:
    note = str(detail.get("note") or "").removeprefix("Kannel: ")
    for start, answer in _KANNEL_ANSWERS.items():
        if note.startswith(start):
            return _("Handed to the carrier, which %(answer)s.") % {"answer": answer()}, [], "info"
    if note:
        return _("Handed to the carrier."), [Fact(_("Carrier's answer"), note)], "info"
    return _("Handed to the carrier; waiting for its delivery receipt."), [], "info"


def _part_text(detail: dict) -> str:
    part, parts = detail.get("part"), detail.get("parts")
    if part and parts and int(parts) > 1:
        return _("part %(part)s of %(parts)s") % {"part": part, "parts": parts}
    return ""


def _receipt(detail: dict, *, now, at: dt.datetime | None = None) -> tuple[str, list[Fact], str]:
    status = detail.get("status")
    part = _part_text(detail)
    done_at = _parse_time(detail.get("done_at"))
    # As receipt_at: a carrier clock running ahead does not put the handset after the receipt's arrival.
    if done_at and at and done_at > at:
        done_at = at
    done = time_text(done_at, seconds=True)
    facts = []
    if status == "delivered":
        if part:
            sentence = _("The carrier reports %(part)s delivered to the handset at %(time)s.") % {
                "part": part,
                "time": done,
            }
        else:
            sentence = _("The carrier reports it delivered to the handset at %(time)s.") % {"time": done}
        tone = "ok"
    elif status == "failed":
        sentence = _("The carrier reports it failed at %(time)s: return code %(code)s.") % {
            "time": done,
            "code": return_code_text(detail.get("code")),
        }
        if part:
            sentence += " " + _("(%(part)s)") % {"part": part}
        tone = "fail"
    else:
        sentence = _("The carrier reports it on its way (not yet delivered).")
        if part:
            sentence += " " + _("(%(part)s)") % {"part": part}
        tone = "info"
    if detail.get("detail"):
        facts.append(Fact(_("Carrier's answer"), str(detail["detail"])))
    return sentence, facts, tone


def _receipt_ignored(detail: dict, *, now, at=None) -> tuple[str, list[Fact], str]:
    sentence, facts, _tone = _receipt(detail, now=now, at=at)
    why = detail.get("why", "")
    if why == "already final":
        note = _("Already recorded; nothing changed.")
    elif why == "contradicts the final status":
        note = _("Not applied: the status was already final (%(status)s).") % {
            "status": _status_label(detail.get("final_status"))
        }
    else:
        note = _("Not applied: the message had not been handed to the carrier yet.")
    return f"{sentence} {note}", facts, "info"


def _rejected(detail: dict) -> tuple[str, list[Fact], str]:
    sentence = _("Refused by the carrier: return code %(code)s.") % {
        "code": return_code_text(detail.get("return_code"))
    }
    facts = [Fact(_("Carrier's answer"), str(detail["detail"]))] if detail.get("detail") else []
    return sentence, facts, "fail"


def _intercepted(detail: dict, *, now) -> tuple[str, list[Fact], str]:
    values = {
        "scope": _scope_label(detail.get("scope")),
        "time": time_text(detail.get("expires_at"), now=now),
    }
    if detail.get("action") == "extended":
        sentence = _("The number's %(scope)s intercept record was extended until %(time)s.") % values
    else:
        sentence = _("The number was put on the %(scope)s intercept list until %(time)s.") % values
    return sentence, [], "warn"


def _channel_unavailable(events: list[MessageEvent], *, now) -> tuple[str, list[Fact], str]:
    """One line for consecutive "could not reach the carrier" events."""
    last = events[-1].detail
    next_at = last.get("next_attempt_at")
    if len(events) == 1:
        sentence = _("The carrier connection was unavailable (attempt %(attempt)s).") % {
            "attempt": last.get("attempt", 1)
        }
    else:
        sentence = unavailable_sentence(len(events), (events[-1].at - events[0].at).total_seconds())
    if next_at:
        sentence += " " + _("Next attempt at %(time)s.") % {"time": time_text(next_at, now=now)}
    return sentence, [], "warn"


def unavailable_sentence(attempts: int, seconds: float) -> str:
    """ "The carrier connection was unavailable; the platform retried 12 times over 5 hours." """
    return ngettext(
        "The carrier connection was unavailable; the platform tried %(count)d time over %(span)s.",
        "The carrier connection was unavailable; the platform retried %(count)d times over %(span)s.",
        attempts,
    ) % {"count": attempts, "span": duration_text(seconds)}


def _channel_error(detail: dict) -> tuple[str, list[Fact], str]:
    # The other channel error: accepted, but with an id its receipts cannot be matched by.
    return (
        _("The carrier accepted it without an id its delivery receipts can be matched by."),
        [],
        "warn",
    )


def _outcome_unknown(detail: dict) -> tuple[str, list[Fact], str]:
    return (
        _(
            "Handed to the carrier, but its answer could not be recorded: the outcome is unknown. "
            "It was not sent again."
        ),
        [],
        "warn",
    )


def _reply(detail: dict, *, now) -> tuple[str, list[Fact], str]:
    sentence = _("The recipient replied at %(time)s.") % {
        "time": time_text(detail.get("received_at"), now=now)
    }
    if detail.get("unsubscribed"):
        sentence += " " + _("The reply unsubscribed the number from your messages.")
    facts = [Fact(_("Reply"), str(detail["content"]))] if detail.get("content") else []
    return sentence, facts, "info"


def _is_unavailable(event: MessageEvent) -> bool:
    return event.kind == Kind.CHANNEL_ERROR and "attempt" in event.detail


def _sentence(event: MessageEvent, *, now) -> tuple[str, list[Fact], str]:
    detail = event.detail or {}
    kind = event.kind
    if kind == Kind.REQUESTED:
        return _requested(detail)
    if kind == Kind.CHECK_FAILED:
        return check_failed_sentence(detail, now=now), [], "fail"
    if kind == Kind.CHECKS_PASSED:
        return _("Passed the platform's checks."), [], "info"
    if kind == Kind.HANDED_TO_CHANNEL:
        return _handed(detail)
    if kind == Kind.CHANNEL_REJECTED:
        return _rejected(detail)
    if kind == Kind.CHANNEL_ERROR:
        return _channel_error(detail)
    if kind == Kind.OUTCOME_UNKNOWN:
        return _outcome_unknown(detail)
    if kind == Kind.RECEIPT:
        return _receipt(detail, now=now, at=event.at)
    if kind == Kind.RECEIPT_IGNORED:
        return _receipt_ignored(detail, now=now, at=event.at)
    if kind == Kind.INTERCEPTED:
        return _intercepted(detail, now=now)
    if kind == Kind.REPLY:
        return _reply(detail, now=now)
    return "", [], "info"


def _title(kind: str) -> str:
    return str(Kind(kind).label) if kind in Kind.values else kind


def _technical(events: list[MessageEvent]) -> list[tuple]:
    return [(event.at, event.get_kind_display(), sorted((event.detail or {}).items())) for event in events]


def event_summary(event: MessageEvent, *, now: dt.datetime | None = None) -> str:
    """The sentence a customer reads for one event, in the active language and zone."""
    if _is_unavailable(event):
        return _channel_unavailable([event], now=now)[0]
    return _sentence(event, now=now)[0]


def event_public_detail(event: MessageEvent) -> dict:
    """An event's detail without what only the platform's staff need (exception text, fingerprints)."""
    return {key: value for key, value in (event.detail or {}).items() if key not in INTERNAL_KEYS}


def send_log(
    events: list[MessageEvent], *, is_staff: bool = False, now: dt.datetime | None = None
) -> list[SendLogEntry]:
    """The send log as a person reads it, in the order things happened.

    Consecutive "carrier unavailable" events become one line; staff get each event's raw detail."""
    now = now or timezone.now()
    ordered = sorted(events, key=lambda event: (event.at, event.pk or 0))
    groups: list[list[MessageEvent]] = []
    for index, event in enumerate(ordered):
        in_outage = bool(groups) and _is_unavailable(groups[-1][0])
        # Each retry passes the checks again before it fails again: within a run of failed attempts
        # those repeats say nothing new (staff still see them in the technical detail).
        is_retry_check = (
            event.kind == Kind.CHECKS_PASSED
            and index + 1 < len(ordered)
            and _is_unavailable(ordered[index + 1])
        )
        if in_outage and (_is_unavailable(event) or is_retry_check):
            groups[-1].append(event)
        else:
            groups.append([event])
    entries = []
    for group in groups:
        first = group[0]
        if _is_unavailable(first):
            sentence, facts, tone = _channel_unavailable([e for e in group if _is_unavailable(e)], now=now)
        else:
            sentence, facts, tone = _sentence(first, now=now)
        entries.append(
            SendLogEntry(
                at=first.at,
                until=group[-1].at if len(group) > 1 else None,
                kind=first.kind,
                title=_title(first.kind),
                sentence=sentence,
                facts=facts,
                tone=tone,
                message_id=first.message_id,
                technical=_technical(group) if is_staff else [],
            )
        )
    return entries


def failure_summary(*, message: Message, events: list[MessageEvent]) -> FailureSummary | None:
    """Why a failed message failed, as a customer reads it; None when it has not failed."""
    if message.status == MessageStatus.SEND_FAILED:
        sentence = _("The carrier reported return code %(code)s.") % {
            "code": return_code_text(message.return_code)
        }
        return FailureSummary(sentence=sentence, carrier_answer=message.failure_detail)
    if message.status != MessageStatus.PROCESSING_FAILED:
        return None
    failed = [event for event in events if event.kind == Kind.CHECK_FAILED]
    detail = failed[-1].detail if failed else {"reason": message.reason}
    if message.reason == Reason.OTHER and other_problem(detail)[0] == "channel_unavailable":
        errors = [event for event in events if _is_unavailable(event)]
        if errors:
            span = (errors[-1].at - errors[0].at).total_seconds()
            return FailureSummary(sentence=unavailable_sentence(len(errors), span))
        attempts = other_problem(detail)[1] or 0
        return FailureSummary(
            sentence=unavailable_sentence(
                attempts, (message.updated_at - message.requested_at).total_seconds()
            )
        )
    return FailureSummary(sentence=check_failed_sentence(detail))


def requesting_notice(
    *, message: Message, events: list[MessageEvent], now: dt.datetime | None = None
) -> str | None:
    """Why a requesting message has not gone yet, and when it is tried again; None for other statuses."""
    if message.status != MessageStatus.REQUESTING:
        return None
    now = now or timezone.now()
    errors = [event for event in events if _is_unavailable(event)]
    next_at = message.next_attempt_at
    if errors and next_at:
        return _(
            "Waiting for the carrier: the last attempt could not reach it; next attempt at %(time)s."
        ) % {"time": time_text(next_at, now=now)}
    if next_at and next_at > now:
        return _("Queued for sending: next attempt at %(time)s.") % {"time": time_text(next_at, now=now)}
    return _("Queued for sending: it goes to the carrier within moments.")
