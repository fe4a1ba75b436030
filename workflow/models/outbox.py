"""Outbox rows written in the same transaction as a state change, relayed after commit."""
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OutboxMessage(models.Model):
    """A message to deliver on one channel. `key` makes a second relay of the same event a no-op.

    A failed delivery is retried with backoff; after the last try `failed_at` is set and the
    row stays visible for an administrator to retry. Nothing is dropped silently.
    """

    class Channel(models.TextChoices):
        IN_APP = "in_app", _("In-app")
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")

    key = models.CharField(_("delivery key"), max_length=200, unique=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.IN_APP)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                                  verbose_name=_("recipient"))
    case = models.ForeignKey("workflow.Case", null=True, on_delete=models.CASCADE, related_name="+",
                             verbose_name=_("case"))
    subject = models.CharField(_("subject"), max_length=200)  # in the default language, for the administrator
    # What the subject says, rendered in each recipient's language when delivered (workflow.notify.message).
    message = models.JSONField(_("message"), default=dict, blank=True)
    body = models.TextField(_("body"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    failed_at = models.DateTimeField(_("failed"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        indexes = [
            models.Index(fields=["next_attempt_at"], name="outbox_pending_idx",
                         condition=models.Q(sent_at__isnull=True, failed_at__isnull=True)),
            models.Index(fields=["failed_at"], name="outbox_failed_idx", condition=models.Q(failed_at__isnull=False)),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} #{self.pk}"  # never the subject: the administrator lists these


class Notification(models.Model):
    """An in-app notification (the bell)."""

    key = models.CharField(_("delivery key"), max_length=200, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications",
                             verbose_name=_("user"))
    case = models.ForeignKey("workflow.Case", null=True, on_delete=models.CASCADE, related_name="+",
                             verbose_name=_("case"))
    message = models.CharField(_("message"), max_length=200)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at"])]
