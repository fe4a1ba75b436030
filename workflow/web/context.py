"""Template context shared by every page."""
from django.conf import settings
from django.urls import reverse

from workflow.kernel import registry, unit_settings


def duban(request):
    user = getattr(request, "user", None)
    unread = 0
    if user is not None and user.is_authenticated:
        unread = user.notifications.filter(read_at__isnull=True).count()
    return {"unread_notifications": unread, "bureau_name": page_bureau_name(user),
            "case_menu": case_menu(user)}


def page_bureau_name(user) -> str:
    """The bureau name at the top of the page: the user's unit's setting (inherited from the
    units above it), else DUBAN_BUREAU_NAME."""
    if user is None or not user.is_authenticated or user.unit_id is None:
        return settings.DUBAN_BUREAU_NAME
    return unit_settings.bureau_name(user.unit)


def case_menu(user) -> list[dict]:
    """The menu entry of each case type that declares one: its list, and its new-case page
    for the role that opens them."""
    if user is None or not user.is_authenticated:
        return []
    entries = []
    for spec in registry.case_types():
        if spec.menu is None:
            continue
        # A type whose cases always belong to another is opened from that case's page only.
        opens = spec.opened_by(user) and not (spec.parent and spec.parent.required)
        entries.append({"key": spec.key, "label": spec.menu.label, "url": reverse(f"{spec.key}:list"),
                        "new": spec.menu.new if opens and spec.menu.new else "",
                        "new_url": reverse(f"{spec.key}:new") if opens else "",
                        "pages": [{"label": link.label, "url": reverse(f"{spec.key}:{link.name}")}
                                  for link in spec.menu.pages if link.allows(user)]})
    return entries
