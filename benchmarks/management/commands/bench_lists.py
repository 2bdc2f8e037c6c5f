"""Measure the console's lists on PostgreSQL: every filter, deep pages, the status counts, and the
pages end to end (view + template), on the biggest account of `bench_seed`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smsbench .venv/bin/python manage.py bench_lists
"""

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection
from django.db.models import Count, Max, Min
from django.http import QueryDict
from django.test import Client
from django.utils import timezone

from benchmarks.timing import QueryTimer, Stopwatch, require_postgresql
from delivery.filters import MessageFilter
from delivery.models import Message
from delivery.selectors import message_status_counts
from intercepts.filters import InterceptFilter
from replies.filters import ReplyFilter
from smsconsole.models import Account, Membership
from smsconsole.pagination import KeysetPaginator

REPEATS = 20


class Command(BaseCommand):
    help = "Benchmark the console's lists (PostgreSQL, after bench_seed)."

    def handle(self, *args, **options):
        require_postgresql(self)
        account = Account.objects.get(slug="bench-big")
        total = Message.objects.filter(account=account).count()
        self.stdout.write(f"Account {account.slug}: {total:,} messages over 30 days")
        zone = account.zone
        now = timezone.now().astimezone(zone)
        month = {"requested_from": (now - dt.timedelta(days=29, hours=23)).strftime("%Y-%m-%dT%H:%M")}
        sample = Message.objects.filter(account=account).order_by("-requested_at").first()
        sms_user = sample.sms_user  # not sms_users.first(): the API timing below adds a key of its own

        cases = [
            ("default (last 24 h)", {}),
            ("30 days, unfiltered", month),
            ("30 days, phone", {**month, "phone": sample.phone}),
            ("30 days, status=delivered", {**month, "status": "delivered"}),
            ("30 days, send_failed / busy", {**month, "status": "send_failed", "reason": "busy"}),
            ("30 days, reason=unsubscribed", {**month, "reason": "unsubscribed"}),
            ("30 days, template type", {**month, "template_type": "marketing"}),
            ("30 days, tag", {**month, "tag": "shipping"}),
            ("30 days, SMS_USER", {**month, "sms_user": str(sms_user.pk)}),
            ("30 days, tag matching nothing", {**month, "tag": "no-such-tag"}),
            ("30 days, phone matching nothing", {**month, "phone": "+819099999999"}),
            ("30 days, every filter", {**month, "status": "send_failed", "reason": "busy", "tag": "sale",
                                       "template_type": "marketing", "sms_user": str(sms_user.pk)}),
        ]  # fmt: skip
        self.stdout.write(
            "\nFirst page of 50 (filter + keyset page), and the per-status counts of the same filter:"
        )
        for label, params in cases:
            page_watch, count_watch = Stopwatch(), Stopwatch()
            for _ in range(REPEATS):
                filterset = MessageFilter(_query(params), account=account)
                assert filterset.is_valid(), filterset.form.errors
                with page_watch.lap():
                    page = KeysetPaginator(filterset.qs, time_field="requested_at", per_page=50).page(None)
                with count_watch.lap():
                    counts = message_status_counts(account=account, **filterset.count_filters())
            matched = sum(row["count"] for row in counts)
            self.stdout.write(
                f"  {label:<34} page {page_watch.summary_ms()}; counts ({matched:,} rows) "
                f"{count_watch.summary_ms()}"
            )
            del page

        self.stdout.write("\nThe same counts with one GROUP BY over the filter's messages (no rollups):")
        for label, params in [cases[0], cases[1], cases[6]]:
            filterset = MessageFilter(_query(params), account=account)
            filterset.is_valid()
            watch = Stopwatch()
            for _ in range(3):
                with watch.lap():
                    counts = list(
                        filterset.facet_queryset()
                        .order_by()
                        .values("status", "reason")
                        .annotate(n=Count("id"))
                    )
            matched = sum(row["n"] for row in counts)
            self.stdout.write(f"  {label:<34} ({matched:,} rows) {watch.summary_ms()}")

        self.stdout.write("\nDeep pages (30 days, unfiltered): the page after a row N days back")
        filterset = MessageFilter(_query(month), account=account)
        filterset.is_valid()
        paginator = KeysetPaginator(filterset.qs, time_field="requested_at", per_page=50)
        bounds = Message.objects.filter(account=account).aggregate(
            first=Min("requested_at"), last=Max("requested_at")
        )
        for days_back in (1, 10, 29):
            anchor = (
                Message.objects.filter(
                    account=account, requested_at__lte=bounds["last"] - dt.timedelta(days=days_back)
                )
                .order_by("-requested_at", "-id")
                .first()
            )
            cursor = paginator.encode_cursor(anchor, backwards=False)
            watch = Stopwatch()
            for _ in range(REPEATS):
                with watch.lap():
                    paginator.page(cursor)
            self.stdout.write(f"  {days_back:>2} days back: {watch.summary_ms()}")

        self.stdout.write("\nOther lists, first page:")
        for label, filter_class, time_field in [
            ("intercepts", InterceptFilter, "intercepted_at"),
            ("replies (30 days)", ReplyFilter, "received_at"),
        ]:
            params = {"received_from": month["requested_from"]} if filter_class is ReplyFilter else {}
            watch = Stopwatch()
            for _ in range(REPEATS):
                filterset = filter_class(_query(params), account=account)
                assert filterset.is_valid(), filterset.form.errors
                with watch.lap():
                    KeysetPaginator(filterset.qs, time_field=time_field, per_page=50).page(None)
            self.stdout.write(f"  {label:<20} {watch.summary_ms()}")

        self.stdout.write("\nWhole pages (view, queries and template), as an operator of the account:")
        client = _operator_client(account)
        for label, url in [
            ("/status/ (24 h)", "/status/"),
            ("/status/ (30 days)", "/status/?" + _query(month).urlencode()),
            (
                "/status/ send_failed (30 days)",
                "/status/?" + _query({**month, "status": "send_failed"}).urlencode(),
            ),
            ("/status/<id>/", f"/status/{sample.pk}/"),
            (f"/numbers/{sample.phone}/", f"/numbers/{sample.phone}/"),
            ("/intercepts/", "/intercepts/"),
            ("/replies/", "/replies/"),
            ("/api/v1/messages (30 days)", None),
        ]:
            watch, queries = Stopwatch(), Stopwatch()
            for _ in range(REPEATS // 2):
                timer = QueryTimer()
                with watch.lap(), connection.execute_wrapper(timer):
                    if url is None:
                        response = self._api(account, month)
                    else:
                        response = client.get(url, HTTP_HOST="127.0.0.1")
                queries.samples.append(timer.seconds)
                assert response.status_code == 200, (url, response.status_code)
            # The rest of a page's time, beyond its queries, is the view, the table and the template.
            self.stdout.write(f"  {label:<34} {watch.summary_ms()}; of it in queries: {queries.summary_ms()}")

    def _api(self, account, params):
        from rest_framework.test import APIClient

        from smsconsole.services import sms_user_create

        if not hasattr(self, "_api_client"):
            _, key = sms_user_create(account=account, name=f"bench-api-{timezone.now():%H%M%S%f}")
            self._api_client = APIClient()
            self._api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return self._api_client.get("/api/v1/messages", params, HTTP_HOST="127.0.0.1")


def _query(params: dict) -> QueryDict:
    query = QueryDict(mutable=True)
    query.update(params)
    return query


def _operator_client(account) -> Client:
    user, _ = get_user_model().objects.get_or_create(username="bench-operator")
    Membership.objects.get_or_create(user=user, defaults={"account": account})
    client = Client()
    client.force_login(user)
    return client
