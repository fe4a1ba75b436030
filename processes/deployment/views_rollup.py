"""The roll-up of every matter the user may see (督办事项汇总): filtered by source, year of the
source and state, a page at a time, each with its share of items done, overdue and by light,
counted for the page's matters in one query."""
from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflow.web.bounds import PAST_YEARS
from workflow.web.paging import CappedPaginator

from .declaration import Matter, SourceKind
from .models import MatterCase
from .rollup import Tally, matters_rollup

PER_PAGE = 30
PAGE_MAX = 10_000


class RollupFilter(forms.Form):
    """The roll-up's filters: every value bounded, a year within the archive's reach."""

    kind = forms.ChoiceField(label=gettext_lazy("Source"), required=False,
                             choices=[("", gettext_lazy("All sources"))] + SourceKind.choices)
    year = forms.IntegerField(required=False)  # bounded by today's year, below
    status = forms.ChoiceField(label=gettext_lazy("State"), required=False)
    page = forms.IntegerField(required=False, min_value=1, max_value=PAGE_MAX, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        this_year = timezone.localdate().year
        self.fields["year"] = forms.IntegerField(label=gettext_lazy("Year of the source"), required=False,
                                                 min_value=this_year - PAST_YEARS, max_value=this_year)
        self.fields["status"].choices = [("", _("All states"))] + Matter.state_choices()


def filtered(user, data: dict):
    """The matters the user may see, as the filters narrow them, newest source first."""
    matters = MatterCase.objects.visible_to(user)
    if data.get("kind"):
        matters = matters.filter(kind=data["kind"])
    if data.get("year"):
        matters = matters.filter(source_date__year=data["year"])
    if data.get("status"):
        matters = matters.filter(status=data["status"])
    return matters.order_by(F("source_date").desc(nulls_last=True), "-created_at", "-pk")


@login_required
def rollup(request):
    form = RollupFilter(request.GET or None)
    if form.is_bound and not form.is_valid():
        errors = " ".join(str(e) for errors in form.errors.values() for e in errors)
        message = _("The filter was not understood: %(error)s") % {"error": errors}
        return render(request, "deployment/rollup.html", {"spec": Matter, "form": form, "message": message},
                      status=400)
    data = form.cleaned_data if form.is_bound else {}
    page = CappedPaginator(filtered(request.user, data), PER_PAGE).get_page(data.get("page"))
    tallies = matters_rollup([matter.pk for matter in page.object_list])
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "deployment/rollup.html", {
        "spec": Matter, "form": form, "page": page, "query": query.urlencode(),
        "rows": [(matter, tallies.get(matter.pk) or Tally()) for matter in page.object_list],
    })


urls = {"matter": [path("rollup/", rollup, name="rollup")], "item": []}
