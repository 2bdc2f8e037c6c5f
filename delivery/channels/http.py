"""A generic carrier HTTP API.

POST {send_url} with {"messages": [{"ref", "to", "content"}]} signed like our webhooks
(X-Signature-Timestamp and X-Signature); the carrier
answers 200 {"accepted": [{"ref", "id"}], "rejected": [{"ref", "code", "detail"}]}.
"""

import json

import requests

from delivery.channels.base import (
    Accepted,
    ChannelUnavailable,
    Outbound,
    Rejected,
    SendResult,
    signed_headers,
)

DEFAULT_TIMEOUT_SECONDS = 10


class HttpChannel:
    def __init__(self, *, send_url: str, secret: str, timeout: float = DEFAULT_TIMEOUT_SECONDS):
        self.send_url = send_url
        self.secret = secret
        self.timeout = timeout

    def send(self, batch: list[Outbound]) -> SendResult:
        body = json.dumps(
            {"messages": [{"ref": m.ref, "to": m.to, "content": m.content} for m in batch]},
            ensure_ascii=False,
        ).encode()
        try:
            response = requests.post(
                self.send_url,
                data=body,
                headers={"Content-Type": "application/json", **signed_headers(body, self.secret)},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise ChannelUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise ChannelUnavailable(f"HTTP {response.status_code}: {response.text[:300]}")
        return self._parse_answer(response, {m.ref for m in batch})

    @staticmethod
    def _parse_answer(response, refs: set[int]) -> SendResult:
        try:
            answer = response.json()
            accepted = [
                Accepted(ref=int(item["ref"]), channel_message_id=str(item.get("id") or ""))
                for item in answer.get("accepted", [])
            ]
            rejected = [
                Rejected(ref=int(item["ref"]), code=int(item["code"]), detail=str(item.get("detail", "")))
                for item in answer.get("rejected", [])
            ]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ChannelUnavailable(f"unreadable answer: {response.text[:300]}") from exc
        # Refs the carrier did not mention stay unanswered: the caller retries them. An accepted
        # message with an unusable id is still accepted: dispatch records it, never resends it.
        return SendResult(
            accepted=[a for a in accepted if a.ref in refs],
            rejected=[r for r in rejected if r.ref in refs],
        )
