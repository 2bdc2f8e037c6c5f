from django.contrib import admin

from replies.models import Reply, Unsubscribe, UnsubscribeKeyword


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
class UnsubscribeAdmin(admin.ModelAdmin):
    list_display = ["phone", "account", "created_at", "source_reply"]
    list_filter = ["account"]
    search_fields = ["=phone"]
    raw_id_fields = ["source_reply"]


@admin.register(UnsubscribeKeyword)
class UnsubscribeKeywordAdmin(admin.ModelAdmin):
    list_display = ["word", "created_at"]
    search_fields = ["word"]
