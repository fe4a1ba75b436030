"""Safety hazards: the case (its action methods below, its declaration in declaration.py), the
checklist inspections and their answers (records beside cases), and reports from outside."""
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from workflow.cases.flows import build_flow
from workflow.kernel import rules
from workflow.kernel.calendar import add_working_days
from workflow.kernel.errors import ActionError, Change
from workflow.kernel.limits import MONEY_DIGITS, MONEY_PLACES
from workflow.kernel.unit_settings import setting
from workflow.models import Case, Evidence, Record, RuleSet

from .declaration import Category, Grade, Hazard, Source

HazardFlow = build_flow(Hazard, "HazardFlow", __name__,
                        "Safety hazard\n\nGrade → fix on the spot, or rectify and re-check; major: list → plan → "
                        "rectify → accept → de-list.")

# Rule kinds (declared in apps.py): the checklists, and the major-hazard criteria by article.
CHECKLIST, CRITERIA = "hazard.checklist", "hazard.criteria"
CRITERIA_NAME = "elderly_care"  # 《养老机构重大事故隐患判定标准》
LISTING_DAYS, DELISTING_DAYS = "hazard.listing_notice_days", "hazard.delisting_notice_days"
LISTING_DOCUMENT = "hazard_listing"  # the 挂牌督办通知书's numbering and template


