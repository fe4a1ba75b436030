"""Rule sets by kind (workflow.models.RuleSet): a process declares each kind it keeps, with
the check its bodies must pass, and reads the version in force on a day. A decision that
rests on a version marks it used, which freezes it (a change is then a newer version)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _


@dataclass(frozen=True)
class RuleKind:
    key: str
    label: str
    check: Callable  # (body) -> None; raises ValidationError with a message for the administrator


_KINDS: dict[str, RuleKind] = {}


def declare_rules(key: str, label, check: Callable) -> RuleKind:
    kind = RuleKind(key, label, check)
    _KINDS[key] = kind
    return kind


def kinds() -> list[RuleKind]:
    return list(_KINDS.values())


def kind_label(key: str) -> str:
    kind = _KINDS.get(key)
    return str(kind.label) if kind else key


def validate(rule_set) -> None:
    kind = _KINDS.get(rule_set.kind)
    if kind is None:
        raise ValidationError({"kind": _("No such kind of rules.")})
    if not isinstance(rule_set.body, dict):
        raise ValidationError({"body": _("The rules must be a JSON object.")})
    kind.check(rule_set.body)


def in_force(kind: str, name: str, on: date | None = None):
    """The version of (kind, name) in force on `on` (today by default), or None."""
    from workflow.models.rules import RuleSet

    on = on or timezone.localdate()
    return (RuleSet.objects.filter(kind=kind, name=name, effective_from__lte=on)
            .order_by("-effective_from").first())


def all_in_force(kind: str, on: date | None = None) -> list:
    """One version per set of `kind`: each set's version in force on `on`, by title."""
    from workflow.models.rules import RuleSet

    on = on or timezone.localdate()
    newest = {}
    for rule_set in RuleSet.objects.filter(kind=kind, effective_from__lte=on).order_by("name", "-effective_from"):
        newest.setdefault(rule_set.name, rule_set)
    return sorted(newest.values(), key=lambda r: (r.title, r.name))


def use(*rule_sets) -> None:
    """Record that a decision rests on these versions (instances or ids; None is skipped): they
    are frozen from now on. Runs in the decision's transaction, so a decision rolled back
    leaves them as they were; a version already used costs no write."""
    from workflow.models.rules import RuleSet

    ids = [r if isinstance(r, int) else r.pk for r in rule_sets
           if r is not None and (isinstance(r, int) or not r.used)]
    if ids:
        RuleSet.objects.filter(pk__in=ids, used=False).update(used=True)
        for r in rule_sets:
            if r is not None and not isinstance(r, int):
                r.used = True
