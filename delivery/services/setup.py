"""Writes for channels and templates (staff and management commands)."""

from delivery.models import ApprovalStatus, Channel, Template, TemplateType
from smsconsole.exceptions import ServiceError, full_clean_or_refuse
from smsconsole.models import Account


def channel_create(
    *,
    code: str,
    kind: str,
    send_url: str = "",
    send_username: str = "",
    send_password: str = "",
    simulated_failure_rate: float = 0.0,
) -> Channel:
    """Create a channel with a fresh webhook secret."""
    channel = Channel(
        code=code,
        kind=kind,
        send_url=send_url,
        send_username=send_username,
        send_password=send_password,
        simulated_failure_rate=simulated_failure_rate,
    )
    full_clean_or_refuse(channel)
    channel.save()
    return channel


def template_create(
    *, account: Account, name: str, type: str, body: str, is_approved: bool = False
) -> Template:
    """Create a template, pending approval unless `is_approved`."""
    if type not in TemplateType.values:
        raise ServiceError(
            f"Unknown template type {type!r}; use one of {', '.join(TemplateType.values)}.",
            errors={"type": ["invalid"]},
        )
    template = Template(
        account=account,
        name=name,
        type=type,
        body=body,
        approval_status=ApprovalStatus.APPROVED if is_approved else ApprovalStatus.PENDING,
    )
    full_clean_or_refuse(template)
    template.save()
    return template
