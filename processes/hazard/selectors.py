"""The hazard indicators' queries: for the units a user chose (a unit they may see and the units
below it) and a period, each figure is one named metric, and each metric is one filter, so a
figure and the list behind it read the same rows.

* Institutions are the units whose kind is an institution's (elderly-care homes, child-welfare
  homes, relief stations, funeral homes, social organisations, social-work stations): the
  bureaus and offices above them are not inspected against a checklist.
* Every query is scoped by the user's own view (``visible_to``) before the chosen subtree, and
  each group of figures is one aggregate query, whatever the number of units or cases."""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.lookups import Exact
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from workflow.models import Unit, UnitKind
from workflow.models.cases import Phase

from .declaration import Grade
from .models import Answer, HazardCase, Inspection, InspectionKind, Result

INSTITUTION_KINDS = (UnitKind.ELDERLY_CARE, UnitKind.CHILD_WELFARE, UnitKind.RELIEF_STATION,
                     UnitKind.FUNERAL_HOME, UnitKind.SOCIAL_ORG, UnitKind.SOCIAL_WORK)
REGULATOR_KINDS = (InspectionKind.SCHEDULED, InspectionKind.UNANNOUNCED)
# The checklist items' indicator tags (rule_data: F2 and F3 of the fire checklist).
PLAN_TAG, DRILL_TAG = "emergency_plan", "drill"
GRADES = (Grade.GENERAL, Grade.MAJOR, Grade.PENDING)


