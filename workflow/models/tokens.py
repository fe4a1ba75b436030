"""One-time form tokens: a submitted form's token is claimed in the transaction of the change it asks for."""
from django.conf import settings
from django.db import models
from django.utils import timezone


class FormToken(models.Model):
    """A form that has been submitted. Its token is inserted in the same transaction as the
    state change the form asked for, so a second submission of the same form waits for the
    first to commit and then finds the token taken; a change that rolls back frees it.
    Old tokens are pruned (workflow.tasks.prune_form_tokens)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "token"], name="form_token_unique")]
