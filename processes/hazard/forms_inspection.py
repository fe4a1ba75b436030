"""The forms of the checklist-inspection pages: the list's filters, starting an inspection, and
filling one in (each item's result, note and photo, and the summary on submitting). Every value
a request brings passes one of them, with its bounds, before a service sees it."""
import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from workflow.cases import evidence
from workflow.cases.selectors import target_units
from workflow.kernel import rules
from workflow.kernel.limits import COMMENT_MAX
from workflow.web.bounds import KeyChoiceField
from workflow.web.unit_tree import UnitSelect, UnitTree

from .models import CHECKLIST, Inspection, InspectionKind, Result

INSPECTORS_MAX = 200
NOTE_MAX = 500
SUMMARY_MAX = 5000
# An item's inputs are named by its position: r12 (result), n12 (note), p12 (photo).
ITEM_FIELD = re.compile(r"^([rnp])(\d{1,9})$")
LOOSE_ITEM_FIELD = re.compile(r"^[rnp]\d+$")

PHOTO_EXTENSIONS = frozenset(ext for ext, (kind, _family) in evidence.ALLOWED.items() if kind.startswith("image/"))
NOTE_TOO_LONG = _("A note has at most %(limit_value)d characters (it has %(show_value)d).")
TAB_INSPECTION, TAB_SELF = "inspection", "self"


class InspectionFilter(forms.Form):
    """The list's filters: the regulator's inspections or the units' self-inspections (two
    tabs), the kind of a regulator's inspection, and the state."""

    tab = forms.ChoiceField(required=False, widget=forms.HiddenInput,
                            choices=[(TAB_INSPECTION, _("Supervisory inspections")),
                                     (TAB_SELF, _("Self-inspections"))])
    kind = forms.ChoiceField(label=_("Kind of inspection"), required=False,
                             choices=[("", _("All")), (InspectionKind.SCHEDULED, InspectionKind.SCHEDULED.label),
                                      (InspectionKind.UNANNOUNCED, InspectionKind.UNANNOUNCED.label)])
    status = forms.ChoiceField(label=_("State"), required=False,
                               choices=[("", _("All states")), *Inspection.Status.choices])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.tab == TAB_SELF:
            del self.fields["kind"]  # a self-inspection has one kind

    @property
    def tab(self) -> str:
        value = self.data.get("tab") if self.is_bound else None
        return TAB_SELF if value == TAB_SELF else TAB_INSPECTION

    def apply(self, inspections):
        """The inspections of the tab, narrowed by the filters that are valid."""
        if self.tab == TAB_SELF:
            inspections = inspections.filter(kind=InspectionKind.SELF)
        else:
            inspections = inspections.exclude(kind=InspectionKind.SELF)
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("kind"):
            inspections = inspections.filter(kind=data["kind"])
        if data.get("status"):
            inspections = inspections.filter(status=data["status"])
        return inspections


def checklist_choices(on=None) -> list:
    """The checklists in force, each shown by its title and version."""
    return [(r.name, f"{r.title}（{r.version}）") for r in rules.all_in_force(CHECKLIST, on)]


