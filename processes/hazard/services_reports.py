"""Hazards reported from outside: by the public through the form served without a login, or by
a grid member (网格员) signed in; and the inspectors' triage of them. Each write is one
transaction with its audit events on the report's own chain (workflow.cases.records).

A public reporter follows the report with a query code shown once: twelve characters from an
alphabet without look-alikes (60 bits from `secrets`), of which only the SHA-256 is kept.
Looking a code up reads that hash's unique index: a code that is malformed, unknown or forged
answers the same "no such report"."""
import hashlib
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from workflow.cases import evidence as files
from workflow.cases.engine import Actor
from workflow.cases.records import RecordDenied, changing, create_record
from workflow.kernel.errors import ActionError, AlreadyHandled
from workflow.models import Role, Unit, UnitKind
from workflow.models.cases import Phase
from workflow.trail import notify

from .declaration import Category, Hazard, Source
from .models import Report

BUREAU_KINDS = (UnitKind.CITY_BUREAU, UnitKind.COUNTY_BUREAU)
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I/L look-alikes
CODE_LENGTH = 12
CODE_GROUP = 4
PLACE_MAX, SUBJECT_MAX, DESCRIPTION_MAX, CONTACT_MAX, REPLY_MAX = 200, 200, 2000, 100, 1000
TITLE_MAX = 200
SOURCE_OF = {Report.Channel.PUBLIC: Source.PUBLIC, Report.Channel.GRID: Source.GRID}


# Where a report goes -------------------------------------------------------------------------------
def bureaus():
    """The bureaus a report may be addressed to, in the tree's order."""
    return Unit.objects.filter(kind__in=BUREAU_KINDS).order_by("path")


def bureau_above(unit: Unit | None) -> Unit | None:
    """The nearest bureau at or above `unit` (a grid member's reports go there)."""
    if unit is None:
        return None
    ids = [int(part) for part in unit.path.split(".") if part]
    return bureaus().filter(pk__in=ids).order_by("-path").first()


# The query code ------------------------------------------------------------------------------------
def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str | None:
    """The code as issued from what a person typed (any case, spaces or dashes between the
    groups), or None when it cannot be one."""
    code = "".join(ch for ch in (text or "")[:40] if ch not in " -\u3000").upper()
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def grouped(code: str) -> str:
    """ABCD-EFGH-JKMN: easier to read out and copy."""
    return "-".join(code[i:i + CODE_GROUP] for i in range(0, len(code), CODE_GROUP))


# Filing --------------------------------------------------------------------------------------------
def _text(value, limit: int, required_message: str | None = None) -> str:
    value = (value or "").strip()
    if required_message and not value:
        raise ActionError(required_message)
    if len(value) > limit:
        raise ActionError(_("A field has at most %(n)d characters.") % {"n": limit})
    return value


def file_report(*, actor: Actor, unit: Unit | None = None, place: str, description: str, subject: str = "",
                category: str = Category.OTHER, contact: str = "", photos=()) -> tuple[Report, str]:
    """File a report with its photos, in one transaction with its audit events: from the public
    (``actor.user`` None) to the bureau `unit` they chose, or from a grid member to the bureau
    above their unit (`unit` is ignored). Returns the report and, for the public, its query code
    (shown once; only its hash is kept). The photos are checked (images only, each within
    PUBLIC_PHOTO_MAX_BYTES, content sniffed) before anything is stored: one refused file refuses
    the report (EvidenceRejected), and nothing is kept."""
    user = actor.user
    if user is None:
        channel = Report.Channel.PUBLIC
        if unit is None or not bureaus().filter(pk=unit.pk).exists():
            raise ActionError(_("Choose the bureau to report to."))
    elif user.role == Role.GRID:
        channel = Report.Channel.GRID
        unit = bureau_above(user.unit)
        if unit is None:
            raise ActionError(_("Your unit is under no civil-affairs bureau; ask the administrator."))
    else:
        raise ActionError(_("Only grid members file reports here."))
    if category not in Category.values:
        raise ActionError(_("Unknown category."))
    fields = dict(
        place=_text(place, PLACE_MAX, _("Please say where the hazard is.")),
        subject=_text(subject, SUBJECT_MAX),
        description=_text(description, DESCRIPTION_MAX, _("Please describe what you saw.")),
        contact=_text(contact, CONTACT_MAX), category=category)
    photos = list(photos)
    if len(photos) > settings.PUBLIC_PHOTOS_MAX:
        raise ActionError(_("At most %(n)d photos.") % {"n": settings.PUBLIC_PHOTOS_MAX})
    checked = files.check_files(photos, max_bytes=settings.PUBLIC_PHOTO_MAX_BYTES, images_only=True)
    code = new_code() if channel == Report.Channel.PUBLIC else ""
    with files.stored_files(checked, uploaded_by=user) as rows:  # no uploader: someone without an account
        with transaction.atomic():
            report = create_record(
                Report, actor=actor, unit=unit, action="file_report", addressed=True, channel=channel,
                query_hash=code_hash(code) if code else "", **fields,
                data={"channel": channel, "category": category, "photos": len(rows)},
                tell=[(Role.INSPECTOR, unit.pk)],
                message=notify.message(gettext_noop("New hazard report: %(place)s"), place=fields["place"][:60]))
            files.add_record_files(report, rows, actor=actor)
    return report, code