@dataclass(frozen=True)
class Scope:
    """Whose view, which subtree, which days (both ends included, in local time)."""

    user: object
    unit: Unit
    start: date
    end: date

    @property
    def since(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def until(self) -> datetime:
        """The first moment after the period."""
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    def during(self, field: str) -> Q:
        return Q(**{f"{field}__gte": self.since, f"{field}__lt": self.until})


# The rows each group reads ---------------------------------------------------------------------
def hazards(scope: Scope):
    """The hazard cases the user sees, in the chosen unit and below."""
    return HazardCase.objects.visible_to(scope.user).filter(unit__path__startswith=scope.unit.path)


def institutions(scope: Scope):
    """The institutions the user sees, in the chosen unit and below."""
    return Unit.objects.visible_to(scope.user).filter(path__startswith=scope.unit.path, kind__in=INSTITUTION_KINDS)


def _inspections(scope: Scope, kinds):
    return Inspection.objects.filter(unit=OuterRef("pk"), kind__in=kinds, status=Inspection.Status.SUBMITTED,
                                     inspected_on__gte=scope.start, inspected_on__lte=scope.end)


def _latest_tagged(scope: Scope, tag: str):
    """The answers on items tagged `tag` of the unit's submitted inspections in the period
    (regulator's or its own), the latest inspection first."""
    return (Answer.objects.filter(unit=OuterRef("pk"), tag=tag, inspection__status=Inspection.Status.SUBMITTED,
                                  inspection__inspected_on__gte=scope.start,
                                  inspection__inspected_on__lte=scope.end)
            .order_by("-inspection__inspected_on", "-inspection_id"))


def _inspected(scope: Scope, kinds) -> Q:
    return Q(Exists(_inspections(scope, kinds)))


def _passed(scope: Scope, tag: str) -> Q:
    """The latest answer on the items tagged `tag` in the period was a pass."""
    return Q(Exact(Subquery(_latest_tagged(scope, tag).values("result")[:1]), Value(Result.PASS)))


# The metrics ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    rows: str          # "cases" or "units"
    test: object       # Scope -> Q over the rows


def _found(scope):
    return scope.during("created_at") & ~Q(phase=Phase.CANCELLED)


def _closed_in_period(scope):
    return Q(phase=Phase.DONE) & scope.during("closed_at")


def _on_time(scope):
    return _closed_in_period(scope) & (Q(deadline__isnull=True) | Q(deadline__gte=TruncDate("closed_at")))


def _late(scope):
    return _closed_in_period(scope) & Q(deadline__isnull=False, deadline__lt=TruncDate("closed_at"))


def _notice_late(which: str, today: date) -> Q:
    """HazardCase.notice_late as a filter: due and published after it, or not published by today."""
    due, done = f"{which}_notice_due", f"{which}_published_on"
    return Q(**{f"{due}__isnull": False}) & (Q(**{f"{done}__gt": F(due)})
                                             | Q(**{f"{done}__isnull": True, f"{due}__lt": today}))


CASE_METRICS = [
    Metric("found", _("Hazards found"), "cases", _found),
    Metric("found_closed", _("Found and closed"), "cases", lambda s: _found(s) & Q(phase=Phase.DONE)),
    *[Metric(f"found_{g.value}", g.label, "cases", lambda s, g=g: _found(s) & Q(grade=g)) for g in GRADES],
    *[Metric(f"found_closed_{g.value}", g.label, "cases", lambda s, g=g: _found(s) & Q(grade=g, phase=Phase.DONE))
      for g in GRADES],
    Metric("closed", _("Hazards closed"), "cases", _closed_in_period),
    Metric("on_time", _("Closed on time"), "cases", _on_time),
    Metric("late", _("Closed late"), "cases", _late),
    Metric("listed", _("Major hazards listed"), "cases", lambda s: s.during("listed_at")),
    Metric("major_open", _("Major hazards open now"), "cases", lambda s: Q(grade=Grade.MAJOR, phase=Phase.OPEN)),
    Metric("listing_late", _("Listing notices late"), "cases",
           lambda s: s.during("listed_at") & _notice_late("listing", timezone.localdate())),
    Metric("delisting_late", _("De-listing notices late"), "cases",
           lambda s: s.during("delisted_at") & _notice_late("delisting", timezone.localdate())),
]
UNIT_METRICS = [
    Metric("institutions", _("Institutions"), "units", lambda s: Q()),
    Metric("inspected", _("Inspected by the regulator"), "units", lambda s: _inspected(s, REGULATOR_KINDS)),
    Metric("not_inspected", _("Not inspected by the regulator"), "units", lambda s: ~_inspected(s, REGULATOR_KINDS)),
    Metric("self_inspected", _("With a self-inspection"), "units", lambda s: _inspected(s, (InspectionKind.SELF,))),
    Metric("plan", _("Emergency plan on record"), "units", lambda s: _passed(s, PLAN_TAG)),
    Metric("drill", _("Drills on record"), "units", lambda s: _passed(s, DRILL_TAG)),
]
METRICS = {m.name: m for m in (*CASE_METRICS, *UNIT_METRICS)}


def _counts(queryset, scope, metrics) -> dict:
    return queryset.aggregate(**{m.name: Count("pk", filter=m.test(scope)) for m in metrics})


# The figures, one aggregate query per group ------------------------------------------------------
def coverage(scope: Scope) -> dict:
    """Institutions, those inspected by the regulator and by themselves, and those whose plan
    and drill items passed at their latest inspection in the period."""
    return _counts(institutions(scope), scope, UNIT_METRICS)


def found(scope: Scope) -> dict:
    """Hazards found in the period (not cancelled) and, of them, those closed, by grade."""
    names = {"found", "found_closed", *(f"found_{g}" for g in GRADES), *(f"found_closed_{g}" for g in GRADES)}
    return _counts(hazards(scope).filter(_found(scope)), scope, [METRICS[n] for n in sorted(names)])


def closure(scope: Scope) -> dict:
    """Hazards closed in the period, on time and late."""
    return _counts(hazards(scope).filter(_closed_in_period(scope)), scope,
                   [METRICS["closed"], METRICS["on_time"], METRICS["late"]])


def majors(scope: Scope) -> dict:
    """Major hazards listed in the period, open now, and notices late."""
    rows = hazards(scope).filter(scope.during("listed_at") | scope.during("delisted_at")
                                 | Q(grade=Grade.MAJOR, phase=Phase.OPEN))
    return _counts(rows, scope, [METRICS[n] for n in ("listed", "major_open", "listing_late", "delisting_late")])


# The rows behind one figure ------------------------------------------------------------------------
def _latest_inspection(scope: Scope, metric: str, column: str):
    """The inspection a unit row links to, its id or date: the one its metric read (for the
    others, the latest submitted in the period, of any kind)."""
    if metric in ("plan", "drill"):
        answers = _latest_tagged(scope, PLAN_TAG if metric == "plan" else DRILL_TAG)
        return answers.values({"pk": "inspection_id", "inspected_on": "inspection__inspected_on"}[column])[:1]
    kinds = {"inspected": REGULATOR_KINDS, "self_inspected": (InspectionKind.SELF,)}.get(
        metric, (*REGULATOR_KINDS, InspectionKind.SELF))
    return _inspections(scope, kinds).order_by("-inspected_on", "-pk").values(column)[:1]


def metric_rows(scope: Scope, metric: Metric):
    """The cases or units one figure counts, in a stable order."""
    if metric.rows == "units":
        return (institutions(scope).filter(metric.test(scope))
                .annotate(latest_inspection=Subquery(_latest_inspection(scope, metric.name, "pk")),
                          latest_on=Subquery(_latest_inspection(scope, metric.name, "inspected_on")))
                .select_related("parent").order_by("path"))
    return (hazards(scope).filter(metric.test(scope)).select_related("unit")
            .order_by("-created_at", "-pk"))
