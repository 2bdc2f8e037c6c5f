from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from smsconsole.models import Account, Membership, SmsUser
from smsconsole.services import sms_user_create, sms_user_rotate_key


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


class SmsUserInline(admin.TabularInline):
    model = SmsUser
    extra = 0
    fields = ["name", "key_hint", "is_active", "last_used_at", "created_at"]
    readonly_fields = ["name", "key_hint", "last_used_at", "created_at"]
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # SMS_USERs are created on their own page, which shows the key once.


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "status", "time_zone", "default_region", "default_channel", "created_at"]
    list_filter = ["status", "default_channel", "time_zone"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline, SmsUserInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "account", "created_at"]
    list_filter = ["account"]
    search_fields = ["user__username", "user__email", "account__slug"]
    raw_id_fields = ["user"]


@admin.register(SmsUser)
class SmsUserAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "key_hint", "is_active", "last_used_at", "created_at"]
    list_filter = ["is_active", "account"]
    search_fields = ["name", "account__slug", "key_hint"]
    readonly_fields = ["key_hint", "last_used_at", "created_at"]
    actions = ["rotate_keys"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (["account"] if obj else [])

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created, raw_key = sms_user_create(account=obj.account, name=obj.name)
        obj.pk = created.pk
        obj.key_hint = created.key_hint
        messages.warning(
            request,
            _("API key for %(name)s, shown only this once: %(key)s") % {"name": created.name, "key": raw_key},
        )

    @admin.action(description=_("Issue a new API key (the old one stops working)"))
    def rotate_keys(self, request, queryset):
        for sms_user in queryset:
            raw_key = sms_user_rotate_key(sms_user=sms_user)
            messages.warning(
                request,
                _("New API key for %(name)s, shown only this once: %(key)s")
                % {"name": sms_user.name, "key": raw_key},
            )
