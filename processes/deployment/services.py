"""督办事项's own writes beside the platform's: registering a matter with its number, turning a
parsed plan or task table into plan items, editing them before dispatch, and dispatching them
as item cases (in bulk, under the matter or, passed down, under an item)."""
from contextlib import contextmanager
from datetime import date

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from workflow.cases import engine
from workflow.cases.selectors import target_units
from workflow.cases.services import check_target, open_cases
from workflow.documents.archive import next_number
from workflow.kernel import unit_settings
from workflow.kernel.errors import ActionError
from workflow.models import Role
from workflow.trail import audit

from .declaration import Cadence, SourceKind
from .intake import readers
from .intake.workplan import parse
from .models import ItemCase, MatterCase, PlanItem

TITLE_MAX = 200
EDITABLE = ("registered", "dispatched")  # a matter's items may be edited until it is reported


def document_kind(kind: str) -> str:
    """The numbered document kind of a source kind (its 机关代字 is the unit setting doc_code.<this>)."""
    return f"matter_{kind}"


# Registering --------------------------------------------------------------------------------------
def register(*, actor, units=(), token: str = "", issue: bool = False, parent=None, co_units=(), **fields):
    """Register a matter in the office's own unit, numbered per kind of source and office for
    the year (督办〔2026〕12号); its text becomes the tree of plan items. One transaction: a
    registration that fails gives its number back."""
    kind = fields.get("kind") or SourceKind.PLAN
    if kind not in SourceKind.values:
        raise ActionError(_("Unknown source."))
    if kind == SourceKind.HOTLINE and not (fields.get("hotline_ticket") or "").strip():
        raise ActionError(_("A hotline ticket needs the hotline's own ticket number."))
    today = timezone.localdate()
    source_date = fields.get("source_date")
    if isinstance(source_date, date) and source_date > today:
        raise ActionError(_("The date of the source cannot be in the future."))
    office = actor.user.unit
    with transaction.atomic():
        code, numbering = unit_settings.document_code(office, document_kind(kind), today)
        serial = next_number(numbering, document_kind(kind), today.year)
        deadline = fields.pop("hotline_deadline", None) if kind == SourceKind.HOTLINE else None
        (matter,) = open_cases(MatterCase, actor=actor, units=[], token=token,
                               extra={"doc_number": f"{code}〔{today.year}〕{serial}号", "serial": serial,
                                      "hotline_deadline": deadline, "deadline": deadline}, **fields)
        import_text(matter, matter.description, year=(source_date or today).year)
    return [matter]


def import_text(matter, text: str, year: int | None = None) -> int:
    """Parse the matter's text into plan items (appended after any it has); no text, no items."""
    if not (text or "").strip():
        return 0
    plan = parse(text, year=year)
    rows = []

    def add(item, parent):
        rows.append((item, parent))
        for child in item.children:
            add(child, item)

    for item in plan.items:
        add(item, None)
    made = {}
    start = (matter.plan_items.aggregate(last=Max("position"))["last"] or 0) + 1
    for offset, (item, parent) in enumerate(rows):
        deadline = item.deadline or {}
        made[id(item)] = PlanItem.objects.create(
            matter=matter, parent=made.get(id(parent)), position=start + offset, level=item.level,
            number=item.number[:20], title=(item.title or _("(untitled)"))[:TITLE_MAX], text=item.text,
            deadline=_date(deadline.get("date")), deadline_text=(deadline.get("text") or "")[:100],
            target="；".join(t["text"] for t in item.targets)[:500],
            cadence=_cadence(deadline))
    return len(rows)


def import_plan(matter_id, *, actor, text: str, token: str = "") -> int:
    """Add the items of a work plan's text to a matter's tree, as its office, audited and locked
    like any edit. Refused when the text holds no item."""
    with editing(matter_id, actor, "import_plan", token=token) as (matter, data):
        count = import_text(matter, text, year=(matter.source_date or timezone.localdate()).year)
        if not count:
            raise ActionError(_("No items were found in the text."))
        data.update(items=count, chars=len(text))
    return count


def import_plan_file(matter_id, *, actor, name: str, data: bytes, token: str = "") -> int:
    """Add the items of an uploaded work plan (.txt or .docx) to a matter's tree. A hostile or
    unreadable file raises intake.readers.WorkplanRejected before anything is written."""
    return import_plan(matter_id, actor=actor, text=readers.read_file(name, data), token=token)


