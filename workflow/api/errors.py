"""The REST framework exception handler shared by every case type's API.

Engine refusals become JSON errors with the user's-language message in ``detail``; so do
bodies the parsers cannot read, whose own message is Python's, in English.
"""
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from workflow.cases.engine import ActionError, AlreadyHandled
from workflow.cases.evidence import EvidenceRejected


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
    if isinstance(exc, exceptions.ParseError):
        # DRF's detail carries the parser's English text ("JSON parse error - Expecting value ...").
        return _error(_("The request body could not be read: send JSON in UTF-8, or a form."), exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_message(exc))
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(_message(exc))
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = _encodable(response.data)
    return response


def _encodable(data):
    """Error details that echo the input ("“x” is not a valid choice") with any lone surrogate
    from a JSON escape written out as ``\\ud800`` and the like: as it came, it cannot be encoded in UTF-8."""
    if isinstance(data, dict):  # a field's name too: an unknown one is named as it came
        return {_encodable(key): _encodable(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_encodable(value) for value in data]
    if isinstance(data, str):
        try:
            data.encode()
        except UnicodeEncodeError:
            text = data.encode(errors="backslashreplace").decode()
            return exceptions.ErrorDetail(text, getattr(data, "code", None)) if isinstance(data, exceptions.ErrorDetail) \
                else text
    return data


def _error(message, code) -> Response:
    set_rollback()
    return Response({"detail": str(message)}, status=code)


# The bodies above, as the schema names them ----------------------------------------------------
class ErrorSerializer(serializers.Serializer):
    """An error: what went wrong, in the user's language."""

    detail = serializers.CharField()


class InputErrorSerializer(serializers.Serializer):
    """Input that was refused: the messages of each field that was wrong ({"title": ["..."]},
    "non_field_errors" for the body as a whole), or ``detail`` alone."""

    detail = serializers.CharField(required=False)


class InputErrorSchema(OpenApiSerializerExtension):
    target_class = InputErrorSerializer

    def map_serializer(self, auto_schema, direction):
        messages = {"type": "array", "items": {"type": "string"}}
        return {"type": "object", "description": InputErrorSerializer.__doc__.replace("\n    ", " "),
                "properties": {"detail": {"type": "string"}},
                # a list's field names the item that was wrong ({"units": {"0": ["..."]}})
                "additionalProperties": {"oneOf": [messages, {"type": "object",
                                                              "additionalProperties": messages}]}}
