from workflow.models.audit import AuditChain, AuditEvent
from workflow.models.calendar import CalendarDay, CalendarYear
from workflow.models.cases import Case, CaseParty, CaseQuerySet, CaseRequest, Comment
from workflow.models.documents import ArchivedDocument, DocumentCounter
from workflow.models.escalation import Escalation, EscalationPolicy, Proposal, Rung, RungCount
from workflow.models.evidence import Evidence
from workflow.models.outbox import Notification, OutboxMessage
from workflow.models.settings import UnitSetting
from workflow.models.records import Record, RecordQuerySet
from workflow.models.rules import RuleSet
from workflow.models.tokens import FormToken
from workflow.models.units import Role, Unit, UnitKind, User

__all__ = [
    "ArchivedDocument", "AuditChain", "AuditEvent", "CalendarDay", "CalendarYear", "Case", "CaseQuerySet",
    "CaseParty", "CaseRequest", "Comment", "DocumentCounter", "Escalation", "EscalationPolicy", "Evidence", "FormToken",
    "Proposal", "Record", "RecordQuerySet", "RuleSet", "Rung", "RungCount", "Notification", "OutboxMessage", "Role", "Unit", "UnitKind", "UnitSetting", "User",
]
