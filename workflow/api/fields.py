"""Serializer fields every case type's API shares, and a declared ``Field`` as a serializer
field: the bounds, choices and defaults the web forms take from the same declaration."""
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from workflow.cases.selectors import target_units
from workflow.kernel.declaration import Field
from workflow.web.bounds import validate_date_window, within_key_range


class WindowDateField(serializers.DateField):
    """A date within ``workflow.forms.date_window()``, as on the web forms."""

    default_validators = [validate_date_window]


@extend_schema_field(OpenApiTypes.INT)
class TargetUnitField(serializers.PrimaryKeyRelatedField):
    """A unit a case may be sent to, resolved only among the units below the requesting
    user's own (as the web forms offer them)."""

    default_error_messages = {"does_not_exist": gettext_lazy("Cases can only be sent to units under your own.")}

    def get_queryset(self):
        return target_units(self.context["request"].user)

    def to_internal_value(self, data):
        if not within_key_range(data):
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.BINARY)
class UploadField(serializers.FileField):
    """A file sent in the request: binary in the schema, not the URL a FileField shows on output."""


def input_field(field: Field, *, optional: bool = False) -> serializers.Field:
    """The serializer field of one declared input. `optional` keeps only the bounds (the
    catch-all body of the transitions path, where each action's own fields are checked).

    An action's ``reason`` is never required here: the action's method refuses a missing
    one with its own message (in ``detail``), after the role and the state are checked."""
    common = {"label": field.label, "help_text": field.help or None}
    if optional:
        common["required"] = False
    elif field.default is not None:
        common["default"] = field.default
    elif not field.required or field.name == "reason":
        common["required"] = False
    if field.kind == "int":
        return serializers.IntegerField(min_value=field.min_value, max_value=field.max_value, **common)
    if field.kind == "date":
        return WindowDateField(**common)
    if field.kind == "unit":
        return TargetUnitField(**common)
    if field.kind == "choice":
        return serializers.ChoiceField(choices=field.choices, **common)
    if common.get("required") is False:
        common["allow_blank"] = True
    return serializers.CharField(max_length=field.max_length, **common)
