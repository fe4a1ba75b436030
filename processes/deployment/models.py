"""督办事项: matters (the sources), their plan items as the office edits them, the item cases
dispatched from them, the reports units write and the light of each item for each period."""
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from workflow.cases.flows import build_flow
from workflow.kernel.errors import ActionError, Change
from workflow.models import Case, Unit

from .declaration import Cadence, Item, Matter, Satisfaction, SourceKind, Urgency

MatterFlow = build_flow(Matter, "MatterFlow", __name__)
ItemFlow = build_flow(Item, "ItemFlow", __name__)


class MatterCase(Case, case_type=Matter):
    """A source the supervision office tracks (督办来源): a work plan, a leader's instruction, a
    meeting decision, a hotline ticket or a deputy's suggestion, numbered per kind and office."""

    flow_class = MatterFlow

    kind = models.CharField(_("source"), max_length=16, choices=SourceKind.choices, default=SourceKind.PLAN)
    doc_number = models.CharField(_("supervision number"), max_length=40, blank=True)
    serial = models.PositiveIntegerField(_("serial number"), default=0)
    source_ref = models.CharField(_("document number of the source"), max_length=60, blank=True)
    origin = models.CharField(_("leader or meeting"), max_length=100, blank=True)
    source_date = models.DateField(_("date of the source"), null=True, blank=True)
    urgency = models.CharField(_("urgency"), max_length=12, choices=Urgency.choices, default=Urgency.NORMAL)
    hotline_ticket = models.CharField(_("hotline ticket number"), max_length=40, blank=True)
    hotline_deadline = models.DateField(_("hotline deadline"), null=True, blank=True)
    return_visit = models.CharField(_("return visit result"), max_length=500, blank=True)
    satisfaction = models.CharField(_("satisfaction"), max_length=12, choices=Satisfaction.choices, blank=True)
    completion_report = models.TextField(_("completion report"), blank=True)
    read_opinion = models.CharField(_("leader's reading opinion"), max_length=2000, blank=True)

    class Meta:
        verbose_name = _("supervised matter")
        verbose_name_plural = _("supervised matters")

    def dispatch(self, *, actor, **_kw):
        from . import services

        opened = services.dispatch_items(self, actor)
        return Change(data={"items": opened})

    def record_return_visit(self, *, actor, satisfaction="", return_visit="", **_kw):
        self.satisfaction, self.return_visit = satisfaction, return_visit
        return Change(reason=return_visit, data={"satisfaction": satisfaction})

    def report(self, *, actor, completion_report="", **_kw):
        self.completion_report = completion_report
        return Change(reason=completion_report)

    def read_report(self, *, actor, reason="", **_kw):
        self.read_opinion = reason
        return Change(reason=reason)

    def return_report(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    def withdraw(self, *, actor, reason="", **_kw):
        return Change(reason=reason)


class PlanItem(models.Model):
    """One item of a matter's tree, as the office edits it before dispatch: its number and
    level in the source, a short title and its full text, the deadline and targets read from
    the text, and the units it goes to (each receiving unit gets an item case; co-units join a
    single receiving unit's case)."""

    matter = models.ForeignKey(MatterCase, on_delete=models.CASCADE, related_name="plan_items",
                               verbose_name=_("matter"))
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children",
                               verbose_name=_("parent item"))
    position = models.PositiveIntegerField(_("position"), default=0)
    level = models.PositiveSmallIntegerField(_("level"), default=1)
    number = models.CharField(_("number"), max_length=20, blank=True)
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(_("full text"), blank=True)
    deadline = models.DateField(_("deadline"), null=True, blank=True)
    deadline_text = models.CharField(_("deadline as written"), max_length=100, blank=True)
    target = models.CharField(_("target"), max_length=500, blank=True)
    cadence = models.CharField(_("progress reports"), max_length=12, choices=Cadence.choices, default=Cadence.MONTHLY)
    units = models.ManyToManyField(Unit, blank=True, related_name="+", verbose_name=_("receiving units"))
    co_units = models.ManyToManyField(Unit, blank=True, related_name="+", verbose_name=_("co-units"))
    dispatched_at = models.DateTimeField(_("dispatched"), null=True, blank=True)

    class Meta:
        verbose_name = _("plan item")
        verbose_name_plural = _("plan items")
        ordering = ["matter", "position"]
        indexes = [models.Index(fields=["matter", "position"], name="plan_item_order_idx")]

    def __str__(self):
        return f"{self.number} {self.title}".strip()


