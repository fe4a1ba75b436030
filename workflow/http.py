"""Small helpers for views."""
from urllib.parse import quote

from django.http import Http404
from django.utils.translation import gettext as _

from .engine import Actor


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def actor_for(request) -> Actor:
    return Actor(user=request.user, ip=client_ip(request))


def as_download(response, filename: str, fallback: str):
    """Make `response` a download: RFC 5987/6266 UTF-8 file name with an ASCII fallback,
    never sniffed as something else, never cached by a shared proxy."""
    kept = "".join(c for c in fallback if c.isascii() and (c.isalnum() or c in "._-"))
    ascii_name = kept if kept.rsplit(".", 1)[0].strip("._-") else "download"
    response["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def record_denied(request, target: str, object_id, **extra):
    """A denied-access event on the audit trail: who asked for what they may not see."""
    from . import audit

    audit.record(action="access_denied", user=request.user, outcome="denied", ip=client_ip(request),
                 data={"target": target, "id": str(object_id), **extra})


def not_found(request, target: str, object_id, message=None):
    """Record the denied access and answer 404, as if the object did not exist."""
    record_denied(request, target, object_id)
    raise Http404(message or _("No such case, or you may not see it."))
