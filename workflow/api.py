"""The REST framework exception handler shared by every case type's API.

Engine refusals become JSON errors with the user's-language message in ``detail``.
Nothing here knows about a particular process.
"""
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from .engine import ActionError, AlreadyHandled
from .evidence import EvidenceRejected


def _message(exc) -> str | None:
    """The exception's own message, if it carries one (NotVisible and Denied do)."""
    return str(exc.args[0]) if exc.args and exc.args[0] else None


def exception_handler(exc, context):
    """Map workflow errors to 400/409/413; Django's 404/403 keep their translated message."""
    if isinstance(exc, AlreadyHandled):
        return _error(exc.message, status.HTTP_409_CONFLICT)
    if isinstance(exc, ActionError):
        return _error(exc.message, status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, EvidenceRejected):
        return _error(exc.message, exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_message(exc))
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(_message(exc))
    return drf_exception_handler(exc, context)


def _error(message, code) -> Response:
    set_rollback()
    return Response({"detail": str(message)}, status=code)
