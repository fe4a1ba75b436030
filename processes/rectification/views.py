"""Rectification pages. Thin: they parse input, call services or selectors, and render."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from workflow import tokens
from workflow.engine import ActionError, AlreadySubmitted, available_actions
from workflow.evidence import EvidenceRejected, check_size
from workflow.http import actor_for, not_found
from workflow.models import Role, Rung, Unit
from workflow.paging import CappedPaginator
from workflow.selectors import case_timeline

from . import selectors, services
from .forms import ACTIONS, EVENT_LABELS, ActionForm, CaseForm, CommentForm, EvidenceNoteForm, FilterForm


def list_filters(request):
    """The case list's filters from the query string: (form, filters). A unit the user may
    not see is a 404 with a denied-access event, never an empty list."""
    form = FilterForm(request.GET or None, units=Unit.objects.visible_to(request.user), user=request.user)
    if form.is_bound and not form.is_valid():
        if form.unseen_unit is not None:
            not_found(request, "unit-filter", form.unseen_unit)
        raise BadFilter(" ".join(str(e) for errors in form.errors.values() for e in errors))
    filters = form.cleaned_data if form.is_bound else {}
    return form, {k: v for k, v in filters.items() if v}


class BadFilter(ActionError):
    """A filter that cannot be read: refused, never silently widened to everything."""


@login_required
def case_list(request):
    try:
        form, filters = list_filters(request)
    except BadFilter as exc:
        messages.error(request, _("The filter was not understood: %(error)s") % {"error": exc.message})
        return redirect("rectification:list")
    cases = selectors.case_list(request.user, **filters)
    page = CappedPaginator(cases, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "rectification/case_list.html", {
        "form": form, "page": page, "query": query.urlencode(),
        "can_create": request.user.role == Role.INSPECTOR,
    })


@login_required
def case_new(request):
    if request.user.role != Role.INSPECTOR:
        raise Http404(_("Only inspectors open rectification cases."))
    units = selectors.target_units(request.user)
    form = CaseForm(request.POST or None, units=units, initial={"form_token": tokens.new()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = {k: data[k] for k in ("title", "description", "requirement", "source", "basis", "deadline_days")}
        fields["token"] = tokens.posted(request)
        try:
            chosen = list(data["units"])
            if len(chosen) > 1:
                cases = services.case_dispatch(actor=actor_for(request), units=chosen, **fields)
                messages.success(request, _("%(n)d cases were issued, one for each unit.") % {"n": len(cases)})
                return redirect("rectification:list")
            case = services.case_create(actor=actor_for(request), unit=chosen[0], issue=data["issue_now"], **fields)
            messages.success(request, _("Case %(number)s saved.") % {"number": case.number})
            return redirect(case.get_absolute_url())
        except AlreadySubmitted:  # a second click on the same form: the first one's cases are in the list
            messages.info(request, _("This form was already submitted; its cases are in the list."))
            return redirect("rectification:list")
        except ActionError as exc:
            form.add_error(None, exc.message)
    return render(request, "rectification/case_form.html", {"form": form})


@login_required
def case_detail(request, pk):
    case = selectors.case_detail(request.user, pk)
    if case is None:
        not_found(request, "case", pk)
    names = available_actions(case, request.user)
    units = selectors.target_units(request.user) if "reassign" in names else None
    token = tokens.new()
    forms = [(name, ACTIONS[name], ActionForm(spec=ACTIONS[name], units=units, initial={"form_token": token}))
             for name in names if name in ACTIONS]
    events = list(case_timeline(case))
    for event in events:
        event.label = EVENT_LABELS.get(event.action, event.action)
        if event.action == "escalate":
            event.label = Rung(event.data.get("rung", 1)).label
    return render(request, "rectification/case_detail.html", {
        "case": case, "action_forms": forms, "events": events,
        "evidence": case.evidence.all(),
        "reports": selectors.case_reports(case),
        "requests": case.requests.filter(status="pending"),
        "comments": case.comments.all(),
        "may_upload": case.may_upload(request.user), "light": case.light(),
        "escalations": case.escalations.all(),
    })


@login_required
@require_POST
def case_act(request, pk, action):
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404(_("Unknown action."))
    units = selectors.target_units(request.user) if action == "reassign" else None
    form = ActionForm(request.POST, spec=spec, units=units)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("rectification:detail", pk=pk)
    try:
        services.case_act(actor=actor_for(request), case_id=pk, action=action, token=tokens.posted(request),
                          **form.params())
    except AlreadySubmitted as exc:  # the form's token was claimed by an earlier submission
        messages.info(request, exc.message)
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Done: %(action)s.") % {"action": spec.label})
    return redirect("rectification:detail", pk=pk)


@login_required
@require_POST
def case_upload(request, pk):
    files = request.FILES.getlist("file")
    form = EvidenceNoteForm(request.POST)
    if not form.is_valid():
        message = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return render(request, "workflow/error.html", {"message": message, "back": reverse("rectification:detail", args=[pk])}, status=400)
    if not files:
        messages.error(request, _("Choose a file to upload."))
    for upload in files:  # size first, for every file, so an oversize one stores nothing at all
        try:
            check_size(upload)
        except EvidenceRejected as exc:
            message = _("%(name)s: %(error)s") % {"name": upload.name[:80], "error": exc.message}
            return render(request, "workflow/error.html", {"message": message, "back": reverse("rectification:detail", args=[pk])}, status=413)
    for upload in files:
        try:
            services.case_add_evidence(actor=actor_for(request), case_id=pk, upload=upload,
                                       note=form.cleaned_data["note"])
        except (EvidenceRejected, ActionError) as exc:
            messages.error(request, _("%(name)s: %(error)s") % {"name": upload.name[:80], "error": exc.message})
        else:
            messages.success(request, _("%(name)s uploaded.") % {"name": upload.name[:80]})
    return redirect("rectification:detail", pk=pk)


@login_required
@require_POST
def case_comment(request, pk):
    form = CommentForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("rectification:detail", pk=pk)
    try:
        services.case_comment(actor=actor_for(request), case_id=pk, body=form.cleaned_data["body"])
    except ActionError as exc:
        messages.error(request, exc.message)
    return redirect("rectification:detail", pk=pk)
