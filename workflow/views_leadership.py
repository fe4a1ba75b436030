"""Leadership views across every case type: the red list, counts by unit and rung, and the
督办函 (supervision letter) PDF for one unit."""
from collections import defaultdict

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit
from .http import client_ip
from .models import AuditEvent, Case, Escalation, Role, Rung, Unit
from .pdf import pdf_response, render_pdf

LEADERSHIP_ROLES = {Role.LEADER, Role.INSPECTOR}


def _require_leadership(request):
    if request.user.role not in LEADERSHIP_ROLES:
        raise PermissionDenied(_("Only leaders and inspectors see the red list."))


def red_cases(user, unit=None):
    """Every red-or-worse open case the user may see, oldest deadline first."""
    cases = Case.objects.visible_to(user).open().filter(rung__gte=Rung.RED)
    if unit is not None:
        cases = cases.filter(unit=unit)
    return cases.select_related("unit", "supervisor_unit").order_by("deadline", "pk")


def rung_counts(user):
    """Open cases by unit and highest rung reached: [(unit name, unit id, {rung: n}, total)]."""
    rows = (Case.objects.visible_to(user).open().filter(rung__gt=0)
            .values("unit_id", "unit__name", "rung").annotate(n=Count("pk")).order_by("unit__name"))
    table: dict[tuple, dict] = defaultdict(dict)
    for row in rows:
        table[(row["unit__name"], row["unit_id"])][row["rung"]] = row["n"]
    return [(name, uid, [counts.get(r, 0) for r in Rung.values], sum(counts.values()))
            for (name, uid), counts in sorted(table.items(), key=lambda kv: -kv[1].get(Rung.RED, 0))]


@login_required
def red_list(request):
    _require_leadership(request)
    cases = list(red_cases(request.user)[:500])
    fired = defaultdict(dict)
    for esc in Escalation.objects.filter(case__in=cases):
        fired[esc.case_id][esc.rung] = esc.fired_at
    today = timezone.localdate()
    for case in cases:
        case.days_overdue = (today - case.deadline).days if case.deadline else 0
        case.fired = fired[case.pk]
    return render(request, "workflow/red_list.html", {
        "cases": cases, "counts": rung_counts(request.user), "rungs": Rung.choices,
    })


@login_required
def supervision_letter(request, unit_id):
    """A 督办函 to one unit listing its red-or-worse cases."""
    _require_leadership(request)
    unit = Unit.objects.visible_to(request.user).filter(pk=unit_id).first()
    if unit is None:
        audit.record(action="access_denied", user=request.user, outcome="denied", ip=client_ip(request),
                     data={"target": "supervision-letter", "id": str(unit_id)})
        raise Http404(_("No such unit, or you may not see it."))
    cases = list(red_cases(request.user, unit))
    if not cases:
        raise Http404(_("This unit has no case on the red list."))
    today = timezone.localdate()
    for case in cases:
        case.days_overdue = (today - case.deadline).days
    serial = AuditEvent.objects.filter(action="supervision_letter", created_at__year=today.year).count() + 1
    pdf = render_pdf("pdf/supervision_letter.html", {
        "unit": unit, "cases": cases, "issuer": request.user.unit, "today": today, "user": request.user,
        "serial": serial,
    })
    audit.record(action="supervision_letter", user=request.user, ip=client_ip(request),
                 data={"unit": unit.pk, "cases": [c.pk for c in cases]})
    return pdf_response(pdf, f"督办函-{unit.name}-{today:%Y%m%d}.pdf", fallback=f"supervision-letter-{unit.pk}.pdf")
