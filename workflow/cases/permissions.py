"""Who may take a transition: small predicates combined with the ``At`` of a declaration.

A transition's permission is a query (`has_transition_perm`), so the UI shows exactly
the actions that the engine will accept.
"""
from workflow.trail import audit


def all_of(*checks):
    def check(case, user) -> bool:
        return all(c(case, user) for c in checks)

    return check


def any_of(*checks):
    def check(case, user) -> bool:
        return any(c(case, user) for c in checks)

    return check


def not_opener(case, user) -> bool:
    """Separation of duties: whoever opened the case does not sign it off."""
    return case.created_by_id != user.pk


def did_not(*actions):
    """Separation of duties: whoever took any of `actions` on this case may not take this one."""

    def check(case, user) -> bool:
        return not audit.has_acted(case.pk, user.pk, actions)

    return check
