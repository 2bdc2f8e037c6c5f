"""API authentication: `Authorization: Bearer <SMS_USER API key>`."""

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from smsconsole.models import SmsUser, hash_api_key
from smsconsole.throttling import AuthFailureThrottle

# Recording every call would turn each read into a write; a minute's precision is enough.
LAST_USED_PRECISION = dt.timedelta(minutes=1)


class SmsUserKeyAuthentication(authentication.BaseAuthentication):
    """The SMS_USER whose key the request carries; an IP with too many bad keys is refused (429)."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        failures = AuthFailureThrottle()
        failures.check(request)
        scheme, _, key = header.partition(" ")
        if scheme != self.keyword or not key.strip():
            failures.record(request)
            raise exceptions.AuthenticationFailed(gettext("Use 'Authorization: Bearer <API key>'."))
        sms_user = (
            SmsUser.objects.select_related("account", "account__default_channel")
            .filter(key_hash=hash_api_key(key.strip()))
            .first()
        )
        if sms_user is None:
            failures.record(request)
            raise exceptions.AuthenticationFailed(gettext("Invalid API key."))
        now = timezone.now()
        if sms_user.last_used_at is None or now - sms_user.last_used_at > LAST_USED_PRECISION:
            SmsUser.objects.filter(pk=sms_user.pk).update(last_used_at=now)
            sms_user.last_used_at = now
        return sms_user, sms_user

    def authenticate_header(self, request):
        return self.keyword


class IsActiveSmsUser(permissions.BasePermission):
    """The key must belong to an active SMS_USER of an active account."""

    def has_permission(self, request, view):
        sms_user = request.user
        if not isinstance(sms_user, SmsUser):
            raise exceptions.NotAuthenticated(
                gettext("An API key is required: 'Authorization: Bearer <API key>'.")
            )
        if not sms_user.is_active:
            raise exceptions.PermissionDenied(gettext("This SMS_USER is inactive."))
        if not sms_user.account.is_active:
            raise exceptions.PermissionDenied(gettext("This account is suspended."))
        return True


class SmsUserKeyScheme(OpenApiAuthenticationExtension):
    """Documents the API key in the OpenAPI schema."""

    target_class = SmsUserKeyAuthentication
    name = "SmsUserKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An SMS_USER's API key: `Authorization: Bearer <API key>`.",
        }
