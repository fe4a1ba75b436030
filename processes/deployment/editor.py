"""The office's pages for a matter's tree of plan items before dispatch: the tree itself (read
only for everyone else who may see the matter), editing, adding, splitting, moving, merging and
deleting an item, and importing items from a work plan (.txt, .docx or pasted text) or a task
table (.xlsx, previewed with its unmatched unit names to resolve before anything is written).

Every change goes through the services (processes.deployment.services), which lock the matter,
check that the user is its office and audit the change; their refusals are shown as messages.
Edits answer with a redirect; imports also carry a one-time form token, so that a second click
adds nothing twice. Everything works without JavaScript.

A task table's preview is a round trip: the uploaded workbook is kept as a file under
``VAR_DIR/task-tables`` (named by a random key, listed in the user's session, removed when
imported or discarded and pruned after KEEP) and read again when the import is confirmed, with
the column mapping and the units the user chose for the names that matched none."""
import re
import secrets
import time
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from openpyxl.utils import get_column_letter

from workflow.cases import selectors
from workflow.cases.engine import available_actions
from workflow.kernel import tokens
from workflow.kernel.errors import ActionError, AlreadySubmitted
from workflow.models import Unit
from workflow.web.bounds import within_key_range
from workflow.web.http import actor_for, not_found

from . import duties, services
from .forms import (AddItemForm, ItemForm, MappingForm, MoveForm, PlanFileForm, PlanTextForm, ResolveForm,
                    SplitForm, TableFileForm)
from .intake import readers
from .intake.task_table import TableRefused, check_file, norm, read_grid, read_task_table
from .models import MatterCase, PlanItem

PREVIEW_ROWS = 300      # rows of a task table shown in its preview (all are imported)
HINT_ROWS = 4           # first rows whose values show a column when the columns are chosen by hand
PENDING_MAX = 5         # task tables one session may keep waiting for confirmation
KEEP = 6 * 3600         # seconds a waiting task table is kept
PENDING = "deployment_task_tables"
KEY = re.compile(r"[0-9a-f]{32}")


# Who may do what -----------------------------------------------------------------------------------
def _matter(request, pk) -> MatterCase:
    """The matter, if the user may see it; else a 404 with a denied-access event."""
    matter = None
    if within_key_range(pk):
        matter = MatterCase.objects.visible_to(request.user).select_related("unit").filter(pk=pk).first()
    if matter is None:
        not_found(request, "case", pk)
    return matter


def may_edit(user, matter) -> bool:
    return services.is_office(user, matter) and matter.status in services.EDITABLE


def _office_item(request, pk, item):
    """For a page that changes one item: (matter, item, None), or (matter, None, the response
    that refuses it) when the matter's items are closed to edits or the item is gone or sent."""
    matter = _office_matter(request, pk)
    if not may_edit(request.user, matter):
        return matter, None, _closed(request, matter)
    row = _editable_item(request, matter, item)
    return matter, row, None if row is not None else _items_page(matter, item)


def _office_matter(request, pk) -> MatterCase:
    """The matter for a page that changes it: others who may see it are refused (403)."""
    matter = _matter(request, pk)
    if not services.is_office(request.user, matter):
        raise PermissionDenied(_("Only the office that registered the matter edits its items."))
    return matter


def _items_page(matter, item=None):
    url = reverse("matter:items", args=[matter.pk])
    return redirect(f"{url}#item-{item}" if item else url)


def _closed(request, matter):
    """The answer to an edit of a matter past editing: back to the tree, saying why."""
    messages.error(request, _("The matter's items can no longer be changed."))
    return _items_page(matter)


def _editable_item(request, matter, item_pk) -> PlanItem | None:
    """The matter's item not yet dispatched; None (with a message) when it has been."""
    item = matter.plan_items.filter(pk=item_pk).first() if within_key_range(item_pk) else None
    if item is None:
        raise Http404(_("No such item."))
    if item.dispatched_at is not None:
        messages.error(request, _("This item has been dispatched; it can no longer be changed."))
        return None
    return item


def _run(request, call, success: str) -> bool:
    """Call a service; show its refusal or `success` as a message. True when it went through."""
    try:
        call()
    except ActionError as exc:
        messages.error(request, exc.message)
        return False
    messages.success(request, success)
    return True


