"""The pages of any case type, from its declaration. Thin: they parse input through forms,
call the services or selectors, and render. Every view gets the type's key from its URL."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from workflow.kernel import registry, tokens
from workflow.cases import photos, selectors, services
from workflow.cases.engine import available_actions
from workflow.kernel.errors import ActionError, AlreadySubmitted
from workflow.cases.evidence import EvidenceRejected, check_size
from workflow.web.http import actor_for, not_found
from workflow.models import Evidence, Unit
from workflow.web.paging import CappedPaginator
from workflow.web.forms import ActionForm, CaseForm, CommentForm, EvidenceNoteForm, FilterForm, needs_units


def model_of(case_type: str):
    model = registry.model_for(case_type)
    if model is None:
        raise Http404(_("No such page."))
    return model


class BadFilter(ActionError):
    """A filter that cannot be read: refused, never silently widened to everything."""


def list_filters(request, model):
    """The case list's filters from the query string: (form, filters). A unit, or a case to
    list the cases under, that the user may not see is a 404 with a denied-access event,
    never an empty list."""
    form = FilterForm(request.GET or None, spec=model.spec, model=model,
                      units=Unit.objects.visible_to(request.user), user=request.user)
    if form.is_bound and not form.is_valid():
        if form.unseen_unit is not None:
            not_found(request, "unit-filter", form.unseen_unit)
        if form.unseen_case is not None:
            not_found(request, "case-filter", form.unseen_case)
        raise BadFilter(" ".join(str(e) for errors in form.errors.values() for e in errors))
    filters = form.cleaned_data if form.is_bound else {}
    return form, {k: v for k, v in filters.items() if v}


def refused_filter(request, exc: BadFilter):
    """A filter that cannot be read is a 400 saying why: a download never silently covers more
    than was asked for. (A unit the user may not see is a 404 with a denied-access event.)"""
    message = _("The filter was not understood: %(error)s") % {"error": exc.message}
    return render(request, "workflow/error.html", {"message": message}, status=400)


@login_required
def case_list(request, case_type):
    model = model_of(case_type)
    spec = model.spec
    try:
        form, filters = list_filters(request, model)
    except BadFilter as exc:
        messages.error(request, _("The filter was not understood: %(error)s") % {"error": exc.message})
        return redirect(f"{case_type}:list")
    cases = selectors.case_list(model, request.user, **filters)
    page = CappedPaginator(cases, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    under = filters.get("under")  # shown by the number its type gives it
    under = selectors.with_own_number(under) if under is not None else None
    unfiltered = query.copy()  # the same filters without the case the list is narrowed to
    unfiltered.pop("under", None)
    # The field the type numbers its cases by is the list's number column already.
    fields = [model._meta.get_field(name) for name in spec.list_columns if name != spec.number_field]
    columns = [field.verbose_name.capitalize() for field in fields]
    rows = [(case, [(label, _shown(case, f)) for label, f in zip(columns, fields)]) for case in page.object_list]
    return render(request, "workflow/case_list.html", {
        "spec": spec, "form": form, "page": page, "rows": rows, "columns": columns, "query": query.urlencode(),
        "under": under, "without_under": unfiltered.urlencode(),
        "can_create": spec.opened_by(request.user),
        "documents": [(d.title, reverse(f"{case_type}:{d.name}")) for d in spec.list_documents
                      if d.allows(request.user)],
    })


def _shown(case, field):
    """A model field's value as the page shows it: a choice by its label."""
    if field.choices:
        return getattr(case, f"get_{field.name}_display")()
    return getattr(case, field.name)


