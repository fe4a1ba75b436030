"""Input bounds shared by every web form and API serializer, whatever the case type.

* Dates: one window around today (``date_window``); a date from a request outside it is
  refused with a message, so no far date ever reaches the working-day calendar or the
  escalation ladder.
* Ids: a number no 64-bit key can hold is refused before it reaches the database.
* Log-in: the user name is bounded by the user model's own column before anything reads it,
  and django-axes is handed at most what its own column holds.
"""
from datetime import date, timedelta

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UsernameField
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

# How far a date from a request may lie from today: filters reach back over the archive,
# deadlines reach forward a little (an extension longer than this is a new case).
PAST_YEARS = 20
FUTURE_YEARS = 2

# Database keys are 64-bit: a larger number names no row, and a driver may fail on it (SQLite).
KEY_MAX = 2 ** 63 - 1

# Django's and DRF's text fields refuse NUL, and any field a missing value, with these
# messages; the project's catalogue gives them a clearer Chinese than Django's own (the
# project's catalogue is read first).
gettext_noop("Null characters are not allowed.")
gettext_noop("This field is required.")


def date_window(today: date | None = None) -> tuple[date, date]:
    """The first and last date a request may name."""
    today = today or timezone.localdate()
    return today - timedelta(days=round(365.25 * PAST_YEARS)), today + timedelta(days=round(365.25 * FUTURE_YEARS))


def validate_date_window(value: date):
    """Refuse a date outside ``date_window()``. Used by web forms and API serializers alike."""
    first, last = date_window()
    if not first <= value <= last:
        raise ValidationError(_("Enter a date between %(first)s and %(last)s."), code="date_window",
                              params={"first": first.isoformat(), "last": last.isoformat()})


class WindowDateField(forms.DateField):
    """A date within ``date_window()``."""

    default_validators = [validate_date_window]


def within_key_range(value) -> bool:
    """False for a number no database key can hold; anything else is for the field to judge."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return True
    return -KEY_MAX - 1 <= number <= KEY_MAX


class KeyChoiceField(forms.ModelChoiceField):
    """A model choice that refuses a number no key can hold rather than hand it to the database."""

    def to_python(self, value):
        if value not in self.empty_values and not within_key_range(value):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice",
                                  params={"value": value})
        return super().to_python(value)


class KeyMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Model choices that refuse a number no key can hold rather than hand it to the database."""

    def clean(self, value):
        for pk in value if isinstance(value, (list, tuple)) else ():
            if not within_key_range(pk):
                raise ValidationError(self.error_messages["invalid_pk_value"], code="invalid_pk_value",
                                      params={"pk": pk})
        return super().clean(value)


# Log-in --------------------------------------------------------------------------------------
USERNAME_MAX = get_user_model()._meta.get_field(get_user_model().USERNAME_FIELD).max_length
PASSWORD_MAX = 1024


class LoginForm(AuthenticationForm):
    """Django's log-in form with the lengths enforced: Django only sets the user name's
    ``max_length`` attribute after the field is built, so its validator never runs and an
    over-long name reached the authentication backends."""

    username = UsernameField(max_length=USERNAME_MAX, widget=forms.TextInput(attrs={"autofocus": True}))
    password = forms.CharField(label=_("Password"), strip=False, max_length=PASSWORD_MAX,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))



class AdminLoginForm(LoginForm, AdminAuthenticationForm):
    """The admin's log-in form with the same bounds (and the admin's staff-only check)."""


def axes_username(request, credentials=None) -> str | None:
    """The user name as django-axes records and looks it up (AXES_USERNAME_CALLABLE).

    Axes' own lookup, except that the name is cut to axes' column and loses NUL characters,
    which PostgreSQL refuses: a log-in form that did not bound it (the admin's) must not turn
    a wrong name into a server error. No account has a name that long, so nothing is merged.
    """
    from axes.models import AccessAttempt

    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        username = credentials.get(field)
    else:
        username = getattr(request, "data", None) or request.POST
        username = username.get(field)
    if not isinstance(username, str):
        return username
    return username.replace("\x00", "")[: AccessAttempt._meta.get_field("username").max_length]
