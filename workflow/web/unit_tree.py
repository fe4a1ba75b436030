"""The unit tree as the pages offer it: the new-case form's picker (checkboxes or radio buttons
nested by parent) and the case list's unit filter (a select indented by depth).

A tree is read in one query, whatever the number of units, and rendered once in Python: at a
provincial bureau a user may see thousands of units, and neither a query per unit nor a
template per option is affordable. The markup works without JavaScript (a plain nested list of
checkboxes); ``static/js/unit-picker.js`` adds the search, collapsible branches and the chips of
the chosen units.
"""
from dataclasses import dataclass, field

from django import forms
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflow.web.bounds import KeyChoiceField, KeyMultipleChoiceField

INDENT = "\u3000"  # an ideographic space per level of depth in a select

# How many units one new-case form may name at once: each gets its own case in one transaction.
UNITS_MAX = 500


@dataclass
class Node:
    pk: int
    name: str
    depth: int
    children: list = field(default_factory=list)


class UnitTree:
    """The units of a queryset as a forest: a unit whose parent is not in the set is a root.
    Read lazily, once, on first use."""

    def __init__(self, units):
        self.units = units
        self._roots = None
        self._count = 0

    def _read(self):
        if self._roots is None:
            nodes, roots = {}, []
            rows = self.units.order_by("path").values_list("pk", "name", "parent_id")
            for pk, name, parent_id in rows:  # by path: a parent always comes before its children
                parent = nodes.get(parent_id)
                node = Node(pk, name, parent.depth + 1 if parent else 0)
                (parent.children if parent else roots).append(node)
                nodes[pk] = node
            self._roots, self._count = roots, len(nodes)
        return self._roots

    @property
    def roots(self) -> list[Node]:
        return self._read()

    def __len__(self):
        self._read()
        return self._count

    def walk(self):
        """Every node, parents before children (depth first, in path order)."""
        stack = list(reversed(self.roots))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


def _chosen(value) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, (list, tuple, set)):
        return {str(v) for v in value}
    return {str(value)}


class UnitTreeWidget(forms.Widget):
    """Checkboxes (or radio buttons, for one unit) nested as the unit tree: one ``<ul>`` per
    branch, each input inside its label. Without JavaScript it is a plain list of checkboxes."""

    is_unit_tree = True
    use_fieldset = True

    def __init__(self, multiple=True, attrs=None):
        super().__init__(attrs)
        self.multiple = multiple
        self.tree = None
        self.choices = ()

    def value_from_datadict(self, data, files, name):
        if self.multiple:
            getter = getattr(data, "getlist", None)
            return getter(name) if getter else data.get(name)
        return data.get(name)

    def value_omitted_from_data(self, data, files, name):
        return False  # an unticked box sends nothing

    def id_for_label(self, id_):
        return ""  # the group is named by its legend, each box by its own label

    def render(self, name, value, attrs=None, renderer=None):
        chosen = _chosen(value)
        kind = "checkbox" if self.multiple else "radio"
        tree = self.tree
        out = []
        # One string per unit, joined at the end: a template per option would cost seconds.
        def branch(nodes):
            out.append("<ul>")
            for node in nodes:
                checked = " checked" if str(node.pk) in chosen else ""
                label = escape(node.name)
                out.append(f'<li><label><input type="{kind}" name="{name}" value="{node.pk}"{checked}> {label}</label>')
                if node.children:
                    branch(node.children)
                out.append("</li>")
            out.append("</ul>")

        roots = tree.roots if tree is not None else []
        if roots:
            branch(roots)
            out[0] = '<ul class="unit-tree">'
        else:
            out.append(format_html('<p class="muted">{}</p>', _("There is no unit below yours to send a case to.")))
        count = len(tree) if tree is not None else 0
        tools = format_html(
            '<div class="picker-tools" hidden>'
            '<label class="picker-search">{search}<input type="search" autocomplete="off" data-picker-search '
            'placeholder="{placeholder}"></label>'
            '<p class="picker-status" aria-live="polite"><span data-picker-count></span>'
            '<span class="picker-nomatch" data-picker-nomatch hidden>{nomatch}</span></p>'
            '<ul class="picker-chips" data-picker-chips aria-label="{chosen}"></ul>'
            '</div>',
            search=_("Find a unit"), placeholder=_("Type part of a unit's name"),
            nomatch=_("No unit matches."), chosen=_("Chosen units"))
        data = format_html(
            ' data-multiple="{multiple}" data-max="{max}" data-units="{count}" data-count-text="{count_text}"'
            ' data-over-text="{over}" data-remove-text="{remove}" data-all-text="{all}" data-none-text="{none}"'
            ' data-all-short="{all_short}" data-none-short="{none_short}"'
            ' data-expand-text="{expand}" data-collapse-text="{collapse}"',
            multiple="1" if self.multiple else "", max=UNITS_MAX if self.multiple else 1, count=count,
            count_text=_("Chosen: %(n)s units") if self.multiple else _("Chosen: %(n)s unit"),
            over=_("At most %(max)s units at once; send the rest in another batch.") % {"max": UNITS_MAX},
            remove=_("Remove %(name)s"), all=_("Select all under %(name)s"),
            none=_("Clear all under %(name)s"), all_short=_("Select all below"), none_short=_("Clear all below"), expand=_("Show units under %(name)s"),
            collapse=_("Hide units under %(name)s"))
        return mark_safe(f'<div class="unit-picker" data-unit-picker{data}>{tools}{"".join(out)}</div>')


class UnitTreeMultipleField(KeyMultipleChoiceField):
    """Several units from the tree; every id must be among the offered units, at most UNITS_MAX."""

    widget = UnitTreeWidget

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("error_messages", {})
        kwargs["error_messages"] = {
            "invalid_choice": gettext_lazy("Cases can only be sent to units under your own."),
            "invalid_pk_value": gettext_lazy("Cases can only be sent to units under your own."),
            **kwargs["error_messages"]}
        super().__init__(*args, **kwargs)

    def clean(self, value):
        if isinstance(value, (list, tuple)) and len(value) > UNITS_MAX:
            raise forms.ValidationError(
                gettext_lazy("At most %(max)s units at once; send the rest in another batch."),
                code="too_many", params={"max": UNITS_MAX})
        return super().clean(value)


class UnitTreeChoiceField(KeyChoiceField):
    """One unit from the tree (radio buttons)."""

    def __init__(self, *args, **kwargs):
        kwargs["error_messages"] = {
            "invalid_choice": gettext_lazy("Cases can only be sent to units under your own."),
            **kwargs.get("error_messages", {})}
        kwargs.setdefault("widget", UnitTreeWidget(multiple=False))
        super().__init__(*args, **kwargs)


class UnitSelect(forms.Select):
    """A select of every unit in the tree, indented by depth (the case list's filter)."""

    def __init__(self, attrs=None, blank=""):
        super().__init__(attrs)
        self.tree = None
        self.blank = blank

    def render(self, name, value, attrs=None, renderer=None):
        chosen = _chosen(value)
        attrs = self.build_attrs(self.attrs, attrs)
        opening = format_html('<select name="{}"{}>', name, mark_safe(forms.utils.flatatt(attrs)))
        out = [opening, format_html('<option value="">{}</option>', self.blank)]
        for node in (self.tree.walk() if self.tree is not None else ()):
            selected = " selected" if str(node.pk) in chosen else ""
            out.append(f'<option value="{node.pk}"{selected}>{INDENT * node.depth}{escape(node.name)}</option>')
        out.append("</select>")
        return mark_safe("".join(out))