class ItemCase(Case, case_type=Item):
    """One receiving unit's share of one item. Its children are the same item passed down to
    the units below it (逐级转办); it is reported done once they are."""

    flow_class = ItemFlow

    plan_item = models.ForeignKey(PlanItem, null=True, blank=True, on_delete=models.PROTECT, related_name="cases",
                                  verbose_name=_("plan item"))
    target = models.CharField(_("target"), max_length=500, blank=True)
    cadence = models.CharField(_("progress reports"), max_length=12, choices=Cadence.choices, default=Cadence.MONTHLY)
    percent = models.PositiveSmallIntegerField(_("percent complete"), default=0)
    last_report_on = models.DateField(_("last report"), null=True, blank=True)
    # The light of the current period (lights.refresh), kept here too so that roll-ups count it in one pass.
    period_light = models.CharField(_("light"), max_length=6, default="green")

    class Meta:
        verbose_name = _("supervised item")
        verbose_name_plural = _("supervised items")
        indexes = [models.Index(fields=["plan_item"], name="item_plan_item_idx")]

    def light(self, today=None):
        """The item's own light: the period's (lights.py), which turns red past the deadline too."""
        return self.period_light if self.is_open and self.phase != "draft" else "none"

    def issue(self, *, actor, **_kw):
        if self.deadline is None or self.deadline < timezone.localdate():
            raise ActionError(gettext("The deadline must be today or later."))
        self.issued_at = timezone.now()
        return Change(data={"deadline": self.deadline.isoformat()})

    def sign(self, *, actor, **_kw):
        self.signed_at = timezone.now()
        return Change()

    def report_progress(self, *, actor, reason="", percent=0, **_kw):
        self._report(actor, reason, percent, ItemReport.Kind.PROGRESS)
        return Change(reason=reason, data={"percent": self.percent})

    def contribute(self, *, actor, reason="", percent=0, **_kw):
        unit_id = actor.user.unit_id
        ItemReport.objects.create(case=self, unit_id=unit_id, author=actor.user, kind=ItemReport.Kind.PART,
                                  body=reason, percent=percent, period=period_start(self.cadence))
        if percent >= 100:
            self.finish_part(unit_id)
        return Change(reason=reason, data={"unit": unit_id, "percent": percent})

    def submit(self, *, actor, reason="", **_kw):
        late = [party.unit_id for party in self.open_parties()]
        self._report(actor, reason, 100, ItemReport.Kind.FINAL)
        return Change(reason=reason, data={"late_co_units": late} if late else {})

    def verify(self, *, actor, reason="", **_kw):
        self.period_light = Light.GREEN  # verified done: on track from now on
        return Change(reason=reason)

    def return_item(self, *, actor, reason="", **_kw):
        self.percent = min(self.percent, 90)
        return Change(reason=reason)

    def cancel(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    def _report(self, actor, body, percent, kind):
        today = timezone.localdate()
        self.percent = max(0, min(100, int(percent)))
        self.last_report_on = today
        ItemReport.objects.create(case=self, unit_id=self.unit_id, author=actor.user, kind=kind, body=body,
                                  percent=self.percent, period=period_start(self.cadence, today))
        from .lights import refresh

        refresh(self, today, save_item=False)  # the transition writes the item's light with its other columns


def period_start(cadence: str, today=None):
    """The first day of the reporting period `today` falls in: its month, or its quarter."""
    today = today or timezone.localdate()
    if cadence == Cadence.QUARTERLY:
        return today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    return today.replace(day=1)


class ItemReport(models.Model):
    """A report on an item: the receiving unit's progress or completion, or a co-unit's part."""

    class Kind(models.TextChoices):
        PROGRESS = "progress", _("Progress")
        PART = "part", _("Co-unit's part")
        FINAL = "final", _("Completion")

    case = models.ForeignKey(ItemCase, on_delete=models.PROTECT, related_name="reports", verbose_name=_("item"))
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+", verbose_name=_("unit"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("author"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.PROGRESS)
    period = models.DateField(_("period"))
    percent = models.PositiveSmallIntegerField(_("percent complete"), default=0)
    body = models.TextField(_("report"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("item report")
        verbose_name_plural = _("item reports")
        ordering = ["created_at"]
        indexes = [models.Index(fields=["case", "period"], name="item_report_period_idx")]


class LightRule(models.Model):
    """The thresholds of the status lights, a version with the day it takes effect. Each
    period's light records the version it was judged under."""

    effective_from = models.DateField(_("effective from"), unique=True)
    report_day = models.PositiveSmallIntegerField(
        _("report by day of the month"), default=25,
        help_text=_("A monthly report is due by this day; a quarterly one by this day of the quarter's last month."))
    yellow_gap = models.PositiveSmallIntegerField(
        _("yellow: points behind schedule"), default=10,
        help_text=_("Yellow when progress is this many points behind the share of time elapsed."))
    red_gap = models.PositiveSmallIntegerField(
        _("red: points behind schedule"), default=30,
        help_text=_("Red when progress is this many points behind the share of time elapsed, or past the deadline."))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("light rule")
        verbose_name_plural = _("light rules")
        ordering = ["-effective_from"]
        constraints = [models.CheckConstraint(condition=models.Q(yellow_gap__lt=models.F("red_gap")),
                                              name="light_rule_yellow_below_red"),
                       models.CheckConstraint(condition=models.Q(report_day__gte=1, report_day__lte=28),
                                              name="light_rule_report_day")]

    def __str__(self):
        return gettext("Light rule from %(day)s") % {"day": self.effective_from}


class Light(models.TextChoices):
    GREEN = "green", _("On track")
    YELLOW = "yellow", _("At risk")
    RED = "red", _("Behind")


class ItemPeriod(models.Model):
    """An item's light for one reporting period: the light now, the worst it has been in the
    period, the progress it was judged on and the rule version used."""

    case = models.ForeignKey(ItemCase, on_delete=models.CASCADE, related_name="periods", verbose_name=_("item"))
    period = models.DateField(_("period"))
    light = models.CharField(_("light"), max_length=6, choices=Light.choices)
    worst = models.CharField(_("worst light in the period"), max_length=6, choices=Light.choices)
    percent = models.PositiveSmallIntegerField(_("percent complete"), default=0)
    rule = models.ForeignKey(LightRule, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("rule version"))
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    # When the unit's handlers were reminded of the period's report (lights.refresh_many).
    reminded_at = models.DateTimeField(_("reminded"), null=True, blank=True)

    class Meta:
        verbose_name = _("item period")
        verbose_name_plural = _("item periods")
        constraints = [models.UniqueConstraint(fields=["case", "period"], name="one_light_per_period")]


class UnitDuty(models.Model):
    """What a unit is responsible for (its 职责), kept by the administrator: the words an
    item's text is matched against to suggest the units it should go to."""

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="+", verbose_name=_("unit"))
    duty = models.CharField(_("duty"), max_length=200)
    keywords = models.CharField(_("keywords"), max_length=500, blank=True,
                                help_text=_("Words in an item's text that point to this duty, separated by spaces "
                                            "or commas."))

    class Meta:
        verbose_name = _("unit duty")
        verbose_name_plural = _("unit duties")
        ordering = ["unit", "pk"]

    def __str__(self):
        return f"{self.unit} · {self.duty}"


# A large matter's downloads (export_files.py): failures before the page says so.
MAX_ATTEMPTS = 3


class ExportFile(models.Model):
    """A download of a matter (task table or progress report) rendered by the worker."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    matter = models.ForeignKey(MatterCase, on_delete=models.PROTECT, related_name="+", verbose_name=_("matter"))
    kind = models.CharField(_("document"), max_length=20)
    period = models.CharField(_("period"), max_length=10, blank=True)
    day = models.DateField(_("as of"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    queued_at = models.DateTimeField(_("queued"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    rendered_at = models.DateTimeField(_("rendered"), null=True, blank=True)
    stored_name = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("matter download")
        verbose_name_plural = _("matter downloads")
        constraints = [models.UniqueConstraint(fields=["matter", "kind", "period", "day"], name="export_file_unique")]

    def __str__(self):
        return f"{self.matter_id} {self.kind} {self.period} {self.day}"

    @property
    def failed(self) -> bool:
        return self.rendered_at is None and self.attempts >= MAX_ATTEMPTS
