"""Admin for units, users, the working-day calendar and deliveries.

The administrator keeps the system running and reads no case: no page here shows a case's
number, title or content, and the audit record is absent (it can be neither read nor altered).
Account changes made here are audit events naming the administrator (see `User.save`), and
nobody changes their own role, unit or rights.
"""
import functools

from axes import admin as axes_admin
from axes.conf import settings as axes_settings
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import NestedObjects
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import router
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop
from rest_framework.authtoken.admin import TokenAdmin as BaseTokenAdmin
from rest_framework.authtoken.models import TokenProxy
from viewflow.workflow.models import Process, Task

from workflow.trail import notify
from workflow.kernel import unit_settings
from workflow.web.bounds import AdminLoginForm, KeyMultipleChoiceField, WindowDateField, within_key_range
from workflow.web.http import client_ip
from workflow.kernel import rules as rule_kinds
from workflow.models import (CalendarDay, CalendarYear, EscalationPolicy, OutboxMessage, Proposal, RuleSet, Unit, UnitSetting, User)
from workflow.models.units import OWN_LOCKED, SELF_GRANT, SUPERUSER_ONLY, acting_as

admin.site.site_header = admin.site.site_title = _("Duban administration")
admin.site.index_title = _("System administration")
admin.site.login_form = AdminLoginForm


class InputBoundsMixin:
    """What Django's admin takes from a request and hands on unchecked, failing the page:

    * the objects an action is for, those picked in a many-to-many list and those an
      autocomplete box shows again after a refused form are named by key, and went to the
      database as posted (``pk__in``): a value that is no key (not a number, or a number no key
      can hold) now refuses the action with a message, and the pick with the field's
      (KeyMultipleChoiceField); the box shows no object for it;
    * a list's date drill-down computes its bounds from the year, month and day in the address,
      and failed on a year a date cannot hold (beyond 9999, or whose next year is not): such an
      address is now refused as any unknown filter is;
    * an empty ``_to_field`` in an object page's address was looked up as a field named "".

    Every admin here has it, through QuietDeleteMixin or ListOnlyMixin.
    """

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = KeyAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = KeyAutocompleteSelectMultiple(db_field, self.admin_site, using=kwargs.get("using"))
        kwargs.setdefault("form_class", KeyMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def response_action(self, request, queryset):
        if not all(is_key(self.opts.pk, value) for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)):
            self.message_user(request, gettext("The selection names items that do not exist. No items have been "
                                               "changed."), messages.WARNING)
            return None
        return super().response_action(request, queryset)

    def get_changelist(self, request, **kwargs):
        return with_bounded_dates(super().get_changelist(request, **kwargs))

    def get_object(self, request, object_id, from_field=None):
        return super().get_object(request, object_id, from_field or None)


def is_key(field, value) -> bool:
    """Whether `value` can name a row by the key `field`."""
    try:
        return within_key_range(field.to_python(value))
    except ValidationError:
        return False


class KeyAutocompleteMixin:
    def optgroups(self, name, value, attr=None):
        return super().optgroups(name, [v for v in value if is_key(self.field.target_field, v)], attr)


class KeyAutocompleteSelect(KeyAutocompleteMixin, AutocompleteSelect):
    pass


class KeyAutocompleteSelectMultiple(KeyAutocompleteMixin, AutocompleteSelectMultiple):
    pass


@functools.cache
def with_bounded_dates(changelist: type[ChangeList]) -> type[ChangeList]:
    class BoundedDates(changelist):
        def get_filters(self, request):
            try:
                return super().get_filters(request)
            except (ValueError, OverflowError) as error:
                raise IncorrectLookupParameters(error) from error

    return BoundedDates


class QuietDeleteMixin(InputBoundsMixin):
    """Deleting lists the objects chosen, and only counts what else would go or stands in the way:
    a unit's or a person's cases, evidence and messages are not the administrator's to read."""

    def get_deleted_objects(self, objs, request):
        _deleted, model_count, perms_needed, _protected = super().get_deleted_objects(objs, request)
        collector = NestedObjects(using=router.db_for_write(self.model))
        collector.collect(objs)
        protected: dict[str, int] = {}
        for obj in collector.protected:
            name = capfirst(obj._meta.verbose_name_plural)
            protected[name] = protected.get(name, 0) + 1
        chosen = [f"{capfirst(self.opts.verbose_name)}: {self.object_label(obj)}" for obj in objs]
        return chosen, model_count, perms_needed, [f"{name}: {count}" for name, count in protected.items()]

    def object_label(self, obj) -> str:
        return str(obj)


