from .audit import AuditChain, AuditEvent
from .calendar import CalendarDay, CalendarYear
from .cases import Case, CaseQuerySet, CaseRequest, Comment
from .escalation import Escalation, EscalationPolicy, Proposal, Rung, RungCount
from .evidence import Evidence
from .outbox import Notification, OutboxMessage
from .units import Role, Unit, UnitKind, User

__all__ = [
    "AuditChain", "AuditEvent", "CalendarDay", "CalendarYear", "Case", "CaseQuerySet",
    "CaseRequest", "Comment", "Escalation", "EscalationPolicy", "Evidence", "Proposal", "Rung", "RungCount", "Notification", "OutboxMessage", "Role", "Unit",
    "UnitKind", "User",
]
