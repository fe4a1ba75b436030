"""Units (a tree of bureaus, offices and institutions) and the people in them."""
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models, transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext_lazy as _


class UnitKind(models.TextChoices):
    CITY_BUREAU = "city_bureau", _("City civil-affairs bureau")
    COUNTY_BUREAU = "county_bureau", _("County civil-affairs bureau")
    TOWNSHIP_OFFICE = "township_office", _("Township civil-affairs office")
    ELDERLY_CARE = "elderly_care", _("Elderly-care home")
    CHILD_WELFARE = "child_welfare", _("Child-welfare home")
    RELIEF_STATION = "relief_station", _("Relief station")
    FUNERAL_HOME = "funeral_home", _("Funeral home")
    SOCIAL_ORG = "social_org", _("Social organisation")
    SOCIAL_WORK = "social_work", _("Social-work station")


class Role(models.TextChoices):
    INSPECTOR = "inspector", _("Inspector")
    HANDLER = "handler", _("Unit handler")
    UNIT_HEAD = "unit_head", _("Unit head")
    LEADER = "leader", _("Leader")
    LEGAL = "legal", _("Legal reviewer")
    ADMIN = "admin", _("Administrator")


# Roles that look down the unit tree; the others see their own unit only.
SUPERVISORY_ROLES = frozenset({Role.INSPECTOR, Role.LEADER, Role.LEGAL})


def unit_scope(user, via: str = "") -> models.Q | None:
    """The one rule for what a user may see, as a filter on units reached through `via`
    (e.g. "unit__" from a case): their own unit, plus its subtree for supervisory roles.
    None means nothing at all."""
    if not user.is_authenticated or user.unit_id is None:
        return None
    if user.role == Role.ADMIN:  # administers units and users; reads no case and no audit record
        return None
    if user.role in SUPERVISORY_ROLES:
        return models.Q(**{f"{via}path__startswith": user.unit.path})
    return models.Q(**{f"{via}pk": user.unit_id})


class UnitQuerySet(models.QuerySet):
    def visible_to(self, user):
        scope = unit_scope(user)
        return self.none() if scope is None else self.filter(scope)


def can_see_unit(user, unit) -> bool:
    """The same rule as UnitQuerySet.visible_to, for one unit already in memory."""
    if not user.is_authenticated or user.unit_id is None or unit is None or user.role == Role.ADMIN:
        return False
    if user.role in SUPERVISORY_ROLES:
        return unit.is_within(user.unit)
    return unit.pk == user.unit_id


class Unit(models.Model):
    """A bureau, office or institution. `path` is a materialised path for subtree queries."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=32, choices=UnitKind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
        verbose_name=_("parent unit"),
    )
    path = models.CharField(max_length=255, db_index=True, editable=False)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    head_name = models.CharField(_("person in charge"), max_length=50, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)

    objects = UnitQuerySet.as_manager()

    class Meta:
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        ordering = ["path"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        """Save, then keep the materialised path (and those of every unit below) in step with
        the parent: unit scoping reads paths, so a moved unit must not keep its old one."""
        with transaction.atomic():
            if not self.pk:
                super().save(*args, **kwargs)
                kwargs = {}
            old = self.path
            prefix = self.parent.path if self.parent_id else ""
            self.path = f"{prefix}{self.pk:06d}."
            if kwargs.get("update_fields") is not None and old != self.path:
                kwargs["update_fields"] = {*kwargs["update_fields"], "path"}
            super().save(*args, **kwargs)
            if old and old != self.path:
                if self.path.startswith(old):
                    raise ValueError("a unit cannot be moved below itself")
                Unit.objects.filter(path__startswith=old).exclude(pk=self.pk).update(
                    path=Concat(Value(self.path), Substr("path", len(old) + 1)))
                from ..escalation import rebuild_counts

                rebuild_counts()

    def is_within(self, other: "Unit") -> bool:
        """True when this unit is `other` or lies below it."""
        return self.path.startswith(other.path)


class User(AbstractUser):
    """A member of staff: one unit, one role."""

    full_name = models.CharField(_("full name"), max_length=50, blank=True)
    unit = models.ForeignKey(
        Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="members",
        verbose_name=_("unit"),
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, blank=True)
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True)
    notify_in_app = models.BooleanField(_("in-app notifications"), default=True)
    notify_email = models.BooleanField(_("email notifications"), default=True)
    notify_sms = models.BooleanField(_("SMS notifications"), default=False)

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        indexes = [models.Index(fields=["unit", "role"])]

    def __str__(self):
        return self.full_name or self.username

    @property
    def display_name(self):
        return self.full_name or self.username
