"""Small helpers for views."""
from .engine import Actor


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def actor_for(request) -> Actor:
    return Actor(user=request.user, ip=client_ip(request))
