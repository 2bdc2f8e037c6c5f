"""Brute-force protection: login lockout (django-axes) and API rate limits (DRF throttles).

Logins. django-axes records every failed login in the database. A username is locked for one
client IP after `LOGIN_FAILURE_LIMIT` failures from that IP, and a client IP is locked for every
username after `LOGIN_IP_FAILURE_LIMIT` failures, each until `LOGIN_COOLOFF_MINUTES` have passed
since the last failure. Nobody can lock a user out from everywhere: only the pair, or the guessing
IP, is refused. A refused login is a 429 page, even with the right password.

API. Requests are counted per SMS_USER and per client IP in fixed one-minute windows of the cache
(one atomic increment each), and failed key checks per client IP: past a limit the answer is a 429
`{"detail": "…", "code": "throttled"}` with `Retry-After`. The counters fail open: when the cache
errors or times out the request is allowed, a warning is logged, and the cache is left alone for a
few seconds so a hung Redis costs one short timeout, not one per request.
"""

import ipaddress
import logging
import math
import time

from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Sum
from django.shortcuts import render
from django.utils.translation import gettext_lazy
from rest_framework import exceptions
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from smsconsole import clock
from smsconsole.models import SmsUser

logger = logging.getLogger(__name__)


def client_ip(request) -> str | None:
    """The client's IP: REMOTE_ADDR, or the address the `NUM_PROXIES`-th proxy saw in X-Forwarded-For.

    Only trusted proxies' entries are read (counted from the right), so a client cannot pick its
    own address by sending the header; anything that is not an IP address is ignored.
    """
    address = request.META.get("REMOTE_ADDR", "")
    if settings.NUM_PROXIES:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if forwarded:
            address = forwarded[-min(settings.NUM_PROXIES, len(forwarded))]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


# --- logins ---------------------------------------------------------------------------------------


class LoginAttemptHandler(AxesDatabaseHandler):
    """django-axes' database handler with two limits: per username+IP, and a higher one per IP.

    Axes compares one count with one limit (`AXES_FAILURE_LIMIT`, the pair's); an IP past its own
    limit counts as a pair at the limit, so every username is locked for that IP.
    """

    def get_failures(self, request, credentials=None) -> int:
        attempts = AccessAttempt.objects.filter(ip_address=request.axes_ip_address)
        if settings.AXES_COOLOFF_TIME is not None:
            attempts = attempts.filter(
                attempt_time__gte=request.axes_attempt_time - settings.AXES_COOLOFF_TIME
            )
        username = (credentials or {}).get(settings.AXES_USERNAME_FORM_FIELD)
        pair = _failures(attempts.filter(username=username))
        if _failures(attempts) >= settings.LOGIN_IP_FAILURE_LIMIT:
            return max(pair, settings.AXES_FAILURE_LIMIT)
        return pair

    def reset_user_attempts(self, request, credentials=None) -> int:
        # A good login clears its own pair only: clearing the whole IP would let anyone with one
        # account wipe the IP's count between rounds of guessing other users' passwords.
        username = (credentials or {}).get(settings.AXES_USERNAME_FORM_FIELD)
        count, _ = AccessAttempt.objects.filter(
            ip_address=request.axes_ip_address, username=username
        ).delete()
        return count


def _failures(attempts) -> int:
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


