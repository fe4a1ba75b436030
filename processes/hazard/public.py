"""Reports of hazards from outside, as pages.

``public_urls`` are served without a login, under /public/hazard/ (workflow/web/public.py), on
the main site and on a host that serves only them: the report form (captcha; throttled by the
client's address) and the query page. ``urls`` are the signed-in pages in the ``hazard``
namespace: the grid member's form and list, and the inspectors' triage (list, report page,
take up, decline)."""
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Case as Pick, IntegerField, Value, When
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from workflow.cases import selectors
from workflow.cases.engine import Actor
from workflow.cases.evidence import EvidenceRejected
from workflow.kernel import tokens
from workflow.kernel.errors import ActionError, AlreadyHandled, AlreadySubmitted
from workflow.models import Evidence, Role
from workflow.web import public as guard
from workflow.web.http import actor_for, client_ip, not_found
from workflow.web.paging import CappedPaginator

from . import services_reports as reports
from .forms_public import DeclineForm, GridReportForm, PublicReportForm, QueryForm, TakeUpForm
from .models import Report

TRIAGE_ROLES = (Role.INSPECTOR, Role.LEADER)
PAGE_SIZE = 50


# Without a login ------------------------------------------------------------------------------------
def too_many(request, bucket: str):
    """429 with a page saying when to come back."""
    minutes = max(1, round(guard.retry_after(bucket) / 60))
    response = render(request, "hazard/public_limited.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(guard.retry_after(bucket))
    return response


@never_cache
@guard.as_anonymous
def report_form(request):
    """The public report form. Each page view draws a captcha and each post is counted; a
    client over either limit, or over the reports it may file, is answered 429."""
    status = 200
    if request.method == "POST":
        if guard.count("post", request) or guard.over_limit("report", request):
            return too_many(request, "report" if guard.over_limit("report", request) else "post")
        form = PublicReportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                report, code = reports.file_report(actor=Actor(user=None, ip=client_ip(request)),
                                                   unit=form.cleaned_data["unit"],
                                                   photos=form.cleaned_data["photos"], **form.report_fields())
            except EvidenceRejected as exc:
                form.add_error("photos", exc.message)
                status = exc.status
            except ActionError as exc:
                form.add_error(None, exc.message)
            else:
                guard.count("report", request)
                return render(request, "hazard/public_filed.html",
                              {"code": reports.grouped(code), "bureau": report.unit.name})
    else:
        if guard.count("page", request):
            return too_many(request, "page")
        form = PublicReportForm()
    # A refused form is shown again with a new captcha: the one answered is spent.
    return render(request, "hazard/public_report.html", {"form": form},
                  status=(status if status != 200 else 400) if form.errors else 200)


@never_cache
@guard.as_anonymous
def query(request):
    """Enter a query code (posted, so it stays out of addresses and logs): the report's state,
    the bureau's reply and, once a case is open, its state. Any code that names no report
    answers the same message; every lookup is counted."""
    answer, asked = None, False
    form = QueryForm(request.POST or None)
    if request.method == "POST":
        if guard.count("query", request):
            return too_many(request, "query")
        if form.is_valid():
            asked = True
            answer = reports.lookup(form.cleaned_data["code"])
    return render(request, "hazard/public_query.html", {"form": form, "answer": answer, "asked": asked})


public_urls: list = [
    path("report/", report_form, name="report"),
    path("query/", query, name="query"),
]


# Grid members ---------------------------------------------------------------------------------------
def _grid_only(request):
    if request.user.role != Role.GRID:
        raise Http404(_("No such page."))


@login_required
def grid_report(request):
    _grid_only(request)
    bureau = reports.bureau_above(request.user.unit)
    form = GridReportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            report, _code = reports.file_report(actor=actor_for(request), photos=form.cleaned_data["photos"],
                                                **form.report_fields())
        except EvidenceRejected as exc:
            form.add_error("photos", exc.message)
        except ActionError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Your report was sent to %(bureau)s.") % {"bureau": report.unit.name})
            return redirect("hazard:grid-reports")
    return render(request, "hazard/report_grid_form.html", {"form": form, "bureau": bureau},
                  status=400 if form.errors else 200)


@login_required
def grid_reports(request):
    _grid_only(request)
    rows = Report.objects.filter(created_by=request.user).select_related("unit").order_by("-created_at")
    page = CappedPaginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "hazard/report_grid_list.html", {"page": page})