# The tree --------------------------------------------------------------------------------------------
@login_required
def items(request, pk):
    """The matter's tree of items, indented by level: for the office, each item not yet
    dispatched with its edits, and the dispatch; for everyone else who may see it, read only."""
    matter = _matter(request, pk)
    editable = may_edit(request.user, matter)
    units = Unit.objects.only("pk", "name").order_by("path")
    rows = list(matter.plan_items.order_by("position").prefetch_related(
        Prefetch("units", queryset=units), Prefetch("co_units", queryset=units)))
    for index, row in enumerate(rows):
        before = rows[index - 1] if index else None
        row.may_change = editable and row.dispatched_at is None
        row.may_out = row.level > 1
        row.may_in = before is not None and row.level <= before.level
        row.may_merge = before is not None and before.dispatched_at is None
    waiting = [row for row in rows if row.dispatched_at is None]
    return render(request, "deployment/editor.html", {
        "matter": matter, "rows": rows, "may_edit": editable, "is_office": services.is_office(request.user, matter),
        "waiting": len(waiting), "ready": sum(1 for row in waiting if row.units.all()),
        "may_dispatch": editable and "dispatch" in available_actions(matter, request.user),
        "dispatch_token": tokens.new(), "add_form": AddItemForm(),
    })


@login_required
def item_edit(request, pk, item):
    """Edit one item: its title, text, deadline, target, cadence and units, with the units its
    text suggests by their duties."""
    matter, row, refused = _office_item(request, pk, item)
    if refused is not None:
        return refused
    units = selectors.target_units(request.user)
    suggestions = duties.suggest(row.text or row.title, units)
    initial = {"title": row.title, "text": row.text, "deadline": row.deadline, "target": row.target,
               "cadence": row.cadence, "units": [u.pk for u in row.units.all()],
               "co_units": [u.pk for u in row.co_units.all()]}
    if request.GET.get("suggested") == "1":  # tick the suggested units beside those already chosen
        initial["units"] = list(dict.fromkeys(initial["units"] + [s.unit.pk for s in suggestions]))
    form = ItemForm(request.POST or None, initial=initial, units=units)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_item(matter.pk, row.pk, actor=actor_for(request), title=data["title"], text=data["text"],
                                 deadline=data["deadline"], target=data["target"], cadence=data["cadence"],
                                 units=list(data["units"]), co_units=list(data["co_units"]))
        except ActionError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Item %(item)s saved.") % {"item": data["title"]})
            return _items_page(matter, row.pk)
    return render(request, "deployment/editor_item.html", {
        "matter": matter, "item": row, "form": form, "suggestions": suggestions,
    })


@login_required
def item_split(request, pk, item):
    """Split an item after one of its sentences: the rest becomes a new item after it."""
    matter, row, refused = _office_item(request, pk, item)
    if refused is not None:
        return refused
    form = SplitForm(request.POST or None, text=row.text or "")
    if request.method == "POST" and form.is_valid():
        if _run(request, lambda: services.split(matter.pk, row.pk, actor=actor_for(request),
                                                at=form.cleaned_data["at"]), _("The item was split in two.")):
            return _items_page(matter, row.pk)
    return render(request, "deployment/editor_split.html", {"matter": matter, "item": row, "form": form})


@login_required
def item_delete(request, pk, item):
    """Ask, then delete an item with the items under it."""
    matter, row, refused = _office_item(request, pk, item)
    if refused is not None:
        return refused
    if request.method == "POST":
        _run(request, lambda: services.delete_item(matter.pk, row.pk, actor=actor_for(request)),
             _("Item %(item)s deleted.") % {"item": row})
        return _items_page(matter)
    below = []
    for other in matter.plan_items.filter(position__gt=row.position).order_by("position"):
        if other.level <= row.level:
            break
        below.append(other)
    return render(request, "deployment/editor_delete.html", {"matter": matter, "item": row, "below": below})


@login_required
@require_POST
def item_move(request, pk, item):
    """Move an item, with the items under it, one level in or out."""
    matter = _office_matter(request, pk)
    row = _editable_item(request, matter, item)
    form = MoveForm(request.POST)
    if row is None:
        return _items_page(matter, item)
    if not form.is_valid():
        messages.error(request, _("Unknown change."))
        return _items_page(matter, item)
    _run(request, lambda: services.relevel(matter.pk, row.pk, actor=actor_for(request), by=form.by()),
         _("The item was moved one level in.") if form.by() > 0 else _("The item was moved one level out."))
    return _items_page(matter, item)


@login_required
@require_POST
def item_merge(request, pk, item):
    """Join an item into the one before it."""
    matter = _office_matter(request, pk)
    row = _editable_item(request, matter, item)
    if row is not None:
        _run(request, lambda: services.merge_with_previous(matter.pk, row.pk, actor=actor_for(request)),
             _("The item was merged into the one before it."))
    return _items_page(matter)


@login_required
@require_POST
def item_add(request, pk):
    """A new item at the end of the tree."""
    matter = _office_matter(request, pk)
    form = AddItemForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return _items_page(matter)
    try:
        added = services.add_item(matter.pk, actor=actor_for(request), title=form.cleaned_data["title"],
                                  text=form.cleaned_data["text"])
    except ActionError as exc:
        messages.error(request, exc.message)
        return _items_page(matter)
    messages.success(request, _("Item %(item)s added.") % {"item": added.title})
    return _items_page(matter, added.pk)


