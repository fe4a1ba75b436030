"""Admin for units, users and the working-day calendar. Audit events are deliberately absent:
the administrator can neither read nor alter the audit record."""
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import CalendarDay, CalendarYear, Unit, User


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
