"""One-time form tokens against double submission, for every process's forms.

A page gives each form a fresh token (``new()``). The view passes the posted token
(``posted(request)``) to the engine, which claims it in the transaction of the state change
(``claim``): a second submission of the same form waits for the first to commit and then
finds the token taken, and is shown the first one's result; a change that rolled back freed
its token, so the form can be sent again. Old tokens are pruned by the beat.
"""
import re
import uuid
from datetime import timedelta

from django.db import IntegrityError
from django.utils import timezone

from workflow.models import FormToken

FIELD = "form_token"
TOKEN = re.compile(r"[0-9a-f]{32}")
KEEP = timedelta(days=2)  # a form left open longer than this may be sent again


def new() -> str:
    return uuid.uuid4().hex


def posted(request) -> str:
    """The well-formed token posted with the form, or "" (a missing or forged one claims nothing)."""
    token = request.POST.get(FIELD, "")
    return token if TOKEN.fullmatch(token) else ""


def claim(user, token: str) -> bool:
    """Insert the token inside the caller's transaction. False when the same user's form with
    this token was already submitted (on PostgreSQL a concurrent submission waits here until
    the first one's transaction ends). On False the caller must leave the transaction."""
    try:
        FormToken.objects.create(user=user, token=token)
    except IntegrityError:
        return False
    return True


def prune(now=None) -> int:
    """Delete tokens older than KEEP. Returns how many."""
    return FormToken.objects.filter(created_at__lt=(now or timezone.now()) - KEEP).delete()[0]