@login_required
def case_new(request, case_type):
    model = model_of(case_type)
    spec = model.spec
    if not spec.opened_by(request.user):
        raise Http404(spec.create.denied if spec.create and spec.create.denied else _("No such page."))
    units = selectors.target_units(request.user)
    initial = {"form_token": tokens.new(), "parent": request.GET.get("parent", "")}
    form = CaseForm(request.POST or None, spec=spec, units=units, initial=initial)
    parent = _parent_case(request, form) if request.method == "POST" else None
    if request.method == "POST" and form.is_valid():
        chosen = form.chosen_units()
        under = {"parent": parent} if parent is not None else {}
        try:
            cases = services.opener(model)(actor=actor_for(request), units=chosen,
                                           issue=form.cleaned_data.get("issue_now", False),
                                           token=tokens.posted(request), **under, **form.case_fields())
        except AlreadySubmitted:  # a second click on the same form: the first one's cases are in the list
            messages.info(request, _("This form was already submitted; its cases are in the list."))
            return redirect(f"{case_type}:list")
        except ActionError as exc:
            form.add_error(None, exc.message)
        else:
            if len(cases) > 1:
                messages.success(request, _("%(n)d cases were issued, one for each unit.") % {"n": len(cases)})
                return redirect(f"{case_type}:list")
            messages.success(request, _("Case %(number)s saved.") % {"number": cases[0].number})
            return redirect(cases[0].get_absolute_url())
    return render(request, "workflow/case_form.html", {"spec": spec, "form": form})


def _parent_case(request, form):
    """The case a new one is opened under (the form's ``parent``), among those the user may see."""
    from workflow.models import Case

    if not form.is_valid() or not form.cleaned_data.get("parent"):
        return None
    parent = Case.objects.visible_to(request.user).select_related("unit").filter(
        pk=form.cleaned_data["parent"]).first()
    if parent is None:
        not_found(request, "case", form.cleaned_data["parent"])
    return parent


def _related(request, case, spec) -> dict:
    """The case's place in a tree (its parent, its children and the child types the user may
    open under it) and its co-units."""
    from workflow.models import Case

    child_types = [t for t in registry.case_types() if t.parent and spec.key in t.parent.types]
    related = {"parent": None, "children": [], "new_children": [], "parties": []}
    if case.parent_id:
        parent = Case.objects.visible_to(request.user).filter(pk=case.parent_id).first()
        related["parent"] = selectors.with_own_number(parent) if parent is not None else None
    if child_types:
        related["children"] = list(Case.objects.visible_to(request.user).filter(parent_id=case.pk)
                                   .select_related("unit").order_by("created_at")[:200])
        if case.is_open:
            related["new_children"] = [(t.menu.new if t.menu and t.menu.new else t.label,
                                        reverse(f"{t.key}:new") + f"?parent={case.pk}")
                                       for t in child_types if t.opened_by(request.user)
                                       and (not t.parent.by_its_unit or request.user.unit_id == case.unit_id)]
    if spec.parties:
        related["parties"] = list(case.parties.select_related("unit").order_by("pk"))
    return related


@login_required
def case_detail(request, case_type, pk):
    model = model_of(case_type)
    spec = model.spec
    case = selectors.case_detail(model, request.user, pk)
    if case is None:
        not_found(request, "case", pk)
    names = available_actions(case, request.user)
    token = tokens.new()
    units = None
    forms = []
    for name in names:
        verb = spec.verbs.get(name)
        if verb is None:
            continue
        if units is None and needs_units(verb):
            units = selectors.target_units(request.user)
        forms.append((name, verb, ActionForm(verb=verb, units=units, initial={"form_token": token})))
    actions, more, requests = _arrange_actions(spec, forms, selectors.pending_requests(case))
    events = selectors.read_events(list(selectors.case_timeline(case)), spec)
    evidence = list(case.evidence.all())
    photos.annotate(case, evidence, request.user)
    return render(request, "workflow/case_detail.html", {
        "spec": spec, "case": case, "related": _related(request, case, spec), "action_forms": actions,
        "more_forms": more, "events": events, "facts": spec.facts(case), "texts": spec.texts(case),
        "latest": selectors.latest_reasons(events, spec), "extension": selectors.latest_extension(events),
        "may_act": bool(forms),
        "evidence": evidence, "stages": Evidence.Stage.choices,
        "requests": requests,
        "comments": case.comments.all(),
        "documents": [(d.title, reverse(f"{case_type}:{d.name}", args=[case.pk])) for d in spec.documents
                      if d.allows(request.user) and d.is_ready(case)],
        "may_upload": case.may_upload(request.user), "light": case.light(),
        "escalations": case.escalations.all(),
    })


