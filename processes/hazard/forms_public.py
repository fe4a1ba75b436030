"""Forms of the reports from outside: the public form (with its captcha), the grid member's,
the query page's, and the inspectors' take-up and decline. Every field is bounded here; the
services check the same bounds again."""
from captcha.fields import CaptchaField, CaptchaTextInput
from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from workflow.web.bounds import KeyChoiceField
from workflow.web.unit_tree import UnitTree, UnitTreeChoiceField

from . import services_reports as reports
from .declaration import Category

PHOTO_TYPES = "image/jpeg,image/png,image/gif,image/webp,.jpg,.jpeg,.png,.gif,.webp"


class MultiplePhotoInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Up to PUBLIC_PHOTOS_MAX files; each is checked by the service (size, type, content)."""

    widget = MultiplePhotoInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.widget.attrs.update({"accept": PHOTO_TYPES, "multiple": True})

    def clean(self, data, initial=None):
        uploads = [f for f in (data if isinstance(data, (list, tuple)) else [data]) if f]
        if len(uploads) > settings.PUBLIC_PHOTOS_MAX:
            raise forms.ValidationError(_("At most %(n)d photos.") % {"n": settings.PUBLIC_PHOTOS_MAX})
        return uploads  # each is checked by the service before anything is stored (413 when too large)


def _photos_help():
    return _("Optional. At most %(n)d photos (JPG, PNG, GIF or WebP), each at most %(limit)s.") % {
        "n": settings.PUBLIC_PHOTOS_MAX, "limit": filesizeformat(settings.PUBLIC_PHOTO_MAX_BYTES)}


class GridReportForm(forms.Form):
    """What a report says: where, the institution or place, the category, what was seen, a
    contact and photos."""

    place = forms.CharField(label=_("Where is it"), max_length=reports.PLACE_MAX,
                            help_text=_("Address, building, floor or room"),
                            error_messages={"required": _("Please say where the hazard is.")})
    subject = forms.CharField(label=_("Institution or place name"), max_length=reports.SUBJECT_MAX, required=False,
                              help_text=_("Optional, e.g. the name of an elderly-care home"))
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices, initial=Category.FIRE)
    description = forms.CharField(label=_("What did you see"), max_length=reports.DESCRIPTION_MAX,
                                  widget=forms.Textarea(attrs={"rows": 6}),
                                  error_messages={"required": _("Please describe what you saw.")})
    contact = forms.CharField(label=_("Contact (optional)"), max_length=reports.CONTACT_MAX, required=False,
                              help_text=_("A phone number or another way to reach you, if you wish. Only the "
                                          "bureau handling the report sees it."))
    photos = PhotosField(label=_("Photos"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["photos"].help_text = _photos_help()

    def report_fields(self) -> dict:
        data = self.cleaned_data
        return {name: data[name] for name in ("place", "subject", "category", "description", "contact")}


class PublicReportForm(GridReportForm):
    """The public form: the bureau to report to first, a captcha last."""

    field_order = ["unit", "place", "subject", "category", "description", "contact", "photos", "captcha"]

    unit = KeyChoiceField(label=_("Report to"), queryset=reports.bureaus(), empty_label=_("Choose a bureau"),
                          error_messages={"required": _("Choose the bureau to report to."),
                                          "invalid_choice": _("Choose the bureau to report to.")})
    captcha = CaptchaField(label=_("Characters in the picture"), widget=CaptchaTextInput(attrs={"maxlength": 20}),
                           help_text=_("Type the characters shown in the picture (not case-sensitive)."),
                           error_messages={"invalid": _("The characters do not match the picture; please try "
                                                        "the new picture."),
                                           "required": _("Please type the characters in the picture.")})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = reports.bureaus()


class QueryForm(forms.Form):
    code = forms.CharField(label=_("Query code"), max_length=40,
                           help_text=_("The twelve characters you were given, e.g. ABCD-EFGH-JKMN"),
                           error_messages={"required": _("Please enter the query code.")})


class TakeUpForm(forms.Form):
    """受理: the unit the hazard case is opened at, below the inspector's own."""

    unit = UnitTreeChoiceField(label=_("Unit responsible"), queryset=None)
    reply = forms.CharField(label=_("Reply to the reporter (optional)"), max_length=reports.REPLY_MAX,
                            required=False, widget=forms.Textarea(attrs={"rows": 3}),
                            help_text=_("Shown to the reporter on the query page."))
    form_token = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, units, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units
        self.fields["unit"].widget.tree = UnitTree(units)


class DeclineForm(forms.Form):
    """不予受理, with the reply the reporter reads."""

    reply = forms.CharField(label=_("Reply to the reporter"), max_length=reports.REPLY_MAX,
                            widget=forms.Textarea(attrs={"rows": 3}),
                            help_text=_("Why it is not taken up. Shown to the reporter on the query page."),
                            error_messages={"required": _("Please write the reply to the reporter.")})
