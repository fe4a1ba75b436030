"""Per-unit settings: declared keys with defaults and checks, read for a unit and its ancestors.

What differs by bureau belongs to the unit that issues under it and is inherited down the unit
tree, so one installation serves a whole province and each city and county with its own:

* ``bureau_name``: the letterhead; default ``DUBAN_BUREAU_NAME`` (documents print the issuing
  unit's own name when no unit above or at it has a version);
* ``doc_code.<kind>``: the 机关代字 of one kind of document; default the issuing unit's name's
  first two characters and the kind's own suffix (民督函 for the 督办函). The unit whose version
  supplied the 代字 also keeps the count of its numbers;
* ``ladder.<case_type>``: the escalation ladder's working days under a supervising unit; default
  the case type's escalation policy (or the policy's defaults);
* ``template.<name>``: another PDF template for a document; default the document's own.

``setting(unit, key, on=day)`` reads the versions of the unit and of every unit above it (from
its materialised path) in one query: the nearest unit wins, and of its versions the newest in
force on `day`. What it finds is kept per process for up to a minute, as escalation policies
and the calendar are, and forgotten when a version or a unit is saved or deleted here.
"""
import json
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db.models.functions import Length
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.template.loader import get_template
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from workflow.kernel import registry

logger = logging.getLogger(__name__)

CACHE_SECONDS = 60
CACHE_MAX = 20_000  # (unit, key, day) entries; past this the cache starts again

LADDER_FIELDS = ("remind_before", "red_after", "interview_after", "accountability_after")
LADDER_MAX_DAYS = 250  # about a year of working days

UNKNOWN_KEY = _("This setting is not declared.")
NEEDS_TEXT = _("Enter the text of this setting.")
TOO_LONG = _("Enter at most %(limit)d characters.")
CONTROL_CHARACTERS = _("Control characters and line breaks are not allowed here.")
NEEDS_LADDER = _('Enter the working days as {"remind_before": 2, "red_after": 3, "interview_after": 5, '
                 '"accountability_after": 5}: each a whole number from 0 to %(limit)d.')
NEEDS_NUMBER = _("Enter a whole number from %(min)d to %(max)d.")
NEEDS_TEMPLATE = _("Enter the name of a PDF template under pdf/, ending in .html.")
NO_TEMPLATE = _("No such template is installed, or it cannot be read.")
CODE_TAKEN = _("%(unit)s already uses this document code. Units that share a code must inherit it from "
               "one unit, which keeps their numbering, so that no number is given twice.")


class Resolved(NamedTuple):
    """A setting's value, the unit whose version supplied it (None: the declared default) and
    the day that version took effect."""

    value: Any
    unit: Any = None
    effective_from: date | None = None