def import_table(matter, table: dict, *, actor, token: str = "") -> int:
    """Plan items from a parsed task table (intake.task_table.read_task_table): its tasks, their
    lead units and co-units as matched, deadlines and targets. Units it could not match are
    left for the office to choose."""
    with editing(matter.pk, actor, "import_table", token=token) as (locked, change):
        start = (locked.plan_items.aggregate(last=Max("position"))["last"] or 0) + 1
        position = [start]

        def add(row, parent, level):
            deadline = row.get("deadline") or {}
            item = PlanItem.objects.create(
                matter=locked, parent=parent, position=position[0], level=level, number=(row["number"] or "")[:20],
                title=_short(row["task"]), text=row["task"], deadline=_date(deadline.get("date")),
                deadline_text=(deadline.get("text") or "")[:100], target=(row.get("target") or "")[:500],
                cadence=_cadence(deadline))
            position[0] += 1
            allowed = _targets(actor, row["lead"]["matched"] + row["co_units"]["matched"])
            item.units.set([pk for pk in row["lead"]["matched"] if pk in allowed])
            item.co_units.set([pk for pk in row["co_units"]["matched"] if pk in allowed])
            for child in row["children"]:
                add(child, item, level + 1)

        for row in table["rows"]:
            add(row, None, 1)
        change["rows"] = position[0] - start
        return position[0] - start


def _short(text: str) -> str:
    from .intake.workplan import make_title

    return (make_title(text) or text or _("(untitled)"))[:TITLE_MAX]


def _date(value):
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _cadence(deadline: dict) -> str:
    every = (deadline.get("every") or deadline.get("cadence") or "") if deadline else ""
    return Cadence.QUARTERLY if "季" in str(every) or every == "quarter" else Cadence.MONTHLY


def _targets(actor, unit_ids) -> set:
    """Of `unit_ids`, those the actor may send items to (the units below the actor's own)."""
    return set(target_units(actor.user).filter(pk__in=unit_ids).values_list("pk", flat=True))


# Editing the tree before dispatch ------------------------------------------------------------------
def is_office(user, matter) -> bool:
    """The matter's office: an inspector of the unit that keeps it, who edits its items."""
    return getattr(user, "role", None) == Role.INSPECTOR and user.unit_id == matter.unit_id


@contextmanager
def editing(matter_id: int, actor, action: str, token: str = ""):
    """Lock the matter, check that the actor is its office and that it may still be edited,
    yield (matter, data) and record one audit event with `data` on the matter's chain. A
    form's one-time `token` is claimed in the same transaction."""
    with engine.locked_case(MatterCase, matter_id, actor=actor, action=action, token=token) as matter:
        if not is_office(actor.user, matter):
            raise ActionError(_("Only the office that registered the matter edits its items."))
        if matter.status not in EDITABLE:
            raise ActionError(_("The matter's items can no longer be changed."))
        data = {}
        yield matter, data
        audit.record(action=action, user=actor.user, case=matter, ip=actor.ip, locked=True,
                     from_state=matter.status, to_state=matter.status, data=data)


def _item(matter, item_id) -> PlanItem:
    item = matter.plan_items.filter(pk=item_id).first()
    if item is None:
        raise ActionError(_("No such item."))
    if item.dispatched_at is not None:
        raise ActionError(_("This item has been dispatched; it can no longer be changed."))
    return item


def update_item(matter_id, item_id, *, actor, title, text, deadline, target, cadence, units, co_units):
    """Retitle an item and set its text, deadline, target, cadence and units."""
    if not (title or "").strip():
        raise ActionError(_("The title is empty."))
    if deadline is not None and deadline < timezone.localdate():
        raise ActionError(_("The deadline must be today or later."))
    units, co_units = list(units), list(co_units)
    if set(u.pk for u in units) & set(u.pk for u in co_units):
        raise ActionError(_("The lead unit cannot also be a co-unit."))
    for unit in units + co_units:
        check_target(actor, unit)
    with editing(matter_id, actor, "edit_item") as (matter, data):
        item = _item(matter, item_id)
        item.title, item.text, item.deadline = title.strip()[:TITLE_MAX], text, deadline
        item.target, item.cadence = target, cadence
        item.save()
        item.units.set(units)
        item.co_units.set(co_units)
        data.update(item=item.pk, title=item.title, units=[u.pk for u in units], co_units=[u.pk for u in co_units],
                    deadline=deadline.isoformat() if deadline else None)
    return item


