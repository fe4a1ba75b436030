"""`manage.py bench --suite deployment`: 督办事项 at the size of a provincial work plan, each
figure against its floor — plain SQL doing the same work, timed in the same run.

1. Dispatch: a plan of 100 items, each sent to 1,000 units (100,000 item cases), through the
   real path — a matter registered by services.register, its plan items given their units by
   PlanItem.units.set, then the matter's "dispatch" action by workflow.cases.services.act, all
   in one transaction. The floor inserts the same rows (processes, case rows, item rows, two
   audit events per case, tasks, outbox rows, and the matter's own transition) on a second
   matter built the same way, in one transaction: per plan item a plain INSERT per table (on
   PostgreSQL an array per column, INSERT ... SELECT FROM UNNEST) and one INSERT ... SELECT
   for the outbox. Its audit events carry no hashes (as the write path's floor). Both are
   counted table by table: the floor must write what the real path wrote. The ratio is our
   speed over the floor's.
2. Roll-up: rollup.matter_rollup over the dispatched matter, its items' states varied by two
   UPDATEs (done, cancelled, overdue, red, yellow), against the same two aggregates (per plan
   item, and the units behind) as plain SQL; and lights.refresh_open over every open item
   against one statement (PostgreSQL) that judges and keeps the same lights, run first in a
   transaction that is rolled back. The roll-up's ratio is our time over the floor's; the
   lights', our speed over the floor's.

`--scale` scales the units (1.0 = 1,000; 0.01 = 10); the plan always has 100 items.
"""
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.utils import timezone
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import PROCESS, STATUS

from processes.deployment import lights, rollup, services
from processes.deployment.declaration import Cadence, SourceKind
from processes.deployment.models import ItemCase, ItemFlow, ItemPeriod, ItemReport, MatterCase, MatterFlow, PlanItem
from workflow.cases import services as platform
from workflow.cases.engine import Actor
from workflow.models import AuditEvent, Case, OutboxMessage, Role, Unit, User

from .measure import percentile, stopwatch, vm_kib
from .scenarios import rng
from .seed import seed_org

ITEMS, UNITS = 100, 1000
SMALLEST_UNITS = 2
# Values per INSERT statement of the floor on SQLite: below its limit.
MAX_PARAMS = 30_000
# The speed ratios have targets from this scale up (the database's on PostgreSQL only): below
# it, fixed costs (seeding statements, the first query plans) outweigh the work timed, and the
# test suite's tiny run asserts no timing.
RATIO_SCALE = 0.1
CHANNELS = "(SELECT 'in_app' AS channel UNION ALL SELECT 'email' UNION ALL SELECT 'sms')"


def long_plan(copies: int) -> str:
    """A work plan of ten parts, each of ten sections of five tasks, `copies` times over
    (about 33 pages of 700 characters a copy)."""
    section = "（{n}）加强第{n}项工作。一是落实责任，到2025年底完成100%；二是建设5个站点。" + "正文内容，" * 40 + "。\n"
    parts = []
    for top in "一二三四五六七八九十":
        parts.append(f"{top}、第{top}部分重点任务\n")
        parts.extend(section.format(n=n) + "".join(f"{k}.细化任务{k}。每季度报送进展。\n" for k in range(1, 6))
                     for n in "一二三四五六七八九十")
    return "".join(parts) * copies


