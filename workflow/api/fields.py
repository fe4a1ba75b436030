"""Serializer fields every case type's API shares, and a declared ``Field`` as a serializer
field: the bounds, choices and defaults the web forms take from the same declaration.

Each field's schema states what the server checks: a text that may not be blank has
``minLength: 1`` and a pattern asking for a character that is not white space (the server
trims it); no text takes a NUL character; a date lies within ``date_window()`` (a pattern
written for today's window); a unit is a key, and one the caller may not send to is a 404.
"""
from django.core.validators import RegexValidator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound

from workflow.cases.selectors import target_units
from workflow.kernel.declaration import Field
from workflow.kernel.limits import MONEY_DIGITS, MONEY_PLACES
from workflow.web.bounds import KEY_MAX, date_window, validate_date_window

# What the schema says of texts: none holds a NUL (PostgreSQL cannot store one), and one that
# may not be blank holds a character that is not white space. The server refuses both anyway.
# (One that may be blank is "" or NO_NUL: drf-spectacular writes it as a oneOf of the two, so
# NO_NUL must not match "".)
NO_NUL = RegexValidator(r"^[^\x00]+$")
NOT_BLANK = RegexValidator(r"^[^\x00]*[^\x00\s][^\x00]*$")


class OnlyDeclared:
    """A body takes the fields its serializer declares and refuses any other, naming it (its
    schema says ``additionalProperties: false``): a misspelt field is not silently dropped."""

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(str(name) for name in data.keys()
                             if name not in self.fields or self.fields[name].read_only)
            if unknown:
                raise serializers.ValidationError({name: [unknown_name(name)] for name in unknown})
        return super().to_internal_value(data)


def unknown_name(name: str) -> str:
    return _("This action takes no “%(name)s”.") % {"name": name}


class TextField(serializers.CharField):
    """Text as the schema says, a JSON string: a number or a boolean is refused, not turned
    into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def text(*, allow_blank: bool = False, **kwargs) -> serializers.CharField:
    """A text field whose schema states its pattern as well as its length."""
    validators = [NO_NUL if allow_blank else NOT_BLANK]
    return TextField(allow_blank=allow_blank, validators=validators, **kwargs)


def _choices(values) -> str:
    return "|".join(f"{value:02d}" for value in values)


def date_pattern(first, last) -> str:
    """A pattern of the ISO dates from `first` to `last` (that the date is valid, ``format: date`` says)."""
    day = r"(?:0[1-9]|[12][0-9]|3[01])"

    def span(year, month1, day1, month2, day2) -> list[str]:
        if month1 == month2:
            return [f"{year}-{month1:02d}-(?:{_choices(range(day1, day2 + 1))})"]
        parts = [f"{year}-{month1:02d}-(?:{_choices(range(day1, 32))})"]
        if month2 - month1 > 1:
            parts.append(f"{year}-(?:{_choices(range(month1 + 1, month2))})-{day}")
        return [*parts, f"{year}-{month2:02d}-(?:{_choices(range(1, day2 + 1))})"]

    if first.year == last.year:
        parts = span(first.year, first.month, first.day, last.month, last.day)
    else:
        parts = span(first.year, first.month, first.day, 12, 31)
        if last.year - first.year > 1:
            years = "|".join(str(year) for year in range(first.year + 1, last.year))
            parts.append(f"(?:{years})-(?:0[1-9]|1[0-2])-{day}")
        parts += span(last.year, 1, 1, last.month, last.day)
    return "^(?:" + "|".join(parts) + ")$"


class WindowDateField(serializers.DateField):
    """A date within ``workflow.forms.date_window()``, as on the web forms."""

    default_validators = [validate_date_window]


class WindowDateFieldSchema(OpenApiSerializerFieldExtension):
    """``format: date`` with the window as a pattern, computed when the schema is asked for."""

    target_class = WindowDateField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        first, last = date_window()
        return {**build_basic_type(OpenApiTypes.DATE), "pattern": date_pattern(first, last),
                "description": f"{first.isoformat()} – {last.isoformat()}"}


class TargetUnitField(serializers.PrimaryKeyRelatedField):
    """A unit a case may be sent to, resolved only among the units below the requesting
    user's own (as the web forms offer them). A key that is no number, or none a key can be,
    is a field error (400); a unit that does not exist or is not below the caller's own is
    404, like a unit filter the caller may not see."""

    default_error_messages = {"does_not_exist": gettext_lazy("Cases can only be sent to units under your own.")}

    def get_queryset(self):
        return target_units(self.context["request"].user)

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            key = int(data)
        except (TypeError, ValueError):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if isinstance(data, float) and key != data or not 1 <= key <= KEY_MAX:
            self.fail("incorrect_type", data_type=type(data).__name__)
        unit = self.get_queryset().filter(pk=key).first()
        if unit is None:
            raise NotFound(self.error_messages["does_not_exist"])
        return unit


class ParentCaseField(serializers.IntegerField):
    """The case a new one belongs to (for a type that declares parents), resolved among the
    cases the requesting user sees: one that does not exist or is out of sight is a 404. Its
    type, its being open and the deadlines are the opener's checks (a 409)."""

    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=KEY_MAX, **kwargs)

    def run_validation(self, data=serializers.empty):
        from workflow.models import Case

        key = super().run_validation(data)  # a whole number within the bounds, or a 400
        if key is None:
            return None
        case = Case.objects.visible_to(self.context["request"].user).select_related("unit").filter(pk=key).first()
        if case is None:
            raise NotFound(gettext_lazy("No such case, or you may not see it."))
        return case


