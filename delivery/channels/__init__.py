"""Channel adapters: one module per kind. HTTP and parsing only; no ORM in here."""

from django.conf import settings

from delivery.channels.base import ChannelAdapter, ChannelUnavailable
from delivery.channels.http import HttpChannel
from delivery.channels.kannel import KannelChannel
from delivery.channels.simulator import SimulatorChannel


def adapter_for(channel) -> ChannelAdapter:
    """The adapter that talks to `channel` (a delivery.models.Channel)."""
    if channel.kind == "simulator":
        return SimulatorChannel(code=channel.code, failure_rate=channel.simulated_failure_rate)
    if channel.kind == "http":
        return HttpChannel(
            send_url=channel.send_url,
            secret=channel.webhook_secret,
            timeout=settings.SMS_CHANNEL_TIMEOUT_SECONDS,
        )
    if channel.kind == "kannel":
        # The callback URLs and what Kannel already holds come from the services (URLs, ORM).
        from delivery.services.kannel import kannel_dlr_endpoint, kannel_messages_held

        return KannelChannel(
            send_url=channel.send_url,
            username=channel.send_username,
            password=channel.send_password,
            secret=channel.webhook_secret,
            dlr_endpoint=kannel_dlr_endpoint(channel),
            timeout=settings.SMS_CHANNEL_TIMEOUT_SECONDS,
            held=lambda refs: kannel_messages_held(channel_id=channel.pk, refs=refs),
        )
    raise ValueError(f"No adapter for channel kind {channel.kind!r}")


__all__ = ["ChannelAdapter", "ChannelUnavailable", "adapter_for"]