def login_lockout_response(request, original_response=None, credentials=None):
    """The 429 page for a locked-out login, in the console's look, with Retry-After."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    response = render(
        request,
        "registration/locked_out.html",
        {"cooloff_minutes": max(1, math.ceil(seconds / 60))},
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response


# --- the API --------------------------------------------------------------------------------------


class Throttled(exceptions.Throttled):
    """A 429 in the API's error shape: `{"detail": "…", "code": "throttled"}`, with Retry-After.

    Our own words, translated (DRF's Japanese catalogue leaves its "Expected available in …" English)."""

    default_detail = gettext_lazy("Too many requests.")
    extra_detail_singular = gettext_lazy("Try again in {wait} second.")
    extra_detail_plural = gettext_lazy("Try again in {wait} seconds.")

    def __init__(self, wait: float):
        super().__init__(wait=max(wait, 1))
        self.detail = {"detail": self.detail, "code": self.default_code}


class WindowCounter:
    """Counts hits per key in fixed windows of `duration` seconds, in the cache; None when it is down."""

    # After a cache error the counters step aside this long: the failure is logged once, and
    # requests meanwhile do not each wait for a timeout.
    RETRY_AFTER_ERROR_SECONDS = 10
    _down_until: dict[str, float] = {}

    def __init__(self, duration: int):
        self.duration = duration
        self.alias = settings.THROTTLE_CACHE_ALIAS
        self.now = clock.now().timestamp()
        self.window_start = int(self.now) // duration * duration

    def wait(self) -> float:
        """Seconds until the current window ends."""
        return self.window_start + self.duration - self.now

    def key(self, name: str) -> str:
        return f"throttle:{name}:{self.window_start}"

    def hit(self, name: str) -> int | None:
        """Count one more hit and return the window's count so far."""
        return self._safely(self._increment, self.key(name))

    def count(self, name: str) -> int | None:
        return self._safely(lambda cache, key: cache.get(key, 0), self.key(name))

    def _increment(self, cache, key: str) -> int:
        try:
            return cache.incr(key)
        except ValueError:  # the window's first hit
            if cache.add(key, 1, timeout=self.duration + 1):
                return 1
            return cache.incr(key)

    def _safely(self, operation, key: str) -> int | None:
        location = f"{self.alias}:{settings.CACHES[self.alias].get('LOCATION', '')}"
        if time.monotonic() < self._down_until.get(location, 0):
            return None
        try:
            return operation(caches[self.alias], key)
        except Exception:
            self._down_until[location] = time.monotonic() + self.RETRY_AFTER_ERROR_SECONDS
            logger.warning(
                "Rate-limit cache %r is unavailable: requests are not rate-limited for the next %s s.",
                location,
                self.RETRY_AFTER_ERROR_SECONDS,
                exc_info=True,
            )
            return None


class WindowRateThrottle(SimpleRateThrottle):
    """A DRF throttle over `WindowCounter`: past the rate the request is refused with `Throttled`.

    The rate comes from `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope]` (`"1200/min"`); None
    turns it off. It is read when the throttle is made, not when DRF is imported, so a changed
    setting applies.
    """

    def get_rate(self):
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError:
            raise ImproperlyConfigured(f"No throttle rate set for scope {self.scope!r}.") from None

    def allow_request(self, request, view):
        if self.rate is None or (ident := self.identity(request)) is None:
            return True
        counter = WindowCounter(self.duration)
        count = counter.hit(f"{self.scope}:{ident}")
        if count is not None and count > self.num_requests:
            raise Throttled(counter.wait())
        return True

    def identity(self, request) -> str | None:
        """Whom the request counts for; None: not counted."""
        raise NotImplementedError

    def get_cache_key(self, request, view):  # SimpleRateThrottle's hook; WindowCounter names keys
        return None


class SmsUserRateThrottle(WindowRateThrottle):
    """Requests per SMS_USER (API key)."""

    scope = "sms_user"

    def identity(self, request):
        user = request.user
        return str(user.pk) if isinstance(user, SmsUser) else None


class ClientIpRateThrottle(WindowRateThrottle):
    """Requests per client IP, whoever they authenticate as."""

    scope = "client_ip"

    def identity(self, request):
        return client_ip(request)


class WebhookClientIpRateThrottle(ClientIpRateThrottle):
    """Channel webhook requests per client IP, instead of the API's limit.

    A carrier may call once per receipt (Kannel's dlr-url does), so its rate is the traffic's; a
    429 here is a receipt the carrier must retry, so the limit only stops a runaway or a flood.
    """

    scope = "webhook_ip"


class AuthFailureThrottle(WindowRateThrottle):
    """Failed API key checks per client IP.

    DRF authenticates before it checks throttles, so a bad key never reaches a throttle: the
    authentication class asks `check()` before it looks a key up and calls `record()` on a failure.
    Past the limit every key from that IP is refused, the right one too, so guessing learns nothing.
    """

    scope = "auth_failure"

    def identity(self, request):
        return client_ip(request)

    def allow_request(self, request, view):
        self.check(request)
        return True

    def check(self, request) -> None:
        if self.rate is None or (ident := self.identity(request)) is None:
            return
        counter = WindowCounter(self.duration)
        count = counter.count(f"{self.scope}:{ident}")
        if count is not None and count >= self.num_requests:
            raise Throttled(counter.wait())

    def record(self, request) -> None:
        if self.rate is not None and (ident := self.identity(request)) is not None:
            WindowCounter(self.duration).hit(f"{self.scope}:{ident}")
