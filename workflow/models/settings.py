"""Per-unit settings: versions of a declared key, inherited down the unit tree.

What each key means, its default and what it accepts are declared in workflow.unit_settings,
which also reads them (nearest unit first, newest version in force first).
"""
from django.conf import settings
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from workflow.models.units import Unit


class UnitSetting(models.Model):
    """One version of one setting of a unit, in force from `effective_from` until a newer
    version of the same unit takes over; units below inherit it unless they have their own."""

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="settings", verbose_name=_("unit"))
    key = models.CharField(_("setting"), max_length=80)
    value = models.JSONField(_("value"))
    effective_from = models.DateField(_("effective from"), default=timezone.localdate)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("created by"), editable=False)

    class Meta:
        verbose_name = _("unit setting")
        verbose_name_plural = _("unit settings")
        ordering = ["unit__path", "key", "-effective_from", "-pk"]
        indexes = [models.Index(fields=["unit", "key", "effective_from"], name="unit_setting_lookup_idx")]

    def __str__(self):
        from workflow.kernel.unit_settings import key_label

        return f"{self.unit} · {key_label(self.key)}"

    def clean(self):
        """The value must be one the key accepts (see workflow.unit_settings)."""
        super().clean()
        from workflow.kernel.unit_settings import validate

        validate(self)


def _forget_settings(**_kwargs):
    """Settings are cached per process (workflow.unit_settings); a saved or deleted version, or a
    unit renamed or moved, is read again at once here, and again after the commit (a lookup made
    inside the transaction may have cached what it saw)."""
    from workflow.kernel.unit_settings import forget_settings

    forget_settings()
    transaction.on_commit(forget_settings)


for _model in (UnitSetting, Unit):
    post_save.connect(_forget_settings, sender=_model, dispatch_uid=f"forget-settings-{_model.__name__}")
    post_delete.connect(_forget_settings, sender=_model, dispatch_uid=f"forget-settings-del-{_model.__name__}")