PERMISSION_ACTIONS = {
    "add": _("Can add %(name)s"), "change": _("Can change %(name)s"),
    "delete": _("Can delete %(name)s"), "view": _("Can view %(name)s"),
}


def permission_label(permission: Permission) -> str:
    """'应用 | 模型 | 可以修改模型' rather than the English name Django stores."""
    model = permission.content_type.model_class()
    if model is None:
        return str(permission)
    action, _sep, model_name = permission.codename.partition("_")
    if action in PERMISSION_ACTIONS and model_name == model._meta.model_name:
        name = PERMISSION_ACTIONS[action] % {"name": model._meta.verbose_name}
    else:
        name = gettext(permission.name)
    return f"{model._meta.app_config.verbose_name} | {model._meta.verbose_name} | {name}"


class PermissionLabelsMixin:
    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        if db_field.name in ("permissions", "user_permissions"):
            kwargs["queryset"] = Permission.objects.select_related("content_type")
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name in ("permissions", "user_permissions"):
            field.label_from_instance = permission_label
        return field


class ActingAdminMixin:
    """Writes made through this admin name the signed-in administrator as their author."""

    def save_model(self, request, obj, form, change):
        with acting_as(request.user, client_ip(request)):
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        with acting_as(request.user, client_ip(request)):
            super().save_related(request, form, formsets, change)

    def delete_model(self, request, obj):
        with acting_as(request.user, client_ip(request)):
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with acting_as(request.user, client_ip(request)):
            super().delete_queryset(request, queryset)


def _added(form, name) -> bool:
    """Whether the form adds anything to the many-to-many field `name`."""
    before = {getattr(item, "pk", item) for item in form.initial.get(name) or ()}
    return bool({item.pk for item in form.cleaned_data.get(name) or ()} - before)


class AccountChangeForm(UserChangeForm):
    """Refuses, with a message, changes to one's own role, unit, superuser or staff status and
    additions to one's own groups or permissions. Superuser status is read-only for anyone
    who is not a superuser."""

    acting_user = None  # set per request by UserAdmin.get_form

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        actor = self.acting_user
        if "is_superuser" in self.fields and actor is not None and not actor.is_superuser:
            self.fields["is_superuser"].disabled = True
            self.fields["is_superuser"].help_text = gettext(SUPERUSER_ONLY)

    def clean(self):
        cleaned = super().clean()
        actor = self.acting_user
        if actor is not None and self.instance.pk == actor.pk:
            for name in OWN_LOCKED:
                if name in self.changed_data:
                    self.add_error(name, gettext(SELF_GRANT))
            for name in ("groups", "user_permissions"):
                if name in self.fields and _added(self, name):
                    self.add_error(name, gettext(SELF_GRANT))
        return cleaned


ACCOUNT_RULES = _("Only a superuser can grant or remove superuser status. Nobody can change their own "
                  "role, unit, superuser or staff status, groups or permissions: another administrator "
                  "must do it. Every change here is recorded in the audit trail.")


# 统一社会信用代码 (GB 32100-2015): 18 characters from this set, the last a check character.
CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
BAD_CREDIT_CODE = _("A unified social credit code has 18 characters: digits and capital letters other than "
                    "I, O, S, V and Z, the last one a check character. Please check the code.")


def credit_code_valid(code: str) -> bool:
    if len(code) != 18 or any(ch not in CREDIT_CODE_CHARS for ch in code):
        return False
    total = sum(CREDIT_CODE_CHARS.index(ch) * weight for ch, weight in zip(code, CREDIT_CODE_WEIGHTS))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31] == code[17]