class InspectionKind(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled inspection")
    UNANNOUNCED = "unannounced", _("Unannounced (四不两直)")
    SELF = "self", _("Self-inspection")


class Result(models.TextChoices):
    PASS = "pass", _("Pass")
    FAIL = "fail", _("Fail")
    NA = "na", _("Not applicable")


class Inspection(Record):
    """One checklist inspection of a unit: by the regulator (scheduled or unannounced) or the
    unit's own self-inspection, recorded apart. Its answers are the checklist's items, copied
    from the version in force when it was started; submitting it opens a hazard case for each
    failed answer."""

    class Status(models.TextChoices):
        OPEN = "open", _("Being filled in")
        SUBMITTED = "submitted", _("Submitted")

    kind = models.CharField(_("kind of inspection"), max_length=12, choices=InspectionKind.choices,
                            default=InspectionKind.SCHEDULED)
    checklist = models.ForeignKey(RuleSet, on_delete=models.PROTECT, related_name="+", verbose_name=_("checklist"))
    criteria = models.ForeignKey(RuleSet, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("major-hazard criteria"))
    by_unit = models.ForeignKey("workflow.Unit", on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("inspecting unit"))
    inspected_on = models.DateField(_("inspected on"), default=timezone.localdate)
    inspectors = models.CharField(_("inspectors"), max_length=200, blank=True)
    status = models.CharField(_("state"), max_length=10, choices=Status.choices, default=Status.OPEN)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    summary = models.TextField(_("summary"), blank=True)
    failed = models.PositiveSmallIntegerField(_("items failed"), default=0)

    class Meta:
        verbose_name = _("checklist inspection")
        verbose_name_plural = _("checklist inspections")
        ordering = ["-inspected_on", "-pk"]
        indexes = [models.Index(fields=["unit", "kind", "inspected_on"], name="inspection_unit_idx"),
                   models.Index(fields=["by_unit", "inspected_on"], name="inspection_by_unit_idx")]

    def __str__(self):
        return f"{self.unit} · {self.checklist.title} · {self.inspected_on}"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("hazard:inspection", args=[self.pk])

    @property
    def is_self(self) -> bool:
        return self.kind == InspectionKind.SELF

    def may_edit(self, user) -> bool:
        """Who fills it in: the inspecting unit's inspectors (or, for a self-inspection, the
        unit's handlers and head), while it is open."""
        if self.status != self.Status.OPEN or user.unit_id != self.by_unit_id:
            return False
        roles = ("handler", "unit_head") if self.is_self else ("inspector",)
        return user.role in roles

    def may_upload(self, user) -> bool:
        return self.may_edit(user)


class Answer(Record):
    """One item of an inspection's checklist and its answer. The item's wording, proposed grade
    and criterion are copied from the checklist version used, so later versions change nothing
    here. ``case`` is the hazard a failed answer became. Photos taken for it are its evidence."""

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="answers",
                                   verbose_name=_("inspection"))
    position = models.PositiveSmallIntegerField(_("position"))
    code = models.CharField(_("item"), max_length=20)
    section = models.CharField(_("section"), max_length=100, blank=True)
    title = models.CharField(_("title"), max_length=200)
    checks = models.TextField(_("what is checked"), blank=True)
    grade = models.CharField(_("proposed grade"), max_length=10, blank=True)
    criterion = models.CharField(_("criterion"), max_length=20, blank=True)
    category = models.CharField(_("category"), max_length=12, choices=Category.choices, default=Category.OTHER)
    tag = models.CharField(_("indicator tag"), max_length=30, blank=True)
    result = models.CharField(_("result"), max_length=4, choices=Result.choices, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("checklist answer")
        verbose_name_plural = _("checklist answers")
        ordering = ["inspection", "position"]
        constraints = [models.UniqueConstraint(fields=["inspection", "position"], name="answer_position_unique")]

    def __str__(self):
        return f"{self.code} {self.title}"

    def seen_by(self, user) -> bool:
        return self.inspection.seen_by(user)

    def may_upload(self, user) -> bool:
        return self.inspection.may_edit(user)

    @property
    def proposes_major(self) -> bool:
        return self.grade == "M"


class Report(Record):
    """A hazard reported from outside: by the public through the public form (no login; the
    reporter follows it with a query code, of which only a hash is kept) or by a grid member.
    ``unit`` is the bureau it is addressed to; ``case`` the hazard opened from it."""

    class Channel(models.TextChoices):
        PUBLIC = "public", _("Public report")
        GRID = "grid", _("Grid member's report")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received, not yet handled")
        ACCEPTED = "accepted", _("Accepted: a hazard case is open")
        DECLINED = "declined", _("Not taken up")

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("reported by"))
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    place = models.CharField(_("where"), max_length=200)
    subject = models.CharField(_("institution or place name"), max_length=200, blank=True)
    description = models.TextField(_("what was seen"))
    category = models.CharField(_("category"), max_length=12, choices=Category.choices, default=Category.OTHER)
    contact = models.CharField(_("contact"), max_length=100, blank=True)
    query_hash = models.CharField(_("query code (hash)"), max_length=64, blank=True, editable=False)
    status = models.CharField(_("state"), max_length=10, choices=Status.choices, default=Status.RECEIVED)
    reply = models.CharField(_("reply"), max_length=1000, blank=True)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("handled by"))
    handled_at = models.DateTimeField(_("handled"), null=True, blank=True)

    class Meta:
        verbose_name = _("hazard report")
        verbose_name_plural = _("hazard reports")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["query_hash"], condition=~models.Q(query_hash=""),
                                               name="report_query_hash_unique")]
        indexes = [models.Index(fields=["unit", "status", "-created_at"], name="report_unit_status_idx")]

    def __str__(self):
        return f"{self.get_channel_display()} · {self.place}"


