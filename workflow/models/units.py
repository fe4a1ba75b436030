"""Units (a tree of bureaus, offices and institutions) and the people in them."""
import contextlib
import contextvars

from django.contrib.auth.models import AbstractUser, Group, UserManager
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models.signals import m2m_changed
from django.dispatch import Signal
from django.db.models import Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext
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
    GRID = "grid", _("Grid member")


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


# Sent inside the transaction that moved a unit (and its subtree) under another parent;
# the escalation ladder recounts its per-subtree figures on it.
unit_moved = Signal()
# Sent for every change to an account, its groups or permissions, in the transaction that
# makes it; the audit trail records it on the system chain (workflow.trail.audit).
account_event = Signal()

MOVE_BELOW_ITSELF = _("A unit cannot be placed below itself or below one of its own subordinate units.")


class Unit(models.Model):
    """A bureau, office or institution. `path` is a materialised path for subtree queries."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=32, choices=UnitKind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
        verbose_name=_("parent unit"),
    )
    path = models.CharField(_("tree path"), max_length=255, db_index=True, editable=False)
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

    def clean(self):
        super().clean()
        if self.pk and self.parent_id:
            stored = Unit.objects.filter(pk=self.pk).values_list("path", flat=True).first()
            parent = Unit.objects.filter(pk=self.parent_id).values_list("path", flat=True).first()
            if stored and parent is not None and parent.startswith(stored):
                raise ValidationError({"parent": MOVE_BELOW_ITSELF})

    def save(self, *args, **kwargs):
        """Save, then keep the materialised path (and those of every unit below) in step with
        the parent: unit scoping reads paths, so a moved unit must not keep its old one.
        Paths are read from the locked rows, not from instances that may be stale."""
        with transaction.atomic():
            if not self.pk:
                super().save(*args, **kwargs)
                kwargs = {}
            paths = dict(Unit.objects.select_for_update().filter(
                pk__in=[pk for pk in (self.pk, self.parent_id) if pk]).order_by("pk").values_list("pk", "path"))
            old = paths.get(self.pk, "")
            self.path = f"{paths[self.parent_id] if self.parent_id else ''}{self.pk:06d}."
            if old and old != self.path and self.path.startswith(old):
                raise ValidationError({"parent": MOVE_BELOW_ITSELF})
            if kwargs.get("update_fields") is not None and old != self.path:
                kwargs["update_fields"] = {*kwargs["update_fields"], "path"}
            super().save(*args, **kwargs)
            if old and old != self.path:
                Unit.objects.filter(path__startswith=old).exclude(pk=self.pk).update(
                    path=Concat(Value(self.path), Substr("path", len(old) + 1)))
                unit_moved.send(sender=Unit, unit=self, old_path=old)

    def is_within(self, other: "Unit") -> bool:
        """True when this unit is `other` or lies below it."""
        return self.path.startswith(other.path)


# Who is changing accounts in this context: set by the admin (or a command) around its
# writes so that the audit event names them; changes made outside are the system's.
_acting = contextvars.ContextVar("duban_account_actor", default=(None, None))


@contextlib.contextmanager
def acting_as(user, ip=None):
    """Name `user` (and their address) as the author of account changes inside the block."""
    token = _acting.set((user, ip))
    try:
        yield
    finally:
        _acting.reset(token)


# Account fields whose every change is an audit event; the password's value is never recorded.
ACCOUNT_FIELDS = ("role", "unit", "is_superuser", "is_staff", "is_active", "password")
# What nobody may change on their own account (another administrator must).
OWN_LOCKED = ("role", "unit", "is_superuser", "is_staff")
SELF_GRANT = _("You cannot change your own role, unit, superuser or staff status, groups or permissions; "
               "another administrator must do it.")
SUPERUSER_ONLY = _("Only a superuser can grant or remove superuser status.")


class User(AbstractUser):
    """A member of staff: one unit, one role.

    Every change of role, unit, superuser, staff or active status (and every new password)
    is written to the system audit chain in the same transaction as the change, naming the
    actor set by `acting_as`. Nobody changes these on their own account, and only a
    superuser makes or unmakes a superuser.
    """

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
    # The language last chosen with the language switcher: notifications are written in it.
    language = models.CharField(_("language"), max_length=10, default="zh-hans")

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

    def get_short_name(self):  # the admin's greeting
        return self.display_name

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        watched = [name for name in ACCOUNT_FIELDS if update_fields is None
                   or name in update_fields or f"{name}_id" in update_fields]
        if not watched:  # e.g. last_login on every sign-in
            return super().save(*args, **kwargs)
        with transaction.atomic():
            columns = [self._meta.get_field(name).attname for name in watched]
            stored = None
            if not self._state.adding and self.pk:
                stored = User.objects.select_for_update().filter(pk=self.pk).values(*columns).first()
            changes = {name: (None if stored is None else stored[column], getattr(self, column))
                       for name, column in zip(watched, columns)
                       if stored is None or stored[column] != getattr(self, column)}
            actor, ip = _acting.get()
            check_account_change(actor, self.pk, changes)
            super().save(*args, **kwargs)
            if changes:
                record_account_change("account_create" if stored is None else "account_change",
                                      actor, ip, self, changes)


def check_account_change(actor, account_id, changes) -> None:
    """Refuse what `actor` may not do to the account: change their own role, unit, superuser or
    staff status; make or unmake a superuser without being one."""
    if actor is None:
        return
    if account_id is not None and actor.pk == account_id and any(name in changes for name in OWN_LOCKED):
        raise PermissionDenied(gettext(SELF_GRANT))
    old, new = changes.get("is_superuser", (False, False))
    if bool(old) != bool(new) and not actor.is_superuser:
        raise PermissionDenied(gettext(SUPERUSER_ONLY))


def record_account_change(action, actor, ip, account, changes) -> None:
    """One event on the system chain: whose account, each field's old and new value."""
    unit_ids = {pk for pk in changes.get("unit", ()) if pk}
    names = dict(Unit.objects.filter(pk__in=unit_ids).values_list("pk", "name")) if unit_ids else {}
    data = {}
    for name, (old, new) in changes.items():
        if name == "password":
            data[name] = {"old": None, "new": "set" if new else None}
        elif name == "unit":
            data[name] = {"old": old and {"id": old, "name": names.get(old, "")},
                          "new": new and {"id": new, "name": names.get(new, "")}}
        else:
            data[name] = {"old": old, "new": new}
    account_event.send(sender=User, action=action, user=actor, ip=ip,
                       data={"account": {"id": account.pk, "username": account.username}, "changes": data})