def _locate(matter, item_id) -> tuple[list, int]:
    """The matter's items in order, and the index of the editable item `item_id` among them."""
    _item(matter, item_id)
    items = list(matter.plan_items.order_by("position"))
    return items, next(i for i, row in enumerate(items) if row.pk == int(item_id))


def _renumber(items):
    """Positions in order, and each item's parent the nearest earlier item one level up."""
    stack = []
    for position, item in enumerate(items, start=1):
        while stack and stack[-1].level >= item.level:
            stack.pop()
        item.level = min(item.level, (stack[-1].level + 1) if stack else 1)
        item.parent = stack[-1] if stack else None
        item.position = position
        stack.append(item)
    PlanItem.objects.bulk_update(items, ["position", "level", "parent"])


def relevel(matter_id, item_id, *, actor, by: int):
    """Move an item (and the items under it) one level in (+1) or out (-1)."""
    if by not in (-1, 1):
        raise ActionError(_("Unknown change."))
    with editing(matter_id, actor, "relevel_item") as (matter, data):
        items, index = _locate(matter, item_id)
        item = items[index]
        subtree = [item] + [row for row in _following_deeper(items, index)]
        new_level = item.level + by
        previous = items[index - 1] if index else None
        if new_level < 1 or (by > 0 and (previous is None or new_level > previous.level + 1)):
            raise ActionError(_("The item cannot move to that level."))
        if any(row.dispatched_at is not None for row in subtree):
            raise ActionError(_("This item has been dispatched; it can no longer be changed."))
        if by < 0:
            # Out of its parent: it goes after the parent's other items, which keep their parent.
            parent = max(i for i in range(index) if items[i].level < item.level)
            end = parent + 1 + sum(1 for _row in _following_deeper(items, parent))
            rest = items[:index] + items[index + len(subtree):]
            at = end - len(subtree)
            items = rest[:at] + subtree + rest[at:]
        for row in subtree:
            row.level += by
        _renumber(items)
        data.update(item=item.pk, level=new_level)


def _following_deeper(items, index):
    level = items[index].level
    for row in items[index + 1:]:
        if row.level <= level:
            break
        yield row


def merge_with_previous(matter_id, item_id, *, actor):
    """Join an item into the item before it: its text is appended and its children move up."""
    with editing(matter_id, actor, "merge_items") as (matter, data):
        items, index = _locate(matter, item_id)
        item = items[index]
        if index == 0:
            raise ActionError(_("The first item has nothing before it to merge into."))
        into = items[index - 1]
        if into.dispatched_at is not None:
            raise ActionError(_("The item before it has been dispatched; it can no longer be changed."))
        into.text = "\n".join(part for part in (into.text, item.text) if part)
        if not into.target and item.target:
            into.target = item.target
        children = list(_following_deeper(items, index))
        if any(row.dispatched_at is not None for row in children):
            raise ActionError(_("An item under it has been dispatched; it can no longer be changed."))
        into.save()
        for row in children:  # they become the merged item's children, at its level below
            row.level += into.level - item.level
        PlanItem.objects.filter(parent=item).update(parent=into)
        items.pop(index)
        item.delete()
        _renumber(items)
        data.update(item=into.pk, merged=item.pk)


def split(matter_id, item_id, *, actor, at: int):
    """Split an item's text at character `at`: the rest becomes a new item after it, at its level."""
    with editing(matter_id, actor, "split_item") as (matter, data):
        items, index = _locate(matter, item_id)
        item = items[index]
        text = item.text or ""
        if not 0 < at < len(text):
            raise ActionError(_("Choose where in the text to split."))
        head, rest = text[:at].rstrip(), text[at:].strip()
        if not head or not rest:
            raise ActionError(_("Both parts must have text."))
        item.text = head
        item.save()
        new = PlanItem.objects.create(matter=matter, position=item.position, level=item.level, title=_short(rest),
                                      text=rest, cadence=item.cadence, deadline=item.deadline,
                                      deadline_text=item.deadline_text)
        after = index + 1 + sum(1 for _row in _following_deeper(items, index))
        items.insert(after, new)
        _renumber(items)
        data.update(item=item.pk, new=new.pk)
    return new


