"""Rule sets: rules that differ by province or change by year (checklists, grading criteria,
indicator schemes), kept as versioned data with the day each version takes effect.

A decision records the version it used (``workflow.kernel.rules.use``); from then on that
version's body is frozen and a change is a newer version, so a case judged under the old one
keeps it."""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RuleSet(models.Model):
    """One version of one rule set: a kind declared by a process (``declare_rules``), a name
    among the kind's sets (one checklist of several), and its body as data."""

    kind = models.CharField(_("kind of rules"), max_length=40)
    name = models.CharField(_("rule set"), max_length=60,
                            help_text=_("Which set of this kind, e.g. one checklist among several."))
    title = models.CharField(_("title"), max_length=200)
    version = models.CharField(_("version"), max_length=40)
    effective_from = models.DateField(_("effective from"))
    body = models.JSONField(_("rules"))
    note = models.CharField(_("note"), max_length=200, blank=True,
                            help_text=_("Where the rules come from, and what changed in this version."))
    used = models.BooleanField(_("used by a decision"), default=False, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("created by"), editable=False)

    class Meta:
        verbose_name = _("rule set version")
        verbose_name_plural = _("rule set versions")
        ordering = ["kind", "name", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "name", "version"], name="rule_set_version_unique"),
            models.UniqueConstraint(fields=["kind", "name", "effective_from"], name="rule_set_day_unique"),
        ]

    def __str__(self):
        return f"{self.title} ({self.version})"

    def clean(self):
        super().clean()
        from workflow.kernel.rules import validate

        if self.pk and self.used and self._stored_body() != self.body:
            raise ValidationError(_("This version has been used by a decision and cannot be changed; "
                                    "add a new version instead."))
        validate(self)

    def save(self, *args, **kwargs):
        if self.pk and self.used and self._stored_body() != self.body:
            raise ValidationError(_("This version has been used by a decision and cannot be changed; "
                                    "add a new version instead."))
        super().save(*args, **kwargs)

    def _stored_body(self):
        return RuleSet.objects.filter(pk=self.pk).values_list("body", flat=True).first()