def _grants_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    """Groups and permissions: nobody adds to their own (directly, or to a group they are in);
    every addition and removal is an event on the system audit chain. A signal, because
    many-to-many writes pass through no model's save."""
    if action not in ("pre_add", "post_add", "post_remove", "pre_clear"):
        return
    actor, ip = _acting.get()
    if action == "pre_add":
        owners = pk_set if reverse else {instance.pk}  # users, or groups when a group gains permissions
        if sender is Group.permissions.through:
            own = actor is not None and User.objects.filter(pk=actor.pk, groups__in=owners).exists()
        else:
            own = actor is not None and actor.pk in owners
        if own and pk_set:
            raise PermissionDenied(gettext(SELF_GRANT))
        return
    if action == "pre_clear":
        pk_set = set(sender.objects.filter(**{instance._meta.model_name: instance.pk})
                     .values_list(f"{model._meta.model_name}_id", flat=True))
    if not pk_set:
        return
    account_event.send(sender=User, action="account_permissions", user=actor, ip=ip, data={
        "change": "add" if action == "post_add" else "remove",
        "of": {"model": instance._meta.model_name, "id": instance.pk, "name": str(instance)},
        "items": {"model": model._meta.model_name,
                  "names": sorted(str(item) for item in model.objects.filter(pk__in=pk_set))},
    })


for _through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
    m2m_changed.connect(_grants_changed, sender=_through, dispatch_uid=f"grants-{_through._meta.label}")
