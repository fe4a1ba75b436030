"""Small helpers for views."""

from django.http import Http404
from django.utils.translation import gettext as _

from workflow.cases.engine import Actor


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def actor_for(request) -> Actor:
    return Actor(user=request.user, ip=client_ip(request))


def record_denied(request, target: str, object_id, **extra):
    """A denied-access event on the audit trail: who asked for what they may not see."""
    from workflow.trail import audit

    audit.record(action="access_denied", user=request.user, outcome="denied", ip=client_ip(request),
                 data={"target": target, "id": str(object_id), **extra})


def not_found(request, target: str, object_id, message=None):
    """Record the denied access and answer 404, as if the object did not exist."""
    record_denied(request, target, object_id)
    raise Http404(message or _("No such case, or you may not see it."))
