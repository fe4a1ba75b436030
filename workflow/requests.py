"""Side requests on any case: extension (unit head → inspector → leader) and cancellation."""
from datetime import date

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import transition

from .calendar import WorkCalendar
from .engine import ActionError, AlreadyHandled, Change
from .models import CaseRequest, Role
from .permissions import role_at

EXTENSION_CHAIN = [Role.UNIT_HEAD, Role.INSPECTOR, Role.LEADER]
CANCEL_CHAIN = [Role.LEADER]


def _may(role_checks):
    """The user holds one of the roles, at the right unit, on an open case."""

    def check(case, user) -> bool:
        return case.is_open and any(c(case, user) for c in role_checks)

    return check


def _waiting_for_user(kind):
    """A pending request of `kind` waits for the user's role at the right unit."""

    def check(case, user) -> bool:
        req = case.pending_request(kind)
        role_check = _chain_roles.get(req.waiting_role) if req else None
        return case.is_open and role_check is not None and role_check(case, user)

    return check


def _can_request_extension(case) -> bool:
    """Before the deadline, in a state where the unit is working, with none pending."""
    before_deadline = case.deadline is None or timezone.localdate() <= case.deadline
    return (case.status in case.EXTENSION_SOURCES and before_deadline
            and case.pending_request(CaseRequest.Kind.EXTENSION) is None)


def _can_request_cancel(case) -> bool:
    return case.status != "draft" and case.pending_request(CaseRequest.Kind.CANCEL) is None


def _pending_exists(kind):
    def condition(case) -> bool:
        return case.pending_request(kind) is not None

    return condition


_chain_roles = {
    Role.UNIT_HEAD: role_at(Role.UNIT_HEAD, "unit"),
    Role.INSPECTOR: role_at(Role.INSPECTOR, "supervisor"),
    Role.LEADER: role_at(Role.LEADER, "supervisor"),
}


class SideRequestsMixin(models.Model):
    """Transitions that open and decide side requests. Mixed into concrete case models."""

    EXTENSION_SOURCES: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def pending_request(self, kind) -> CaseRequest | None:
        """The pending request of `kind`, read once per loaded case."""
        if not self.open_requests:
            return None
        if not hasattr(self, "_pending_cache"):
            self._pending_cache = {r.kind: r for r in CaseRequest.objects.filter(
                case_id=self.pk, status=CaseRequest.Status.PENDING)}
        return self._pending_cache.get(kind)

    def _forget_pending(self):
        self.__dict__.pop("_pending_cache", None)

    def _decide(self, kind, actor, approve: bool, reason: str) -> CaseRequest:
        req = self.pending_request(kind)
        self._forget_pending()
        if req is None or req.waiting_role != actor.user.role:
            raise AlreadyHandled(_("This request has already been decided."))
        if not approve and not reason.strip():
            raise ActionError(_("Please give the reason for rejecting."))
        if approve and req.step + 1 < len(req.chain):
            req.step += 1
            req.save(update_fields=["step"])
        else:
            req.status = CaseRequest.Status.GRANTED if approve else CaseRequest.Status.REJECTED
            req.decided_at = timezone.now()
            req.save(update_fields=["status", "decided_at"])
            self.open_requests = max(0, self.open_requests - 1)
        return req

    # Extension -----------------------------------------------------------------------
    @transition(field="status", source="*", target=None, conditions=[_can_request_extension],
                permission=_may([role_at(Role.HANDLER, "unit")]),
                custom={"unavailable": gettext_lazy("An extension can be asked for only while rectifying, before the "
                                             "deadline, and when none is pending.")})
    def request_extension(self, *, actor, new_deadline: date, reason: str = "", **_kw):
        if not reason.strip():
            raise ActionError(_("Please give the reason for the extension."))
        if self.deadline and new_deadline <= self.deadline:
            raise ActionError(_("The new deadline must be later than the current one."))
        self._forget_pending()
        self.open_requests += 1
        CaseRequest.objects.create(case=self, kind=CaseRequest.Kind.EXTENSION, chain=EXTENSION_CHAIN,
                                   requested_by=actor.user, reason=reason, new_deadline=new_deadline)
        return Change(reason=reason, data={"new_deadline": new_deadline.isoformat()})

    @transition(field="status", source="*", target=None, conditions=[_pending_exists(CaseRequest.Kind.EXTENSION)],
                permission=_waiting_for_user(CaseRequest.Kind.EXTENSION))
    def approve_extension(self, *, actor, reason: str = "", **_kw):
        req = self._decide(CaseRequest.Kind.EXTENSION, actor, True, reason)
        if req.status == CaseRequest.Status.GRANTED:
            self.deadline = req.new_deadline
            calendar = WorkCalendar()
            calendar.is_workday(self.deadline)  # notes a year without holiday data
            self.calendar_warning = ",".join(str(y) for y in sorted(calendar.missing_years))
        return Change(reason=reason, data={"step": req.step, "status": req.status})

    @transition(field="status", source="*", target=None, conditions=[_pending_exists(CaseRequest.Kind.EXTENSION)],
                permission=_waiting_for_user(CaseRequest.Kind.EXTENSION))
    def reject_extension(self, *, actor, reason: str = "", **_kw):
        req = self._decide(CaseRequest.Kind.EXTENSION, actor, False, reason)
        return Change(reason=reason, data={"status": req.status})

    # Cancellation --------------------------------------------------------------------
    @transition(field="status", source="*", target=None, conditions=[_can_request_cancel],
                permission=_may([role_at(Role.INSPECTOR, "supervisor")]),
                custom={"unavailable": gettext_lazy("A draft is discarded directly, and only one cancellation can be "
                                             "pending.")})
    def request_cancel(self, *, actor, reason: str = "", **_kw):
        if not reason.strip():
            raise ActionError(_("Please give the reason for cancelling."))
        self._forget_pending()
        self.open_requests += 1
        CaseRequest.objects.create(case=self, kind=CaseRequest.Kind.CANCEL, chain=CANCEL_CHAIN,
                                   requested_by=actor.user, reason=reason)
        return Change(reason=reason)

    @transition(field="status", source="*", target="cancelled", conditions=[_pending_exists(CaseRequest.Kind.CANCEL)],
                permission=_waiting_for_user(CaseRequest.Kind.CANCEL))
    def approve_cancel(self, *, actor, reason: str = "", **_kw):
        self._decide(CaseRequest.Kind.CANCEL, actor, True, reason)
        self.closed_at = timezone.now()
        self._close_pending_requests()
        return Change(reason=reason)

    @transition(field="status", source="*", target=None, conditions=[_pending_exists(CaseRequest.Kind.CANCEL)],
                permission=_waiting_for_user(CaseRequest.Kind.CANCEL))
    def reject_cancel(self, *, actor, reason: str = "", **_kw):
        self._decide(CaseRequest.Kind.CANCEL, actor, False, reason)
        return Change(reason=reason)

    def _close_pending_requests(self):
        """A case that ends leaves no request waiting."""
        if self.open_requests:
            CaseRequest.objects.filter(case_id=self.pk, status=CaseRequest.Status.PENDING).update(
                status=CaseRequest.Status.REJECTED, decided_at=timezone.now()
            )
            self.open_requests = 0
