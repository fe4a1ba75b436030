"""Admin for what the administrator keeps for 督办事项: each unit's duties (职责), against which
an item's text is matched to suggest its units, and the versions of the status lights' rule."""
from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from workflow.admin import QuietDeleteMixin
from workflow.web.bounds import WindowDateField

from .duties import keywords
from .models import LightRule, UnitDuty

KEYWORDS_MAX = 50  # keywords of one duty
KEYWORD_LEN_MAX = 30
GAP_MAX = 100      # points of progress


class UnitDutyForm(forms.ModelForm):
    """A unit's duty and its keywords; a unit does not keep the same duty twice."""

    class Meta:
        model = UnitDuty
        fields = ("unit", "duty", "keywords")

    def clean_duty(self):
        duty = " ".join((self.cleaned_data.get("duty") or "").split())
        if not duty:
            raise ValidationError(_("Write what the unit is responsible for."), code="required")
        return duty

    def clean_keywords(self):
        raw = (self.cleaned_data.get("keywords") or "").strip()
        words = keywords(raw)
        if len(words) > KEYWORDS_MAX:
            raise ValidationError(_("A duty keeps at most %(n)d keywords."), code="too_many",
                                  params={"n": KEYWORDS_MAX})
        if any(len(word) > KEYWORD_LEN_MAX for word in words):
            raise ValidationError(_("A keyword is at most %(n)d characters; separate keywords with spaces, commas "
                                    "or 、."), code="too_long", params={"n": KEYWORD_LEN_MAX})
        return raw

    def clean(self):
        cleaned = super().clean()
        unit, duty = cleaned.get("unit"), cleaned.get("duty")
        if unit and duty and UnitDuty.objects.filter(unit=unit, duty=duty).exclude(pk=self.instance.pk).exists():
            self.add_error("duty", _("The unit already has this duty."))
        return cleaned


@admin.register(UnitDuty)
class UnitDutyAdmin(QuietDeleteMixin, admin.ModelAdmin):
    """Duties by unit; the unit is picked by searching its name or code (the tree may be large)."""

    form = UnitDutyForm
    list_display = ("unit", "duty", "keywords")
    list_filter = ("unit__kind",)
    search_fields = ("unit__name", "unit__code", "duty", "keywords")
    autocomplete_fields = ("unit",)
    list_select_related = ("unit",)
    ordering = ("unit__name", "pk")
    fieldsets = ((None, {"fields": ("unit", "duty", "keywords"), "description": _(
        "An item's text is matched against these keywords to suggest the units it should go to; a duty "
        "without keywords is matched by the words of the duty itself, with less weight.")}),)


def _bounded(field: forms.IntegerField, low: int, high: int):
    """Leave the range to the form's own messages, and tell the browser about it."""
    field.validators = []
    field.min_value = field.max_value = None
    field.widget.attrs.update(min=low, max=high)


class LightRuleForm(forms.ModelForm):
    """A version of the lights' thresholds: a report day every month has, and yellow before red."""

    effective_from = WindowDateField(label=_("effective from"), initial=timezone.localdate)

    class Meta:
        model = LightRule
        fields = ("effective_from", "report_day", "yellow_gap", "red_gap", "note")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, low, high in (("report_day", 1, 28), ("yellow_gap", 0, GAP_MAX), ("red_gap", 0, GAP_MAX)):
            if name in self.fields:  # a version in force is shown without a form
                _bounded(self.fields[name], low, high)

    def clean_report_day(self):
        day = self.cleaned_data.get("report_day")
        if day is not None and not 1 <= day <= 28:
            raise ValidationError(_("The report day is a day from 1 to 28, which every month has."),
                                  code="report_day")
        return day

    def _clean_gap(self, name):
        gap = self.cleaned_data.get(name)
        if gap is not None and not 0 <= gap <= GAP_MAX:
            raise ValidationError(_("Points behind schedule are from 0 to %(n)d."), code="gap", params={"n": GAP_MAX})
        return gap

    def clean_yellow_gap(self):
        return self._clean_gap("yellow_gap")

    def clean_red_gap(self):
        return self._clean_gap("red_gap")

    def clean(self):
        cleaned = super().clean()
        yellow, red = cleaned.get("yellow_gap"), cleaned.get("red_gap")
        if yellow is not None and red is not None and yellow >= red:
            self.add_error("yellow_gap", _("Yellow must be fewer points behind schedule than red (%(red)d).")
                           % {"red": red})
        return cleaned


LIGHT_RULES = _("The version in force on a day judges the items' lights that day, and each period's light "
                "keeps the version it was judged under. A version in force is not changed: add a newer one.")


@admin.register(LightRule)
class LightRuleAdmin(QuietDeleteMixin, admin.ModelAdmin):
    """The lights' rule in versions by the day they take effect; one in force stays as it was."""

    form = LightRuleForm
    list_display = ("effective_from", "report_day", "yellow_gap", "red_gap", "note")
    fieldsets = ((None, {"fields": ("effective_from", "report_day", "yellow_gap", "red_gap", "note"),
                         "description": LIGHT_RULES}),)

    def has_change_permission(self, request, obj=None):
        """A version already in force stays as it was: a change is a newer version."""
        if obj is not None and obj.effective_from <= timezone.localdate():
            return False
        return super().has_change_permission(request, obj)
