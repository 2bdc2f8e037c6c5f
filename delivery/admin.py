from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from delivery.models import (
    Channel,
    EarlyReceipt,
    FrequencyRule,
    InboxItem,
    KeywordFilter,
    Message,
    MessageEvent,
    SmppErrorMapping,
    Template,
)
from delivery.services.receipts import MAX_INGEST_ATTEMPTS
from smsconsole.admin_lists import EstimatedCountPaginator, IndexedSearchMixin


class ChannelAdminForm(forms.ModelForm):
    """The send password is never shown back: the field starts empty, and left empty keeps it."""

    send_password = forms.CharField(
        label=_("send password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Kannel: the sendsms-user's password. Leave empty to keep the current one."),
    )

    class Meta:
        model = Channel
        fields = [
            "code",
            "kind",
            "send_url",
            "send_username",
            "send_password",
            "webhook_secret",
            "is_active",
            "accepts_legacy_signatures",
            "simulated_failure_rate",
        ]

    def clean_send_password(self):
        return self.cleaned_data["send_password"] or (self.instance.send_password if self.instance.pk else "")


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelAdminForm
    list_display = ["code", "kind", "send_url", "is_active", "accepts_legacy_signatures", "created_at"]
    list_filter = ["kind", "is_active", "accepts_legacy_signatures"]
    search_fields = ["code", "send_url"]


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "type", "approval_status", "updated_at"]
    list_filter = ["approval_status", "type", "account"]
    search_fields = ["name", "body", "account__slug"]
    list_select_related = ["account"]
    actions = ["approve", "reject"]

    @admin.action(description=_("Approve selected templates"))
    def approve(self, request, queryset):
        queryset.update(approval_status="approved")

    @admin.action(description=_("Reject selected templates"))
    def reject(self, request, queryset):
        queryset.update(approval_status="rejected")


class MessageEventInline(admin.TabularInline):
    model = MessageEvent
    extra = 0
    can_delete = False
    fields = ["at", "kind", "detail"]
    readonly_fields = fields
    ordering = ["id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(IndexedSearchMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "account",
        "phone",
        "status",
        "reason",
        "return_code",
        "template",
        "tag",
        "segments",
        "requested_at",
        "updated_at",
    ]
    list_filter = ["status", "reason", "template_type", "account"]
    search_fields = ["=phone", "=channel_message_id", "=id"]
    phone_search_fields = ("phone",)
    exact_search_fields = ("channel_message_id", "id")
    exact_search_within = {"channel_message_id": "channel"}
    list_select_related = ["account", "template"]
    # Counting millions of rows on every page load is what makes admin lists slow.
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    date_hierarchy = None
    inlines = [MessageEventInline]
    readonly_fields = [field.name for field in Message._meta.fields]

    def has_add_permission(self, request):
        return False  # Messages enter through the send API, which runs the checks.


@admin.register(KeywordFilter)
class KeywordFilterAdmin(admin.ModelAdmin):
    list_display = ["word", "is_active", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["word"]


@admin.register(FrequencyRule)
class FrequencyRuleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "account", "window_seconds", "max_messages"]
    list_filter = [("account", admin.EmptyFieldListFilter)]
    search_fields = ["account__slug"]


@admin.register(SmppErrorMapping)
class SmppErrorMappingAdmin(admin.ModelAdmin):
    list_display = ["stat", "err", "return_code", "note"]
    list_editable = ["return_code"]
    list_filter = ["stat"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PendingFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("pending", _("Waiting")), ("stuck", _("Set aside after failures")), ("done", _("Processed"))]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(processed_at__isnull=True, attempts__lt=MAX_INGEST_ATTEMPTS)
        if self.value() == "stuck":
            return queryset.filter(processed_at__isnull=True, attempts__gte=MAX_INGEST_ATTEMPTS)
        if self.value() == "done":
            return queryset.filter(processed_at__isnull=False)
        return queryset


class FailedItemsFilter(admin.SimpleListFilter):
    title = _("failed items")
    parameter_name = "failed_items"

    def lookups(self, request, model_admin):
        return [("yes", _("Some items could not be applied"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(failed_items=[])
        return queryset


@admin.register(InboxItem)
class InboxItemAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "channel",
        "kind",
        "item_count",
        "received_at",
        "processed_at",
        "attempts",
        "last_error",
    ]
    list_filter = [PendingFilter, FailedItemsFilter, "kind", "channel"]
    show_full_result_count = False


class OrphanedFilter(admin.SimpleListFilter):
    title = _("orphaned")
    parameter_name = "orphaned"

    def lookups(self, request, model_admin):
        return [("yes", _("Orphaned (gave up)")), ("no", _("Still retried"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(orphaned_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(orphaned_at__isnull=True)
        return queryset


@admin.register(EarlyReceipt)
class EarlyReceiptAdmin(IndexedSearchMixin, ReadOnlyAdmin):
    """Receipts whose message was not known when they came; orphaned ones were given up on."""

    list_display = [
        "channel",
        "channel_message_id",
        "received_at",
        "attempts",
        "last_attempt_at",
        "orphaned_at",
    ]
    list_filter = [OrphanedFilter, "channel"]
    search_fields = ["=channel_message_id"]
    exact_search_fields = ("channel_message_id",)
    exact_search_within = {"channel_message_id": "channel"}
