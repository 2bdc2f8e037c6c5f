from django.contrib import admin

from callbacks.models import CallbackAttempt, CallbackEndpoint


@admin.register(CallbackEndpoint)
class CallbackEndpointAdmin(admin.ModelAdmin):
    list_display = ["account", "url", "is_status_subscribed", "is_reply_subscribed", "consecutive_failures"]
    list_select_related = ["account"]
    exclude = ["secret"]
    readonly_fields = [
        "lease_until",
        "next_attempt_at",
        "failing_since",
        "last_success_at",
        "last_failure_at",
    ]


@admin.register(CallbackAttempt)
class CallbackAttemptAdmin(admin.ModelAdmin):
    list_display = ["attempted_at", "account", "outcome", "event_count", "response_code", "latency_ms"]
    list_filter = ["outcome"]
    list_select_related = ["account"]
    show_full_result_count = False
