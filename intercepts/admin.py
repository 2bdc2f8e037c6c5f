from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from intercepts.models import Intercept, InterceptDeletion, InterceptEvent, InterceptRule, Scope
from intercepts.services import intercepts_delete
from smsconsole import clock
from smsconsole.admin_lists import EstimatedCountPaginator, IndexedSearchMixin


@admin.register(InterceptRule)
class InterceptRuleAdmin(admin.ModelAdmin):
    list_display = [
        "return_code",
        "reason",
        "duration_seconds",
        "scope",
        "is_customer_deletable",
        "is_permanent_failure",
    ]
    list_editable = ["duration_seconds", "scope", "is_customer_deletable", "is_permanent_failure"]
    list_filter = ["scope", "is_customer_deletable"]
    ordering = ["return_code"]


class LiveFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", _("Live")), ("expired", _("Expired"))]

    def queryset(self, request, queryset):
        if self.value() == "live":
            return queryset.live(clock.now())
        if self.value() == "expired":
            return queryset.expired(clock.now())
        return queryset


@admin.register(Intercept)
class InterceptAdmin(IndexedSearchMixin, admin.ModelAdmin):
    list_display = [
        "phone",
        "scope",
        "account",
        "return_code",
        "reason",
        "intercepted_at",
        "expires_at",
    ]
    list_filter = ["scope", LiveFilter, "return_code", "account"]
    search_fields = ["=phone"]
    phone_search_fields = ("phone",)
    list_select_related = ["account"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    readonly_fields = [field.name for field in Intercept._meta.fields]
    actions = ["clear"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deleting goes through the audited "clear"
        return actions

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Clear selected intercepts (audited)"), permissions=["delete"])
    def clear(self, request, queryset):
        """A confirmation page listing the records first, as Django's delete has: a global record
        blocks every customer's sends, so clearing one by a stray click would be costly."""
        if request.POST.get("post") != "yes":
            records = list(queryset.select_related("account").order_by("phone", "scope", "pk"))
            context = {
                **self.admin_site.each_context(request),
                "title": _("Clear selected intercepts"),
                "opts": self.model._meta,
                "records": records,
                "global_count": sum(1 for record in records if record.scope == Scope.GLOBAL),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "time_zone": timezone.get_current_timezone_name(),
                "media": self.media,
            }
            return TemplateResponse(
                request, "admin/intercepts/intercept/clear_selected_confirmation.html", context
            )
        count = intercepts_delete(intercepts=queryset, source="admin", actor_user=request.user)
        self.message_user(
            request,
            ngettext("Cleared %(count)d intercept.", "Cleared %(count)d intercepts.", count)
            % {"count": count},
            messages.SUCCESS,
        )
        return None

    def delete_model(self, request, obj):
        intercepts_delete(intercepts=[obj], source="admin", actor_user=request.user)

    def delete_queryset(self, request, queryset):
        intercepts_delete(intercepts=queryset, source="admin", actor_user=request.user)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(InterceptEvent)
class InterceptEventAdmin(IndexedSearchMixin, ReadOnlyAdmin):
    list_display = ["at", "kind", "phone", "scope", "account", "source", "actor_display", "intercept_id"]
    list_filter = ["kind", "source", "scope"]
    search_fields = ["=phone", "=intercept_id"]
    phone_search_fields = ("phone",)
    exact_search_fields = ("intercept_id",)
    list_select_related = ["account", "actor_user", "actor_sms_user"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(InterceptDeletion)
class InterceptDeletionAdmin(InterceptEventAdmin):
    list_filter = ["source", "scope"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(kind=InterceptEvent.Kind.DELETED)