class TargetUnitsField(serializers.ListField):
    """Several units a case may be sent to (a dispatch), each as TargetUnitField takes one,
    read in one query whatever their number; each unit once, in the order given."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.IntegerField(min_value=1, max_value=KEY_MAX), **kwargs)

    def to_internal_value(self, data):
        keys = list(dict.fromkeys(super().to_internal_value(data)))
        units = target_units(self.context["request"].user).in_bulk(keys)
        if len(units) != len(keys):
            raise NotFound(TargetUnitField.default_error_messages["does_not_exist"])
        return [units[key] for key in keys]


class TargetUnitFieldSchema(OpenApiSerializerFieldExtension):
    target_class = TargetUnitField

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "integer", "format": "int64", "minimum": 1, "maximum": KEY_MAX}


@extend_schema_field({"type": "string", "format": "decimal",
                      "pattern": rf"^[0-9]{{1,{MONEY_DIGITS - MONEY_PLACES}}}(\.[0-9]{{1,{MONEY_PLACES}}})?$"})
class MoneyField(serializers.DecimalField):
    """An amount in yuan, written as digits with at most two decimals ("1234.50"); a JSON number
    is read too. The schema's pattern needs a digit, where DRF's own would admit ""."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, min_value=0, **kwargs)


@extend_schema_field(OpenApiTypes.BINARY)
class UploadField(serializers.FileField):
    """A file sent in the request: binary in the schema, not the URL a FileField shows on output."""


def input_field(field: Field, *, optional: bool = False, strict: bool = False) -> serializers.Field:
    """The serializer field of one declared input. `optional` keeps only the bounds (the
    catch-all body of the transitions path, where each action's own fields are checked).

    An action's ``reason`` is not required here: the action's method refuses a missing one
    with its own message (in ``detail``), after the role and the state are checked. `strict`
    gives the field as the action declares it, ``reason`` too: the schema of an action's own
    path, which says what the action needs."""
    common = {"label": field.label, "help_text": field.help or None}
    if optional:
        common["required"] = False
    elif field.default is not None:
        common["default"] = field.default
    elif not field.required or (field.name == "reason" and not strict):
        common["required"] = False
    if field.kind == "int":
        return serializers.IntegerField(min_value=field.min_value, max_value=field.max_value, **common)
    if field.kind == "date":
        return WindowDateField(**common)
    if field.kind == "unit":
        return TargetUnitField(**common)
    if field.kind == "choice":
        return serializers.ChoiceField(choices=field.choices, **common)
    if field.kind == "money":
        return MoneyField(**common)
    return text(max_length=field.max_length, allow_blank=common.get("required") is False, **common)
