"""The vocabulary a process declares its case types in (see docs/platform.md).

A case type is a ``CaseType`` subclass holding data only: its states, who waits in each,
its actions with their roles, conditions and form fields, its side requests and their
approval chains, who is told at each rung of the ladder, its list filters, ledger columns,
documents and menu entry. The engine, the pages, the API and the ledger read it; nothing in
``workflow/`` names a process, one of its states or one of its roles' chains.

What an action does to the case stays a plain model method of the action's name; the model
binds its declaration with ``class XCase(Case, case_type=X)``, which turns each declared
action into a django-fsm-2 transition and adds the side requests' methods.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from workflow.kernel.limits import REASON_MAX, TEXT_MAX, TITLE_MAX

# Places: which unit of the case a role is held in ------------------------------------------------


@dataclass(frozen=True)
class Place:
    """Units named relative to the case: its responsible (lead) unit, its supervising unit, or
    its co-units whose part is not done yet."""

    name: str

    def unit_ids(self, case) -> list[int]:
        if self.name == "unit":
            return [case.unit_id]
        if self.name == "supervisor":
            return [case.supervisor_unit_id]
        if self.name == "co_units":
            return [party.unit_id for party in case.open_parties()]
        raise ValueError(f"unknown place {self.name!r}")


UNIT = Place("unit")
SUPERVISOR = Place("supervisor")
CO_UNITS = Place("co_units")


@dataclass(frozen=True)
class At:
    """The user holds `role` in a unit at `place` of the case. Callable as a permission."""

    role: str
    place: Place

    def __call__(self, case, user) -> bool:
        if getattr(user, "role", None) != self.role:
            return False
        return user.unit_id in self.place.unit_ids(case)

    def unit_ids(self, case) -> list[int]:
        return self.place.unit_ids(case)


def at(role: str, place: Place) -> At:
    return At(str(role), place)


# Tasks held by named people rather than a role: viewflow's owner_permission says "named" and
# the unit column holds the person's user id (see workflow.flows.Wait).
NAMED_ROLE = "named"


@dataclass(frozen=True)
class Named:
    """The people a case names in a relation of its own (an acceptance team, the inspectors
    drawn for it): `relation` is a method of the case model returning their user ids.
    Callable as a permission, like ``At``."""

    relation: str
    role: str = NAMED_ROLE

    def user_ids(self, case) -> list[int]:
        return list(getattr(case, self.relation)())

    def __call__(self, case, user) -> bool:
        return getattr(user, "pk", None) in self.user_ids(case) and case.seen_by(user)

    def unit_ids(self, case) -> list[int]:
        """For a wait, the people's ids stand where a role's unit ids stand: those of the
        people named who see the case. Someone named from outside its units' scope (or whose
        account is closed) holds no task and is told nothing, as they could not open it."""
        from workflow.models import User

        named = self.user_ids(case)
        if not named:
            return []
        people = {user.pk: user for user in User.objects.filter(pk__in=named, is_active=True).select_related("unit")}
        return [pk for pk in named if pk in people and case.seen_by(people[pk])]


# Conditions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """A condition on the case (django-fsm's `conditions`), with why it fails, for the user."""

    test: Callable
    unavailable: str = ""

    def __call__(self, case) -> bool:
        return bool(self.test(case))


def not_in(*states: str) -> Condition:
    return Condition(lambda case: case.status not in states)


def children_done(case) -> bool:
    """Every child case has ended (counted over the parent and phase index)."""
    return not case.open_children().exists()


def parts_done(case) -> bool:
    """Every co-unit has reported its part done."""
    return not case.open_parties()


before_deadline = Condition(lambda case: case.deadline is None or timezone.localdate() <= case.deadline)


# Fields of an action's form ---------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One input of an action. Forms and API serializers are built from these, so the bounds
    and labels are written once. `name` is the keyword the model method receives."""

    name: str
    label: str
    required: bool = True
    kind: str = "text"            # text | long | int | date | choice | unit | money
    max_length: int = REASON_MAX
    min_value: int | None = None
    max_value: int | None = None
    default: object = None
    choices: tuple = ()
    help: str = ""
    missing: str = ""             # what a required field that was left empty says; a generic text if empty


def Reason(label, required: bool = False, missing: str = "") -> Field:  # noqa: N802 - reads as a field kind
    """The reason or opinion given with an action (empty allowed unless required)."""
    return Field("reason", label, required=required, kind="text", max_length=REASON_MAX, missing=missing)


def Text(name: str, label, max_length: int = TITLE_MAX, required: bool = True, help: str = "") -> Field:  # noqa: N802
    return Field(name, label, required=required, kind="text", max_length=max_length, help=help)


def Long(name: str, label, max_length: int = TEXT_MAX, required: bool = True) -> Field:  # noqa: N802
    """A text of several lines (a description, requirements)."""
    return Field(name, label, required=required, kind="long", max_length=max_length)


def Choice(name: str, label, choices, default=None, required: bool = True) -> Field:  # noqa: N802
    return Field(name, label, required=required, kind="choice", choices=tuple(choices), default=default)


def Int(name: str, label, min_value: int, max_value: int, default: int | None = None) -> Field:  # noqa: N802
    return Field(name, label, kind="int", min_value=min_value, max_value=max_value, default=default)


def Date(name: str, label, required: bool = True) -> Field:  # noqa: N802
    return Field(name, label, required=required, kind="date")


def Money(name: str, label, required: bool = True, help: str = "") -> Field:  # noqa: N802
    """An amount of money in yuan: a Decimal with two places, not negative, under MONEY_MAX."""
    return Field(name, label, required=required, kind="money", help=help)


def UnitPick(name: str, label) -> Field:  # noqa: N802
    """A unit below the user's own unit (the units the user may send cases to)."""
    return Field(name, label, kind="unit")


# States, tasks, actions, side requests ----------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """A viewflow human-task node; `node` is the name stored in viewflow's Task.flow_task."""

    node: str
    title: str
    who: At | Named


@dataclass(frozen=True)
class State:
    name: str
    label: str
    waits: tuple[Task, ...] = ()
    end: str = ""                 # "" open; "done" or "cancelled": terminal, and the process's status
    ladder: bool = False          # the deadline binds the responsible unit: the rungs run
    uploads: bool = False         # the unit may add evidence
    unit_sees: bool = True        # False: a draft its unit does not see yet

    @property
    def phase(self) -> str:
        if self.end:
            return self.end
        return "open" if self.unit_sees else "draft"


@dataclass(frozen=True)
class Action:
    """One transition; the model method of the same name does the work.

    `source` is a state name, a tuple of them, or "*" (any state); `target` None keeps the
    state. `who` is a permission: an ``At`` or a rule combining them. An action may be
    declared twice with other sources and targets."""

    name: str
    source: str | tuple[str, ...]
    target: str | None
    who: Callable
    label: str
    fields: tuple[Field, ...] = ()
    when: tuple[Condition, ...] = ()
    style: str = "primary"        # primary | danger (the step's negative one) | secondary (folded away)
    help: str = ""                # a line under the button: what it does, e.g. why an optional one exists


@dataclass(frozen=True)
class Verb:
    """The label, form fields, style and help line of one of a side request's three actions
    (and, derived, of each action: ``CaseType.verbs``)."""

    label: str
    fields: tuple[Field, ...] = ()
    style: str = "primary"
    help: str = ""


@dataclass(frozen=True)
class NewDeadline:
    """A granted request moves the deadline to the requested date (field ``new_deadline``)."""

    field: str = "new_deadline"


@dataclass(frozen=True)
class GoTo:
    """A granted request moves the case to `state` (a terminal one closes the case)."""

    state: str


@dataclass(frozen=True)
class SideRequest:
    """A request on the side of the flow that a chain of people approve in turn.

    Generates the actions ``request_<kind>``, ``approve_<kind>`` and ``reject_<kind>``.
    Asking and rejecting need a reason (declare it required in `ask` and `reject`)."""

    kind: str
    label: str
    asked_by: At
    chain: tuple[At, ...]
    ask: Verb
    approve: Verb
    reject: Verb
    source: str | tuple[str, ...] = "*"
    when: tuple[Condition, ...] = ()
    grant: NewDeadline | GoTo | None = None
    unavailable: str = ""

    def step(self, index: int) -> At | None:
        return self.chain[index] if 0 <= index < len(self.chain) else None

    @property
    def ask_name(self) -> str:
        return f"request_{self.kind}"

    @property
    def approve_name(self) -> str:
        return f"approve_{self.kind}"

    @property
    def reject_name(self) -> str:
        return f"reject_{self.kind}"


def Cancellation(asked_by, chain, to: str, *, when=(), unavailable="") -> SideRequest:  # noqa: N802
    """The request to cancel a case most types share: proposed with a reason by `asked_by`,
    approved along `chain`, granted by moving to the state `to`."""
    return SideRequest(
        "cancel", _("Cancellation"), asked_by=asked_by, chain=tuple(chain),
        ask=Verb(_("Propose cancelling the case"),
                 (Reason(_("Reason for cancelling"), True, _("Please give the reason for cancelling.")),), "danger"),
        approve=Verb(_("Approve the cancellation"), (Reason(_("Opinion")),), "danger"),
        reject=Verb(_("Reject the cancellation"), (Reason(_("Reason"), True, _("Please give the reason for rejecting.")),)),
        when=tuple(when), grant=GoTo(to), unavailable=unavailable)


@dataclass(frozen=True)
class Ladder:
    """Who is told at each rung (Rung → (At, ...)) and which rungs leave a proposal (Rung → kind)."""

    told: dict = field(default_factory=dict)
    proposals: dict = field(default_factory=dict)


# Pages, ledger, documents, menu -----------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of the Excel ledger: a header, what it reads, and its width.

    `value` is a database path (``"unit__name"``, read with values_list) or a callable taking
    the row's dict of `reads` and today, for computed cells."""

    header: str
    value: str | Callable
    width: int = 14
    reads: tuple[str, ...] = ()


def overdue(row, today) -> str:
    """Ledger cell: 是 for an open case past its deadline (reads phase and deadline)."""
    late = row["phase"] not in ("done", "cancelled") and row["deadline"] is not None and row["deadline"] < today
    return "是" if late else "否"


def closed_on(row, today):
    """Ledger cell: the day a case was closed, for a case that is done (reads phase and closed_at)."""
    if row["phase"] != "done" or row["closed_at"] is None:
        return None
    value = row["closed_at"]
    return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()


@dataclass(frozen=True)
class Ledger:
    title: str
    columns: tuple[Column, ...]
    filename: str = ""            # the download's name before the date; the title if empty


@dataclass(frozen=True)
class Parent:
    """The type's cases may be children of cases of `types` (a plan's items). With `required`,
    a case of this type is always opened under a parent; its deadline never passes the
    parent's. With `by_its_unit`, only people of the parent's own unit open cases under it
    (each level passes its own case down)."""

    types: tuple[str, ...]
    required: bool = False
    by_its_unit: bool = False     # children are opened only from within the parent's own unit (level by level)


@dataclass(frozen=True)
class Parties:
    """The type's cases have co-units beside their lead unit, chosen when the case is opened."""

    label: str = ""


@dataclass(frozen=True)
class Create:
    """Who opens cases of the type and with which fields.

    `role` is the opener's role (held in the opener's own unit); cases go to units below
    the opener's, or, with `own_unit`, stay in the opener's unit. `fields` name model fields, in form order; `many` lets one form open the
    same case for several units at once (each is issued at once, through `then`)."""

    role: str
    fields: tuple[Field, ...]
    then: str = ""                # the action run right after creation ("issue"), optional for one unit
    many: bool = True
    denied: str = ""              # why someone else may not
    service: str = ""             # dotted path of the process's own opener; the platform's by default
    own_unit: bool = False        # the case is kept in the opener's own unit (a register): no unit is chosen


@dataclass(frozen=True)
class MenuLink:
    """A page of the process's own in the type's menu entry: its URL name in the type's
    namespace, its label, and the roles it is offered to (everyone's if empty)."""

    name: str
    label: str
    roles: tuple[str, ...] = ()

    def allows(self, user) -> bool:
        return not self.roles or getattr(user, "role", None) in self.roles


@dataclass(frozen=True)
class Menu:
    """The type's entry in the top bar, its new-case link, the titles of its list and
    new-case pages (the type's label by default), and the process's own pages beside them."""

    label: str
    new: str = ""
    list_title: str = ""
    new_title: str = ""
    pages: tuple[MenuLink, ...] = ()


@dataclass(frozen=True)
class PageDocument:
    """A download offered on a case page (of one case) or on the case list (of the filtered
    list). `name` is its URL name in the type's namespace, served by the process's own view."""

    name: str
    title: str
    ready: Callable | None = None     # (case) -> bool: whether a case's document exists yet
    roles: tuple[str, ...] = ()       # who may download it; everyone who sees the page if empty

    def allows(self, user) -> bool:
        return not self.roles or getattr(user, "role", None) in self.roles

    def is_ready(self, case) -> bool:
        return self.ready is None or bool(self.ready(case))


class CaseType:
    """A case type's declaration. Subclass and set the attributes; nothing here runs a case."""

    key: str = ""
    label: str = ""
    initial: str = ""
    number_prefix: str = ""
    # A model field the cases are known by once set (a document number), at the top of their page
    # and in their list; else by the case number.
    number_field: str = ""
    states: tuple[State, ...] = ()
    actions: tuple[Action, ...] = ()
    requests: tuple[SideRequest, ...] = ()
    ladder: Ladder | None = None
    parent: Parent | None = None
    parties: Parties | None = None
    uploader: At | None = None
    create: Create | None = None
    list_filters: tuple[str, ...] = ()       # model fields with choices offered as list filters
    list_columns: tuple[str, ...] = ()       # model fields shown in the list and the API's rows
    detail_fields: tuple[str, ...] = ()      # model fields shown on the case page and in the API
    ledger: Ledger | None = None
    documents: tuple[PageDocument, ...] = ()
    list_documents: tuple[PageDocument, ...] = ()
    panels: tuple[str, ...] = ()             # templates of the type's own sections of the case page
    prefetch: tuple[str, ...] = ()           # what the panels read, prefetched with the case
    menu: Menu | None = None
    event_labels: dict = {}                  # labels of the type's own audit events

    # Derived, filled by `prepare` ---------------------------------------------------------------
    state_map: dict[str, State] = {}
    verbs: dict[str, Verb] = {}

    @classmethod
    def prepare(cls):
        cls.state_map = {s.name: s for s in cls.states}
        verbs = {}
        for action in cls.actions:
            verbs.setdefault(action.name, Verb(action.label, action.fields, action.style, action.help))
        for req in cls.requests:
            verbs[req.ask_name] = req.ask
            verbs[req.approve_name] = req.approve
            verbs[req.reject_name] = req.reject
        cls.verbs = verbs

    @classmethod
    def state(cls, name: str) -> State | None:
        return cls.state_map.get(name)

    @classmethod
    def state_label(cls, name: str) -> str:
        state = cls.state_map.get(name)
        return str(state.label) if state else name

    @classmethod
    def state_choices(cls) -> list[tuple[str, str]]:
        return [(s.name, s.label) for s in cls.states]

    @classmethod
    def phase_of(cls, status: str) -> str:
        state = cls.state_map.get(status)
        return state.phase if state else "open"

    @classmethod
    def states_where(cls, test) -> tuple[str, ...]:
        return tuple(s.name for s in cls.states if test(s))

    @classmethod
    def side_request(cls, kind: str) -> SideRequest | None:
        return next((r for r in cls.requests if r.kind == kind), None)

    @classmethod
    def opened_by(cls, user) -> bool:
        """Whether the user opens cases of this type: the declared role, with a unit."""
        return (cls.create is not None and getattr(user, "role", None) == cls.create.role
                and getattr(user, "unit_id", None) is not None)

    @classmethod
    def facts(cls, case) -> list[tuple[str, object]]:
        """The type's own short facts on the case page, (label, value): by default its
        ``detail_fields`` that are not long texts, left out when empty, zero or unset."""
        return [(label, value) for label, value, long in cls._detail(case) if not long]

    @classmethod
    def description_label(cls) -> str:
        """What the case's description is called: the label of the opener's ``description`` field."""
        declared = next((f for f in cls.create.fields if f.name == "description"), None) if cls.create else None
        return declared.label if declared else _("Problem description")

    @classmethod
    def counts_working_days(cls) -> bool:
        """Whether the type's deadline is counted in working days (its opener asks for them)."""
        return cls.create is not None and any(f.name == "deadline_days" for f in cls.create.fields)

    @classmethod
    def texts(cls, case) -> list[tuple[str, str]]:
        """The type's own long texts on the case page (its ``detail_fields`` that are text)."""
        return [(label, value) for label, value, long in cls._detail(case) if long]

    @classmethod
    def _detail(cls, case):
        for name in cls.detail_fields:
            field = case._meta.get_field(name)
            value = getattr(case, f"get_{name}_display")() if field.choices else getattr(case, name)
            if value in (None, "", 0, False):
                continue
            if isinstance(value, date) and not isinstance(value, datetime):
                value = value.isoformat()  # a day, shown as one (the page formats times)
            yield field.verbose_name.capitalize(), value, field.get_internal_type() == "TextField"

    @classmethod
    def event_label(cls, action: str) -> str:
        verb = cls.verbs.get(action)
        if verb is not None:
            return verb.label
        return cls.event_labels.get(action) or EVENT_LABELS.get(action, action)


# Labels of the events every case has, beside its actions.
EVENT_LABELS = {
    "create": _("Case opened"), "upload_evidence": _("Evidence uploaded"), "comment": _("Comment"),
}
