"""Leadership views across every case type: the red list, counts by unit and rung, and the
督办函 (supervision letter) PDF for one unit."""
from collections import defaultdict

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_POST
from django.utils import timezone
from django.utils.translation import gettext as _

from workflow.trail import audit
from workflow.documents import archive as documents
from workflow.kernel import unit_settings
from workflow.web.http import client_ip, not_found
from workflow.models import Case, Escalation, Role, Rung, RungCount, Unit
from workflow.documents.pdf import pdf_response, render_pdf

LEADERSHIP_ROLES = {Role.LEADER, Role.INSPECTOR}
RED_LIST_ROWS = 100


def _require_leadership(request):
    if request.user.role not in LEADERSHIP_ROLES:
        raise PermissionDenied(_("Only leaders and inspectors see the red list."))


def red_cases(user, unit=None):
    """Red-or-worse open cases the user may see (in `unit`'s subtree if given), oldest deadline first."""
    # Past the deadline: a case granted an extension keeps its rung but is off the list.
    cases = Case.objects.visible_to(user).open().filter(rung__gte=Rung.RED, deadline__lt=timezone.localdate())
    if unit is not None:
        cases = cases.filter(unit__path__startswith=unit.path)
    return cases.select_related("unit", "supervisor_unit").order_by("deadline", "pk")


def rung_counts(user):
    """Open cases by rung for the user's unit and each unit directly below it (whole subtrees):
    (totals, [(unit, [n per rung], total)]). A few rows, whatever the number of cases."""
    if user.unit_id is None:
        return [0] * len(Rung.values), []
    rows = RungCount.objects.filter(Q(unit_id=user.unit_id) | Q(unit__parent_id=user.unit_id)).select_related("unit")
    table: dict[int, dict] = defaultdict(dict)
    units = {}
    for row in rows:
        table[row.unit_id][row.rung] = row.open_cases
        units[row.unit_id] = row.unit
    totals = [table[user.unit_id].get(r, 0) for r in Rung.values]
    children = [(units[uid], [counts.get(r, 0) for r in Rung.values]) for uid, counts in table.items()
                if uid != user.unit_id and any(counts.values())]
    children.sort(key=lambda item: (-item[1][Rung.RED - 1] - item[1][Rung.INTERVIEW - 1]
                                    - item[1][Rung.ACCOUNTABILITY - 1], item[0].name))
    return totals, [(unit, counts, sum(counts)) for unit, counts in children]


@login_required
def red_list(request):
    _require_leadership(request)
    cases = list(red_cases(request.user)[:RED_LIST_ROWS])
    fired = defaultdict(dict)
    for esc in Escalation.objects.filter(case__in=cases):
        fired[esc.case_id][esc.rung] = esc.fired_at
    today = timezone.localdate()
    for case in cases:
        case.days_overdue = (today - case.deadline).days if case.deadline else 0
        case.fired = fired[case.pk]
    totals, counts = rung_counts(request.user)
    labels = [label for _value, label in Rung.choices]
    # Each count beside its rung's label, so a phone showing a row as a card keeps them together.
    return render(request, "workflow/red_list.html", {
        "cases": cases, "rungs": Rung.choices, "limit": RED_LIST_ROWS,
        "totals": list(zip(labels, totals)), "total": sum(totals),
        "counts": [(unit, list(zip(labels, row)), total, any(row[Rung.RED - 1:])) for unit, row, total in counts],
    })


@login_required
@require_POST
def supervision_letter(request, unit_id):
    """A 督办函 to one unit listing its red-or-worse cases."""
    _require_leadership(request)
    unit = Unit.objects.visible_to(request.user).filter(pk=unit_id).first()
    if unit is None:
        not_found(request, "supervision-letter", unit_id, _("No such unit, or you may not see it."))
    cases = list(red_cases(request.user, unit)[:200])
    if not cases:
        raise Http404(_("This unit has no case on the red list."))
    today = timezone.localdate()
    for case in cases:
        case.days_overdue = (today - case.deadline).days
    issuer = request.user.unit
    # The 机关代字 is the issuer's setting; the unit that supplied it (the issuer, or the unit above
    # whose code it inherits) numbers the letter, so units sharing a code share one count.
    code, numbering_unit = unit_settings.document_code(issuer, "supervision_letter", today)
    template = unit_settings.document_template(issuer, "supervision_letter", today)
    # The number is taken, the letter rendered and recorded together, or none of them: a letter
    # that fails to render gives its number back.
    with transaction.atomic():
        serial = documents.next_number(numbering_unit, "supervision_letter", today.year)
        pdf = render_pdf(template, {
            "unit": unit, "cases": cases, "issuer": issuer, "today": today, "user": request.user, "serial": serial,
            "doc_code": code,
        })
        audit.record(action="supervision_letter", user=request.user, ip=client_ip(request),
                     data={"unit": unit.pk, "cases": [c.pk for c in cases], "year": today.year, "serial": serial,
                           "code": code, "numbered_by": numbering_unit.pk})
    return pdf_response(pdf, f"督办函-{unit.name}-{today:%Y%m%d}.pdf", fallback=f"supervision-letter-{unit.pk}.pdf")
