"""Per-unit settings in templates: ``{{ unit|letterhead }}`` or ``{{ unit|letterhead:day }}`` is the
name a document issued by the unit carries on that day (see workflow.unit_settings)."""
from django import template

from workflow.kernel import unit_settings

register = template.Library()


@register.filter
def letterhead(unit, on=None) -> str:
    if unit is None:
        return ""
    return unit_settings.letterhead(unit, on)