class StartForm(forms.Form):
    """Start an inspection. An inspector picks a unit below their own and the kind (scheduled,
    or unannounced 四不两直); a unit's handler or head starts a self-inspection of their own
    unit (no unit, no kind)."""

    form_token = forms.CharField(widget=forms.HiddenInput, required=False)
    unit = KeyChoiceField(label=_("Inspected unit"), queryset=None, widget=UnitSelect(blank="---------"),
                          error_messages={"required": _("Choose the unit to inspect."),
                                          "invalid_choice": _("No such unit, or you may not inspect it.")})
    checklist = forms.ChoiceField(label=_("Checklist"),
                                  error_messages={"required": _("Choose a checklist."),
                                                  "invalid_choice": _("No such checklist is in force.")})
    kind = forms.ChoiceField(label=_("Kind of inspection"), widget=forms.RadioSelect,
                             initial=InspectionKind.UNANNOUNCED,
                             choices=[(InspectionKind.UNANNOUNCED, InspectionKind.UNANNOUNCED.label),
                                      (InspectionKind.SCHEDULED, InspectionKind.SCHEDULED.label)],
                             error_messages={"required": _("Choose the kind of inspection."),
                                             "invalid_choice": _("Unknown kind of inspection.")})
    inspectors = forms.CharField(label=_("Inspectors"), required=False, max_length=INSPECTORS_MAX,
                                 help_text=_("The names of those inspecting; your own name if left empty."))

    def __init__(self, *args, user, self_inspection: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.self_inspection = self_inspection
        self.fields["checklist"].choices = [("", "---------"), *checklist_choices()]
        if self_inspection:
            del self.fields["unit"], self.fields["kind"]
        else:
            units = target_units(user)
            self.fields["unit"].queryset = units
            self.fields["unit"].widget.tree = UnitTree(units)

    def start_kwargs(self, user) -> dict:
        data = self.cleaned_data
        if self.self_inspection:
            return dict(unit=user.unit, checklist=data["checklist"], kind=InspectionKind.SELF,
                        inspectors=data["inspectors"])
        return dict(unit=data["unit"], checklist=data["checklist"], kind=data["kind"],
                    inspectors=data["inspectors"])


def check_photo(upload):
    """A photo for a checklist item: an image that passes the evidence checks (content, size).
    The file is read here and rewound for the upload that follows."""
    if upload is None:
        return None
    name = evidence.clean_display_name(upload.name or "")
    if name.rpartition(".")[2].lower() not in PHOTO_EXTENSIONS:
        raise ValidationError(_("Only photos (JPG, PNG, GIF, WebP) may be added to a checklist item."))
    try:
        checked = evidence.inspect_upload(upload)
    except evidence.EvidenceRejected as exc:
        raise ValidationError(exc.message)
    finally:
        upload.seek(0)
    if not checked.content_type.startswith("image/"):
        raise ValidationError(_("Only photos (JPG, PNG, GIF, WebP) may be added to a checklist item."))
    return upload


class FillForm(forms.Form):
    """The whole checklist in one form: each item's result (pass, fail, not applicable or not yet),
    note and photo, named by the item's position; and the summary, used on submitting. Inputs
    for positions not on the checklist are refused, not ignored."""

    form_token = forms.CharField(widget=forms.HiddenInput, required=False)
    summary = forms.CharField(label=_("Summary of the inspection"), required=False, max_length=SUMMARY_MAX,
                              widget=forms.Textarea(attrs={"rows": 5}))

    def __init__(self, *args, answers, **kwargs):
        super().__init__(*args, **kwargs)
        self.answers = list(answers)
        self.positions = {a.position for a in self.answers}
        for a in self.answers:
            self.fields[f"r{a.position}"] = forms.ChoiceField(
                label=_("Result"), required=False, initial=a.result, widget=forms.RadioSelect,
                choices=[(Result.PASS, Result.PASS.label), (Result.FAIL, Result.FAIL.label),
                         (Result.NA, Result.NA.label)],
                error_messages={"invalid_choice": _("Unknown answer: choose pass, fail or not applicable.")})
            self.fields[f"n{a.position}"] = forms.CharField(
                label=_("Note"), required=False, initial=a.note, max_length=NOTE_MAX,
                error_messages={"max_length": NOTE_TOO_LONG})
            self.fields[f"p{a.position}"] = forms.FileField(
                label=_("Photo"), required=False,
                widget=forms.FileInput(attrs={"accept": "image/*", "capture": "environment"}))
        self.fields["summary"].error_messages["max_length"] = _(
            "The summary has at most %(limit_value)d characters (it has %(show_value)d).")

    def clean(self):
        data = super().clean()
        posted = [*self.data.keys(), *self.files.keys()]
        foreign = [key for key in posted if LOOSE_ITEM_FIELD.match(key)
                   and (not ITEM_FIELD.match(key) or int(key[1:]) not in self.positions)]
        if foreign:
            raise ValidationError(_("No such item on this checklist."), code="foreign_item")
        for position in self.positions:
            name = f"p{position}"
            if data.get(name) is not None:
                try:
                    check_photo(data[name])
                except ValidationError as exc:
                    self.add_error(name, exc)
        return data

    def answer_values(self) -> dict:
        """{position: (result, note)} for services.answer."""
        return {a.position: (self.cleaned_data.get(f"r{a.position}") or "",
                             (self.cleaned_data.get(f"n{a.position}") or "").strip())
                for a in self.answers}

    def photos(self) -> list:
        """[(answer, upload)] for the items a photo came with."""
        return [(a, self.cleaned_data[f"p{a.position}"]) for a in self.answers
                if self.cleaned_data.get(f"p{a.position}") is not None]

    def item(self, answer) -> dict:
        """The bound fields of one item, for the template."""
        return {"result": self[f"r{answer.position}"], "note": self[f"n{answer.position}"],
                "photo": self[f"p{answer.position}"]}