# Importing a work plan -------------------------------------------------------------------------------
@login_required
def import_page(request, pk):
    """Add items from a work plan (a .txt or .docx file, or pasted text), or start a task
    table's import (its preview)."""
    matter = _office_matter(request, pk)
    if not may_edit(request.user, matter):
        return _closed(request, matter)
    file_form = text_form = None
    if request.method == "POST":
        source = request.POST.get("source")
        if source == "file":
            file_form = PlanFileForm(request.POST, request.FILES)
            form, read = file_form, lambda: _plan_file(request, matter, file_form)
        elif source == "text":
            text_form = PlanTextForm(request.POST)
            form, read = text_form, lambda: services.import_plan(
                matter.pk, actor=actor_for(request), text=text_form.cleaned_data["text"],
                token=tokens.posted(request))
        else:
            raise Http404(_("No such page."))
        if form.is_valid():
            try:
                count = read()
            except AlreadySubmitted as exc:
                messages.info(request, exc.message)
                return _items_page(matter)
            except readers.WorkplanRejected as exc:
                form.add_error("file", exc.message)
            except ActionError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("%(n)d items were added from the work plan.") % {"n": count})
                return _items_page(matter)
    return _import_page(request, matter, file_form=file_form, text_form=text_form)


def _import_page(request, matter, file_form=None, text_form=None, table_form=None):
    """The import page, with the forms given (bound, showing their errors) and fresh ones beside them."""
    token = tokens.new()
    return render(request, "deployment/import.html", {
        "matter": matter, "file_form": file_form or PlanFileForm(initial={"form_token": token}),
        "text_form": text_form or PlanTextForm(initial={"form_token": token}),
        "table_form": table_form or TableFileForm(),
        "plan_limit": settings.WORKPLAN_MAX_BYTES, "table_limit": settings.TASK_TABLE_MAX_BYTES,
    })


def _plan_file(request, matter, form) -> int:
    upload = form.cleaned_data["file"]
    readers.check_size(upload.size)  # refused before it is read
    return services.import_plan_file(matter.pk, actor=actor_for(request), name=upload.name, data=upload.read(),
                                     token=tokens.posted(request))


# Importing a task table ------------------------------------------------------------------------------
def _folder() -> Path:
    return Path(settings.VAR_DIR) / "task-tables"


