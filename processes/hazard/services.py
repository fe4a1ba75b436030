"""Hazards' own writes: opening a hazard by hand, running a checklist inspection and opening a
hazard case for each failed item, each in one transaction with its audit events."""
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from workflow.cases import engine
from workflow.cases.records import RecordDenied, changing, create_record
from workflow.cases.services import check_target, number_factory, open_cases
from workflow.kernel import rules as rule_sets
from workflow.kernel.errors import ActionError
from workflow.models import Role, Unit

from .declaration import Grade, Source
from .models import CHECKLIST, CRITERIA, CRITERIA_NAME, Answer, HazardCase, Inspection, InspectionKind, Result
from .rules import article

SELF_ROLES = (Role.HANDLER, Role.UNIT_HEAD)
TITLE_MAX = 200


def criterion_fields(code: str, on=None) -> dict:
    """The criteria version in force and the article cited. An article of that version proposes
    the major grade and keeps its wording as written there; a citation the version lacks (an
    article an administrator has not entered yet) is kept as typed, with no wording and no
    proposal, never filled in."""
    criteria = rule_sets.in_force(CRITERIA, CRITERIA_NAME, on)
    fields = {"criteria_version": criteria}
    code = (code or "").strip()
    if code:
        found = article(criteria, code)
        fields["criterion"] = code
        if found is not None:
            fields.update(criterion_text=found["text"][:500], proposed_grade=Grade.MAJOR)
    return fields


def open_by_hand(*, actor, units=(), token: str = "", issue: bool = False, parent=None, co_units=(), **fields):
    """A hazard an inspector records by hand, at a unit below their own, with the criteria
    version in force and the article it meets, if any."""
    extra = criterion_fields(fields.pop("criterion", ""))
    return open_cases(HazardCase, actor=actor, units=list(units)[:1], token=token, extra=extra, **fields)


# Checklist inspections ---------------------------------------------------------------------------
def start_inspection(*, actor, unit: Unit, checklist: str, kind: str, inspectors: str = "",
                     on=None) -> Inspection:
    """Start an inspection of `unit` from the checklist `checklist` in force: by an inspector of
    a unit above it (scheduled or unannounced), or the unit's own self-inspection. The items are
    copied from that version with its proposed grades and criteria."""
    user = actor.user
    if kind not in InspectionKind.values:
        raise ActionError(_("Unknown kind of inspection."))
    if kind == InspectionKind.SELF:
        if user.role not in SELF_ROLES or unit.pk != user.unit_id:
            raise ActionError(_("A self-inspection is made by the unit's own handlers or head."))
    else:
        if user.role != Role.INSPECTOR:
            raise ActionError(_("Only inspectors inspect other units."))
        check_target(actor, unit)
    on = on or timezone.localdate()
    version = rule_sets.in_force(CHECKLIST, checklist, on)
    if version is None:
        raise ActionError(_("No such checklist is in force."))
    criteria = rule_sets.in_force(CRITERIA, CRITERIA_NAME, on)
    inspectors = (inspectors or "").strip()[:200] or (user.full_name or user.username)
    with transaction.atomic():
        inspection = create_record(
            Inspection, actor=actor, unit=unit, action="start_inspection", by_unit=user.unit, checklist=version,
            criteria=criteria, kind=kind, inspectors=inspectors, inspected_on=on,
            data={"checklist": version.pk, "version": version.version, "kind": kind})
        Answer.objects.bulk_create([
            Answer(inspection=inspection, unit=unit, created_by=user, position=index, code=item["code"],
                   section=item.get("section", ""), title=item["title"], checks=item.get("check", ""),
                   grade=item.get("grade", "G"), criterion=item.get("criterion", ""),
                   category=item.get("category", "other"), tag=item.get("tag", ""))
            for index, item in enumerate(version.body["items"], start=1)])
        rule_sets.use(version, criteria)
    return inspection


