from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from delivery.models import Channel, FrequencyRule, KeywordFilter, Message, MessageEvent, Template


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["code", "kind", "send_url", "is_active", "simulated_failure_rate", "created_at"]
    list_filter = ["kind", "is_active"]
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
class MessageAdmin(admin.ModelAdmin):
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
    list_select_related = ["account", "template"]
    # Counting millions of rows on every page load is what makes admin lists slow.
    show_full_result_count = False
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
