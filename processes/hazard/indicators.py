"""The hazard indicators (隐患指标) of a leader's or inspector's chosen units and period: checklist
coverage of the institutions, hazards found and closed by grade, closure on time, major hazards
and their notices, and the institutions with an emergency plan and drills on record. Every
figure links to the cases or units it counts (``indicator_cases``), read by the same filter."""
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflow.models import Role, Unit
from workflow.web.bounds import KEY_MAX, WindowDateField
from workflow.web.forms import SeenUnitMixin
from workflow.web.http import not_found
from workflow.web.paging import CappedPaginator
from workflow.web.unit_tree import UnitSelect, UnitTree

from . import selectors
from .declaration import Grade
from .selectors import GRADES, METRICS, Scope

VIEWERS = (Role.LEADER, Role.INSPECTOR)
PER_PAGE = 50
PAGE_MAX = 10_000


class IndicatorForm(SeenUnitMixin, forms.Form):
    """The units (one the user sees, with those below it) and the period, every value bounded."""

    always_bound = False

    unit = forms.IntegerField(label=gettext_lazy("Units"), required=False, min_value=1, max_value=KEY_MAX,
                              widget=UnitSelect(blank=gettext_lazy("My unit and those below it")))
    date_from = WindowDateField(label=gettext_lazy("From"), required=False,
                                widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    date_to = WindowDateField(label=gettext_lazy("to"), required=False,
                              widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.unseen_unit = None
        self.units = Unit.objects.visible_to(user)
        self.fields["unit"].widget.tree = UnitTree(self.units)  # read once, when the select is drawn
        if not self.is_bound:
            today = timezone.localdate()
            self.initial = {"unit": user.unit_id, "date_from": date(today.year, 1, 1), "date_to": today}

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(_("The period starts after it ends."))
        return data

    def scope(self) -> Scope:
        data = self.cleaned_data if self.is_bound else {}
        today = timezone.localdate()
        end = data.get("date_to") or today
        start = data.get("date_from") or date(end.year, 1, 1)
        if start > end:  # only the end given, before the first of its year
            start = end
        return Scope(user=self.user, unit=data.get("unit") or self.user.unit, start=start, end=end)


class CasesForm(IndicatorForm):
    always_bound = True  # the figure is required
    metric = forms.ChoiceField(label=gettext_lazy("Figure"), choices=[(name, name) for name in METRICS],
                               widget=forms.HiddenInput)
    page = forms.IntegerField(required=False, min_value=1, max_value=PAGE_MAX, widget=forms.HiddenInput)


def _read(request, form_class):
    """The form, and the scope it names or the message of what was refused. A unit the user may
    not see is a 404, as one that does not exist."""
    user = request.user
    if user.role not in VIEWERS or user.unit_id is None:
        raise PermissionDenied(_("Only leaders and inspectors see the hazard indicators."))
    form = form_class(request.GET if request.GET or form_class.always_bound else None, user=user)
    if form.is_bound and not form.is_valid():
        if form.unseen_unit is not None:
            not_found(request, "unit-filter", form.unseen_unit, _("No such unit, or you may not see it."))
        errors = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return form, None, _("The filter was not understood: %(error)s") % {"error": errors}
    return form, form.scope(), ""


def _query(scope: Scope, **more) -> str:
    return urlencode({"unit": scope.unit.pk, "date_from": scope.start.isoformat(),
                      "date_to": scope.end.isoformat(), **more})


@dataclass
class Figure:
    name: str
    label: str
    value: int
    url: str
    total: int | None = None     # the figure it is a share of, when it has a rate

    @property
    def rate(self):
        if self.total is None or not self.total:
            return None
        return round(100 * self.value / self.total, 1)


def _figures(scope: Scope) -> dict:
    base = reverse("hazard:indicator_cases")

    def figure(counts, name, total=None, label=None):
        return Figure(name, label or METRICS[name].label, counts[name], f"{base}?{_query(scope, metric=name)}",
                      None if total is None else counts[total])

    cover, found, closure, majors = (selectors.coverage(scope), selectors.found(scope), selectors.closure(scope),
                                     selectors.majors(scope))
    grades = [(Grade(g).label, figure(found, f"found_{g}"), figure(found, f"found_closed_{g}", f"found_{g}"))
              for g in GRADES]
    return {
        "coverage": [figure(cover, "institutions"), figure(cover, "inspected", "institutions"),
                     figure(cover, "not_inspected", "institutions"), figure(cover, "self_inspected", "institutions")],
        "found": [figure(found, "found"), figure(found, "found_closed", "found")],
        "grades": grades,
        "closure": [figure(closure, "closed"), figure(closure, "on_time", "closed"), figure(closure, "late", "closed")],
        "majors": [figure(majors, "listed"), figure(majors, "major_open"), figure(majors, "listing_late"),
                   figure(majors, "delisting_late")],
        "plans": [figure(cover, "plan", "institutions"), figure(cover, "drill", "institutions")],
    }


@login_required
def indicators(request):
    form, scope, message = _read(request, IndicatorForm)
    context = {"form": form, "message": message, "scope": scope}
    if scope is None:
        return render(request, "hazard/indicators.html", context, status=400)
    context.update(_figures(scope))
    return render(request, "hazard/indicators.html", context)


@login_required
def indicator_cases(request):
    form, scope, message = _read(request, CasesForm)
    context = {"form": form, "message": message, "scope": scope}
    if scope is None:
        return render(request, "hazard/indicator_cases.html", context, status=400)
    metric = METRICS[form.cleaned_data["metric"]]
    page = CappedPaginator(selectors.metric_rows(scope, metric), PER_PAGE).get_page(form.cleaned_data.get("page"))
    context.update(metric=metric, page=page, query=_query(scope, metric=metric.name),
                   back=f"{reverse('hazard:indicators')}?{_query(scope)}")
    return render(request, "hazard/indicator_cases.html", context)


urls = {"hazard": [path("indicators/", indicators, name="indicators"),
                   path("indicators/cases/", indicator_cases, name="indicator_cases")]}