def _editable(change, actor):
    inspection = change.record
    if not inspection.may_edit(actor.user):
        raise RecordDenied(actor, action="answer", record=inspection,
                           message=_("Only the inspectors filling it in may change it, before it is submitted."))
    return inspection


def answer(*, actor, inspection_id: int, answers: dict) -> int:
    """Record answers: {position: (result, note)} with result pass, fail, na or "" (not yet)."""
    with changing(Inspection, inspection_id, actor=actor, action="answer") as change:
        inspection = _editable(change, actor)
        rows = {a.position: a for a in inspection.answers.all()}
        changed = []
        for position, (result, note) in answers.items():
            row = rows.get(position)
            if row is None:
                raise ActionError(_("No such item on this checklist."))
            if result not in ("", *Result.values):
                raise ActionError(_("Unknown answer."))
            note = (note or "").strip()
            if len(note) > 500:
                raise ActionError(_("A note has at most 500 characters."))
            if (row.result, row.note) != (result, note):
                row.result, row.note = result, note
                changed.append(row)
        Answer.objects.bulk_update(changed, ["result", "note"])
        change.data = {"changed": [row.code for row in changed]}
    return len(changed)


def submit_inspection(*, actor, inspection_id: int, summary: str = "") -> list:
    """Submit a finished inspection: every item answered; each failed item opens a hazard case at
    the inspected unit, linked back to it, supervised by the inspecting unit (for a
    self-inspection, the unit above), with the checklist and criteria versions it was judged
    under. All in one transaction."""
    summary = (summary or "").strip()
    if len(summary) > 5000:
        raise ActionError(_("The summary has at most 5,000 characters."))
    with changing(Inspection, inspection_id, actor=actor, action="submit_inspection") as change:
        inspection = _editable(change, actor)
        answers = list(inspection.answers.all())
        missing = [a.code for a in answers if not a.result]
        if missing:
            raise ActionError(_("Answer every item first: %(codes)s.") % {"codes": "、".join(missing[:10])})
        failed = [a for a in answers if a.result == Result.FAIL]
        hazards = [_open_from(inspection, a, actor) for a in failed]
        inspection.status, inspection.submitted_at = Inspection.Status.SUBMITTED, timezone.now()
        inspection.summary, inspection.failed = summary, len(failed)
        inspection.save(update_fields=["status", "submitted_at", "summary", "failed"])
        change.data = {"failed": len(failed), "hazards": [h.pk for h in hazards]}
    return hazards


SOURCE_OF = {InspectionKind.SCHEDULED: Source.INSPECTION, InspectionKind.UNANNOUNCED: Source.UNANNOUNCED,
             InspectionKind.SELF: Source.SELF}


def _open_from(inspection, answer: Answer, actor):
    """The hazard case of one failed answer."""
    unit = inspection.unit
    supervisor = inspection.by_unit if not inspection.is_self else (unit.parent or unit)
    criterion = article(inspection.criteria, answer.criterion)
    title = f"{answer.title}：{answer.note}" if answer.note else answer.title
    description = "\n".join(part for part in (
        f"{inspection.checklist.title}（{inspection.checklist.version}）第 {answer.code} 项：{answer.title}",
        answer.checks, answer.note and f"检查记录：{answer.note}") if part)
    case = engine.start_case(
        HazardCase, actor=actor, number_factory=number_factory(HazardCase.spec), unit=unit,
        case_type=HazardCase.spec.key, supervisor_unit=supervisor, title=title[:TITLE_MAX], description=description,
        category=answer.category, source=SOURCE_OF[inspection.kind],
        proposed_grade=Grade.MAJOR if answer.proposes_major else "",
        checklist_version=inspection.checklist, criteria_version=inspection.criteria,
        criterion=answer.criterion if criterion else "", criterion_text=criterion["text"][:500] if criterion else "")
    Answer.objects.filter(pk=answer.pk).update(case=case)
    answer.case = case
    return case
