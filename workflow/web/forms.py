"""Forms built from a case type's declaration: an action's form, the new-case form and the
list's filters. The API's serializers are built from the same declarations (workflow.api)."""
from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _

from workflow.kernel.declaration import Field
from workflow.kernel.limits import COMMENT_MAX, MONEY_DIGITS, MONEY_PLACES, NOTE_MAX, SEARCH_MAX
from workflow.web.bounds import KEY_MAX, KeyChoiceField, WindowDateField
from workflow.web.unit_tree import UnitSelect, UnitTree, UnitTreeChoiceField, UnitTreeMultipleField
from workflow.models import Case, Evidence, Unit


def form_field(field: Field, units=None) -> forms.Field:
    """The Django form field of one declared input."""
    common = dict(label=field.label, required=field.required, help_text=field.help)
    if field.kind == "int":
        return forms.IntegerField(min_value=field.min_value, max_value=field.max_value, initial=field.default,
                                  **common)
    if field.kind == "date":
        return WindowDateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if field.kind == "unit":  # every unit offered, indented by depth, read in one query
        queryset = units if units is not None else Unit.objects.none()
        choice = KeyChoiceField(queryset=queryset, widget=UnitSelect(blank="---------"), **common)
        choice.widget.tree = UnitTree(queryset)
        return choice
    if field.kind == "money":
        return forms.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, min_value=0, **common)
    if field.kind == "choice":
        return forms.ChoiceField(choices=field.choices, initial=field.default, **common)
    if field.kind == "long":
        return forms.CharField(max_length=field.max_length, widget=forms.Textarea(attrs={"rows": 4}), **common)
    if field.name == "reason":
        return forms.CharField(max_length=field.max_length, widget=forms.Textarea(attrs={"rows": 3}), **common)
    return forms.CharField(max_length=field.max_length, **common)


class ActionForm(forms.Form):
    """One action's form: its declared fields and the form's one-time token."""

    form_token = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, verb, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.verb = verb
        for field in verb.fields:
            self.fields[field.name] = form_field(field, units)

    def params(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "form_token" and v not in (None, "")}


def needs_units(verb) -> bool:
    return any(f.kind == "unit" for f in verb.fields)


class CaseForm(forms.Form):
    """Open a case for one unit, or the same one for several units at once (when the type
    allows it). The type's own fields follow its declaration.

    Units are picked from the tree of the units offered (``units``, read once for every unit
    field of the form): checkboxes, or radio buttons when the type opens one case at a time.
    Every id posted must be among them, and at most ``UNITS_MAX`` at once."""

    units = UnitTreeMultipleField(label=_("Responsible units"), queryset=Unit.objects.none())
    form_token = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, spec, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.spec = spec
        create = spec.create
        if units is not None:
            self.fields["units"].queryset = units
        if not create.many:
            self.fields["units"] = UnitTreeChoiceField(label=_("Responsible unit"),
                                                       queryset=self.fields["units"].queryset)
        for field in create.fields:
            self.fields[field.name] = form_field(field)
        if spec.parties is not None:
            self.fields["co_units"] = UnitTreeMultipleField(
                label=spec.parties.label or _("Co-units"), required=False, queryset=self.fields["units"].queryset,
                help_text=_("Units that work on the case beside the lead unit."))
        tree = UnitTree(self.fields["units"].queryset)
        if create.own_unit:
            del self.fields["units"]  # kept in the opener's own unit
        for name in ("units", "co_units"):
            if name in self.fields:
                self.fields[name].widget.tree = tree
        if spec.parent is not None:
            self.fields["parent"] = forms.IntegerField(required=spec.parent.required, min_value=1, max_value=KEY_MAX,
                                                       widget=forms.HiddenInput)
        if create.then:
            self.fields["issue_now"] = forms.BooleanField(label=_("Issue now (otherwise save as a draft)"),
                                                          required=False, initial=True)

    def chosen_units(self) -> list:
        if self.spec.create.own_unit:
            return []  # the opener's own unit (services.open_cases)
        units = self.cleaned_data["units"]
        return list(units) if self.spec.create.many else [units]

    def case_fields(self) -> dict:
        values = {f.name: self.cleaned_data[f.name] for f in self.spec.create.fields
                  if self.cleaned_data.get(f.name) is not None}
        if self.cleaned_data.get("co_units"):
            values["co_units"] = list(self.cleaned_data["co_units"])
        return values

    def clean(self):
        data = super().clean()
        many = self.spec.create.many and not self.spec.create.own_unit and len(data.get("units") or ()) > 1
        if many and self.spec.create.then and not data.get("issue_now"):
            raise forms.ValidationError(_("A problem sent to several units is issued at once; tick “Issue now”."))
        return data