# Declared keys -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Text:
    """Free text on one line, such as a letterhead or a document code."""

    limit: int

    def parse(self, raw: str) -> str:
        return self.check(raw.strip())

    def check(self, value) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(NEEDS_TEXT, code="required")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise ValidationError(CONTROL_CHARACTERS, code="control")
        if len(value) > self.limit:
            raise ValidationError(TOO_LONG, code="max_length", params={"limit": self.limit})
        return value

    def show(self, value) -> str:
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class Ladder:
    """The four working-day counts of the escalation ladder, as a JSON object."""

    def parse(self, raw: str) -> dict:
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
            raise self.error() from None
        return self.check(value)

    def check(self, value) -> dict:
        if not isinstance(value, dict) or set(value) != set(LADDER_FIELDS):
            raise self.error()
        if not all(type(value[name]) is int and 0 <= value[name] <= LADDER_MAX_DAYS for name in LADDER_FIELDS):
            raise self.error()
        return {name: value[name] for name in LADDER_FIELDS}

    @staticmethod
    def error() -> ValidationError:
        return ValidationError(NEEDS_LADDER, code="ladder", params={"limit": LADDER_MAX_DAYS})

    def show(self, value) -> str:
        return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class Number:
    """A whole number within bounds, such as a count of working days."""

    minimum: int
    maximum: int

    def parse(self, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise self.error() from None
        return self.check(value)

    def check(self, value) -> int:
        if type(value) is not int or not self.minimum <= value <= self.maximum:
            raise self.error()
        return value

    def error(self) -> ValidationError:
        return ValidationError(NEEDS_NUMBER, code="number", params={"min": self.minimum, "max": self.maximum})

    def show(self, value) -> str:
        return str(value)


class TemplateName(Text):
    """The name of an installed PDF template."""

    def check(self, value) -> str:
        value = super().check(value)
        if not value.startswith("pdf/") or not value.endswith(".html") or ".." in value or "\\" in value:
            raise ValidationError(NEEDS_TEMPLATE, code="template")
        try:
            get_template(value)
        except (TemplateDoesNotExist, TemplateSyntaxError, UnicodeError, OSError):
            raise ValidationError(NO_TEMPLATE, code="no_template") from None
        return value


@dataclass(frozen=True)
class Document:
    """A kind of numbered document: what the admin calls it, the suffix of its default code
    (after the issuing unit's name's first two characters) and its own PDF template."""

    label: Any
    code_suffix: str
    template: str


DOCUMENTS: dict[str, Document] = {
    "supervision_letter": Document(_("Supervision letter"), "民督函", "pdf/supervision_letter.html"),
}


def declare_document(kind: str, label, code_suffix: str, template: str):
    """A process's own kind of numbered document gains a `doc_code.<kind>` and a `template.<kind>`."""
    DOCUMENTS[kind] = Document(label, code_suffix, template)


@dataclass(frozen=True)
class Key:
    """A declared key, or a family of keys (`name` ending in "."), each member named by a suffix."""

    name: str
    label: Any
    kind: Any
    fallback: Any = None          # the default of a process's own key (declare_setting)

    def members(self) -> list[tuple[str, Any]]:
        """(suffix, label) of each member of a family; [("", label)] for a single key."""
        if self.name == "doc_code." or self.name == "template.":
            return [(kind, doc.label) for kind, doc in DOCUMENTS.items()]
        if self.name == "ladder.":
            return [(spec.key, spec.label) for spec in registry.case_types()]
        return [("", self.label)]

    def default(self, unit, suffix: str):
        if self.name == "bureau_name":
            return django_settings.DUBAN_BUREAU_NAME
        if self.name == "doc_code.":
            return (unit.name[:2] if unit is not None else "") + DOCUMENTS[suffix].code_suffix
        if self.name == "template.":
            return DOCUMENTS[suffix].template
        if self.name != "ladder.":
            return self.fallback
        policy = policy_row(suffix)  # the case type's policy row, or its defaults
        return {name: getattr(policy, name) for name in LADDER_FIELDS}


KEYS = {key.name: key for key in (
    Key("bureau_name", _("Letterhead (bureau name)"), Text(100)),
    Key("doc_code.", _("Document code"), Text(20)),
    Key("ladder.", _("Escalation ladder"), Ladder()),
    Key("template.", _("PDF template"), TemplateName(200)),
)}


def declare_setting(name: str, label, kind, default):
    """A process's own policy setting (a notice's working days, say): one key with its check and
    default, versioned per unit and inherited down the tree like the platform's."""
    if "." not in name or name.endswith("."):
        raise ValueError(f"a process's setting is named <process>.<name>, not {name!r}")
    KEYS[name] = Key(name, label, kind, kind.check(default))


def declared(key: str) -> tuple[Key, str] | None:
    """The declaration of `key` and its member suffix, or None for a key nobody declared."""
    own = KEYS.get(key)
    if own is not None and not key.endswith("."):
        return own, ""
    name, dot, suffix = key.partition(".")
    found = KEYS.get(name + dot)
    if found is None or (dot and not suffix):
        return None
    if dot and suffix not in {member for member, _label in found.members()}:
        return None
    return found, suffix


def choices() -> list[tuple[str, str]]:
    """Every key an administrator may set, with its label: (key, "family: member")."""
    result = []
    for key in KEYS.values():
        for suffix, label in key.members():
            result.append((key.name + suffix, f"{key.label}：{label}" if suffix else str(key.label)))
    return result


def key_label(key: str) -> str:
    return dict(choices()).get(key, key)


def parse(key: str, raw: str):
    """The value an administrator's text stands for under `key` (ValidationError if none)."""
    found = declared(key)
    if found is None:
        raise ValidationError(UNKNOWN_KEY, code="unknown_key")
    return found[0].kind.parse(raw)


def show(key: str, value) -> str:
    found = declared(key)
    return found[0].kind.show(value) if found else json.dumps(value, ensure_ascii=False)


def validate(row) -> None:
    """A version's key must be declared and its value one the key accepts; a document code is
    one unit's (and the units' that inherit it), never set again on another unit."""
    found = declared(row.key or "")
    if found is None:
        raise ValidationError({"key": ValidationError(UNKNOWN_KEY, code="unknown_key")})
    key, _suffix = found
    if row.value is None:
        return  # no value: the field itself says so (the form's, or the model's own check)
    try:
        row.value = key.kind.check(row.value)
    except ValidationError as error:
        raise ValidationError({"value": error}) from None
    if key.name == "doc_code." and row.unit_id:
        from workflow.models import UnitSetting

        other = (UnitSetting.objects.filter(key=row.key, value=row.value).exclude(unit_id=row.unit_id)
                 .select_related("unit").first())
        if other is not None:
            raise ValidationError({"value": ValidationError(CODE_TAKEN, code="code_taken",
                                                            params={"unit": other.unit.name})})


# Reading --------------------------------------------------------------------------------------
_cache: dict[tuple[int, str, date], tuple[float, Resolved | None]] = {}


def forget_settings(**_kwargs):
    """Drop every cached lookup (a version, a unit or a policy row was saved or deleted)."""
    _cache.clear()
    _policy_rows["loaded"] = -1e9


_policy_rows: dict = {"loaded": -1e9, "rows": {}}


def policy_row(case_type: str):
    """The case type's EscalationPolicy row, or one with the defaults, from a table kept in
    memory for a minute (the ladder days a unit setting does not override)."""
    from workflow.models import EscalationPolicy

    if time.monotonic() - _policy_rows["loaded"] > 60:
        _policy_rows["rows"] = {p.case_type: p for p in EscalationPolicy.objects.all()}
        _policy_rows["loaded"] = time.monotonic()
    return _policy_rows["rows"].get(case_type) or EscalationPolicy(case_type=case_type)


def setting(unit, key: str, on: date | datetime | None = None) -> Resolved:
    """The value of `key` for `unit` on the day `on` (today by default): the unit's own newest
    version in force, else its parent's, and so on up the tree, else the declared default.
    `unit` needs its `path`; None gives the default."""
    found = declared(key)
    if found is None:
        raise LookupError(f"no unit setting {key!r} is declared")
    declaration, suffix = found
    on = _day(on)
    resolved = _nearest(unit, key, on, declaration) if unit is not None else None
    return resolved or Resolved(declaration.default(unit, suffix))


def _day(on) -> date:
    """The day of `on`: a date, a moment (in local time), or today for anything else."""
    if isinstance(on, datetime):
        return timezone.localtime(on).date() if timezone.is_aware(on) else on.date()
    return on if isinstance(on, date) else timezone.localdate()


def _nearest(unit, key: str, on: date, declaration: Key) -> Resolved | None:
    cache_key = (unit.pk, key, on)
    hit = _cache.get(cache_key)
    now = time.monotonic()
    if hit is not None and now - hit[0] <= CACHE_SECONDS:
        return hit[1]
    from workflow.models import UnitSetting

    ancestors = [int(part) for part in unit.path.split(".") if part]
    # One query: every version of the key on the unit's path in force on the day; the deepest
    # unit first (a longer path lies below a shorter one on the same path), then the newest.
    row = (UnitSetting.objects.filter(unit_id__in=ancestors, key=key, effective_from__lte=on)
           .select_related("unit").order_by(Length("unit__path").desc(), "-effective_from", "-created_at", "-pk")
           .first())
    resolved = None
    if row is not None:
        try:
            resolved = Resolved(declaration.kind.check(row.value), row.unit, row.effective_from)
        except ValidationError:  # written past the checks (a shell, a restore): the default stands
            logger.error("unit setting %s of unit %s (version %s) is not valid; using the default",
                         key, row.unit_id, row.pk)
    if len(_cache) >= CACHE_MAX:
        _cache.clear()
    _cache[cache_key] = (now, resolved)
    return resolved


# What the platform reads ----------------------------------------------------------------------
def bureau_name(unit, on=None) -> str:
    """The bureau name shown at the top of pages for people of `unit`."""
    return setting(unit, "bureau_name", on).value


def letterhead(unit, on=None) -> str:
    """The name a document issued by `unit` carries: the nearest version of `bureau_name`,
    else the unit's own name (as every document did before settings existed)."""
    found = setting(unit, "bureau_name", on)
    return found.value if found.unit is not None else unit.name


def document_code(unit, kind: str, on=None) -> tuple[str, Any]:
    """The 机关代字 a document of `kind` issued by `unit` carries, and the unit whose counter
    numbers it: the unit whose version supplied the code, or the issuing unit itself."""
    found = setting(unit, f"doc_code.{kind}", on)
    return found.value, found.unit or unit


def document_template(unit, kind: str, on=None) -> str:
    """The PDF template of a document of `kind` issued by `unit`. An override that is no longer
    installed falls back to the document's own template."""
    found = setting(unit, f"template.{kind}", on)
    if found.unit is not None:
        try:
            get_template(found.value)
        except (TemplateDoesNotExist, TemplateSyntaxError):
            logger.error("template %s set for %s by unit %s is not installed; using %s",
                         found.value, kind, found.unit.pk, DOCUMENTS[kind].template)
            return DOCUMENTS[kind].template
    return found.value
