"""Checklist inspections' pages, in the ``hazard`` namespace: the list (the regulator's
inspections and the units' self-inspections apart), starting one, filling it in on a phone
(one card per item: pass, fail or not applicable, a note and a photo), submitting it (a hazard
case opens for each failed item) and its report as a PDF.

Writes go through services (answers and submitting, each audited on the inspection's chain)
and workflow.cases.evidence (photos, on the answer's chain). The forms that change something
carry a one-time token: a form sent twice changes nothing the second time. An inspection the
user may not see is a 404 with a denied-access event; one they see but may not fill in is read
only."""
from collections import OrderedDict
from types import SimpleNamespace

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _

from workflow.cases import evidence as evidence_files
from workflow.cases import photos
from workflow.cases.engine import claim_token
from workflow.documents.pdf import pdf_response, render_pdf
from workflow.kernel import tokens
from workflow.kernel.errors import ActionError, AlreadySubmitted
from workflow.models import Case, Evidence, Role
from workflow.trail import audit
from workflow.web.http import actor_for, client_ip, not_found
from workflow.web.paging import CappedPaginator

from . import services
from .forms_inspection import FillForm, InspectionFilter, StartForm
from .models import Answer, Inspection, InspectionKind, Result

PER_PAGE = 30


def _grade_label(code: str) -> str:
    labels = {"G": _("General"), "M": _("Major"), "G/M": _("General or major")}
    return labels.get(code, code)


def _once(request, actor, work):
    """Run `work` (a service call) once per form: the form's one-time token is claimed in the
    same transaction. A refusal is returned rather than raised, so the denied-access event the
    service records stays with the claimed token; the page is drawn again with a new one.
    Returns (result, error message or None); AlreadySubmitted when the form was sent before."""
    with transaction.atomic():
        claim_token(actor, tokens.posted(request))
        try:
            return work(), None
        except (ActionError, PermissionDenied) as exc:
            return None, _message(exc)


def _message(exc) -> str:
    return str(exc.args[0]) if exc.args else str(exc)


def _inspection_or_404(request, pk):
    inspection = (Inspection.objects.visible_to(request.user)
                  .select_related("unit", "by_unit", "checklist", "created_by").filter(pk=pk).first())
    if inspection is None:
        if Inspection.objects.filter(pk=pk).exists():
            not_found(request, "inspection", pk, _("No such inspection, or you may not see it."))
        raise Http404(_("No such inspection, or you may not see it."))
    return inspection


def _starts(user) -> str | None:
    """What the user may start: "inspection" (an inspector), "self" (a unit's handler or head), or None."""
    if user.unit_id is None:
        return None
    if user.role == Role.INSPECTOR:
        return "inspection"
    if user.role in services.SELF_ROLES:
        return "self"
    return None


