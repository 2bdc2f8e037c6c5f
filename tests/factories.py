"""factory_boy factories with minimal valid defaults, one per model."""

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from delivery.models import (
    ApprovalStatus,
    Channel,
    FrequencyRule,
    KeywordFilter,
    Message,
    MessageEvent,
    MessageStatus,
    Template,
    TemplateType,
)
from intercepts.models import Intercept, InterceptEvent, InterceptRule, Scope
from replies.models import Reply, Unsubscribe, UnsubscribeKeyword
from smsconsole.models import Account, Membership, SmsUser, generate_api_key, hash_api_key


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"channel-{n}")
    kind = Channel.Kind.SIMULATOR


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    slug = factory.Sequence(lambda n: f"account-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    default_channel = factory.SubFactory(ChannelFactory, code="sim")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffUserFactory(UserFactory):
    is_staff = True
    is_superuser = True


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    account = factory.SubFactory(AccountFactory)


class SmsUserFactory(factory.django.DjangoModelFactory):
    """The created object carries `raw_key`, so tests can call the API with it."""

    class Meta:
        model = SmsUser

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"api-user-{n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        raw_key = generate_api_key()
        kwargs.setdefault("key_hash", hash_api_key(raw_key))
        kwargs.setdefault("key_hint", raw_key[:10])
        obj = super()._create(model_class, *args, **kwargs)
        obj.raw_key = raw_key
        return obj


class TemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Template

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"template-{n}")
    type = TemplateType.NOTIFICATION
    body = "Your order {{order}} has shipped."
    approval_status = ApprovalStatus.APPROVED


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    account = factory.SubFactory(AccountFactory)
    sms_user = factory.SubFactory(SmsUserFactory, account=factory.SelfAttribute("..account"))
    template = factory.SubFactory(TemplateFactory, account=factory.SelfAttribute("..account"))
    template_type = factory.LazyAttribute(lambda o: o.template.type)
    # Ending in 1: the simulator fails numbers ending in 500-590 and never answers those ending in
    # 000, so a test that sends through it gets the same outcome whatever the sequence has reached.
    phone = factory.Sequence(lambda n: f"+8190{n % 10000000:07d}1")
    content = "Your order 1 has shipped."
    segments = 1
    status = MessageStatus.REQUESTING
    requested_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyAttribute(lambda o: o.requested_at)


class MessageEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MessageEvent

    message = factory.SubFactory(MessageFactory)
    at = factory.LazyFunction(timezone.now)
    kind = MessageEvent.Kind.REQUESTED
    detail = factory.LazyFunction(dict)


class KeywordFilterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KeywordFilter

    word = factory.Sequence(lambda n: f"forbidden{n}")


class FrequencyRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FrequencyRule

    account = factory.SubFactory(AccountFactory)
    window_seconds = 60
    max_messages = 3


class InterceptRuleFactory(factory.django.DjangoModelFactory):
    """The ten default codes are seeded by migration; use a free code for extra rules."""

    class Meta:
        model = InterceptRule
        django_get_or_create = ["return_code"]

    return_code = 599
    reason = "other"
    duration_seconds = 600
    scope = Scope.GLOBAL


class InterceptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Intercept

    phone = factory.Sequence(lambda n: f"+8180{n % 100000000:08d}")
    scope = Scope.GLOBAL
    account = factory.SubFactory(AccountFactory)
    return_code = 500
    reason = "UNKNOWN SUBSCRIBER"
    intercepted_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyAttribute(lambda o: o.intercepted_at + dt.timedelta(days=30))
    updated_at = factory.LazyAttribute(lambda o: o.intercepted_at)


class InterceptEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InterceptEvent

    intercept_id = factory.Sequence(lambda n: n + 1)
    phone = "+819012345678"
    scope = Scope.GLOBAL
    account = factory.SubFactory(AccountFactory)
    kind = InterceptEvent.Kind.CREATED
    at = factory.LazyFunction(timezone.now)
    source = InterceptEvent.Source.PIPELINE


class ReplyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reply

    account = factory.SubFactory(AccountFactory)
    phone = factory.Sequence(lambda n: f"+8170{n % 100000000:08d}")
    carrier = "NTT docomo"
    content = "Thanks!"
    received_at = factory.LazyFunction(timezone.now)


class UnsubscribeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Unsubscribe

    account = factory.SubFactory(AccountFactory)
    phone = factory.Sequence(lambda n: f"+8170{n % 100000000:08d}")
    created_at = factory.LazyFunction(timezone.now)


class UnsubscribeKeywordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UnsubscribeKeyword
        django_get_or_create = ["word"]

    word = factory.Sequence(lambda n: f"QUIT{n}")


class CallbackEndpointFactory(factory.django.DjangoModelFactory):
    """Saved as is: the URL checks run in `endpoint_save`, which the API and settings tests go through."""

    class Meta:
        model = "callbacks.CallbackEndpoint"

    account = factory.SubFactory(AccountFactory)
    url = "http://127.0.0.1:9/callbacks"
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)
