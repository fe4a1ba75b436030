"""What a case action reports back, and the refusals users see. Imported by models and engine alike."""
from dataclasses import dataclass, field


class ActionError(Exception):
    """A user-facing refusal with a message in the user's language."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class AlreadyHandled(ActionError):
    """Someone else changed the case first."""


class AlreadySubmitted(ActionError):
    """The same form was submitted before (its one-time token is taken, see workflow.tokens)."""


@dataclass
class Change:
    """What a transition method reports back for the audit record."""

    reason: str = ""
    data: dict = field(default_factory=dict)
