from django.contrib import admin

from replies.models import Reply, Unsubscribe, UnsubscribeKeyword, UnsubscribeRemoval
from smsconsole.admin_lists import IndexedSearchMixin


@admin.register(Reply)
class ReplyAdmin(admin.ModelAdmin):
    list_display = [
        "received_at",
        "phone",
        "account",
        "carrier",
        "content",
        "is_unsubscribe",
        "is_optout_like",
    ]
    list_filter = ["is_unsubscribe", "is_optout_like", ("account", admin.EmptyFieldListFilter), "account"]
    search_fields = ["=phone", "content"]
    list_select_related = ["account"]
    show_full_result_count = False
    raw_id_fields = ["message", "template"]


@admin.register(Unsubscribe)
class UnsubscribeAdmin(IndexedSearchMixin, admin.ModelAdmin):
    list_display = ["phone", "account", "created_at", "source_reply"]
    list_filter = ["account"]
    search_fields = ["=phone"]
    phone_search_fields = ("phone",)
    raw_id_fields = ["source_reply"]

    def has_delete_permission(self, request, obj=None):
        # Taking a number off the list needs a note and leaves an audit row: staff switch to the
        # account in the console and use its unsubscribe list's Remove.
        return False


@admin.register(UnsubscribeRemoval)
class UnsubscribeRemovalAdmin(IndexedSearchMixin, admin.ModelAdmin):
    """The audit log of numbers taken off unsubscribe lists: read-only."""

    list_display = ["removed_at", "phone", "account", "removed_by_name", "note", "unsubscribed_at"]
    list_filter = ["account"]
    search_fields = ["=phone"]
    phone_search_fields = ("phone",)
    list_select_related = ["account"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(UnsubscribeKeyword)
class UnsubscribeKeywordAdmin(admin.ModelAdmin):
    list_display = ["word", "created_at"]
    search_fields = ["word"]
