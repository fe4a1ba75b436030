"""The safety-hazard case (安全隐患), declared: found by an inspection, a self-inspection, a grid
member, the public or an inspector by hand, then graded.

* General (一般隐患): fixed on the spot (立查立改) with before and after photos and closed at
  once, or rectified by a deadline (整改通知书), then checked again (复查) and closed.
* Major (重大隐患): the leader lists it (挂牌督办) with a rectification order; the unit files
  the five-point plan (五落实: 措施、责任、资金、时限、应急预案), which the leader approves;
  the leader may order suspension (停业整顿) only once the residents' placement (妥善安置)
  is recorded; after rectification an on-site acceptance (验收) by named acceptors with
  evidence passes it to de-listing (摘牌) or returns it to rectification. Listing and
  de-listing each call for a public notice within the unit's notice clock (a setting)."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from workflow.cases.permissions import any_of, not_opener, all_of
from workflow.kernel.declaration import (SUPERVISOR, UNIT, Action, Cancellation, CaseType, Choice, Column, Condition, Create, Int, Ladder, Ledger, Long, Menu, MenuLink, Money, PageDocument, Reason, State, Task, Text, at, closed_on, not_in, overdue)
from workflow.kernel.declaration import Date as DateField
from workflow.models import Role, Rung

HANDLER, UNIT_HEAD = at(Role.HANDLER, UNIT), at(Role.UNIT_HEAD, UNIT)
INSPECTOR, LEADER = at(Role.INSPECTOR, SUPERVISOR), at(Role.LEADER, SUPERVISOR)
DELISTER = all_of(LEADER, not_opener)


class Grade(models.TextChoices):
    PENDING = "pending", _("Not graded yet")
    GENERAL = "general", _("General hazard")
    MAJOR = "major", _("Major hazard")


class Category(models.TextChoices):
    FIRE = "fire", _("Fire safety")
    ELECTRICAL = "electrical", _("Electricity")
    GAS = "gas", _("Gas")
    FOOD = "food", _("Food safety")
    BUILDING = "building", _("Building safety")
    EQUIPMENT = "equipment", _("Special equipment")
    OTHER = "other", _("Other")


class Source(models.TextChoices):
    INSPECTION = "inspection", _("Inspection")
    UNANNOUNCED = "unannounced", _("Unannounced inspection (四不两直)")
    SELF = "self", _("Self-inspection")
    GRID = "grid", _("Grid member's report")
    PUBLIC = "public", _("Public report")
    OTHER = "other", _("Other")


def _before_and_after(case) -> bool:
    return case.has_photos("before") and case.has_photos("after")


def _after_photo(case) -> bool:
    return case.has_photos("after")


def _placement(case) -> bool:
    return bool(case.placement.strip()) and not case.suspended


def _acceptance_evidence(case) -> bool:
    return case.has_acceptance_evidence()


def _notice_pending(case) -> bool:
    return case.listed_at is not None and case.listing_published_on is None


found_grade = Task("grade", _("Grade the hazard"), INSPECTOR)
rectify = Task("rectify", _("Rectify the hazard"), HANDLER)
recheck = Task("recheck", _("Check the rectification again (复查)"), INSPECTOR)
list_task = Task("list", _("Decide on listing the major hazard (挂牌督办)"), LEADER)
plan = Task("plan", _("File the five-point plan (五落实)"), HANDLER)
approve = Task("approve_plan", _("Approve the plan"), LEADER)
rectify_major = Task("rectify_major", _("Rectify the major hazard"), HANDLER)
accept = Task("accept", _("Accept the rectification on site (验收)"), INSPECTOR)
delist = Task("delist", _("De-list the hazard (摘牌)"), LEADER)
publish = Task("publish", _("Publish the de-listing notice"), INSPECTOR)

MAJOR_WORK = ("planning", "plan_review", "major_rectifying")
LISTED = (*MAJOR_WORK, "acceptance", "delisting")
NO = Reason(_("Reason"), True, _("Please give the reason."))

PLAN_FIELDS = (
    Long("plan_measures", _("Measures (措施)"), 5000),
    Text("plan_responsible", _("Person responsible (责任人)"), 100),
    Money("plan_funds", _("Funds (资金, yuan)")),
    DateField("plan_deadline", _("Completed by (时限)")),
    Long("plan_emergency", _("Emergency plan meanwhile (应急预案)"), 5000),
)
ACCEPTORS = Text("acceptors", _("Acceptors (验收人员)"), 200,
                 help=_("The names, and units, of everyone who took part in the on-site acceptance"))


class Hazard(CaseType):
    key = "hazard"
    label = _("Safety hazard")
    initial = "found"
    number_prefix = "隐患"
    states = (
        State("found", _("Found, to be graded"), (found_grade,), uploads=True),
        State("rectifying", _("Rectifying by the deadline"), (rectify,), ladder=True, uploads=True),
        State("rechecking", _("Awaiting re-check"), (recheck,), uploads=True),
        State("listing", _("Major: awaiting listing"), (list_task,)),
        State("planning", _("Listed: plan to be filed"), (plan,), ladder=True, uploads=True),
        State("plan_review", _("Listed: plan awaiting approval"), (approve,), uploads=True),
        State("major_rectifying", _("Listed: rectifying"), (rectify_major,), ladder=True, uploads=True),
        State("acceptance", _("Listed: awaiting on-site acceptance"), (accept,), uploads=True),
        State("delisting", _("Accepted: awaiting de-listing"), (delist,)),
        State("delisted", _("De-listed: notice to be published"), (publish,)),
        State("closed", _("Closed"), end="done"),
        State("cancelled", _("Cancelled"), end="cancelled"),
    )
    actions = (
        # Grading: on the spot, by a deadline, or proposed as major.
        Action("fix_on_spot", "found", "closed", INSPECTOR, _("Fixed on the spot: close (立查立改)"),
               (Reason(_("What was done on the spot"), True, _("Please say what was done on the spot.")),),
               when=(Condition(_before_and_after, _("Add a photo before and a photo after the fix first.")),)),
        Action("set_deadline", "found", "rectifying", INSPECTOR, _("General hazard: rectify by a deadline"),
               (Int("deadline_days", _("Working days allowed"), 1, 365, default=10),
                Long("requirement", _("Rectification requirements"), 5000))),
        Action("propose_major", "found", "listing", INSPECTOR, _("Major hazard: propose listing"),
               (Reason(_("Why it is a major hazard"), True,
                       _("Please say why it is a major hazard, citing the criterion.")),), style="danger"),
        # General: rectify, re-check.
        Action("report_fixed", "rectifying", "rechecking", HANDLER, _("Report the hazard fixed"),
               (Reason(_("What was rectified"), True, _("Please describe what was rectified.")),),
               when=(Condition(_after_photo, _("Add a photo after the fix first.")),)),
        Action("pass_recheck", "rechecking", "closed", INSPECTOR, _("Re-check passed: close"),
               (Reason(_("Re-check opinion")),)),
        Action("fail_recheck", "rechecking", "rectifying", INSPECTOR, _("Re-check failed: rectify again"),
               (Reason(_("What is still wrong"), True, _("Please say what is still wrong.")),), style="danger"),
        # Major: list, plan, rectify, accept, de-list.
        Action("list_hazard", "listing", "planning", LEADER, _("List it for supervision (挂牌督办)"),
               (Int("deadline_days", _("Working days allowed"), 1, 365, default=30),
                Long("requirement", _("Rectification order (限期整改指令)"), 5000),
                Reason(_("Opinion")))),
        Action("decline_listing", "listing", "found", LEADER, _("Not major: back to grading"),
               (NO,), style="danger"),
        Action("file_plan", "planning", "plan_review", HANDLER, _("File the five-point plan"), PLAN_FIELDS),
        Action("approve_plan", "plan_review", "major_rectifying", LEADER, _("Approve the plan"),
               (Reason(_("Opinion")),)),
        Action("return_plan", "plan_review", "planning", LEADER, _("Return the plan"), (NO,), style="danger"),
        Action("record_placement", MAJOR_WORK, None, any_of(HANDLER, UNIT_HEAD),
               _("Record the residents' placement plan (妥善安置)"),
               (Long("placement", _("Placement plan for the residents"), 5000),), style="secondary",
               help=_("Needed before a suspension can be ordered: where each resident goes and who looks after them.")),
        Action("suspend", MAJOR_WORK, None, LEADER, _("Order suspension (停业整顿)"),
               (Reason(_("Grounds for suspension"), True, _("Please give the grounds for suspension.")),),
               when=(Condition(_placement, _("Suspension can be ordered only once the residents' placement plan is "
                                             "recorded, and only once.")),), style="secondary"),
        Action("publish_listing", LISTED, None, INSPECTOR, _("Record the listing notice published"),
               (DateField("published_on", _("Published on")), Text("published_where", _("Published in"), 200)),
               when=(Condition(_notice_pending, _("The listing notice is already recorded.")),), style="secondary"),
        Action("apply_acceptance", "major_rectifying", "acceptance", HANDLER, _("Apply for acceptance"),
               (Reason(_("What was rectified"), True, _("Please describe what was rectified.")),),
               when=(Condition(_after_photo, _("Add a photo after the fix first.")),)),
        Action("pass_acceptance", "acceptance", "delisting", INSPECTOR, _("Acceptance passed"),
               (ACCEPTORS, DateField("accepted_on", _("Accepted on site on")),
                Reason(_("Acceptance opinion"), True, _("Please write the acceptance opinion."))),
               when=(Condition(_acceptance_evidence, _("Upload the acceptance record or photos first.")),)),
        Action("fail_acceptance", "acceptance", "major_rectifying", INSPECTOR, _("Acceptance failed: rectify again"),
               (ACCEPTORS, DateField("accepted_on", _("Accepted on site on")),
                Reason(_("What is still wrong"), True, _("Please say what is still wrong."))), style="danger"),
        Action("delist", "delisting", "delisted", DELISTER, _("De-list (摘牌)"), (Reason(_("Opinion")),)),
        Action("publish_delisting", "delisted", "closed", INSPECTOR, _("Record the de-listing notice published: close"),
               (DateField("published_on", _("Published on")), Text("published_where", _("Published in"), 200))),
    )
    requests = (Cancellation(INSPECTOR, (LEADER,), "cancelled", when=(not_in("closed", "cancelled"),),
                             unavailable=_("Only one cancellation can be pending.")),)
    ladder = Ladder(told={Rung.REMINDER: (HANDLER,), Rung.YELLOW: (UNIT_HEAD, HANDLER), Rung.RED: (LEADER, UNIT_HEAD),
                          Rung.INTERVIEW: (LEADER, INSPECTOR, UNIT_HEAD), Rung.ACCOUNTABILITY: (LEADER,)})
    uploader = any_of(HANDLER, INSPECTOR)
    create = Create(
        role=Role.INSPECTOR, many=False, service="processes.hazard.services.open_by_hand",
        fields=(Text("title", _("Title"), 200), Choice("category", _("Category"), Category.choices, Category.FIRE),
                Choice("source", _("Found by"), Source.choices, Source.INSPECTION),
                Text("place", _("Where"), 200, required=False, help=_("Building, floor, room")),
                Text("criterion", _("Criterion (article)"), 20, required=False,
                     help=_("The article of the major-hazard criteria it meets, e.g. 4(三); leave empty if none")),
                Long("description", _("Hazard description"), 5000)),
        denied=_("Only inspectors record hazards by hand."))
    list_filters = ("grade", "category", "source")
    list_columns = ("grade", "category")
    detail_fields = ("grade", "category", "source", "place", "requirement")
    ledger = Ledger("安全隐患台账", (
        Column("编号", "number", 22), Column("隐患", "title", 40), Column("单位", "unit__name", 24),
        Column("类别", "category", 12), Column("等级", "grade", 10), Column("来源", "source", 14),
        Column("状态", "status", 18), Column("发现日期", "created_at", 12), Column("整改期限", "deadline", 12),
        Column("是否逾期", overdue, 10, reads=("phase", "deadline")),
        Column("销号日期", closed_on, 12, reads=("phase", "closed_at")),
    ))
    documents = (
        PageDocument("notice", _("Hazard rectification notice (PDF)"),
                     ready=lambda case: case.grade == Grade.GENERAL and case.issued_at is not None),
        PageDocument("listing_notice", _("Listing notice (PDF)"), ready=lambda case: case.listed_at is not None),
        PageDocument("listing_public_notice", _("Listing public notice (PDF)"),
                     ready=lambda case: case.listed_at is not None),
        PageDocument("delisting_public_notice", _("De-listing public notice (PDF)"),
                     ready=lambda case: case.delisted_at is not None),
    )
    panels = ("hazard/_hazard.html",)
    prefetch = ("criteria_version", "checklist_version")
    menu = Menu(_("Safety hazards"), new=_("Record a hazard"), list_title=_("Safety hazards"),
                new_title=_("Record a hazard"), pages=(
                    MenuLink("inspections", _("Checklist inspections"),
                             (Role.INSPECTOR, Role.LEADER, Role.HANDLER, Role.UNIT_HEAD)),
                    MenuLink("indicators", _("Hazard indicators"), (Role.LEADER, Role.INSPECTOR)),
                    MenuLink("reports", _("Reports from outside"), (Role.INSPECTOR, Role.LEADER)),
                    MenuLink("grid-reports", _("My hazard reports"), (Role.GRID,)),
                ))
    event_labels = {"inspection": _("Found in an inspection")}