# Triage ---------------------------------------------------------------------------------------------
def _triage_only(request):
    if request.user.role not in TRIAGE_ROLES:
        raise Http404(_("No such page."))


@login_required
def triage_list(request):
    """The reports addressed to the user's bureau and those below it: received ones first."""
    _triage_only(request)
    rows = (Report.objects.visible_to(request.user).select_related("unit")
            .annotate(waiting=Pick(When(status=Report.Status.RECEIVED, then=Value(0)), default=Value(1),
                                    output_field=IntegerField()))
            .order_by("waiting", "-created_at"))
    status = request.GET.get("status", "")
    if status in Report.Status.values:
        rows = rows.filter(status=status)
    page = CappedPaginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "hazard/report_list.html", {"page": page, "status": status, "statuses": Report.Status.choices,
                                                       "query": urlencode({"status": status}) if status else ""})


def _report(request, pk) -> Report:
    report = Report.objects.visible_to(request.user).select_related("unit", "case", "handled_by").filter(pk=pk).first()
    if report is None:
        not_found(request, "hazard_report", pk, _("No such report, or you may not see it."))
    return report


def _page(request, report, take_up=None, decline=None, status=200):
    photos = (Evidence.objects.filter(record_type=ContentType.objects.get_for_model(Report), record_id=report.pk)
              .order_by("created_at"))
    may_act = request.user.role == Role.INSPECTOR and report.status == Report.Status.RECEIVED
    if may_act:
        take_up = take_up or TakeUpForm(units=selectors.target_units(request.user),
                                        initial={"form_token": tokens.new()})
        decline = decline or DeclineForm()
    return render(request, "hazard/report_detail.html", {
        "report": report, "photos": photos, "may_act": may_act, "take_up": take_up, "decline": decline},
        status=status)


@login_required
def triage_detail(request, pk):
    _triage_only(request)
    return _page(request, _report(request, pk))


def _acting(request, pk):
    _triage_only(request)
    report = _report(request, pk)
    if request.user.role != Role.INSPECTOR:
        raise PermissionDenied(_("Only inspectors handle reports."))
    return report


@login_required
@require_POST
def take_up(request, pk):
    report = _acting(request, pk)
    form = TakeUpForm(request.POST, units=selectors.target_units(request.user))
    if form.is_valid():
        try:
            case = reports.take_up(actor=actor_for(request), report_id=report.pk, unit=form.cleaned_data["unit"],
                                   reply=form.cleaned_data["reply"], token=tokens.posted(request))
        except AlreadySubmitted:
            messages.info(request, _("This form was already submitted; the result is shown below."))
            return redirect("hazard:report", pk=report.pk)
        except AlreadyHandled as exc:
            messages.warning(request, exc.message)
            return redirect("hazard:report", pk=report.pk)
        except ActionError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Taken up: hazard case %(number)s opened.") % {"number": case.number})
            return redirect(case.get_absolute_url())
    return _page(request, report, take_up=form, status=400)


@login_required
@require_POST
def decline(request, pk):
    report = _acting(request, pk)
    form = DeclineForm(request.POST)
    if form.is_valid():
        try:
            reports.decline(actor=actor_for(request), report_id=report.pk, reply=form.cleaned_data["reply"])
        except AlreadyHandled as exc:
            messages.warning(request, exc.message)
        except ActionError as exc:
            form.add_error(None, exc.message)
            return _page(request, report, decline=form, status=400)
        else:
            messages.success(request, _("The report is not taken up; the reporter can read your reply."))
        return redirect("hazard:report", pk=report.pk)
    return _page(request, report, decline=form, status=400)


urls: dict = {"hazard": [
    path("reports/", triage_list, name="reports"),
    path("reports/<int:pk>/", triage_detail, name="report"),
    path("reports/<int:pk>/take-up/", take_up, name="report-take-up"),
    path("reports/<int:pk>/decline/", decline, name="report-decline"),
    path("grid/report/", grid_report, name="grid-report"),
    path("grid/reports/", grid_reports, name="grid-reports"),
]}
