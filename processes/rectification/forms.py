"""Forms for rectification cases and the metadata of each action's form."""
from dataclasses import dataclass

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from workflow.forms import KEY_MAX, KeyChoiceField, KeyMultipleChoiceField, WindowDateField
from workflow.models import Unit

from .models import Source, State

# Lengths of what people type, shared by the web forms and the API's serializers.
TITLE_MAX = 200
BASIS_MAX = 200
TEXT_MAX = 10000      # problem description, rectification requirements
REASON_MAX = 5000     # the reason or opinion given with an action
COMMENT_MAX = 5000
NOTE_MAX = 200        # the note on an evidence file
SEARCH_MAX = 100


@dataclass(frozen=True)
class ActionSpec:
    label: str
    reason: str = ""          # label of the reason field; empty means no reason field
    reason_required: bool = False
    extra: tuple[str, ...] = ()
    style: str = "primary"


ACTIONS = {
    "issue": ActionSpec(_("Issue to the unit")),
    "discard": ActionSpec(_("Discard the draft"), _("Note"), style="danger"),
    "sign": ActionSpec(_("Sign for the case")),
    "refuse": ActionSpec(_("Wrongly addressed: ask to change the unit"), _("Why is this case not ours?"), True, style="danger"),
    "reassign": ActionSpec(_("Send to another unit"), _("Note"), extra=("unit",)),
    "reject_refusal": ActionSpec(_("Keep the unit responsible"), _("Reason"), True, style="danger"),
    "report_progress": ActionSpec(_("Report progress"), _("Progress so far"), True, style="secondary"),
    "submit": ActionSpec(_("Submit the rectification report"), _("What was rectified"), True),
    "head_approve": ActionSpec(_("Approve and send up"), _("Opinion")),
    "head_reject": ActionSpec(_("Send back to the handler"), _("Reason"), True, style="danger"),
    "start_review": ActionSpec(_("Start reviewing"), style="secondary"),
    "accept": ActionSpec(_("Accept the rectification"), _("Review opinion")),
    "return_case": ActionSpec(_("Return for more rectification"), _("Reasons for returning"), True, style="danger"),
    "accept_long_term": ActionSpec(_("Accept as long-term rectification"), _("Why it continues"), True,
                                   extra=("report_every_days",), style="secondary"),
    "sign_off": ActionSpec(_("Sign off and close the case"), _("Sign-off opinion")),
    "reject_sign_off": ActionSpec(_("Do not sign off: back to review"), _("Reason"), True, style="danger"),
    "request_extension": ActionSpec(_("Request an extension"), _("Reason for the extension"), True,
                                    extra=("new_deadline",), style="secondary"),
    "approve_extension": ActionSpec(_("Approve the extension"), _("Opinion")),
    "reject_extension": ActionSpec(_("Reject the extension"), _("Reason"), True, style="danger"),
    "request_cancel": ActionSpec(_("Propose cancelling the case"), _("Reason for cancelling"), True, style="danger"),
    "approve_cancel": ActionSpec(_("Approve the cancellation"), _("Opinion"), style="danger"),
    "reject_cancel": ActionSpec(_("Reject the cancellation"), _("Reason"), True),
}
# Labels for timeline entries that are not transitions.
EVENT_LABELS = {
    "create": _("Case opened"), "upload_evidence": _("Evidence uploaded"), "comment": _("Comment"),
    **{name: spec.label for name, spec in ACTIONS.items()},
}