def intake_growth(repeats: int = 3) -> dict:
    """Parsing a plan of about 100 pages against one of about 10 (the same text, a tenth as
    long): the time should grow with the length, not faster."""
    from processes.deployment.intake.workplan import parse

    small, large = long_plan(3)[: len(long_plan(3)) // 10], long_plan(3)
    small = small[: small.rfind("\n") + 1]
    times = {}
    for name, text in (("small", small), ("large", large)):
        runs = []
        for _ in range(repeats):
            with stopwatch() as clock:
                parse(text)
            runs.append(clock["seconds"])
        times[name] = {"characters": len(text), "seconds": round(min(runs), 4)}
    length = times["large"]["characters"] / times["small"]["characters"]
    ratio = times["large"]["seconds"] / times["small"]["seconds"]
    return {**times, "length_ratio": round(length, 1), "time_ratio": round(ratio, 1),
            "growth": round(ratio / length, 2)}


def run(scale: float, step) -> dict:
    n_units = max(SMALLEST_UNITS, round(UNITS * scale))
    out = {"suite": "deployment", "scale": scale, "vendor": connection.vendor, "items": ITEMS, "units": n_units,
           "started": timezone.now().isoformat()}
    started = time.monotonic()
    step(f"seeding {n_units:,} units under one office")
    org = seed_org(n_units + 3 + n_units // 100, 0, rng())
    units = org.leaves[:n_units]
    actor = Actor(org.one(Role.INSPECTOR, org.city))
    step(f"building two plans of {ITEMS} items × {n_units:,} units")
    ours, floor = build_plan(actor, units, "基准督办"), build_plan(actor, units, "基准督办（对照）")
    _analyze()
    step(f"dispatching {ITEMS * n_units:,} item cases: real path, then plain SQL")
    out["dispatch"] = dispatch(actor, ours, floor)
    step("varying the items' states for the roll-up")
    vary(ours)
    _analyze()
    step("roll-up")
    out["rollup"] = rollup_vs_floor(ours, repeats=10 if n_units >= 100 else 3)
    step("lights of every open item")
    out["lights"] = lights_vs_floor()
    step("parsing a work plan of about 100 pages and one of about 10")
    out["intake"] = intake_growth()
    out["seconds"] = round(time.monotonic() - started, 1)
    out["targets"] = targets(out)
    return out


def build_plan(actor, units, title) -> MatterCase:
    """A work plan registered by the office, with ITEMS plan items each sent to every unit."""
    today = timezone.localdate()
    (matter,) = services.register(actor=actor, kind=SourceKind.PLAN, title=title, source_date=today,
                                  urgency="normal", description="")
    for position in range(1, ITEMS + 1):
        item = PlanItem.objects.create(
            matter=matter, position=position, level=1, number=f"{position}.", title=f"基准任务{position}",
            text=f"基准任务{position}：按要求落实并按月报送进展。", deadline=today + timedelta(days=90 + position % 30),
            target="按期完成", cadence=Cadence.QUARTERLY if position % 4 == 0 else Cadence.MONTHLY)
        item.units.set(units)
    return matter


# 1. Dispatch ---------------------------------------------------------------------------------------
def dispatch(actor, ours: MatterCase, floor: MatterCase) -> dict:
    before = row_counts()
    _reset_peak_rss()
    rss = vm_kib("VmRSS")
    with stopwatch() as clock:
        platform.act(MatterCase, actor=actor, case_id=ours.pk, action="dispatch")
    peak = vm_kib("VmHWM")
    after_ours = row_counts()
    floor.refresh_from_db()
    plan = _floor_plan(floor)
    with stopwatch() as floor_clock:
        _floor_dispatch(actor, floor, plan, _item_constants(ours))
    after_floor = row_counts()
    ours_rows = {key: after_ours[key] - before[key] for key in before}
    floor_rows = {key: after_floor[key] - after_ours[key] for key in before}
    cases = ours_rows["item_cases"]
    return {"cases": cases, "seconds": round(clock["seconds"], 2), "floor_seconds": round(floor_clock["seconds"], 2),
            "cases_per_s": round(cases / clock["seconds"], 1),
            "floor_cases_per_s": round(floor_rows["item_cases"] / floor_clock["seconds"], 1),
            "ratio_to_floor": round(floor_clock["seconds"] / clock["seconds"], 3),
            "rss_growth_mb": round(max(0, peak - rss) / 1024, 1) if peak else None,
            "rows": ours_rows, "floor_rows": floor_rows, "same_rows": ours_rows == floor_rows}


def row_counts() -> dict:
    return {"processes": Process.objects.count(), "cases": Case.objects.count(),
            "item_cases": ItemCase.objects.count(), "tasks": Task.objects.count(),
            "open_tasks": Task.objects.filter(status=STATUS.NEW).count(),
            "audit_events": AuditEvent.objects.count(), "outbox": OutboxMessage.objects.count(),
            "dispatched_plan_items": PlanItem.objects.filter(dispatched_at__isnull=False).count()}


def _reset_peak_rss():
    """Start the peak resident size (VmHWM) afresh where Linux allows it."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def _floor_plan(matter) -> list[tuple]:
    """The matter's plan items and their units, read before the clock starts (the real path
    reads them inside it)."""
    units = {}
    for item_id, unit_id in PlanItem.units.through.objects.filter(planitem__matter=matter).values_list(
            "planitem_id", "unit_id").order_by("planitem_id", "id"):
        units.setdefault(item_id, []).append(unit_id)
    return [(item, units[item.pk]) for item in matter.plan_items.order_by("position") if item.pk in units]


def _item_constants(dispatched: MatterCase) -> dict:
    """Values the real path computed that are the same for every item case of a plan item (the
    day its ladder's first rung falls due), read from the cases it wrote."""
    return dict(ItemCase.objects.filter(parent=dispatched).values_list("plan_item__position", "next_rung_on")
                .distinct())


def _floor_dispatch(actor, matter, plan, rung_on):
    """The rows the dispatch writes, as plain SQL in one transaction: the matter's transition
    (its row, event, tasks and outbox), then for each plan item its processes, case rows,
    item rows, events, tasks and outbox rows, and the plan items marked dispatched."""
    user, office = actor.user, actor.user.unit
    now, ops = timezone.now(), connection.ops
    stamp = ops.adapt_datetimefield_value(now)
    flow_class = Process._meta.get_field("flow_class").get_prep_value(ItemFlow)
    node = Task._meta.get_field("flow_task").get_prep_value
    unit_type = ContentType.objects.get_for_model(Unit).pk
    year = timezone.localdate().year
    actor_row = (user.pk, user.display_name, user.role, office.pk, office.name)
    with transaction.atomic(), connection.cursor() as cursor:
        seq = matter.audit_seq + 1
        cursor.execute(f"UPDATE {_q(Case)} SET status = 'dispatched', updated_at = %s, audit_seq = %s, "
                       "audit_hash = '' WHERE process_id = %s", [stamp, seq, matter.pk])
        _insert(cursor, AuditEvent, AUDIT_COLUMNS, [
            (f"case:{matter.pk}", seq, matter.pk, *actor_row, "dispatch", "ok", "registered", "dispatched", "",
             '{"items": 0}', stamp, "", "")])
        cursor.execute(f"UPDATE {_q(Task)} SET status = %s, owner_id = %s, finished = %s "
                       "WHERE process_id = %s AND status IN (%s, %s)",
                       [STATUS.DONE.value, user.pk, stamp, matter.pk, STATUS.NEW.value, STATUS.ASSIGNED.value])
        _insert(cursor, Task, TASK_COLUMNS, [(node(MatterFlow.instance.node("report")), "HUMAN", STATUS.NEW.value,
                                              stamp, "start", Role.INSPECTOR, unit_type, str(office.pk),
                                              matter.pk, "{}")])
        _floor_outbox(cursor, Role.INSPECTOR, "c.process_id = %s", [matter.pk], seq, user.pk, stamp)
        for item, unit_ids in plan:
            ids = _insert(cursor, Process, ("flow_class", "status", "created", "data"),
                          [(flow_class, PROCESS.NEW.value, stamp, "{}")] * len(unit_ids), returning=True)
            deadline = ops.adapt_datefield_value(item.deadline)
            next_rung = ops.adapt_datefield_value(rung_on.get(item.position))
            _insert(cursor, Case, CASE_COLUMNS, [
                (pk, "item", f"督办件〔{year}〕{pk}号", item.title, item.text or item.title, unit_id, office.pk,
                 user.pk, "issued", "open", deadline, 10, "", stamp, stamp, stamp, 2, "", 0, matter.pk, matter.pk, 0,
                 next_rung) for pk, unit_id in zip(ids, unit_ids)])
            _insert(cursor, ItemCase, ("case_ptr_id", "plan_item_id", "target", "cadence", "percent",
                                       "period_light"),
                    [(pk, item.pk, item.target, item.cadence, 0, "green") for pk in ids])
            issued = f'{{"deadline": "{item.deadline.isoformat()}"}}'
            _insert(cursor, AuditEvent, AUDIT_COLUMNS, [
                row for pk, unit_id in zip(ids, unit_ids) for row in (
                    (f"case:{pk}", 1, pk, *actor_row, "create", "ok", "", "new", "", f'{{"unit": {unit_id}}}',
                     stamp, "", ""),
                    (f"case:{pk}", 2, pk, *actor_row, "issue", "ok", "new", "issued", "", issued, stamp, "", ""))])
            sign = node(ItemFlow.instance.node("sign"))
            _insert(cursor, Task, TASK_COLUMNS, [(sign, "HUMAN", STATUS.NEW.value, stamp, "start", Role.HANDLER,
                                                  unit_type, str(unit_id), pk, "{}")
                                                 for pk, unit_id in zip(ids, unit_ids)])
            _floor_outbox(cursor, Role.HANDLER, "c.process_id BETWEEN %s AND %s AND c.parent_id = %s",
                          [min(ids), max(ids), matter.pk], 2, user.pk, stamp)
        cursor.execute(f"UPDATE {_q(PlanItem)} SET dispatched_at = %s WHERE matter_id = %s AND dispatched_at IS NULL",
                       [stamp, matter.pk])


CASE_COLUMNS = ("process_id", "case_type", "number", "title", "description", "unit_id", "supervisor_unit_id",
                "created_by_id", "status", "phase", "deadline", "deadline_days", "calendar_warning", "created_at",
                "updated_at", "issued_at", "audit_seq", "audit_hash", "open_requests", "parent_id", "root_id", "rung",
                "next_rung_on")
AUDIT_COLUMNS = ("chain", "seq", "case_id", "actor_id", "actor_name", "actor_role", "unit_id", "unit_name", "action",
                 "outcome", "from_state", "to_state", "reason", "data", "created_at", "prev_hash", "hash")
TASK_COLUMNS = ("flow_task", "flow_task_type", "status", "created", "token", "owner_permission",
                "owner_permission_content_type_id", "owner_permission_obj_pk", "process_id", "data")


def _q(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _insert(cursor, model, columns, rows, returning=False) -> list:
    """INSERT `rows` into `model`'s table, with `returning` giving the new keys: on PostgreSQL
    one statement with an array per column (INSERT ... SELECT FROM UNNEST), elsewhere
    multi-row VALUES statements."""
    if not rows:
        return []
    head = f"INSERT INTO {_q(model)} ({', '.join(connection.ops.quote_name(c) for c in columns)}) "
    tail = " RETURNING id" if returning else ""
    if connection.vendor == "postgresql":
        fields = {f.column: f for f in model._meta.concrete_fields}
        arrays = ", ".join(f"%s::{_array_type(fields[c])}" for c in columns)
        cursor.execute(f"{head}SELECT * FROM UNNEST({arrays}){tail}", [list(column) for column in zip(*rows)])
        return [row[0] for row in cursor.fetchall()] if returning else []
    per = max(1, MAX_PARAMS // len(columns))
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    ids = []
    for start in range(0, len(rows), per):
        batch = rows[start:start + per]
        cursor.execute(f"{head}VALUES {', '.join([one] * len(batch))}{tail}", [value for row in batch for value in row])
        if returning:
            ids += [row[0] for row in cursor.fetchall()]
    return ids


def _array_type(field) -> str:
    """The PostgreSQL array type of a column (a foreign key's is its target key's)."""
    return f"{field.db_type(connection)}[]"


def _floor_outbox(cursor, role, where, params, seq, actor_id, stamp):
    """One outbox row per holder of `role` in each case's unit and channel they chose (the
    actor left out), for the cases `where` picks: one INSERT ... SELECT."""
    message = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    cursor.execute(
        f"INSERT INTO {_q(OutboxMessage)} (key, channel, recipient_id, case_id, subject, message, body, created_at, "
        "attempts, next_attempt_at, last_error) "
        "SELECT 'ev:case:' || CAST(c.process_id AS TEXT) || ':' || %s || ':' || CAST(u.id AS TEXT) || ':' "
        "|| ch.channel, "
        f"ch.channel, u.id, c.process_id, SUBSTR(c.number || ' ' || c.title, 1, 200), {message}, '', %s, 0, %s, '' "
        f"FROM {_q(Case)} c JOIN {_q(User)} u ON u.role = %s AND u.unit_id = c.unit_id CROSS JOIN {CHANNELS} ch "
        f"WHERE {where} AND u.is_active AND u.id <> %s "
        "AND ((ch.channel = 'in_app' AND u.notify_in_app) "
        "OR (ch.channel = 'email' AND u.notify_email AND u.email <> '') "
        "OR (ch.channel = 'sms' AND u.notify_sms AND u.phone <> ''))",
        [str(seq), '{"text": "floor"}', stamp, stamp, role, *params, actor_id])


# 2. Roll-up and lights -------------------------------------------------------------------------------
def vary(matter):
    """The fixture of the roll-up: the matter's items issued 40 days ago, about a tenth verified
    done, one in twenty cancelled, one in ten overdue, one in ten red and one in seven yellow,
    with progress spread over 0-90 %. Two UPDATEs; the pattern shifts from plan item to plan
    item."""
    today = timezone.localdate()
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    issued = connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(days=40))
    late = connection.ops.adapt_datefield_value(today - timedelta(days=5))
    slot, item_slot = "process_id %% 997 %% 20", "case_ptr_id %% 997 %% 20"  # 0-19, shifting by plan item
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_q(Case)} SET "
            f"status = CASE WHEN {slot} < 2 THEN 'done' WHEN {slot} = 2 THEN 'cancelled' "
            f"WHEN {slot} < 12 THEN 'working' ELSE status END, "
            f"phase = CASE WHEN {slot} < 2 THEN 'done' WHEN {slot} = 2 THEN 'cancelled' ELSE phase END, "
            f"closed_at = CASE WHEN {slot} < 3 THEN %s ELSE closed_at END, "
            f"deadline = CASE WHEN {slot} IN (3, 4) THEN %s ELSE deadline END, issued_at = %s "
            "WHERE parent_id = %s", [stamp, late, issued, matter.pk])
        cursor.execute(
            f"UPDATE {_q(ItemCase)} SET "
            f"percent = CASE WHEN {item_slot} < 2 THEN 100 ELSE case_ptr_id %% 91 END, "
            f"period_light = CASE WHEN {item_slot} IN (5, 6) THEN 'red' "
            f"WHEN {item_slot} IN (7, 8, 9) THEN 'yellow' ELSE 'green' END "
            f"WHERE case_ptr_id IN (SELECT process_id FROM {_q(Case)} WHERE parent_id = %s)", [matter.pk])


ROLLUP_SQL = """
SELECT i.plan_item_id, COUNT(*),
       COUNT(CASE WHEN c.phase = 'done' THEN 1 END),
       COUNT(CASE WHEN c.phase = 'cancelled' THEN 1 END),
       COUNT(CASE WHEN c.phase = 'open' AND c.deadline < %(today)s THEN 1 END),
       COUNT(CASE WHEN c.phase = 'open' AND i.period_light = 'red' THEN 1 END),
       COUNT(CASE WHEN c.phase = 'open' AND i.period_light = 'yellow' THEN 1 END),
       COUNT(CASE WHEN c.phase = 'done' OR (c.phase = 'open' AND i.period_light = 'green') THEN 1 END),
       AVG(CASE WHEN c.phase <> 'cancelled' THEN i.percent END)
FROM {item} i JOIN {case} c ON c.process_id = i.case_ptr_id
WHERE c.parent_id = %(matter)s
GROUP BY i.plan_item_id
"""
BEHIND_SQL = """
SELECT c.unit_id, u.name, COUNT(CASE WHEN c.deadline < %(today)s THEN 1 END) AS overdue,
       COUNT(CASE WHEN i.period_light = 'red' THEN 1 END) AS red
FROM {case} c JOIN {item} i ON i.case_ptr_id = c.process_id JOIN {unit} u ON u.id = c.unit_id
WHERE c.root_id = %(matter)s AND c.phase = 'open' AND (c.deadline < %(today)s OR i.period_light = 'red')
GROUP BY c.unit_id, u.name
ORDER BY overdue DESC, red DESC, u.name
LIMIT %(limit)s
"""


def _floor_rollup(matter, today, limit=50):
    """The roll-up's two aggregates as plain SQL: the tallies per plan item, the units behind."""
    params = {"today": connection.ops.adapt_datefield_value(today), "matter": matter.pk, "limit": limit}
    tables = {"item": _q(ItemCase), "case": _q(Case), "unit": _q(Unit)}
    with connection.cursor() as cursor:
        cursor.execute(ROLLUP_SQL.format(**tables), params)
        tallies = cursor.fetchall()
        cursor.execute(BEHIND_SQL.format(**tables), params)
        behind = cursor.fetchall()
    return tallies, behind


def rollup_vs_floor(matter, repeats: int) -> dict:
    today = timezone.localdate()
    result, (tallies, behind) = rollup.matter_rollup(matter, today), _floor_rollup(matter, today)  # warm both
    ours_times, floor_times = [], []
    for _ in range(repeats):  # alternated, so that whatever else the machine does weighs on both
        start = time.perf_counter()
        rollup.matter_rollup(matter, today)
        ours_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        _floor_rollup(matter, today)
        floor_times.append(time.perf_counter() - start)
    ours = {key: (t.total, t.done, t.cancelled, t.overdue, t.red, t.yellow, t.green, round(t.average, 6))
            for key, t in result.by_plan_item.items()}
    floor = {row[0]: (*row[1:8], round(float(row[8] or 0), 6)) for row in tallies}
    p50_ours, p50_floor = percentile(ours_times, 50), percentile(floor_times, 50)
    whole = result.whole
    return {"item_cases": whole.total, "plan_items": len(ours), "repeats": repeats,
            "whole": {"done": whole.done, "cancelled": whole.cancelled, "overdue": whole.overdue, "red": whole.red,
                      "yellow": whole.yellow, "green": whole.green, "units_behind": len(result.behind)},
            "ours_ms": round(p50_ours * 1000, 2), "floor_ms": round(p50_floor * 1000, 2),
            "ratio": round(p50_ours / p50_floor, 3),
            "same_result": ours == floor and [tuple(row) for row in behind] == [tuple(row) for row in result.behind]}


def _cadences(today) -> list[tuple]:
    """Each cadence's period today, the period before, the day its report is due (None: no
    periodic report) and whether that day is near or past (reminders go out from
    REMIND_BEFORE days before): the same for every item of that cadence."""
    rule = lights.rule_on(today)
    rows = []
    for cadence in Cadence.values:
        start = lights.period_start(cadence, today)
        day = lights.due_on(cadence, start, rule.report_day)
        rows.append((cadence, start, lights.previous_period(cadence, start), day,
                     day is not None and today >= day - timedelta(days=lights.REMIND_BEFORE)))
    return rows


LIGHTS_SQL = """
WITH cadence(cadence, period, previous, due_day, near) AS (VALUES {cadences}),
expecting AS (
  SELECT c.process_id AS case_id, k.period, k.due_day, EXISTS (
           SELECT 1 FROM {report} r WHERE r.case_id = c.process_id AND r.period = k.period
           AND r.kind IN ('progress', 'final')) AS reported
  FROM {case} c JOIN {item} i ON i.case_ptr_id = c.process_id JOIN cadence k ON k.cadence = i.cadence
  WHERE c.case_type = 'item' AND c.phase = 'open' AND k.near AND c.status = ANY(%(reporting)s)
    AND (c.issued_at AT TIME ZONE %(zone)s)::date <= k.due_day
),
judged AS (
  SELECT c.process_id AS case_id, k.period, i.percent, cur.worst AS worst_before, prev.light AS previous,
         cur.case_id IS NOT NULL AS kept_before, cur.light AS light_before, cur.percent AS percent_before,
         cur.rule_id AS rule_before,
         c.unit_id, c.number, c.title, x.case_id IS NOT NULL AND NOT x.reported AS awaited,
         CASE WHEN c.deadline IS NOT NULL AND c.deadline < %(today)s THEN 'red'
              WHEN e.behind >= %(red_gap)s THEN 'red'
              WHEN e.behind >= %(yellow_gap)s THEN 'yellow'
              WHEN %(today)s > x.due_day AND NOT x.reported THEN 'yellow'
              ELSE 'green' END AS earned
  FROM {case} c
  JOIN {item} i ON i.case_ptr_id = c.process_id
  JOIN cadence k ON k.cadence = i.cadence
  CROSS JOIN LATERAL (SELECT (c.issued_at AT TIME ZONE %(zone)s)::date AS issued_on) s
  CROSS JOIN LATERAL (SELECT CASE WHEN c.deadline IS NULL OR c.issued_at IS NULL THEN 0
                                  WHEN c.deadline - s.issued_on <= 0 THEN 100
                                  ELSE GREATEST(0, LEAST(100, ROUND(100.0 * (%(today)s - s.issued_on)
                                                                    / (c.deadline - s.issued_on))))
                             END - i.percent AS behind) e
  LEFT JOIN {period} cur ON cur.case_id = c.process_id AND cur.period = k.period
  LEFT JOIN {period} prev ON prev.case_id = c.process_id AND prev.period = k.previous
  LEFT JOIN expecting x ON x.case_id = c.process_id
  WHERE c.case_type = 'item' AND c.phase = 'open'
),
worst AS (
  SELECT *, CASE WHEN earned = 'red' OR worst_before = 'red' THEN 'red'
                 WHEN earned = 'yellow' OR worst_before = 'yellow' THEN 'yellow' ELSE 'green' END AS worst
  FROM judged
),
shown AS (
  SELECT *, CASE WHEN earned = 'green' AND (worst = 'red' OR previous = 'red') THEN 'yellow' ELSE earned END AS light
  FROM worst
),
kept AS (
  INSERT INTO {period} (case_id, period, light, worst, percent, rule_id, updated_at)
  SELECT case_id, period, light, worst, percent, %(rule)s, %(now)s FROM shown
  WHERE NOT kept_before OR (light, worst, percent, %(rule)s) IS DISTINCT FROM (light_before, worst_before,
                                                                             percent_before, rule_before)
  ON CONFLICT (case_id, period) DO UPDATE SET light = EXCLUDED.light, worst = EXCLUDED.worst,
      percent = EXCLUDED.percent, rule_id = EXCLUDED.rule_id, updated_at = EXCLUDED.updated_at
),
reminded AS (
  INSERT INTO {outbox} (key, channel, recipient_id, case_id, subject, message, body, created_at, attempts,
                        next_attempt_at, last_error)
  SELECT 'report-due:' || CAST(j.case_id AS TEXT) || ':' || to_char(j.period, 'YYYY-MM-DD') || ':'
         || CAST(u.id AS TEXT) || ':' || ch.channel, ch.channel, u.id, j.case_id,
         SUBSTR(j.number || ' ' || j.title, 1, 200), CAST(%(message)s AS jsonb), '', %(now)s, 0, %(now)s, ''
  FROM judged j JOIN {user} u ON u.role = %(handler)s AND u.unit_id = j.unit_id CROSS JOIN {channels} ch
  WHERE j.awaited AND u.is_active
    AND ((ch.channel = 'in_app' AND u.notify_in_app) OR (ch.channel = 'email' AND u.notify_email AND u.email <> '')
         OR (ch.channel = 'sms' AND u.notify_sms AND u.phone <> ''))
  ON CONFLICT (key) DO NOTHING
)
UPDATE {item} i SET period_light = s.light FROM shown s WHERE i.case_ptr_id = s.case_id AND i.period_light <> s.light
"""


def _floor_lights(today):
    """lights.refresh_open as one PostgreSQL statement: every open item judged by the same
    rule (the cadences' periods and report days worked out once), its period kept, its light
    moved, and the handlers of an item being carried out reminded when the report it owes
    (issued by the report day) is due within REMIND_BEFORE days or late and has not come."""
    rule = lights.rule_on(today)
    cadences = _cadences(today)
    params = {"today": today, "zone": settings.TIME_ZONE, "red_gap": rule.red_gap, "yellow_gap": rule.yellow_gap,
              "rule": rule.pk, "now": timezone.now(), "message": '{"text": "floor"}', "handler": Role.HANDLER,
              "reporting": list(lights.REPORTING)}
    for n, (cadence, start, previous, day, near) in enumerate(cadences):
        params.update({f"c{n}": cadence, f"s{n}": start, f"p{n}": previous, f"d{n}": day, f"r{n}": near})
    values = ", ".join(f"(%(c{n})s, %(s{n})s::date, %(p{n})s::date, %(d{n})s::date, %(r{n})s::boolean)"
                       for n in range(len(cadences)))
    sql = LIGHTS_SQL.format(cadences=values, case=_q(Case), item=_q(ItemCase), period=_q(ItemPeriod),
                            report=_q(ItemReport), outbox=_q(OutboxMessage), user=_q(User), channels=CHANNELS)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _lights_now() -> tuple[dict, dict, int]:
    """What the sweep left: each kept period row's (light, worst), how many items show each
    light, and how many reminders are queued."""
    periods = {(case_id, period): (light, worst) for case_id, period, light, worst in
               ItemPeriod.objects.values_list("case_id", "period", "light", "worst")}
    shown = {}
    for light in ItemCase.objects.values_list("period_light", flat=True):
        shown[light] = shown.get(light, 0) + 1
    return periods, dict(sorted(shown.items())), OutboxMessage.objects.filter(key__startswith="report-due:").count()


def lights_vs_floor() -> dict:
    """refresh_open over every open item; first the floor, in a transaction rolled back after
    its result is read, so that both start from the same rows. Then both again, as the next
    hourly sweep of the same day finds them (every period already kept, nothing changed)."""
    today = timezone.localdate()
    open_items = ItemCase.objects.filter(phase="open").count()
    out = {"open_items": open_items}
    for run in ("first", "again"):
        floor_result = None
        if connection.vendor == "postgresql":
            with transaction.atomic():
                with stopwatch() as floor_clock:
                    _floor_lights(today)
                floor_result = _lights_now()
                transaction.set_rollback(True)
        with stopwatch() as clock:
            judged = lights.refresh_open(today)
        periods, shown, reminders = _lights_now()
        result = {"judged": judged, "seconds": round(clock["seconds"], 3),
                  "items_per_s": round(judged / clock["seconds"], 1), "period_rows": len(periods), "shown": shown,
                  "reminders": reminders}
        if floor_result is not None:
            result["floor_seconds"] = round(floor_clock["seconds"], 3)
            result["ratio_to_floor"] = round(result["floor_seconds"] / clock["seconds"], 3)
            result["same_result"] = floor_result == (periods, shown, reminders)
        else:
            result["floor"] = "skipped: the floor statement is PostgreSQL's"
        if run == "first":
            out.update(result)
        else:
            out["again"] = result
    return out


def _analyze():
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


# Report ----------------------------------------------------------------------------------------------
def targets(r) -> list[dict]:
    rows = []

    def add(name, value, target, met):
        rows.append({"name": name, "value": value, "target": target, "met": bool(met)})

    d, ru, lt = r["dispatch"], r["rollup"], r["lights"]
    add("dispatch writes the floor's rows", d["same_rows"], "True", d["same_rows"])
    planned = r["items"] * r["units"]
    add("dispatch opens every item case", d["cases"], f"{planned:,}", d["cases"] == planned)
    add("roll-up equals the floor's aggregates", ru["same_result"], "True", ru["same_result"])
    if "same_result" in lt:
        add("lights equal the floor's", lt["same_result"], "True", lt["same_result"])
        add("lights again equal the floor's", lt["again"]["same_result"], "True", lt["again"]["same_result"])
    if r["scale"] >= RATIO_SCALE:
        growth = r["intake"]["growth"]
        add("work-plan parse time per character, 100 pages / 10 pages", growth, "≤ 1.5", growth <= 1.5)
    if r["vendor"] == "postgresql" and r["scale"] >= RATIO_SCALE:
        add("dispatch speed vs floor", d["ratio_to_floor"], "≥ 0.25", d["ratio_to_floor"] >= 0.25)
        add("roll-up time vs floor", ru["ratio"], "≤ 1.5", ru["ratio"] <= 1.5)
        add("lights speed vs floor", lt["ratio_to_floor"], "≥ 0.1", lt["ratio_to_floor"] >= 0.1)
    return rows


def print_table(r, write):
    d, ru, lt = r["dispatch"], r["rollup"], r["lights"]
    write(f"\n督办事项 benchmark — {r['vendor']}, scale {r['scale']}: a plan of {r['items']} items × {r['units']:,} "
          f"units, {r['seconds']} s")
    write(f"Dispatch of {d['cases']:,} item cases: {d['seconds']} s, {d['cases_per_s']:,} cases/s; "
          f"floor {d['floor_seconds']} s, {d['floor_cases_per_s']:,} cases/s; speed vs floor {d['ratio_to_floor']}; "
          f"peak RSS growth {d['rss_growth_mb']} MB")
    write("  rows: " + ", ".join(f"{key} {n:,}" for key, n in d["rows"].items()) + f"; same as floor: {d['same_rows']}")
    write(f"Roll-up of {ru['item_cases']:,} item cases over {ru['plan_items']} plan items: {ru['ours_ms']} ms "
          f"vs floor {ru['floor_ms']} ms (p50 of {ru['repeats']}), time vs floor {ru['ratio']}; same result: "
          f"{ru['same_result']}")
    w = ru["whole"]
    write(f"  done {w['done']:,}, cancelled {w['cancelled']:,}, overdue {w['overdue']:,}, red {w['red']:,}, "
          f"yellow {w['yellow']:,}, green {w['green']:,}; units behind listed {w['units_behind']}")
    floor = (f"floor {lt['floor_seconds']} s, speed vs floor {lt['ratio_to_floor']}; same result: {lt['same_result']}"
             if "floor_seconds" in lt else lt["floor"])
    write(f"Lights of {lt['open_items']:,} open items (refresh_open, {lt['reminders']:,} reminders): "
          f"{lt['seconds']} s, {lt['items_per_s']:,} items/s; {floor}")
    again = lt["again"]
    floor = (f"floor {again['floor_seconds']} s, speed vs floor {again['ratio_to_floor']}; same result: "
             f"{again['same_result']}" if "floor_seconds" in again else again["floor"])
    write(f"  the next sweep of the same day (nothing changed): {again['seconds']} s, {again['items_per_s']:,} "
          f"items/s; {floor}")
    it = r["intake"]
    write(f"Work-plan intake: {it['large']['characters']:,} characters in {it['large']['seconds']} s, "
          f"{it['small']['characters']:,} in {it['small']['seconds']} s; time grows {it['time_ratio']}× for "
          f"{it['length_ratio']}× the text ({it['growth']} per character)")
    write("\nTargets:")
    for t in r["targets"]:
        write(f"  [{'met ' if t['met'] else 'MISS'}] {t['name']}: {t['value']} (target {t['target']})")