class CommentForm(forms.Form):
    body = forms.CharField(label=_("Comment"), max_length=COMMENT_MAX, widget=forms.Textarea(attrs={"rows": 2}))


class EvidenceNoteForm(forms.Form):
    """The note that goes with uploaded files (the files themselves are checked by workflow.evidence)."""

    note = forms.CharField(label=_("Note"), max_length=NOTE_MAX, required=False)
    stage = forms.ChoiceField(label=_("Photo stage"), choices=Evidence.Stage.choices, required=False,
                              initial=Evidence.Stage.OTHER)


def choice_filters(spec, model) -> list[tuple[str, models.Field]]:
    """The model fields with choices that the type offers as list filters."""
    return [(name, model._meta.get_field(name)) for name in spec.list_filters]


class SeenUnitMixin:
    """A form whose ``unit`` is the id of one of ``self.units`` (those the user may see): the unit
    itself once cleaned; an unseen one is refused and kept in ``unseen_unit``, for the caller's
    audited 404."""

    unseen_unit = None

    def clean_unit(self):
        pk = self.cleaned_data.get("unit")
        if pk is None:
            return None
        unit = self.units.filter(pk=pk).first()
        if unit is None:
            self.unseen_unit = pk
            raise forms.ValidationError(_("No such unit, or you may not see it."))
        return unit


class FilterForm(SeenUnitMixin, forms.Form):
    """The case list's filters (also those of the ledger and the list's documents).

    ``unit`` is read as a number first, then looked up among the units the user may see: a
    number that names no such unit sets ``unseen_unit``, so the caller can answer as for a
    unit that does not exist (a 404 with a denied-access event).

    A type that declares a parent also takes ``under``: the cases below one case (those whose
    parent or top case it is), kept as a hidden field so that it survives the other filters
    and paging. The case is looked up among those the user may see, like the unit: one that
    is not sets ``unseen_case``."""

    status = forms.ChoiceField(label=_("State"), required=False)
    unit = forms.IntegerField(label=_("Unit"), required=False, min_value=1, max_value=KEY_MAX,
                               widget=UnitSelect(blank=_("All units")))
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    date_from = WindowDateField(label=_("Opened from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = WindowDateField(label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(label=_("Search"), required=False, max_length=SEARCH_MAX)

    def __init__(self, *args, spec, model, units, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.units = units
        self.user = user
        self.unseen_unit = None
        self.unseen_case = None
        self.fields["status"].choices = [("", _("All states"))] + spec.state_choices()
        # The type's own choice filters go after the state, in the declared order.
        ordered = {}
        labels = {field.name: field.label for field in (spec.create.fields if spec.create else ())}
        for name, value in self.fields.items():
            ordered[name] = value
            if name == "unit":
                for key, model_field in choice_filters(spec, model):
                    ordered[key] = forms.ChoiceField(
                        label=labels.get(key) or model_field.verbose_name.capitalize(), required=False,
                        choices=[("", _("All"))] + list(model_field.choices))
        self.fields = ordered
        # Every unit the user may see is offered, indented by depth (one query, when the list
        # is drawn); a unit's cases include those of the units below it.
        self.fields["unit"].widget.tree = UnitTree(units if user is not None else Unit.objects.none())
        if spec.parent is not None:
            self.fields["under"] = forms.IntegerField(label=_("Under the case"), required=False, min_value=1,
                                                      max_value=KEY_MAX, widget=forms.HiddenInput)

    def clean_under(self):
        pk = self.cleaned_data.get("under")
        if pk is None:
            return None
        case = None
        if self.user is not None:
            case = Case.objects.visible_to(self.user).filter(pk=pk).first()
        if case is None:
            self.unseen_case = pk
            raise forms.ValidationError(_("No such case, or you may not see it."))
        return case