class UnitForm(forms.ModelForm):
    """A unit's record, with what documents sent to it print: its unified social credit code
    (checked, upper case) and the person in charge."""

    class Meta:
        model = Unit
        fields = ("code", "name", "kind", "parent", "credit_code", "head_name", "address")

    def clean_credit_code(self):
        code = "".join((self.cleaned_data.get("credit_code") or "").split()).upper()
        if code and not credit_code_valid(code):
            raise ValidationError(BAD_CREDIT_CODE, code="credit_code")
        return code


@admin.register(Unit)
class UnitAdmin(QuietDeleteMixin, admin.ModelAdmin):
    form = UnitForm
    list_display = ("name", "kind", "parent", "code")
    list_filter = ("kind",)
    search_fields = ("name", "code")
    autocomplete_fields = ("parent",)
    fieldsets = (
        (None, {"fields": ("code", "name", "kind", "parent")}),
        (None, {
            "fields": ("credit_code", "head_name", "address"),
            "description": _("Notices sent to the unit print its unified social credit code, its person in "
                             "charge and its address as entered here; left empty, the notice leaves a blank "
                             "to fill in by hand.")}),
    )


@admin.register(User)
class UserAdmin(QuietDeleteMixin, PermissionLabelsMixin, ActingAdminMixin, BaseUserAdmin):
    form = AccountChangeForm
    list_display = ("username", "full_name", "role", "unit", "is_active", "is_staff")
    list_filter = ("role", "is_active", "is_staff", "is_superuser")
    filter_horizontal = ()  # the two-pane widget's newer strings have no Chinese in Django's catalogue
    search_fields = ("username", "full_name")
    autocomplete_fields = ("unit",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("full_name", "email", "phone")}),
        (_("Unit and role"), {"fields": ("unit", "role")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions"),
                            "description": ACCOUNT_RULES}),
        (_("Notifications"), {"fields": ("notify_in_app", "notify_email", "notify_sms")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = BaseUserAdmin.add_fieldsets + (
        (_("Unit and role"), {"fields": ("full_name", "unit", "role"), "description": ACCOUNT_RULES}),)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.acting_user = request.user  # a fresh class per request
        return form

    def has_change_permission(self, request, obj=None):
        """A superuser's account (its password included) is changed by superusers only."""
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def user_change_password(self, request, id, form_url=""):
        with acting_as(request.user, client_ip(request)):
            return super().user_change_password(request, id, form_url)

    def object_label(self, obj):
        return obj.username


class GroupForm(forms.ModelForm):
    acting_user = None  # set per request by GroupAdmin.get_form

    def clean(self):
        cleaned = super().clean()
        actor = self.acting_user
        if (actor is not None and self.instance.pk and _added(self, "permissions")
                and actor.groups.filter(pk=self.instance.pk).exists()):
            self.add_error("permissions", gettext(SELF_GRANT))
        return cleaned


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(QuietDeleteMixin, PermissionLabelsMixin, ActingAdminMixin, BaseGroupAdmin):
    """Groups: nobody adds permissions to a group they belong to."""

    form = GroupForm
    filter_horizontal = ()

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.acting_user = request.user
        return form


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 0


@admin.register(CalendarYear)
class CalendarYearAdmin(QuietDeleteMixin, admin.ModelAdmin):
    list_display = ("year", "source")


@admin.register(CalendarDay)
class CalendarDayAdmin(QuietDeleteMixin, admin.ModelAdmin):
    list_display = ("date", "is_workday", "name")
    list_filter = ("is_workday",)
    date_hierarchy = "date"


@admin.display(description=_("No."), ordering="pk")
def serial(obj):
    return obj.pk


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
class OutboxMessageAdmin(QuietDeleteMixin, admin.ModelAdmin):
    """Deliveries: who, how, and whether it arrived; never what it says. A failed one stays here
    until an administrator retries it."""

    list_display = (serial, "channel", "recipient", "created_at", "attempts", "sent_at", "failed_at")
    list_filter = (DeliveryState, "channel")
    search_fields = ("recipient__username", "recipient__full_name")
    fields = readonly_fields = ("channel", "recipient", "created_at", "attempts", "next_attempt_at",
                                "sent_at", "failed_at", "last_error")
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Retry delivery"), permissions=["change"])
    def retry(self, request, queryset):
        count = notify.retry_failed(queryset)
        notify.enqueue_relay()
        self.message_user(request, _("%(n)d messages queued again.") % {"n": count})


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(QuietDeleteMixin, admin.ModelAdmin):
    list_display = ("case_type", "remind_before", "red_after", "interview_after", "accountability_after")


class UnitSettingForm(forms.ModelForm):
    """One version of a unit's setting: a declared key, and its value as text (a letterhead, a
    document code or a template name; the ladder's days as JSON), checked against the key."""

    key = forms.ChoiceField(label=_("setting"), choices=unit_settings.choices)
    value = forms.CharField(label=_("value"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
                            help_text=_('Text for a letterhead, a document code or a template name; for the '
                                        'escalation ladder, working days as {"remind_before": 2, "red_after": 3, '
                                        '"interview_after": 5, "accountability_after": 5}.'))
    effective_from = WindowDateField(label=_("effective from"), initial=timezone.localdate)

    class Meta:
        model = UnitSetting
        fields = ("unit", "key", "value", "effective_from")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["value"] = unit_settings.show(self.instance.key, self.instance.value)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("key") and cleaned.get("value") is not None:
            try:
                cleaned["value"] = unit_settings.parse(cleaned["key"], cleaned["value"])
            except ValidationError as error:
                self.add_error("value", error)
        return cleaned


class SettingFamily(admin.SimpleListFilter):
    title = _("setting")
    parameter_name = "setting"

    def lookups(self, request, model_admin):
        return [(key.name, key.label) for key in unit_settings.KEYS.values()]

    def queryset(self, request, queryset):
        value = self.value()
        if value in unit_settings.KEYS:
            return queryset.filter(key__startswith=value) if value.endswith(".") else queryset.filter(key=value)
        return queryset


SETTING_RULES = _("A unit's setting holds for the units below it unless they have their own; of a unit's "
                  "versions, the newest in force counts. A version in force is not changed: add a newer one. "
                  "Delete a unit's versions to let it inherit again. Units that share a document code share "
                  "its numbering.")


SHOWN = ("unit", "setting", "shown_value", "effective_from", "created_by", "created_at")


@admin.register(UnitSetting)
class UnitSettingAdmin(QuietDeleteMixin, admin.ModelAdmin):
    """Settings per unit (letterhead, document codes, ladder days, templates), in versions that
    take effect on a day; who added each version is kept with it."""

    form = UnitSettingForm
    list_display = ("unit", "setting", "shown_value", "effective_from", "created_by", "created_at")
    list_filter = (SettingFamily,)
    search_fields = ("unit__name", "unit__code")
    autocomplete_fields = ("unit",)
    list_select_related = ("unit", "created_by")
    readonly_fields = ("created_by", "created_at")

    def get_fields(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return list(SHOWN)
        return ["unit", "key", "value", "effective_from"] + (["created_by", "created_at"] if obj else [])

    def get_fieldsets(self, request, obj=None):
        return [(None, {"fields": self.get_fields(request, obj), "description": SETTING_RULES})]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return SHOWN
        return self.readonly_fields

    def has_change_permission(self, request, obj=None):
        """A version already in force stays as it was: a change is a newer version."""
        if obj is not None and obj.effective_from <= timezone.localdate():
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description=_("setting"), ordering="key")
    def setting(self, obj):
        return unit_settings.key_label(obj.key)

    @admin.display(description=_("value"))
    def shown_value(self, obj):
        return unit_settings.show(obj.key, obj.value)


class RuleSetForm(forms.ModelForm):
    kind = forms.ChoiceField(label=_("kind of rules"), choices=())

    class Meta:
        model = RuleSet
        fields = ["kind", "name", "title", "version", "effective_from", "body", "note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k.key, k.label) for k in rule_kinds.kinds()]


@admin.register(RuleSet)
class RuleSetAdmin(QuietDeleteMixin, admin.ModelAdmin):
    """Rule sets in versions (checklists, grading criteria): a version a decision has used is
    kept as it is, so the cases judged under it keep it; a change is a newer version."""

    form = RuleSetForm
    list_display = ("title", "kind_label", "version", "effective_from", "used", "created_by")
    list_filter = ("kind", "used")
    search_fields = ("title", "name", "version")
    readonly_fields = ("used", "created_by", "created_at")

    @admin.display(description=_("kind of rules"), ordering="kind")
    def kind_label(self, obj):
        return rule_kinds.kind_label(obj.kind)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.used:
            return ("kind", "name", "title", "version", "effective_from", "body", "used", "created_by", "created_at")
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.used:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Proposal)
class ProposalAdmin(QuietDeleteMixin, admin.ModelAdmin):
    """Interview and accountability proposals by unit and state; the case itself is not shown."""

    list_display = (serial, "kind", "unit", "status", "created_at")
    list_filter = ("kind", "status")
    fields = readonly_fields = ("kind", "unit", "status", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):  # the sanction process decides them
        return False


# Other applications' admin pages ------------------------------------------------------------
# viewflow's process and task lists show each case's summary: not the administrator's to read.
for _model in (Process, Task):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class ListOnlyMixin(InputBoundsMixin):
    """A list with no object pages: their titles would show the object's text (a token's
    key, an English description)."""

    list_display_links = None

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return obj is None and super().has_view_permission(request)


# API tokens are credentials: who holds one and since when, never the key itself.
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class TokenAdmin(ListOnlyMixin, BaseTokenAdmin):
    list_display = ("user", "created")


# django-axes ships no Chinese, viewflow names its models in English where permissions show them,
# and Django's own catalogue lacks a few newer admin strings: they are listed here for our
# catalogue, which Django consults before any other.
THIRD_PARTY_LABELS = (
    gettext_noop("Model name"), gettext_noop("Add link"), gettext_noop("Change or view list link"),
    gettext_noop("After you’ve created a user, you’ll be able to edit more user options."),
    gettext_noop("Workflow"), gettext_noop("Process"), gettext_noop("Process list"), gettext_noop("Tasks"),
    gettext_noop("Can manage Process"),
    gettext_noop("access attempt"), gettext_noop("access attempts"), gettext_noop("access failure"),
    gettext_noop("access failures"), gettext_noop("access log"), gettext_noop("access logs"),
    gettext_noop("access attempt expiration"), gettext_noop("access attempt expirations"),
    gettext_noop("User Agent"), gettext_noop("IP Address"), gettext_noop("Username"),
    gettext_noop("HTTP Accept"), gettext_noop("Path"), gettext_noop("Attempt Time"),
    gettext_noop("Access lock out"), gettext_noop("GET Data"), gettext_noop("POST Data"),
    gettext_noop("Failed Logins"), gettext_noop("Logout Time"), gettext_noop("Session key hash (sha256)"),
    gettext_noop("Expires At"), gettext_noop("Locked Out"),
)
apps.get_app_config("axes").verbose_name = _("Sign-in records")

for _model in (AccessAttempt, AccessLog, AccessFailureLog):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(QuietDeleteMixin, ListOnlyMixin, axes_admin.AccessAttemptAdmin):
    """Failed sign-ins by account. Deleting an account's row lifts its lock."""

    list_display = ("attempt_time", "username", "ip_address", "failures_since_start", "locked")
    list_filter = ("attempt_time",)
    actions = ["delete_selected"]

    @admin.display(description=_("locked"), boolean=True)
    def locked(self, obj):
        return obj.failures_since_start >= axes_settings.AXES_FAILURE_LIMIT

    def object_label(self, obj):
        return obj.username or ""


@admin.register(AccessLog)
class AccessLogAdmin(ListOnlyMixin, axes_admin.AccessLogAdmin):
    list_display = ("attempt_time", "logout_time", "username", "ip_address")
    list_filter = ("attempt_time", "logout_time")
    actions = None


@admin.register(AccessFailureLog)
class AccessFailureLogAdmin(ListOnlyMixin, axes_admin.AccessFailureLogAdmin):
    list_display = ("attempt_time", "username", "ip_address", "locked_out")
    list_filter = ("attempt_time", "locked_out")
    actions = None