def delete_item(matter_id, item_id, *, actor):
    """Remove an item not yet dispatched, with the items under it."""
    with editing(matter_id, actor, "delete_item") as (matter, data):
        items, index = _locate(matter, item_id)
        item = items[index]
        gone = [item] + list(_following_deeper(items, index))
        if any(row.dispatched_at for row in gone):
            raise ActionError(_("An item under it has been dispatched; it can no longer be removed."))
        ids = {row.pk for row in gone}
        PlanItem.objects.filter(pk__in=ids).delete()
        _renumber([row for row in items if row.pk not in ids])
        data.update(item=item.pk, title=item.title, removed=len(ids))


def add_item(matter_id, *, actor, title: str, text: str = ""):
    """A new item at the end of the tree, at the top level."""
    if not (title or "").strip():
        raise ActionError(_("The title is empty."))
    with editing(matter_id, actor, "add_item") as (matter, data):
        position = (matter.plan_items.aggregate(last=Max("position"))["last"] or 0) + 1
        item = PlanItem.objects.create(matter=matter, position=position, level=1, title=title.strip()[:TITLE_MAX],
                                       text=text or title)
        data.update(item=item.pk, title=item.title)
    return item


# Dispatch ------------------------------------------------------------------------------------------
def dispatch_items(matter, actor) -> int:
    """Open the item cases of every plan item with receiving units that is not dispatched yet,
    under the matter, inside the matter's own transition: one per receiving unit, in bulk, and
    with the item's co-units beside each. Returns how many were opened."""
    items = list(matter.plan_items.filter(dispatched_at__isnull=True).prefetch_related("units", "co_units")
                 .order_by("position"))
    ready = [item for item in items if item.units.all()]
    if not ready:
        raise ActionError(_("No item has a receiving unit yet: choose the units on each item first."))
    missing = [item for item in ready if item.deadline is None]
    if missing:
        raise ActionError(_("Item %(item)s has no deadline.") % {"item": missing[0]})
    past = [item for item in ready if item.deadline < timezone.localdate()]
    if past:
        raise ActionError(_("Item %(item)s is due on %(date)s, which has passed: give it a new deadline.")
                          % {"item": past[0], "date": past[0].deadline.isoformat()})
    now, opened = timezone.now(), 0
    for item in ready:
        units, co_units = list(item.units.all()), list(item.co_units.all())
        # Each receiving unit leads its own case; co-units join each of them (one case per lead if any).
        for leads in ([[unit] for unit in units] if co_units else [units]):
            opened += len(open_items(actor=actor, units=leads, parent=matter, plan_item=item, co_units=co_units,
                                     issue=True, title=item.title, description=item.text or item.title,
                                     target=item.target, deadline=item.deadline, cadence=item.cadence))
        item.dispatched_at = now
    PlanItem.objects.bulk_update(ready, ["dispatched_at"])
    return opened


def open_items(*, actor, units, parent=None, plan_item=None, co_units=(), issue: bool = True, token: str = "",
               bulk=None, **fields) -> list:
    """Open item cases for `units` under `parent` (a matter, or an item passed down), all or
    none: the platform's opener, with the plan item the item came from. An item passed down
    keeps its plan item (its reports and lights are found by it) and must be due before its
    parent, leaving the receiving unit time to gather the results (逐级转办)."""
    if parent is not None and parent.case_type == "item":
        plan_item = ItemCase.objects.filter(pk=parent.pk).values_list("plan_item", flat=True).first()
        if fields.get("deadline") is not None and parent.deadline is not None and fields["deadline"] >= parent.deadline:
            raise ActionError(_("An item passed down must be due before %(date)s, the item's own deadline.")
                              % {"date": parent.deadline.isoformat()})
    extra = {"plan_item_id": getattr(plan_item, "pk", plan_item)}
    return open_cases(ItemCase, actor=actor, units=units, parent=parent, co_units=co_units, issue=issue,
                      token=token, extra=extra, bulk=(len(units) > 1 and not co_units) if bulk is None else bulk,
                      **fields)
