from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HazardConfig(AppConfig):
    """Safety hazards (安全隐患) and checklist inspections."""

    name = "processes.hazard"
    label = "hazard"
    verbose_name = _("Safety hazards")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from workflow.kernel.rules import declare_rules
        from workflow.kernel.unit_settings import Number, declare_document, declare_setting

        from . import models, rules

        declare_rules(models.CHECKLIST, _("Hazard checklist"), rules.check_checklist)
        declare_rules(models.CRITERIA, _("Major-hazard criteria"), rules.check_criteria)
        # The public notice of a listing and of a de-listing is due within these working days.
        declare_setting(models.LISTING_DAYS, _("Listing notice within (working days)"), Number(1, 60), 5)
        declare_setting(models.DELISTING_DAYS, _("De-listing notice within (working days)"), Number(1, 60), 5)
        declare_document(models.LISTING_DOCUMENT, _("Listing notice (挂牌督办通知书)"), "隐督",
                         "pdf/hazard_listing.html")