class HazardCase(Case, case_type=Hazard):
    """A safety hazard at one unit. Each action's method is named as its declaration."""

    flow_class = HazardFlow

    grade = models.CharField(_("grade"), max_length=10, choices=Grade.choices, default=Grade.PENDING)
    proposed_grade = models.CharField(_("proposed grade"), max_length=10, blank=True)
    category = models.CharField(_("category"), max_length=12, choices=Category.choices, default=Category.OTHER)
    source = models.CharField(_("found by"), max_length=12, choices=Source.choices, default=Source.INSPECTION)
    place = models.CharField(_("where"), max_length=200, blank=True)
    requirement = models.TextField(_("rectification requirements"), blank=True)
    # The rules it was judged under: the checklist version of its inspection, the criteria version
    # in force when it was found (and the article it meets, with its wording as written then).
    checklist_version = models.ForeignKey(RuleSet, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                          verbose_name=_("checklist version"))
    criteria_version = models.ForeignKey(RuleSet, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                         verbose_name=_("criteria version"))
    criterion = models.CharField(_("criterion"), max_length=20, blank=True)
    criterion_text = models.CharField(_("criterion wording"), max_length=500, blank=True)
    rechecks = models.PositiveSmallIntegerField(_("re-checks failed"), default=0)
    # Major: listing (挂牌督办), its order's number and the public notice's clock.
    listed_at = models.DateTimeField(_("listed"), null=True, blank=True)
    listing_number = models.CharField(_("listing notice number"), max_length=60, blank=True)
    listing_notice_due = models.DateField(_("listing notice due"), null=True, blank=True)
    listing_published_on = models.DateField(_("listing notice published"), null=True, blank=True)
    listing_published_where = models.CharField(_("listing notice published in"), max_length=200, blank=True)
    # The five-point plan (五落实).
    plan_measures = models.TextField(_("measures"), blank=True)
    plan_responsible = models.CharField(_("person responsible"), max_length=100, blank=True)
    plan_funds = models.DecimalField(_("funds (yuan)"), max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES,
                                     null=True, blank=True)
    plan_deadline = models.DateField(_("plan completed by"), null=True, blank=True)
    plan_emergency = models.TextField(_("emergency plan"), blank=True)
    plan_approved_at = models.DateTimeField(_("plan approved"), null=True, blank=True)
    # Suspension (停业整顿) and the residents' placement (妥善安置) it requires.
    placement = models.TextField(_("placement plan"), blank=True)
    suspended = models.BooleanField(_("suspended"), default=False)
    suspended_at = models.DateTimeField(_("suspended"), null=True, blank=True)
    # Acceptance (验收) and de-listing (摘牌).
    acceptance_asked_at = models.DateTimeField(_("acceptance applied for"), null=True, blank=True)
    acceptors = models.CharField(_("acceptors"), max_length=200, blank=True)
    accepted_on = models.DateField(_("accepted on"), null=True, blank=True)
    acceptance_opinion = models.TextField(_("acceptance opinion"), blank=True)
    reworks = models.PositiveSmallIntegerField(_("acceptances failed"), default=0)
    delisted_at = models.DateTimeField(_("de-listed"), null=True, blank=True)
    delisting_notice_due = models.DateField(_("de-listing notice due"), null=True, blank=True)
    delisting_published_on = models.DateField(_("de-listing notice published"), null=True, blank=True)
    delisting_published_where = models.CharField(_("de-listing notice published in"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("safety hazard")
        verbose_name_plural = _("safety hazards")
        indexes = [models.Index(fields=["grade", "category"], name="hazard_grade_idx")]

    # Evidence the conditions read ------------------------------------------------------------
    def has_photos(self, stage: str) -> bool:
        """A photo of `stage` on the case, or, before the fix, one taken for the failed checklist item."""
        if Evidence.objects.filter(case_id=self.pk, stage=stage, content_type__startswith="image/").exists():
            return True
        if stage != Evidence.Stage.BEFORE:
            return False
        from django.contrib.contenttypes.models import ContentType

        answers = Answer.objects.filter(case_id=self.pk).values_list("pk", flat=True)
        return Evidence.objects.filter(record_type=ContentType.objects.get_for_model(Answer),
                                       record_id__in=list(answers), content_type__startswith="image/").exists()

    def has_acceptance_evidence(self) -> bool:
        """A file added since acceptance was applied for: the acceptance record or its photos."""
        since = self.acceptance_asked_at or self.created_at
        return Evidence.objects.filter(case_id=self.pk, created_at__gte=since).exists()

    # Grading -----------------------------------------------------------------------------------
    def fix_on_spot(self, *, actor, reason="", **_kw):
        self.grade = Grade.GENERAL
        return Change(reason=reason, data={"grade": self.grade})

    def set_deadline(self, *, actor, deadline_days=10, requirement="", **_kw):
        self.grade = Grade.GENERAL
        self._start_clock(deadline_days)
        self.requirement = requirement
        return Change(data={"grade": self.grade, "deadline": self.deadline.isoformat()})

    def propose_major(self, *, actor, reason="", **_kw):
        self.proposed_grade = Grade.MAJOR
        return Change(reason=reason, data={"criterion": self.criterion,
                                           "criteria_version": self.criteria_version_id})

    def _start_clock(self, days: int):
        self.issued_at = timezone.now()
        self.deadline_days = days
        deadline = add_working_days(timezone.localdate(self.issued_at), days)
        self.deadline, self.calendar_warning = deadline.date, deadline.warning

    # General: rectify and re-check ----------------------------------------------------------------
    def report_fixed(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    def pass_recheck(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    def fail_recheck(self, *, actor, reason="", **_kw):
        self.rechecks += 1
        return Change(reason=reason, data={"rechecks": self.rechecks})

    # Major: listing ------------------------------------------------------------------------------
    def list_hazard(self, *, actor, deadline_days=30, requirement="", reason="", **_kw):
        from workflow.documents.archive import next_number
        from workflow.kernel.unit_settings import document_code

        self.grade = Grade.MAJOR
        self._start_clock(deadline_days)
        self.requirement = requirement
        self.listed_at = self.issued_at
        today = timezone.localdate(self.listed_at)
        code, source = document_code(self.supervisor_unit, LISTING_DOCUMENT, on=today)
        number = next_number(source, LISTING_DOCUMENT, today.year)
        self.listing_number = f"{code}〔{today.year}〕{number}号"
        clock = setting(self.supervisor_unit, LISTING_DAYS, on=today)
        self.listing_notice_due = add_working_days(today, clock.value).date
        rules.use(self.criteria_version_id)  # by id: the row's body is not read
        return Change(reason=reason, data={
            "grade": self.grade, "deadline": self.deadline.isoformat(), "listing_number": self.listing_number,
            "notice_due": self.listing_notice_due.isoformat(), "notice_days": clock.value,
            "notice_days_from": clock.effective_from.isoformat() if clock.effective_from else None,
            "criteria_version": self.criteria_version_id})

    def decline_listing(self, *, actor, reason="", **_kw):
        self.proposed_grade = Grade.GENERAL
        return Change(reason=reason)

    def publish_listing(self, *, actor, published_on=None, published_where="", **_kw):
        self._check_published(published_on, self.listed_at)
        self.listing_published_on, self.listing_published_where = published_on, published_where
        late = published_on > self.listing_notice_due if self.listing_notice_due else False
        return Change(data={"published_on": published_on.isoformat(), "where": published_where, "late": late})

    @staticmethod
    def _check_published(day, since):
        if day > timezone.localdate() or (since is not None and day < timezone.localdate(since)):
            raise ActionError(gettext("The notice cannot be published before the decision or after today."))

    # Major: the plan, placement and suspension -------------------------------------------------------
    def file_plan(self, *, actor, plan_measures="", plan_responsible="", plan_funds=None, plan_deadline=None,
                  plan_emergency="", **_kw):
        if plan_deadline < timezone.localdate():
            raise ActionError(gettext("The plan's completion date cannot be in the past."))
        if self.deadline is not None and plan_deadline > self.deadline:
            raise ActionError(gettext("The plan must be completed by the rectification deadline (%(day)s).")
                              % {"day": self.deadline.isoformat()})
        self.plan_measures, self.plan_responsible, self.plan_funds = plan_measures, plan_responsible, plan_funds
        self.plan_deadline, self.plan_emergency = plan_deadline, plan_emergency
        return Change(data={"funds": str(plan_funds), "deadline": plan_deadline.isoformat(),
                            "responsible": plan_responsible})

    def approve_plan(self, *, actor, reason="", **_kw):
        self.plan_approved_at = timezone.now()
        return Change(reason=reason)

    def return_plan(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    def record_placement(self, *, actor, placement="", **_kw):
        self.placement = placement
        return Change(data={"placement": placement[:200]})

    def suspend(self, *, actor, reason="", **_kw):
        self.suspended, self.suspended_at = True, timezone.now()
        return Change(reason=reason)

    # Major: acceptance and de-listing -----------------------------------------------------------------
    def apply_acceptance(self, *, actor, reason="", **_kw):
        self.acceptance_asked_at = timezone.now()
        return Change(reason=reason)

    def _acceptance(self, acceptors, accepted_on, reason):
        if accepted_on > timezone.localdate():
            raise ActionError(gettext("The acceptance cannot be dated after today."))
        if self.acceptance_asked_at and accepted_on < timezone.localdate(self.acceptance_asked_at):
            raise ActionError(gettext("The acceptance cannot be dated before it was applied for."))
        self.acceptors, self.accepted_on, self.acceptance_opinion = acceptors, accepted_on, reason
        return {"acceptors": acceptors, "accepted_on": accepted_on.isoformat()}

    def pass_acceptance(self, *, actor, acceptors="", accepted_on=None, reason="", **_kw):
        return Change(reason=reason, data=self._acceptance(acceptors, accepted_on, reason))

    def fail_acceptance(self, *, actor, acceptors="", accepted_on=None, reason="", **_kw):
        data = self._acceptance(acceptors, accepted_on, reason)
        self.reworks += 1
        self.acceptance_asked_at = None
        return Change(reason=reason, data={**data, "reworks": self.reworks})

    def delist(self, *, actor, reason="", **_kw):
        self.delisted_at = timezone.now()
        self.suspended = False
        today = timezone.localdate(self.delisted_at)
        clock = setting(self.supervisor_unit, DELISTING_DAYS, on=today)
        self.delisting_notice_due = add_working_days(today, clock.value).date
        return Change(reason=reason, data={
            "notice_due": self.delisting_notice_due.isoformat(), "notice_days": clock.value,
            "notice_days_from": clock.effective_from.isoformat() if clock.effective_from else None})

    def publish_delisting(self, *, actor, published_on=None, published_where="", **_kw):
        self._check_published(published_on, self.delisted_at)
        self.delisting_published_on, self.delisting_published_where = published_on, published_where
        late = published_on > self.delisting_notice_due if self.delisting_notice_due else False
        return Change(data={"published_on": published_on.isoformat(), "where": published_where, "late": late})

    @property
    def answers(self) -> list:
        """The checklist items this hazard was found as (one, for a hazard from an inspection)."""
        if "_answers" not in self.__dict__:
            answers = list(Answer.objects.filter(case_id=self.pk).order_by("pk")) if self.pk else []
            from django.contrib.contenttypes.models import ContentType

            photos = (Evidence.objects.filter(record_type=ContentType.objects.get_for_model(Answer),
                                              record_id__in=[a.pk for a in answers]).order_by("created_at")
                      if answers else ())
            for answer in answers:  # the photos taken of the item: the hazard's first sight
                answer.photos = [ev for ev in photos if ev.record_id == answer.pk]
            self.__dict__["_answers"] = answers
        return self.__dict__["_answers"]

    @property
    def reports(self) -> list:
        """The reports from outside this hazard was opened from."""
        return list(Report.objects.filter(case_id=self.pk).order_by("created_at")) if self.pk else []

    @property
    def listing_late(self) -> bool:
        return self.notice_late("listing")

    @property
    def delisting_late(self) -> bool:
        return self.notice_late("delisting")

    def notice_late(self, which: str, today=None) -> bool:
        """The listing or de-listing notice is past its clock and not recorded as published."""
        today = today or timezone.localdate()
        due, done = getattr(self, f"{which}_notice_due"), getattr(self, f"{which}_published_on")
        return due is not None and (done > due if done else today > due)
