"""The forms of the office's pages for a matter's tree of items (processes.deployment.editor):
editing, adding and splitting an item, moving it a level, and the imports of a work plan or a
task table. Every value is bounded here before a service sees it."""
import re

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from openpyxl.utils import get_column_letter

from workflow.models import Unit
from workflow.web.bounds import WindowDateField
from workflow.web.unit_tree import INDENT, UnitTree, UnitTreeMultipleField

from .declaration import Cadence
from .intake.task_table import FIELDS, norm
from .services import TITLE_MAX

TEXT_MAX = 20_000      # an item's full text
TARGET_MAX = 500
PLAN_TEXT_MAX = 200_000  # a pasted work plan, as the matter's own full text
NAME_MAX = 200           # an uploaded file's name as kept


class ItemForm(forms.Form):
    """An item's title, text, deadline, target, cadence and the units it goes to, picked from the
    units below the office's own."""

    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX)
    text = forms.CharField(label=_("Full text of the item"), max_length=TEXT_MAX, required=False,
                           widget=forms.Textarea(attrs={"rows": 6}))
    deadline = WindowDateField(label=_("Deadline"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
                               help_text=_("Needed before the item is dispatched."))
    target = forms.CharField(label=_("Target"), max_length=TARGET_MAX, required=False)
    cadence = forms.ChoiceField(label=_("Progress reports"), choices=Cadence.choices)
    units = UnitTreeMultipleField(label=_("Receiving units"), queryset=Unit.objects.none(), required=False,
                                  help_text=_("Each receiving unit gets its own item."))
    co_units = UnitTreeMultipleField(label=_("Co-units"), queryset=Unit.objects.none(), required=False,
                                     help_text=_("Units that work on the item beside each receiving unit."))

    def __init__(self, *args, units, **kwargs):
        super().__init__(*args, **kwargs)
        tree = UnitTree(units)
        for name in ("units", "co_units"):
            self.fields[name].queryset = units
            self.fields[name].widget.tree = tree

    def clean(self):
        data = super().clean()
        units, co_units = set(data.get("units") or ()), set(data.get("co_units") or ())
        if units & co_units:
            self.add_error("co_units", _("The lead unit cannot also be a co-unit."))
        return data


class AddItemForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX)
    text = forms.CharField(label=_("Full text of the item"), max_length=TEXT_MAX, required=False,
                           widget=forms.Textarea(attrs={"rows": 3}))


class MoveForm(forms.Form):
    """One level in (under the item before it) or out."""

    direction = forms.ChoiceField(choices=[("in", _("In")), ("out", _("Out"))])

    def by(self) -> int:
        return 1 if self.cleaned_data["direction"] == "in" else -1


# Where a text may be split: after the marks that end a sentence or a clause, and line breaks.
BOUNDARY = re.compile(r"[。；;！？!?]+[”’」』）)]*|\n+")


def sentences(text: str) -> list[tuple[int, str]]:
    """The text cut after each sentence or clause: (offset just after the piece, piece), every
    piece but the last, which has nothing after it to split off."""
    pieces, start = [], 0
    for match in BOUNDARY.finditer(text):
        end = match.end()
        if text[start:end].strip() and text[end:].strip():
            pieces.append((end, text[start:end].strip()))
            start = end
    return pieces


class SplitForm(forms.Form):
    """Split after one of the text's sentences: the rest becomes a new item after it."""

    at = forms.TypedChoiceField(label=_("Split after"), coerce=int, widget=forms.RadioSelect)

    def __init__(self, *args, text: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["at"].choices = [(offset, piece) for offset, piece in sentences(text)]


class PlanFileForm(forms.Form):
    file = forms.FileField(label=_("Work plan (.txt or .docx)"), max_length=NAME_MAX)
    form_token = forms.CharField(widget=forms.HiddenInput, required=False)


class PlanTextForm(forms.Form):
    text = forms.CharField(label=_("Text of the work plan"), max_length=PLAN_TEXT_MAX,
                           widget=forms.Textarea(attrs={"rows": 10}))
    form_token = forms.CharField(widget=forms.HiddenInput, required=False)


class TableFileForm(forms.Form):
    file = forms.FileField(label=_("Task table (.xlsx)"), max_length=NAME_MAX)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.TASK_TABLE_MAX_BYTES:  # refused before it is read
            raise forms.ValidationError(_("The task table is larger than %(mb)d MB; please split it.")
                                        % {"mb": settings.TASK_TABLE_MAX_BYTES // (1024 * 1024)})
        return upload


class MappingForm(forms.Form):
    """Which column holds each field of a task table, overriding the headings' guess: a column
    letter within the widest table allowed (labelled with its heading where the table has one),
    or empty for the guess."""

    LABELS = {"number": _("Number"), "task": _("Task"), "lead": _("Lead unit"), "co_units": _("Co-units"),
              "deadline": _("Deadline"), "target": _("Target"), "note": _("Note")}

    def __init__(self, *args, headings=None, **kwargs):
        super().__init__(*args, **kwargs)
        letters = [get_column_letter(n) for n in range(1, settings.TASK_TABLE_MAX_COLUMNS + 1)]
        if headings is not None:  # shown: the headed columns, and any column already mapped
            mapped = set(self.initial.values())
            letters = [letter for letter in letters if letter in headings or letter in mapped]
        headings = headings or {}
        choices = [("", _("As guessed"))] + [
            (letter, f"{letter} · {headings[letter][:40]}" if letter in headings else letter) for letter in letters]
        for name in FIELDS:
            self.fields[f"map_{name}"] = forms.ChoiceField(label=self.LABELS[name], choices=choices, required=False)

    def mapping(self) -> dict:
        return {name[4:]: value for name, value in self.cleaned_data.items() if value}


UNIT_CHOICES_MAX = 300  # units offered for a name with no candidate; more, and it is chosen on the item


class ResolveForm(forms.Form):
    """For each unit name the table named but no unit matched: one of its candidates, or, for a
    name with none, one of the units below the office's own (when they are few enough to list),
    or left out. Only units below the office's own are offered."""

    form_token = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, unmatched, units, **kwargs):
        super().__init__(*args, **kwargs)
        self.unmatched = unmatched
        allowed = set(units.values_list("pk", flat=True))
        every = None
        for index, entry in enumerate(unmatched):
            candidates = [(c["id"], c["name"]) for c in entry.get("candidates", ()) if c["id"] in allowed]
            if not candidates:
                if every is None:
                    every = ([(node.pk, INDENT * node.depth + node.name) for node in UnitTree(units).walk()]
                             if len(allowed) <= UNIT_CHOICES_MAX else [])
                candidates = every
            field = forms.TypedChoiceField(label=entry["name"], coerce=int, required=False, empty_value=None,
                                           choices=[("", _("Leave out"))] + candidates)
            field.has_candidates = bool(entry.get("candidates"))
            self.fields[f"unit_{index}"] = field

    def rows(self):
        """(unmatched entry, its bound field), for the page."""
        return [(entry, self[f"unit_{index}"]) for index, entry in enumerate(self.unmatched)]

    def chosen(self) -> dict:
        """{unit name as compared (task_table.norm): unit id} for the names the user resolved."""
        return {norm(entry["name"]): self.cleaned_data[f"unit_{index}"] for index, entry in enumerate(self.unmatched)
                if self.cleaned_data.get(f"unit_{index}")}