def _prune(folder: Path):
    """Remove waiting task tables older than KEEP, whoever left them."""
    cutoff = time.time() - KEEP
    for old in folder.glob("*.xlsx"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except FileNotFoundError:
            continue


def _keep(request, matter, name: str, data: bytes) -> str:
    """Keep an uploaded task table until it is confirmed; returns its key."""
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    _prune(folder)
    waiting = dict(request.session.get(PENDING, {}))
    while len(waiting) >= PENDING_MAX:  # the oldest goes
        oldest = next(iter(waiting))
        _drop_file(request, oldest)
        waiting.pop(oldest)
    key = secrets.token_hex(16)
    (folder / f"{request.user.pk}-{key}.xlsx").write_bytes(data)
    waiting[key] = {"matter": matter.pk, "name": name[:100]}
    request.session[PENDING] = waiting
    return key


def _drop_file(request, key: str):
    (_folder() / f"{request.user.pk}-{key}.xlsx").unlink(missing_ok=True)


def _discard(request, key: str):
    _drop_file(request, key)
    waiting = dict(request.session.get(PENDING, {}))
    waiting.pop(key, None)
    request.session[PENDING] = waiting


def _waiting(request, matter, key: str) -> tuple[str, bytes] | None:
    """(file name, bytes) of the user's waiting task table `key` for this matter, or None."""
    entry = request.session.get(PENDING, {}).get(key) if KEY.fullmatch(key) else None
    if entry is None or entry.get("matter") != matter.pk:
        return None
    try:
        return entry["name"], (_folder() / f"{request.user.pk}-{key}.xlsx").read_bytes()
    except FileNotFoundError:
        return None


@login_required
@require_POST
def import_table_upload(request, pk):
    """Take a task table's upload: refused at once when hostile, else kept for its preview."""
    matter = _office_matter(request, pk)
    if not may_edit(request.user, matter):
        return _closed(request, matter)
    form = TableFileForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        data = upload.read()
        try:
            check_file(data)
        except TableRefused as exc:
            form.add_error("file", exc.message)
        else:
            key = _keep(request, matter, upload.name, data)
            return redirect("matter:import-table", pk=matter.pk, key=key)
    return _import_page(request, matter, table_form=form)


def _flat(rows, level=1):
    for row in rows:
        yield level, row
        yield from _flat(row["children"], level + 1)


def _apply(rows, chosen: dict):
    """Add the units the user chose for unmatched names to the rows that named them."""
    for row in rows:
        for part in ("lead", "co_units"):
            for entry in row[part]["unmatched"]:
                unit = chosen.get(norm(entry["name"]))
                if unit and unit not in row[part]["matched"]:
                    row[part]["matched"].append(unit)
        _apply(row["children"], chosen)


@login_required
def import_table(request, pk, key):
    """A waiting task table: its preview (rows as read, the column mapping, the unit names no
    unit matched, each to resolve) and, posted, its import."""
    matter = _office_matter(request, pk)
    if not may_edit(request.user, matter):
        return _closed(request, matter)
    waiting = _waiting(request, matter, key)
    if waiting is None:
        messages.error(request, _("This task table is no longer waiting; upload it again."))
        return redirect("matter:import", pk=matter.pk)
    name, data = waiting
    if request.method == "POST" and request.POST.get("discard"):
        _discard(request, key)
        messages.info(request, _("The task table was discarded."))
        return redirect("matter:import", pk=matter.pk)
    mapping_form = MappingForm(request.POST if request.method == "POST" else request.GET)
    mapping = mapping_form.mapping() if mapping_form.is_valid() else {}
    try:
        table = read_task_table(data, mapping=mapping, user=request.user)
    except TableRefused as exc:
        return _map_by_hand(request, matter, key, name, data, exc.message, mapping)
    units = selectors.target_units(request.user)
    resolve = ResolveForm(request.POST if request.method == "POST" else None, unmatched=table["unmatched_units"],
                          units=units, initial={"form_token": tokens.new()})
    if request.method == "POST" and resolve.is_valid():
        _apply(table["rows"], resolve.chosen())
        try:
            count = services.import_table(matter, table, actor=actor_for(request), token=tokens.posted(request))
        except AlreadySubmitted as exc:  # a second click: the first one imported it
            messages.info(request, exc.message)
            _discard(request, key)
            return _items_page(matter)
        except ActionError as exc:
            resolve.add_error(None, exc.message)
        else:
            messages.success(request, _("%(n)d items were added from the task table.") % {"n": count})
            _discard(request, key)
            return _items_page(matter)
    rows = list(_flat(table["rows"]))
    mapped = {field: spec["column"] for field, spec in table["mapping"].items()}
    return render(request, "deployment/import_preview.html", {
        "matter": matter, "key": key, "name": name, "table": table, "rows": rows[:PREVIEW_ROWS],
        "more_rows": max(0, len(rows) - PREVIEW_ROWS), "row_count": len(rows),
        "mapping": [(MappingForm.LABELS[field], spec) for field, spec in table["mapping"].items()],
        "mapping_form": MappingForm(initial={f"map_{field}": column for field, column in mapped.items()},
                                    headings={c["column"]: c["heading"] for c in table["columns"]}),
        "mapped": mapped, "resolve": resolve, "unmatched_count": len(table["unmatched_units"]),
    })


def _map_by_hand(request, matter, key, name, data, refusal: str, mapping: dict):
    """A waiting task table that could not be read as it is: if its sheet reads but its columns
    do not (no task heading, or a mapping that does not fit), the page to choose them, each
    column shown by its first values; a file that does not read at all is discarded."""
    try:
        _title, grid, _filled = read_grid(data)
    except TableRefused as exc:
        _discard(request, key)
        messages.error(request, exc.message)
        return redirect("matter:import", pk=matter.pk)
    width = max((len(row) for row in grid), default=0)
    headings = {}
    for column in range(min(width, settings.TASK_TABLE_MAX_COLUMNS)):
        values = [str(row[column]).strip() for row in grid[:HINT_ROWS] if row[column] not in (None, "")]
        if values:
            headings[get_column_letter(column + 1)] = " / ".join(dict.fromkeys(values))[:60]
    chosen = {f"map_{field}": column for field, column in mapping.items()}
    return render(request, "deployment/import_preview.html", {
        "matter": matter, "key": key, "name": name, "refusal": refusal, "table": None,
        "mapping_form": MappingForm(initial=chosen, headings=headings),
    })


urls = {"matter": [
    path("<int:pk>/items/", items, name="items"),
    path("<int:pk>/items/add/", item_add, name="item-add"),
    path("<int:pk>/items/<int:item>/edit/", item_edit, name="item-edit"),
    path("<int:pk>/items/<int:item>/split/", item_split, name="item-split"),
    path("<int:pk>/items/<int:item>/delete/", item_delete, name="item-delete"),
    path("<int:pk>/items/<int:item>/move/", item_move, name="item-move"),
    path("<int:pk>/items/<int:item>/merge/", item_merge, name="item-merge"),
    path("<int:pk>/import/", import_page, name="import"),
    path("<int:pk>/import/table/", import_table_upload, name="import-table-upload"),
    path("<int:pk>/import/table/<str:key>/", import_table, name="import-table"),
]}
