"""Admin for units, users and the working-day calendar. Audit events are deliberately absent:
the administrator can neither read nor alter the audit record."""
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from . import notify
from .models import CalendarDay, CalendarYear, EscalationPolicy, OutboxMessage, Proposal, Unit, User


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "parent", "code")
    list_filter = ("kind",)
    search_fields = ("name", "code")
    autocomplete_fields = ("parent",)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "full_name", "role", "unit", "is_active")
    list_filter = ("role", "is_active")
    search_fields = ("username", "full_name")
    autocomplete_fields = ("unit",)
    fieldsets = BaseUserAdmin.fieldsets + ((_("Duban"), {"fields": ("full_name", "unit", "role", "phone")}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + ((_("Duban"), {"fields": ("full_name", "unit", "role")}),)


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 0


@admin.register(CalendarYear)
class CalendarYearAdmin(admin.ModelAdmin):
    list_display = ("year", "source")


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ("date", "is_workday", "name")
    list_filter = ("is_workday",)
    date_hierarchy = "date"


class DeliveryState(admin.SimpleListFilter):
    title = _("delivery")
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return [("failed", _("Failed")), ("pending", _("Pending")), ("sent", _("Sent"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "failed":
            return queryset.filter(failed_at__isnull=False)
        if value == "pending":
            return queryset.filter(sent_at__isnull=True, failed_at__isnull=True)
        if value == "sent":
            return queryset.filter(sent_at__isnull=False)
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Deliveries. A failed one stays here until an administrator retries it."""

    list_display = ("subject", "channel", "recipient", "created_at", "attempts", "sent_at", "failed_at")
    list_filter = (DeliveryState, "channel")
    search_fields = ("subject", "recipient__username", "key")
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Retry delivery"), permissions=["change"])
    def retry(self, request, queryset):
        count = notify.retry_failed(queryset)
        notify.enqueue_relay()
        self.message_user(request, _("%(n)d messages queued again.") % {"n": count})


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    list_display = ("case_type", "remind_before", "red_after", "interview_after", "accountability_after")


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    list_display = ("case", "kind", "unit", "status", "created_at")
    list_filter = ("kind", "status")
    readonly_fields = ("case", "kind", "unit", "created_at")