# The list ----------------------------------------------------------------------------------------
@login_required
def inspection_list(request):
    form = InspectionFilter(request.GET or None)
    if form.is_bound and not form.is_valid():
        messages.error(request, _("The filter was not understood; all inspections are shown."))
    inspections = form.apply(Inspection.objects.visible_to(request.user)).select_related(
        "unit", "by_unit", "checklist").order_by("-inspected_on", "-pk")
    page = CappedPaginator(inspections, PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    for key in ("page", "tab"):
        query.pop(key, None)
    return render(request, "hazard/inspection_list.html", {
        "form": form, "tab": form.tab, "page": page, "query": query.urlencode(),
        "starts": _starts(request.user),
    })


# Starting one --------------------------------------------------------------------------------------
@login_required
def inspection_new(request):
    starts = _starts(request.user)
    if starts is None:
        raise PermissionDenied(_("Inspections are started by inspectors; self-inspections by a unit's handlers "
                                 "or head."))
    self_inspection = starts == "self"
    form = StartForm(request.POST if request.method == "POST" else None, user=request.user,
                     self_inspection=self_inspection, initial={"form_token": tokens.new()})
    if request.method == "POST" and form.is_valid():
        actor = actor_for(request)
        try:
            inspection, error = _once(request, actor, lambda: services.start_inspection(
                actor=actor, **form.start_kwargs(request.user)))
        except AlreadySubmitted:
            messages.info(request, _("This form was already submitted; the inspection was started once."))
            return redirect("hazard:inspections")
        if error is None:
            messages.success(request, _("The inspection is started: answer each item."))
            return redirect(inspection.get_absolute_url())
        form.add_error(None, error)
        form.data = form.data.copy()
        form.data["form_token"] = tokens.new()
    return render(request, "hazard/inspection_new.html", {"form": form, "self_inspection": self_inspection})


# Filling it in ---------------------------------------------------------------------------------------
def _photos_by_answer(inspection, answers, user) -> dict:
    """Each answer's photos (its evidence), with the camera's time and place and any photo on a
    case it matches (read in two queries at most, as the case page does)."""
    rows = list(Evidence.objects.filter(record_type=ContentType.objects.get_for_model(Answer),
                                        record_id__in=[a.pk for a in answers])
                .select_related("uploaded_by").order_by("created_at"))
    # The inspection stands in for the case: a photo taken before it started is out of period.
    photos.annotate(SimpleNamespace(pk=None, created_at=inspection.created_at), rows, user)
    by_answer = {}
    for ev in rows:
        by_answer.setdefault(ev.record_id, []).append(ev)
    return by_answer


def _page(request, inspection, form=None, status=200):
    answers = list(inspection.answers.all())
    editable = inspection.may_edit(request.user)
    if editable and form is None:
        form = FillForm(answers=answers, initial={"form_token": tokens.new(), "summary": inspection.summary})
    by_answer = _photos_by_answer(inspection, answers, request.user)
    hazards = {}
    if inspection.status == Inspection.Status.SUBMITTED:
        ids = [a.case_id for a in answers if a.case_id]
        hazards = {c.pk: c for c in Case.objects.visible_to(request.user).filter(pk__in=ids)}
    sections = OrderedDict()
    for a in answers:
        a.grade_label = _grade_label(a.grade)
        a.photos = by_answer.get(a.pk, [])
        a.hazard = hazards.get(a.case_id)
        a.fields = form.item(a) if editable else None
        sections.setdefault(a.section or _("Items"), []).append(a)
    wrong = [a for a in answers if editable and form.is_bound and any(
        form.errors.get(f"{prefix}{a.position}") for prefix in "rnp")]
    counts = {value: sum(1 for a in answers if a.result == value) for value in Result.values}
    counts["open"] = sum(1 for a in answers if not a.result)
    return render(request, "hazard/inspection_detail.html", {
        "inspection": inspection, "sections": list(sections.items()), "form": form, "editable": editable,
        "hazards": [hazards[a.case_id] for a in answers if a.case_id in hazards], "counts": counts,
        "total": len(answers), "wrong": wrong,
    }, status=status)


@login_required
def inspection_detail(request, pk):
    inspection = _inspection_or_404(request, pk)
    if request.method != "POST":
        return _page(request, inspection)
    if not inspection.may_edit(request.user):
        if inspection.status == Inspection.Status.SUBMITTED and request.user.unit_id == inspection.by_unit_id:
            messages.info(request, _("The inspection was already submitted; nothing was changed."))
            return redirect(inspection.get_absolute_url())
        audit.record(action="answer", user=request.user, on=inspection, outcome="denied", ip=client_ip(request))
        raise PermissionDenied(_("Only the inspectors filling it in may change it, before it is submitted."))
    answers = list(inspection.answers.all())
    form = FillForm(request.POST, request.FILES, answers=answers)
    if not form.is_valid():
        messages.error(request, _("Nothing was saved: correct the items marked below."))
        form.data = form.data.copy()
        form.data["form_token"] = tokens.new()
        return _page(request, inspection, form)
    actor = actor_for(request)
    submitting = request.POST.get("action") == "submit"
    try:
        changed, error = _once(request, actor, lambda: services.answer(
            actor=actor, inspection_id=inspection.pk, answers=form.answer_values()))
    except AlreadySubmitted:
        messages.info(request, _("This form was already submitted; the result is shown below."))
        return redirect(inspection.get_absolute_url())
    if error is not None:
        messages.error(request, error)
        return redirect(inspection.get_absolute_url())
    added = 0
    for answer, upload in form.photos():
        try:
            evidence_files.attach_record_evidence(Answer, answer.pk, actor=actor, upload=upload,
                                                  note=f"{answer.code} {answer.title}")
            added += 1
        except evidence_files.EvidenceRejected as exc:
            messages.error(request, _("The photo for item %(code)s was not added: %(error)s")
                           % {"code": answer.code, "error": exc.message})
        except PermissionDenied as exc:
            messages.error(request, str(exc))
    if not submitting:
        messages.success(request, _("Saved: %(changed)d answers changed, %(photos)d photos added.")
                         % {"changed": changed, "photos": added})
        return redirect(inspection.get_absolute_url())
    try:
        hazards = services.submit_inspection(actor=actor, inspection_id=inspection.pk,
                                             summary=form.cleaned_data.get("summary") or "")
    except (ActionError, PermissionDenied) as exc:
        # The answers and photos are saved; the page is drawn again with the summary as typed.
        messages.error(request, _("Saved, but not submitted: %(error)s") % {"error": _message(exc)})
        form.data = form.data.copy()
        form.data["form_token"] = tokens.new()
        inspection.refresh_from_db()
        return _page(request, inspection, form)
    if hazards:
        messages.success(request, _("The inspection is submitted: %(n)d hazard cases were opened.")
                         % {"n": len(hazards)})
    else:
        messages.success(request, _("The inspection is submitted: every item passed or does not apply."))
    return redirect(inspection.get_absolute_url())


# The report ------------------------------------------------------------------------------------------
KIND_TEXT = {InspectionKind.SCHEDULED: "计划检查", InspectionKind.UNANNOUNCED: "四不两直（暗查暗访）",
             InspectionKind.SELF: "单位自查"}
RESULT_TEXT = {Result.PASS: "合格", Result.FAIL: "不合格", Result.NA: "不适用", "": "未检查"}
GRADE_TEXT = {"G": "一般", "M": "重大", "G/M": "一般/重大"}


def report_context(inspection) -> dict:
    answers = list(inspection.answers.select_related("case").order_by("position"))
    for a in answers:
        a.result_text = RESULT_TEXT.get(a.result, a.result)
        a.grade_text = GRADE_TEXT.get(a.grade, a.grade)
    failed = [a for a in answers if a.result == Result.FAIL]
    counts = {key: sum(1 for a in answers if a.result == key) for key in Result.values}
    return {
        "inspection": inspection, "unit": inspection.unit, "by_unit": inspection.by_unit,
        "title": "自查报告" if inspection.is_self else "检查报告", "kind_text": KIND_TEXT.get(inspection.kind, ""),
        "answers": answers, "failed": failed, "counts": counts, "total": len(answers),
        "summary": [line.strip() for line in inspection.summary.splitlines() if line.strip()],
    }


@login_required
def inspection_report(request, pk):
    """The report of a submitted inspection the user may see; anything else is a 404."""
    inspection = _inspection_or_404(request, pk)
    if inspection.status != Inspection.Status.SUBMITTED:
        raise Http404(_("The report is ready once the inspection is submitted."))
    context = report_context(inspection)
    pdf = render_pdf("pdf/hazard_inspection_report.html", context, request=request)
    name = f"{context['title']}-{inspection.unit.name}-{inspection.inspected_on:%Y%m%d}.pdf"
    return pdf_response(pdf, name, fallback=f"inspection-{inspection.pk}.pdf")


urls = {"hazard": [
    path("inspections/", inspection_list, name="inspections"),
    path("inspections/new/", inspection_new, name="inspection_new"),
    path("inspections/<int:pk>/", inspection_detail, name="inspection"),
    path("inspections/<int:pk>/report.pdf", inspection_report, name="inspection_report"),
]}
