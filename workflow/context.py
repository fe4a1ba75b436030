"""Template context shared by every page."""
from django.conf import settings


def duban(request):
    user = getattr(request, "user", None)
    unread = 0
    if user is not None and user.is_authenticated:
        unread = user.notifications.filter(read_at__isnull=True).count()
    return {"unread_notifications": unread, "bureau_name": settings.DUBAN_BUREAU_NAME}
