"""The case base shared by every supervised case type."""
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField
from viewflow.workflow.models import Process

from workflow.models.escalation import Rung
from workflow.models.units import SUPERVISORY_ROLES, Unit, can_see_unit, unit_scope


class Phase(models.TextChoices):
    """Where a case stands, whatever its type's states: derived from the state by the case
    type's declaration and written in the same UPDATE. Queries read the phase, never a state."""

    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


ENDED = (Phase.DONE, Phase.CANCELLED)


class InSubquery(models.Func):
    """`column IN (subquery)` that stays an index lookup inside an OR on PostgreSQL: there it
    is `column = ANY(ARRAY(subquery))`, whose subquery runs once, so the planner can OR two
    index scans; a plain IN or a correlated EXISTS under an OR is checked row by row."""

    output_field = models.BooleanField()

    def __init__(self, column, queryset):
        super().__init__(models.F(column), models.Subquery(queryset))

    def as_sql(self, compiler, connection, **extra):
        column, column_params = compiler.compile(self.source_expressions[0])
        subquery, subquery_params = compiler.compile(self.source_expressions[1])
        if connection.vendor == "postgresql":
            return f"{column} = ANY(ARRAY{subquery})", (*column_params, *subquery_params)
        return f"{column} IN {subquery}", (*column_params, *subquery_params)


class CaseQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Cases in the units the user may see (the rule is unit_scope's), and cases of types
        with co-units where one of those units is a party. A unit does not see the
        supervisor's drafts addressed to it until they are issued."""
        scope = unit_scope(user, via="unit__")
        if scope is None:
            return self.none()
        party_types = self._party_types()
        if party_types:
            parties = CaseParty.objects.filter(unit_scope(user, via="unit__")).values("case_id")
            scope |= models.Q(case_type__in=party_types) & models.Q(InSubquery("pk", parties))
        cases = self.filter(scope)
        return cases if user.role in SUPERVISORY_ROLES else cases.exclude(phase=Phase.DRAFT)

    def _party_types(self) -> list[str]:
        """The keys of the types in this queryset that declare co-units."""
        from workflow.kernel.registry import case_types

        spec = getattr(self.model, "spec", None)
        if spec is not None:
            return [spec.key] if spec.parties else []
        return [t.key for t in case_types() if t.parties]

    def open(self):
        return self.exclude(phase__in=ENDED)

    def overdue(self, today=None):
        today = today or timezone.localdate()
        return self.open().filter(deadline__lt=today)


class Case(ConcurrentTransitionMixin, models.Model):
    """One supervised matter owned by one unit.

    The primary key is shared with viewflow's Process row, so locking the process
    (``select_for_update_lock``) locks the case. ``status`` is the single truth of the
    case's state; the viewflow tasks that say who acts next are derived from it.
    """

    # The case type's declaration (workflow.declaration.CaseType), set by the class keyword
    # ``case_type=`` of a concrete case model.
    spec = None

    process = models.OneToOneField(
        Process, primary_key=True, on_delete=models.PROTECT, related_name="case", verbose_name=_("process"),
    )
    case_type = models.CharField(_("case type"), max_length=32)
    number = models.CharField(_("case number"), max_length=40)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("problem description"))
    unit = models.ForeignKey(  # indexed by (unit, status) below
        Unit, on_delete=models.PROTECT, related_name="cases", verbose_name=_("responsible unit"), db_index=False,
    )
    supervisor_unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, related_name="supervised_cases",
        verbose_name=_("supervising unit"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("opened by"),
    )
    status = FSMField(_("state"), protected=True)  # indexed with other columns below; set from the declaration
    phase = models.CharField(_("phase"), max_length=10, choices=Phase.choices, default=Phase.OPEN)
    deadline = models.DateField(_("deadline"), null=True, blank=True)
    deadline_days = models.PositiveSmallIntegerField(_("working days allowed"), default=10)
    calendar_warning = models.CharField(_("calendar warning"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    issued_at = models.DateTimeField(_("issued"), null=True, blank=True)
    signed_at = models.DateTimeField(_("signed for"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # Head of this case's audit hash chain, written in the same UPDATE as the state.
    audit_seq = models.PositiveBigIntegerField(_("audit event count"), default=0, editable=False)
    audit_hash = models.CharField(_("last audit hash"), max_length=64, default="0" * 64, editable=False)
    # Side requests awaiting a decision; lets a transition skip looking for them when zero.
    open_requests = models.PositiveSmallIntegerField(_("open requests"), default=0)
    # Parent and child cases: a plan and its items. `root` is the top of the tree (empty on the
    # top case itself), so a roll-up counts over (root, phase) in one query.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
                               verbose_name=_("parent case"), db_index=False)
    root = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("top case"), db_index=False)
    # Escalation ladder: the highest rung reached and the day the next one falls due.
    rung = models.PositiveSmallIntegerField(_("escalation rung"), default=0, choices=[(0, _("None"))] + Rung.choices)
    next_rung_on = models.DateField(_("next rung due on"), null=True, blank=True, db_index=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        constraints = [models.UniqueConstraint(fields=["number"], name="case_number_unique")]
        # Every state change rewrites the row's index entries: no index here is covered by another.
        indexes = [
            models.Index(fields=["unit", "status"]),
            models.Index(fields=["deadline", "status"]),
            models.Index(fields=["case_type", "-created_at"]),
            models.Index(fields=["status", "-created_at"]),
            models.Index(fields=["-created_at"], name="case_newest_idx"),
            models.Index(fields=["parent", "phase"], name="case_children_idx", condition=models.Q(parent__isnull=False)),
            models.Index(fields=["root", "phase"], name="case_tree_idx", condition=models.Q(root__isnull=False)),
            # The red list: open cases at red or beyond, oldest deadline first.
            models.Index(fields=["deadline"], name="case_red_list_idx",
                         condition=models.Q(rung__gte=3) & ~models.Q(phase__in=ENDED)),
        ]

    def __str__(self):
        return f"{self.number} {self.title}"

    def __init_subclass__(cls, case_type=None, **kwargs):
        super().__init_subclass__(**kwargs)
        if case_type is not None:
            from workflow.kernel.binding import bind
            from workflow.kernel.registry import register_case_type

            bind(cls, case_type)
            register_case_type(case_type.key, cls)

    def __init__(self, *args, **kwargs):
        spec = self.spec
        if spec is not None and not args:  # a new case, not a row read from the database
            kwargs.setdefault("status", spec.initial)
            kwargs.setdefault("phase", spec.phase_of(kwargs["status"]))
        super().__init__(*args, **kwargs)

    @property
    def declaration(self):
        """The case type's declaration, also for a row loaded through the base model."""
        if self.spec is not None:
            return self.spec
        from workflow.kernel.registry import declaration

        return declaration(self.case_type)

    @property
    def state(self):
        return self.declaration.state(self.status)

    @property
    def is_open(self):
        state = self.state
        return not state.end if state is not None else self.phase not in ENDED

    @property
    def display_number(self) -> str:
        """The number the case is known by: the type's own number (its declared ``number_field``,
        e.g. a document number) once set, else the platform's case number. A case read through
        the base model has only the latter (selectors.with_own_number reads the former)."""
        field = self.declaration.number_field
        if not field:
            return self.number
        return getattr(self, field, "") or self.number

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse(f"{self.case_type}:detail", args=[self.pk])

    def may_upload(self, user, any_state=False) -> bool:
        """Whoever the case type names as uploader adds evidence, in the states open for uploads."""
        spec = self.declaration
        allowed = spec.uploader is not None and spec.uploader(self, user)
        return allowed and (any_state or (self.state is not None and self.state.uploads))

    def seen_by(self, user) -> bool:
        """The rule of CaseQuerySet.visible_to for one case in memory: its unit, or for a type
        with co-units one of its party units, is one the user may see (drafts aside: a unit that
        acts on a draft addressed to it is refused by the action's role check, as before)."""
        if can_see_unit(user, self.unit):
            return True
        if not self.declaration.parties:
            return False
        return any(can_see_unit(user, party.unit) for party in self.parties.select_related("unit"))

    # Co-units and child cases ------------------------------------------------------------
    def open_parties(self) -> list:
        """The co-units whose part is not done, read once per loaded case (none for a type
        without co-units, with no query)."""
        if not self.declaration.parties or self.pk is None:
            return []
        if "_open_parties" not in self.__dict__:
            self.__dict__["_open_parties"] = list(CaseParty.objects.filter(case_id=self.pk, done_at__isnull=True)
                                                  .order_by("pk"))
        return self.__dict__["_open_parties"]

    def finish_part(self, unit_id: int, when=None) -> bool:
        """Mark the co-unit's part done; False if it was not an open part of this case."""
        done = CaseParty.objects.filter(case_id=self.pk, unit_id=unit_id, done_at__isnull=True).update(
            done_at=when or timezone.now())
        self.__dict__.pop("_open_parties", None)
        return bool(done)

    def open_children(self):
        return Case.objects.filter(parent_id=self.pk).exclude(phase__in=ENDED)

    # Side requests awaiting a decision, read once per loaded case ---------------------------
    def pending_request(self, kind):
        """The pending side request of `kind`, or None."""
        return self.pending_requests_by_kind().get(kind)

    def pending_requests_by_kind(self) -> dict:
        if not self.open_requests:
            return {}
        if "_pending" not in self.__dict__:
            self.__dict__["_pending"] = {r.kind: r for r in CaseRequest.objects.filter(
                case_id=self.pk, status=CaseRequest.Status.PENDING)}
        return self.__dict__["_pending"]

    def forget_pending(self):
        self.__dict__.pop("_pending", None)

    def request_step(self, request):
        """Who the pending `request` waits for now (an ``At``), from the declared chain."""
        declared = self.declaration.side_request(request.kind)
        role = request.waiting_role
        if declared is None or role is None:
            return None
        step = declared.step(request.step)
        if step is not None and step.role == role:
            return step
        return next((at for at in declared.chain if at.role == role), None)

    def close_pending_requests(self):
        """A case that ends leaves no request waiting."""
        if self.open_requests:
            CaseRequest.objects.filter(case_id=self.pk, status=CaseRequest.Status.PENDING).update(
                status=CaseRequest.Status.REJECTED, decided_at=timezone.now())
            self.open_requests = 0
            self.forget_pending()

    @property
    def status_label(self):
        return self.declaration.state_label(self.status)

    def get_status_display(self):
        return self.status_label

    @property
    def type_label(self):
        from workflow.kernel.registry import type_label

        return type_label(self.case_type)

    def light(self, today=None):
        return self.light_of(self.deadline, self.is_open, today)

    @staticmethod
    def light_of(deadline, is_open: bool, today=None):
        """Traffic light for a deadline: green, yellow (due within 2 calendar days), red (overdue)."""
        if not deadline or not is_open:
            return "none"
        today = today or timezone.localdate()
        remaining = (deadline - today).days
        if remaining < 0:
            return "red"
        if remaining <= 2:
            return "yellow"
        return "green"


class CaseRequest(models.Model):
    """A side request on a case that needs a chain of approvals (extension, cancellation)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        GRANTED = "granted", _("Granted")
        REJECTED = "rejected", _("Rejected")

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="requests", verbose_name=_("case"))
    kind = models.CharField(_("kind"), max_length=16)  # a side request the case type declares
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    chain = models.JSONField(_("approval chain"), default=list)
    step = models.PositiveSmallIntegerField(_("approval step"), default=0)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("requested by"))
    reason = models.TextField(_("reason"))
    new_deadline = models.DateField(_("requested deadline"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        verbose_name = _("case request")
        verbose_name_plural = _("case requests")
        constraints = [
            models.UniqueConstraint(
                fields=["case", "kind"], condition=models.Q(status="pending"),
                name="one_pending_request_per_kind",
            )
        ]

    @property
    def kind_label(self) -> str:
        from workflow.kernel.registry import declaration

        declared = declaration(self.case.case_type).side_request(self.kind)
        return str(declared.label) if declared else self.kind

    @property
    def waiting_role(self):
        return self.chain[self.step] if self.status == self.Status.PENDING else None


class CaseParty(models.Model):
    """A co-unit (协办单位) of a case beside its lead unit, the case's own unit: it sees the
    case, waits on its part, and reports it done."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="parties", verbose_name=_("case"))
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="case_parts", verbose_name=_("co-unit"))
    due_on = models.DateField(_("part due on"), null=True, blank=True)
    done_at = models.DateTimeField(_("part done"), null=True, blank=True)

    class Meta:
        verbose_name = _("co-unit")
        verbose_name_plural = _("co-units")
        constraints = [models.UniqueConstraint(fields=["case", "unit"], name="one_part_per_unit")]
        indexes = [models.Index(fields=["unit", "case"], name="case_party_unit_idx")]

    def __str__(self):
        return f"{self.case_id}: {self.unit_id}"


class Comment(models.Model):
    """A message in a case's discussion thread."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="comments", verbose_name=_("case"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("author"))
    body = models.TextField(_("comment"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        ordering = ["created_at"]