class ActionForm(forms.Form):
    """One action's form: an optional reason plus the action's own fields."""

    form_token = forms.CharField(widget=forms.HiddenInput, required=False)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=REASON_MAX)
    new_deadline = WindowDateField(label=_("New deadline"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))
    unit = KeyChoiceField(label=_("New unit"), queryset=Unit.objects.none(), required=False)
    report_every_days = forms.IntegerField(label=_("Report progress every (days)"), min_value=1, max_value=365,
                                           required=False, initial=30)

    def __init__(self, *args, spec: ActionSpec, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.spec = spec
        if spec.reason:
            self.fields["reason"].label = spec.reason
            self.fields["reason"].required = spec.reason_required
        else:
            del self.fields["reason"]
        for name in ("new_deadline", "unit", "report_every_days"):
            if name not in spec.extra:
                del self.fields[name]
            else:
                self.fields[name].required = True
        if "unit" in self.fields and units is not None:
            self.fields["unit"].queryset = units

    def params(self):
        data = {k: v for k, v in self.cleaned_data.items() if k != "form_token" and v not in (None, "")}
        return data


class CaseForm(forms.Form):
    """Open a case for one unit, or the same problem for several units at once."""

    units = KeyMultipleChoiceField(label=_("Responsible units"), queryset=Unit.objects.none(),
                                   widget=forms.SelectMultiple(attrs={"size": 8}))
    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX)
    source = forms.ChoiceField(label=_("Source"), choices=Source.choices)
    basis = forms.CharField(label=_("Basis"), max_length=BASIS_MAX, required=False,
                            help_text=_("e.g. the inspection or audit this problem came from"))
    description = forms.CharField(label=_("Problem description"), max_length=TEXT_MAX,
                                  widget=forms.Textarea(attrs={"rows": 5}))
    requirement = forms.CharField(label=_("Rectification requirements"), max_length=TEXT_MAX,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    deadline_days = forms.IntegerField(label=_("Working days allowed"), min_value=1, max_value=365, initial=10)
    issue_now = forms.BooleanField(label=_("Issue now (otherwise save as a draft)"), required=False, initial=True)
    form_token = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        if units is not None:
            self.fields["units"].queryset = units

    def clean(self):
        data = super().clean()
        if len(data.get("units") or ()) > 1 and not data.get("issue_now"):
            raise forms.ValidationError(_("A problem sent to several units is issued at once; tick “Issue now”."))
        return data


class CommentForm(forms.Form):
    body = forms.CharField(label=_("Comment"), max_length=COMMENT_MAX, widget=forms.Textarea(attrs={"rows": 2}))


class EvidenceNoteForm(forms.Form):
    """The note that goes with uploaded files (the files themselves are checked by workflow.evidence)."""

    note = forms.CharField(label=_("Note"), max_length=NOTE_MAX, required=False)


class FilterForm(forms.Form):
    """The case list's filters (also those of the ledger and the bulletin).

    ``unit`` is read as a number first, then looked up among the units the user may see: a
    number that names no such unit sets ``unseen_unit``, so the caller can answer as for a
    unit that does not exist (a 404 with a denied-access event)."""

    status = forms.ChoiceField(label=_("State"), choices=[("", _("All states"))] + list(State.choices), required=False)
    unit = forms.IntegerField(label=_("Unit"), required=False, min_value=1, max_value=KEY_MAX, widget=forms.Select)
    source = forms.ChoiceField(label=_("Source"), choices=[("", _("All sources"))] + list(Source.choices),
                               required=False)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    date_from = WindowDateField(label=_("Opened from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = WindowDateField(label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(label=_("Search"), required=False, max_length=SEARCH_MAX)

    def __init__(self, *args, units, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.units = units
        self.unseen_unit = None
        # Any visible unit is a valid filter (its whole subtree is listed), but the menu
        # offers the user's own unit and the units directly below it, not thousands.
        menu = []
        if user is not None and user.unit_id:
            menu = units.filter(Q(pk=user.unit_id) | Q(parent_id=user.unit_id)).order_by("path")
        self.fields["unit"].widget.choices = [("", _("All units"))] + [(u.pk, u.name) for u in menu]

    def clean_unit(self):
        pk = self.cleaned_data.get("unit")
        if pk is None:
            return None
        unit = self.units.filter(pk=pk).first()
        if unit is None:
            self.unseen_unit = pk
            raise forms.ValidationError(_("No such unit, or you may not see it."))
        return unit
