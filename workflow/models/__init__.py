from .audit import AuditChain, AuditEvent
from .calendar import CalendarDay, CalendarYear
from .cases import Case, CaseParty, CaseQuerySet, CaseRequest, Comment
from .documents import ArchivedDocument, DocumentCounter
from .escalation import Escalation, EscalationPolicy, Proposal, Rung, RungCount
from .evidence import Evidence
from .outbox import Notification, OutboxMessage
from .settings import UnitSetting
from .records import Record, RecordQuerySet
from .tokens import FormToken
from .units import Role, Unit, UnitKind, User

__all__ = [
    "ArchivedDocument", "AuditChain", "AuditEvent", "CalendarDay", "CalendarYear", "Case", "CaseQuerySet",
    "CaseParty", "CaseRequest", "Comment", "DocumentCounter", "Escalation", "EscalationPolicy", "Evidence", "FormToken",
    "Proposal", "Record", "RecordQuerySet", "Rung", "RungCount", "Notification", "OutboxMessage", "Role", "Unit", "UnitKind", "User",
]
