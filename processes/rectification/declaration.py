"""The rectification task (整改任务), declared once: states, who waits, actions, side requests,
ladder, pages, ledger. The model's methods of the same names do the work."""
from django.utils.translation import gettext_lazy as _

from django.db import models

from workflow.kernel.declaration import (SUPERVISOR, UNIT, Action, Cancellation, CaseType, Choice, Column, Create, Int, Ladder, Ledger, Long, Menu, NewDeadline, PageDocument, Reason, SideRequest, State, Task, Text, UnitPick, Verb, at, before_deadline, closed_on, not_in, overdue)
from workflow.kernel.declaration import Date as DateField
from workflow.models import Role, Rung
from workflow.cases.permissions import all_of, did_not, not_opener

HANDLER, UNIT_HEAD = at(Role.HANDLER, UNIT), at(Role.UNIT_HEAD, UNIT)
INSPECTOR, LEADER, LEGAL = at(Role.INSPECTOR, SUPERVISOR), at(Role.LEADER, SUPERVISOR), at(Role.LEGAL, SUPERVISOR)
# Separation of duties: who rectified does not review; who opened does not sign off.
REVIEWER = all_of(INSPECTOR, did_not("submit", "report_progress", "head_approve"))
SIGNER = all_of(LEADER, not_opener)

issue = Task("issue", _("Issue the case"), INSPECTOR)
sign = Task("sign", _("Sign for the case"), HANDLER)
decide = Task("decide_refusal", _("Decide on a refused case"), INSPECTOR)
rectify = Task("rectify", _("Rectify and report"), HANDLER)
head = Task("head_approval", _("Approve the unit's report"), UNIT_HEAD)
review = Task("review", _("Review the rectification"), INSPECTOR)
sign_off = Task("sign_off", _("Sign off the closure"), LEADER)



class Source(models.TextChoices):
    INSPECTION = "inspection", _("Inspection")
    AUDIT = "audit", _("Audit")
    HOTLINE = "hotline", _("Hotline or complaint")
    LEADER = "leader", _("Leader's instruction")


# The legal basis a problem breaches (依据): a regulation's title and the article, typed as written.
REGULATION_MAX, ARTICLE_MAX = 100, 50

WORKING = ("signed", "rectifying", "returned", "long_term")
REVIEWABLE = ("submitted", "under_review")
NO = Reason(_("Reason"), True, _("Please give the reason for rejecting."))  # rejecting a request


