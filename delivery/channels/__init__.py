"""Channel adapters: one module per kind. HTTP and parsing only; no ORM in here."""

from django.conf import settings

from delivery.channels.base import ChannelAdapter, ChannelUnavailable
from delivery.channels.http import HttpChannel
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
    raise ValueError(f"No adapter for channel kind {channel.kind!r}")


__all__ = ["ChannelAdapter", "ChannelUnavailable", "adapter_for"]