# Triage ----------------------------------------------------------------------------------------------
def _triaging(change, actor, action):
    report = change.record
    if actor.user.role != Role.INSPECTOR:
        raise RecordDenied(actor, action=action, record=report, message=_("Only inspectors handle reports."))
    if report.status != Report.Status.RECEIVED:
        raise AlreadyHandled(_("This report was already handled."))
    return report


def take_up(*, actor: Actor, report_id: int, unit: Unit, reply: str = "", token: str = ""):
    """受理: open a hazard case from the report at `unit` (below the inspector's own), found by
    the public or a grid member, and link it. The reporter's contact stays on the report: the
    case, which the unit reported on sees, never carries it."""
    reply = _text(reply, REPLY_MAX)
    from .services import open_by_hand

    with changing(Report, report_id, actor=actor, action="take_up") as change:
        report = _triaging(change, actor, "take_up")
        case = open_by_hand(actor=actor, units=[unit], token=token, **case_fields(report))[0]
        report.case_id = case.pk
        report.status, report.reply = Report.Status.ACCEPTED, reply
        report.handled_by, report.handled_at = actor.user, timezone.now()
        report.save(update_fields=["case", "status", "reply", "handled_by", "handled_at"])
        change.data = {"case": case.pk, "number": case.number, "unit": unit.pk}
        change.reason = reply
    return case


def case_fields(report: Report) -> dict:
    """The new case's title and description from the report (never its contact)."""
    lead = report.subject or report.place
    first_line = report.description.strip().splitlines()[0] if report.description.strip() else ""
    title = f"{lead}：{first_line}" if first_line else lead
    when = timezone.localtime(report.created_at).strftime("%Y-%m-%d %H:%M")
    description = "\n".join(part for part in (
        f"{report.get_channel_display()}（{when}）",
        f"{Report._meta.get_field('place').verbose_name}：{report.place}",
        report.subject and f"{Report._meta.get_field('subject').verbose_name}：{report.subject}",
        report.description) if part)
    return {"title": title[:TITLE_MAX], "category": report.category, "source": SOURCE_OF[report.channel],
            "place": report.place[:200], "description": description}


def decline(*, actor: Actor, report_id: int, reply: str) -> Report:
    """不予受理, with the reply the reporter reads on the query page."""
    reply = _text(reply, REPLY_MAX, _("Please write the reply to the reporter."))
    with changing(Report, report_id, actor=actor, action="decline_report") as change:
        report = _triaging(change, actor, "decline_report")
        report.status, report.reply = Report.Status.DECLINED, reply
        report.handled_by, report.handled_at = actor.user, timezone.now()
        report.save(update_fields=["status", "reply", "handled_by", "handled_at"])
        change.reason = reply
    return report


# Following a report --------------------------------------------------------------------------------
def lookup(text: str) -> dict | None:
    """What the query page shows for a code: the report's state, the bureau's reply and, once
    a case is open, only its state and whether it is closed. None for any code that names no
    report (malformed, unknown or forged alike)."""
    code = normalize_code(text)
    digest = code_hash(code) if code else code_hash("-")  # the same query either way
    report = (Report.objects.filter(query_hash=digest, channel=Report.Channel.PUBLIC)
              .select_related("unit", "case").first())
    if report is None or code is None:
        return None
    answer = {"filed": report.created_at, "bureau": report.unit.name, "place": report.place,
              "status": report.status, "status_label": report.get_status_display(), "reply": report.reply,
              "handled": report.handled_at, "case_state": "", "case_closed": False}
    if report.case is not None:
        answer["case_state"] = Hazard.state_label(report.case.status)
        answer["case_closed"] = report.case.phase in (Phase.DONE, Phase.CANCELLED)
    return answer