class Rectification(CaseType):
    key = "rectification"
    label = _("Rectification task")
    initial = "draft"
    number_prefix = "整改"
    states = (
        State("draft", _("Draft"), (issue,), unit_sees=False),
        State("issued", _("Issued"), (sign,), ladder=True),
        State("refused", _("Refused, awaiting reassignment"), (decide,)),
        State("signed", _("Signed"), (rectify,), ladder=True, uploads=True),
        State("rectifying", _("Rectifying"), (rectify,), ladder=True, uploads=True),
        State("pending_head", _("Awaiting unit-head approval"), (head,), ladder=True),
        State("submitted", _("Submitted by the unit"), (review,)),
        State("under_review", _("Under review"), (review,)),
        State("returned", _("Returned"), (rectify,), ladder=True, uploads=True),
        State("accepted", _("Accepted"), (sign_off,)),
        State("long_term", _("Long-term rectification"), (rectify,), uploads=True),
        State("closed", _("Closed"), end="done"),
        State("cancelled", _("Cancelled"), end="cancelled"),
    )
    actions = (
        Action("issue", "draft", "issued", INSPECTOR, _("Issue to the unit")),
        Action("discard", "draft", "cancelled", INSPECTOR, _("Discard the draft"), (Reason(_("Note")),),
               style="danger"),
        Action("sign", "issued", "signed", HANDLER, _("Sign for the case")),
        Action("refuse", "issued", "refused", HANDLER, _("Wrongly addressed: ask to change the unit"),
               (Reason(_("Why is this case not ours?"), True, _("Please explain why the case is wrongly addressed.")),), style="danger"),
        Action("reassign", "refused", "issued", INSPECTOR, _("Send to another unit"),
               (Reason(_("Note")), UnitPick("unit", _("New unit")))),
        Action("reject_refusal", "refused", "issued", INSPECTOR, _("Keep the unit responsible"),
               (Reason(_("Reason"), True, _("Please explain why the unit must handle the case.")),),
               style="danger"),
        Action("report_progress", ("signed", "rectifying", "returned"), "rectifying", HANDLER, _("Report progress"),
               (Reason(_("Progress so far"), True, _("Please write the progress report.")),), style="secondary"),
        Action("report_progress", "long_term", "long_term", HANDLER, _("Report progress")),
        Action("submit", WORKING, "pending_head", HANDLER, _("Submit the rectification report"),
               (Reason(_("What was rectified"), True, _("Please describe what was rectified.")),)),
        Action("head_approve", "pending_head", "submitted", UNIT_HEAD, _("Approve and send up"),
               (Reason(_("Opinion")),)),
        Action("head_reject", "pending_head", "rectifying", UNIT_HEAD, _("Send back to the handler"),
               (Reason(_("Reason"), True, _("Please give the reason for sending it back.")),),
               style="danger"),
        Action("start_review", "submitted", "under_review", REVIEWER, _("Start reviewing"), style="secondary",
               help=_("Optional: marks that the review has begun, so the unit sees its report is being examined. "
                      "Accepting or returning does not need it.")),
        Action("accept", REVIEWABLE, "accepted", REVIEWER, _("Accept the rectification"),
               (Reason(_("Review opinion")),)),
        Action("return_case", REVIEWABLE, "returned", REVIEWER, _("Return for more rectification"),
               (Reason(_("Reasons for returning"), True, _("Please list the reasons for returning the case.")),), style="danger"),
        Action("accept_long_term", REVIEWABLE, "long_term", REVIEWER, _("Accept as long-term rectification"),
               (Reason(_("Why it continues"), True, _("Please explain why rectification must continue.")),
                Int("report_every_days", _("Report progress every (days)"), 1, 365, default=30)),
               style="secondary"),
        Action("sign_off", "accepted", "closed", SIGNER, _("Sign off and close the case"),
               (Reason(_("Sign-off opinion")),)),
        Action("reject_sign_off", "accepted", "under_review", SIGNER, _("Do not sign off: back to review"),
               (Reason(_("Reason"), True, _("Please give the reason for not signing off.")),),
               style="danger"),
    )
    requests = (
        SideRequest(
            "extension", _("Extension"), asked_by=HANDLER, chain=(UNIT_HEAD, INSPECTOR, LEADER),
            ask=Verb(_("Request an extension"), (Reason(_("Reason for the extension"), True,
                                                        _("Please give the reason for the extension.")),
                                                 DateField("new_deadline", _("New deadline"))), "secondary"),
            approve=Verb(_("Approve the extension"), (Reason(_("Opinion")),)),
            reject=Verb(_("Reject the extension"), (NO,), "danger"),
            source=WORKING, when=(before_deadline,), grant=NewDeadline(),
            unavailable=_("An extension can be asked for only while rectifying, before the deadline, and when none "
                          "is pending."),
        ),
        Cancellation(INSPECTOR, (LEADER,), "cancelled", when=(not_in("draft"),),
                     unavailable=_("A draft is discarded directly, and only one cancellation can be pending.")),
    )
    ladder = Ladder(
        told={Rung.REMINDER: (HANDLER,), Rung.YELLOW: (UNIT_HEAD, HANDLER), Rung.RED: (LEADER, UNIT_HEAD),
              Rung.INTERVIEW: (LEADER, INSPECTOR, UNIT_HEAD), Rung.ACCOUNTABILITY: (LEADER, LEGAL)},
        proposals={Rung.INTERVIEW: "interview", Rung.ACCOUNTABILITY: "accountability"},
    )
    uploader = HANDLER
    create = Create(
        role=Role.INSPECTOR, then="issue", many=True, service="processes.rectification.services.open_cases",
        fields=(Text("title", _("Title"), 200), Choice("source", _("Source"), Source.choices, Source.INSPECTION),
                Text("basis", _("Inspection activity"), 200, required=False,
                     help=_("e.g. the inspection or audit this problem came from")),
                Text("regulation", _("Legal basis: regulation"), REGULATION_MAX, required=False,
                     help=_("Optional: the title of the law, regulation or rule the problem breaches, "
                            "e.g. 养老机构管理办法")),
                Text("article", _("Legal basis: article"), ARTICLE_MAX, required=False,
                     help=_("Optional: the article of that regulation, e.g. 第三十条")),
                Long("description", _("Problem description")), Long("requirement", _("Rectification requirements")),
                Int("deadline_days", _("Working days allowed"), 1, 365, default=10)),
        denied=_("Only inspectors open rectification cases."))
    list_filters = ("source",)
    detail_fields = ("source", "basis", "regulation", "article", "requirement", "long_term", "report_every_days", "returns", "signed_at")
    ledger = Ledger("整改台账", (
        Column("编号", "number", 22), Column("标题", "title", 48), Column("承办单位", "unit__name", 24),
        Column("来源", "source", 14), Column("状态", "status", 18), Column("交办日期", "issued_at", 12),
        Column("截止日期", "deadline", 12), Column("是否逾期", overdue, 10, reads=("phase", "deadline")),
        Column("退回次数", "returns", 10), Column("督办等级", "rung", 14),
        Column("销号日期", closed_on, 12, reads=("phase", "closed_at")),
    ))
    documents = (PageDocument("notice", _("Rectification notice (PDF)"), ready=lambda case: case.issued_at is not None),)
    list_documents = (PageDocument("bulletin", _("Bulletin (PDF)"), roles=(Role.LEADER, Role.INSPECTOR)),)
    panels = ("rectification/_reports.html",)
    prefetch = ("reports__author",)
    menu = Menu(_("Rectification"), new=_("New case"), list_title=_("Rectification cases"),
                new_title=_("New rectification case"))

    @classmethod
    def facts(cls, case):
        """As the case page has always shown them: the source with its basis, the times
        returned once there are any, and the reporting cycle of a long-term case."""
        source = case.get_source_display() + (f" · {case.basis}" if case.basis else "")
        rows = [(_("Source"), source)]
        if case.regulation:
            rows.append((_("Legal basis"), legal_basis(case.regulation, case.article)))
        if case.returns:
            rows.append((_("Times returned"), case.returns))
        if case.long_term:
            rows.append((_("Long-term rectification"),
                         _("progress report every %(d)s days") % {"d": case.report_every_days}))
        return rows


def legal_basis(regulation: str, article: str = "") -> str:
    """The legal basis as a notice cites it: 《养老机构管理办法》第三十条. The title is put in
    book-title marks whether or not it was typed with them; no regulation, no basis."""
    title = (regulation or "").strip().strip("《》〈〉<> ").strip()
    if not title:
        return ""
    article = (article or "").strip()
    if article and all(ch in NUMERALS for ch in article):  # "30" or "三十": the article's number alone
        article = f"第{article}条"
    return f"《{title}》{article}"


NUMERALS = set("0123456789０１２３４５６７８９零〇一二三四五六七八九十百千")