def _arrange_actions(spec, forms, requests):
    """The case page's actions as (shown, folded, requests): the step's own actions shown,
    the primary (positive) one before the negative ones; secondary ones and the asking of a
    side request folded under "More actions"; a pending request's decisions beside it, the
    approval first."""
    asks = {r.ask_name for r in spec.requests}
    approvals = {r.approve_name for r in spec.requests}
    decisions = {name: r.kind for r in spec.requests for name in (r.approve_name, r.reject_name)}
    shown, folded, by_kind = [], [], {}
    for form in forms:
        name, verb = form[0], form[1]
        if name in decisions:
            by_kind.setdefault(decisions[name], []).append(form)
        elif name in asks or verb.style == "secondary":
            folded.append(form)
        else:
            shown.append(form)
    order = {name: i for i, name in enumerate(spec.verbs)}  # as declared: the process's actions, then its requests
    shown.sort(key=lambda form: (form[1].style != "primary", order.get(form[0], 0)))
    folded.sort(key=lambda form: (form[1].style == "danger", order.get(form[0], 0)))  # cancelling last
    for request in requests:
        request.forms = sorted(by_kind.get(request.kind, []), key=lambda form: form[0] not in approvals)
    return shown, folded, requests


def _back(case_type, pk):
    return redirect(f"{case_type}:detail", pk=pk)


def _errors(request, form):
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)


@login_required
@require_POST
def case_act(request, case_type, pk, action):
    model = model_of(case_type)
    verb = model.spec.verbs.get(action)
    if verb is None:
        raise Http404(_("Unknown action."))
    units = selectors.target_units(request.user) if needs_units(verb) else None
    form = ActionForm(request.POST, verb=verb, units=units)
    if not form.is_valid():
        _errors(request, form)
        return _back(case_type, pk)
    try:
        services.act(model, actor=actor_for(request), case_id=pk, action=action, token=tokens.posted(request),
                     **form.params())
    except AlreadySubmitted as exc:  # the form's token was claimed by an earlier submission
        messages.info(request, exc.message)
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Done: %(action)s.") % {"action": verb.label})
    return _back(case_type, pk)


@login_required
@require_POST
def case_upload(request, case_type, pk):
    model = model_of(case_type)
    back = reverse(f"{case_type}:detail", args=[pk])
    files = request.FILES.getlist("file")
    form = EvidenceNoteForm(request.POST)
    if not form.is_valid():
        message = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return render(request, "workflow/error.html", {"message": message, "back": back}, status=400)
    if not files:
        messages.error(request, _("Choose a file to upload."))
    for upload in files:  # size first, for every file, so an oversize one stores nothing at all
        try:
            check_size(upload)
        except EvidenceRejected as exc:
            message = _("%(name)s: %(error)s") % {"name": upload.name[:80], "error": exc.message}
            return render(request, "workflow/error.html", {"message": message, "back": back}, status=413)
    for upload in files:
        try:
            services.add_evidence(model, actor=actor_for(request), case_id=pk, upload=upload,
                                  note=form.cleaned_data["note"], stage=form.cleaned_data["stage"])
        except (EvidenceRejected, ActionError) as exc:
            messages.error(request, _("%(name)s: %(error)s") % {"name": upload.name[:80], "error": exc.message})
        else:
            messages.success(request, _("%(name)s uploaded.") % {"name": upload.name[:80]})
    return _back(case_type, pk)


@login_required
@require_POST
def case_comment(request, case_type, pk):
    model = model_of(case_type)
    form = CommentForm(request.POST)
    if not form.is_valid():
        _errors(request, form)
        return _back(case_type, pk)
    try:
        services.comment(model, actor=actor_for(request), case_id=pk, body=form.cleaned_data["body"])
    except ActionError as exc:
        messages.error(request, exc.message)
    return _back(case_type, pk)
