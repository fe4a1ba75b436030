"""The case base shared by every supervised case type."""
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField
from viewflow.workflow.models import Process

from .escalation import Rung
from .units import SUPERVISORY_ROLES, Unit, unit_scope


class CaseQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Cases in the units the user may see (the rule is unit_scope's). A unit does not
        see the supervisor's drafts addressed to it until they are issued."""
        scope = unit_scope(user, via="unit__")
        if scope is None:
            return self.none()
        cases = self.filter(scope)
        return cases if user.role in SUPERVISORY_ROLES else cases.exclude(status="draft")

    def open(self):
        return self.exclude(status__in=Case.TERMINAL_STATES)

    def overdue(self, today=None):
        today = today or timezone.localdate()
        return self.open().filter(deadline__lt=today)


class Case(ConcurrentTransitionMixin, models.Model):
    """One supervised matter owned by one unit.

    The primary key is shared with viewflow's Process row, so locking the process
    (``select_for_update_lock``) locks the case. ``status`` is the single truth of the
    case's state; the viewflow tasks that say who acts next are derived from it.
    """

    TERMINAL_STATES = ("closed", "cancelled")
    UPLOAD_STATES: tuple[str, ...] = ()
    # States in which the deadline binds the responsible unit, so the ladder runs.
    LADDER_STATES: tuple[str, ...] = ()

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
    status = FSMField(_("state"), default="draft", protected=True)  # indexed with other columns below
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
            # The red list: open cases at red or beyond, oldest deadline first.
            models.Index(fields=["deadline"], name="case_red_list_idx",
                         condition=models.Q(rung__gte=3) & ~models.Q(status__in=["closed", "cancelled"])),
        ]

    def __str__(self):
        return f"{self.number} {self.title}"

    @property
    def is_open(self):
        return self.status not in self.TERMINAL_STATES

    def unit_id_for(self, where: str) -> int:
        """The responsible unit ("unit") or the supervising unit ("supervisor")."""
        return self.unit_id if where == "unit" else self.supervisor_unit_id

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse(f"{self.case_type}:detail", args=[self.pk])

    def may_upload(self, user, any_state=False) -> bool:
        """The responsible unit's handler adds evidence while the case is being rectified."""
        from .units import Role

        allowed = user.role == Role.HANDLER and user.unit_id == self.unit_id
        return allowed and (any_state or self.status in self.UPLOAD_STATES)

    @property
    def status_label(self):
        from ..registry import state_label

        return state_label(self.case_type, self.status)

    def get_status_display(self):
        return self.status_label

    @property
    def type_label(self):
        from ..registry import type_label

        return type_label(self.case_type)

    def light(self, today=None):
        return self.light_of(self.deadline, self.status, today)

    @classmethod
    def light_of(cls, deadline, status, today=None):
        """Traffic light for a deadline: green, yellow (due within 2 calendar days), red (overdue)."""
        if not deadline or status in cls.TERMINAL_STATES:
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

    class Kind(models.TextChoices):
        EXTENSION = "extension", _("Extension")
        CANCEL = "cancel", _("Cancellation")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        GRANTED = "granted", _("Granted")
        REJECTED = "rejected", _("Rejected")

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="requests", verbose_name=_("case"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
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
    def waiting_role(self):
        return self.chain[self.step] if self.status == self.Status.PENDING else None


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
