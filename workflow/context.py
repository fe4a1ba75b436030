"""Template context shared by every page."""
from django.conf import settings
from django.urls import reverse

from . import registry


def duban(request):
    user = getattr(request, "user", None)
    unread = 0
    if user is not None and user.is_authenticated:
        unread = user.notifications.filter(read_at__isnull=True).count()
    return {"unread_notifications": unread, "bureau_name": settings.DUBAN_BUREAU_NAME,
            "case_menu": case_menu(user)}


def case_menu(user) -> list[dict]:
    """The menu entry of each case type that declares one: its list, and its new-case page
    for the role that opens them."""
    if user is None or not user.is_authenticated:
        return []
    entries = []
    for spec in registry.case_types():
        if spec.menu is None:
            continue
        opens = spec.create is not None and user.role == spec.create.role and user.unit_id is not None
        entries.append({"key": spec.key, "label": spec.menu.label, "url": reverse(f"{spec.key}:list"),
                        "new": spec.menu.new if opens and spec.menu.new else "",
                        "new_url": reverse(f"{spec.key}:new") if opens else ""})
    return entries
