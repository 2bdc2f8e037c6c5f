import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from delivery.models import (
    PROCESSING_FAILED_REASONS,
    SEND_FAILED_REASONS,
    FrequencyRule,
    MessageStatus,
    Reason,
    ReturnCode,
    Template,
)
from tests.factories import MessageFactory, TemplateFactory


def test_five_statuses_with_english_labels():
    assert [(s.value, str(s.label)) for s in MessageStatus] == [
        ("requesting", "Requesting"),
        ("awaiting_receipt", "Awaiting receipt"),
        ("delivered", "Delivered"),
        ("processing_failed", "Processing failed"),
        ("send_failed", "Send failed"),
    ]


def test_processing_failed_reasons_are_in_check_order():
    assert [r.value for r in PROCESSING_FAILED_REASONS] == [
        "global_intercept",
        "local_intercept",
        "unsubscribed",
        "keyword_filtered",
        "variable_error",
        "content_noncompliant",
        "frequency_exceeded",
        "other",
    ]


def test_return_codes_match_send_failed_reasons():
    assert ReturnCode.values == [500, 510, 520, 530, 540, 550, 560, 570, 580, 590]
    assert len(SEND_FAILED_REASONS) == 10
    assert str(Reason.OUT_OF_SERVICE_AREA.label) == "Out of service area"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"status": MessageStatus.DELIVERED, "reason": Reason.BUSY},
        {"status": MessageStatus.DELIVERED, "return_code": 530},
        {"status": MessageStatus.PROCESSING_FAILED, "reason": Reason.UNSUBSCRIBED, "return_code": 500},
        {"status": MessageStatus.PROCESSING_FAILED, "reason": Reason.BUSY},
        {"status": MessageStatus.PROCESSING_FAILED, "reason": ""},
        {"status": MessageStatus.SEND_FAILED, "reason": Reason.INVALID_NUMBER},
        {"status": MessageStatus.SEND_FAILED, "reason": Reason.UNSUBSCRIBED, "return_code": 500},
        {"status": MessageStatus.SEND_FAILED, "reason": Reason.INVALID_NUMBER, "return_code": 42},
    ],
)
def test_invalid_status_reason_combinations_are_rejected(fields):
    message = MessageFactory.build(**fields)
    with pytest.raises(ValidationError):
        message.clean()
    message = MessageFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        type(message).objects.filter(pk=message.pk).update(**fields)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"status": MessageStatus.DELIVERED},
        {"status": MessageStatus.PROCESSING_FAILED, "reason": Reason.FREQUENCY_EXCEEDED},
        {"status": MessageStatus.PROCESSING_FAILED, "reason": Reason.OTHER},
        {"status": MessageStatus.SEND_FAILED, "reason": Reason.OTHER, "return_code": 590},
        {"status": MessageStatus.SEND_FAILED, "reason": Reason.BUSY, "return_code": 530},
    ],
)
def test_valid_status_reason_combinations_are_stored(fields):
    message = MessageFactory(**fields)
    message.clean()
    message.refresh_from_db()
    assert message.status == fields["status"]


@pytest.mark.django_db
def test_channel_message_id_is_unique_per_channel():
    first = MessageFactory(channel_message_id="abc")
    first.channel = first.account.default_channel
    first.save()
    other = MessageFactory(channel=first.channel)
    other.channel_message_id = "abc"
    with pytest.raises(IntegrityError), transaction.atomic():
        other.save()


@pytest.mark.django_db
def test_template_lists_its_variables_once_in_order():
    template = TemplateFactory(body="Hi {{ name }}, code {{code}} for {{name}}")
    assert template.variable_names == ["name", "code"]
    assert str(template) == template.name


@pytest.mark.django_db
def test_template_name_is_unique_per_account(account, other_account):
    TemplateFactory(account=account, name="otp")
    TemplateFactory(account=other_account, name="otp")
    with pytest.raises(IntegrityError), transaction.atomic():
        Template.objects.create(account=account, name="otp", type="verification", body="x")


@pytest.mark.django_db
def test_default_frequency_rules_are_seeded():
    defaults = FrequencyRule.objects.filter(account=None).order_by("window_seconds")
    assert [(r.window_seconds, r.max_messages) for r in defaults] == [(60, 1), (3600, 5), (86400, 10)]
