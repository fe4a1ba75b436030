"""Reads for rectification cases, always scoped by the user's unit."""
from django.db.models import Prefetch, Q
from django.utils import timezone

from workflow.models import Comment, Evidence, Unit

from .models import ProgressReport, RectificationCase


def case_list(user, *, status="", unit=None, overdue=False, source="", date_from=None, date_to=None, q=""):
    cases = RectificationCase.objects.visible_to(user).select_related("unit")
    if status:
        cases = cases.filter(status=status)
    if unit is not None:
        cases = cases.filter(unit__path__startswith=unit.path)
    if overdue:
        cases = cases.overdue(timezone.localdate())
    if source:
        cases = cases.filter(source=source)
    if date_from:
        cases = cases.filter(created_at__date__gte=date_from)
    if date_to:
        cases = cases.filter(created_at__date__lte=date_to)
    if q:
        cases = cases.filter(Q(title__icontains=q) | Q(number__icontains=q))
    return cases.order_by("-created_at")


def case_detail(user, pk):
    return (RectificationCase.objects.visible_to(user).select_related("unit", "supervisor_unit", "created_by")
            .prefetch_related(Prefetch("evidence", Evidence.objects.select_related("uploaded_by")),
                              Prefetch("comments", Comment.objects.select_related("author")))
            .filter(pk=pk).first())


def target_units(user):
    """Units an inspector may send cases to: below the inspector's own unit."""
    if user.unit_id is None:
        return Unit.objects.none()
    return Unit.objects.filter(path__startswith=user.unit.path).exclude(pk=user.unit_id)


def case_reports(case):
    return ProgressReport.objects.filter(case=case).select_related("author")
