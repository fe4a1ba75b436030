"""The benchmark scenarios. Each returns a dict of figures; targets are ratios taken in the
same run, never absolute times."""
import gc
import io
import itertools
import random
import time
import uuid
from datetime import timedelta

from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from processes.rectification import services
from processes.rectification.models import RectificationCase
from workflow.cases import escalation
from workflow.cases.engine import Actor
from workflow.models import AuditEvent, Case, Escalation, OutboxMessage, Role

from .flows import BaselineFlow
from .measure import count_queries, stopwatch, summary_ms, percentile

LIFECYCLE = [("inspector", "issue", {}), ("handler", "sign", {}), ("handler", "submit", {"reason": "已整改"}),
             ("head", "head_approve", {}), ("inspector", "start_review", {}), ("inspector", "accept", {}),
             ("leader", "sign_off", {})]


def _png():
    from PIL import Image
    from django.core.files.uploadedfile import SimpleUploadedFile

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (120, 10, 10)).save(buffer, format="PNG")
    return SimpleUploadedFile("现场.png", buffer.getvalue(), content_type="image/png")


def _crew(org, leaf):
    county = leaf.parent
    return {"inspector": Actor(org.one(Role.INSPECTOR, county)), "leader": Actor(org.one(Role.LEADER, county)),
            "handler": Actor(org.one(Role.HANDLER, leaf)), "head": Actor(org.one(Role.UNIT_HEAD, leaf))}


# 1. Write path ------------------------------------------------------------------------------
def write_path(org, n_cases: int, n_baseline: int) -> dict:
    leaf = org.leaves[0]
    crew = _crew(org, leaf)

    def new_drafts(n):
        return [services.case_create(actor=crew["inspector"], unit=leaf, title="基准写入", description="d",
                                     requirement="r").pk for _ in range(n)]

    drafts = new_drafts(n_cases)
    # Queries per transition, counted on one case outside the timed loop.
    probe = drafts.pop()
    per_step = {}
    for who, action, params in LIFECYCLE:
        if action == "submit":
            services.case_add_evidence(actor=crew["handler"], case_id=probe, upload=_png())
        _, n = count_queries(lambda: services.case_act(actor=crew[who], case_id=probe, action=action, **params))
        per_step[action] = n
    # The floor makes the same state changes on cases of its own, step by step right after
    # ours, so that whatever this machine is doing meanwhile weighs on both alike.
    run = uuid.uuid4().hex[:8]
    floor_cases, floor_chains = new_drafts(len(drafts)), (f"floor:{run}:{n}" for n in itertools.count(1))
    elapsed = floor_elapsed = 0.0
    for who, action, params in LIFECYCLE:
        if action == "submit":  # evidence is not a transition: uploaded outside the clock
            for pk in drafts:
                services.case_add_evidence(actor=crew["handler"], case_id=pk, upload=_png())
        with stopwatch() as clock:
            for pk in drafts:
                services.case_act(actor=crew[who], case_id=pk, action=action, **params)
        elapsed += clock["seconds"]
        to_state = Case.objects.values_list("status", flat=True).get(pk=drafts[0])
        floor_elapsed += _floor_step(floor_cases, to_state, floor_chains)
    transitions = len(drafts) * len(LIFECYCLE)
    ours, floor = transitions / elapsed, transitions / floor_elapsed
    baseline = _baseline_rate(crew["handler"].user, n_baseline)
    return {"transitions": transitions, "transitions_per_s": round(ours, 1),
            "lifecycles_per_s": round(ours / len(LIFECYCLE), 1),
            "queries_per_transition": per_step, "max_queries_per_transition": max(per_step.values()),
            "floor_per_s": round(floor, 1), "baseline_tasks_per_s": round(baseline, 1),
            "ratio_to_floor": round(ours / floor, 3), "ratio_to_baseline": round(ours / baseline, 2)}


def _floor_step(case_ids, to_state, chains) -> float:
    """One state change per case as the minimum SQL: UPDATE the case, INSERT an audit row
    (the first of a chain named by `chains`), in one transaction. Returns the seconds taken."""
    table, audit_table = Case._meta.db_table, AuditEvent._meta.db_table
    now = timezone.now()
    with stopwatch() as clock:
        for pk in case_ids:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET status = %s, updated_at = %s WHERE process_id = %s",
                               [to_state, now, pk])
                cursor.execute(
                    f"INSERT INTO {audit_table} (chain, seq, case_id, actor_name, actor_role, unit_name, action, "
                    "outcome, from_state, to_state, reason, data, created_at, prev_hash, hash) "
                    "VALUES (%s, 1, %s, '', '', '', 'floor', 'ok', '', '', '', '{}', %s, '', '')",
                    [next(chains), pk, now])
    return clock["seconds"]


def _baseline_rate(user, n) -> float:
    """A plain viewflow flow, Start → one human task → End, driven through its activations."""
    with stopwatch() as clock:
        for _ in range(n):
            process = BaselineFlow.start.run(owner=user.pk)
            task = Task.objects.get(process=process, flow_task=BaselineFlow.approve, status=STATUS.ASSIGNED)
            with BaselineFlow.lock(process.pk):
                task = Task.objects.get(pk=task.pk)
                activation = BaselineFlow.approve.activation_class(task)
                activation.start(None)
                activation.execute()
    return n / clock["seconds"]


# 2. Read path ---------------------------------------------------------------------------------
# The rows of the mixed list: as many as the red list shows.
MIXED_LIST_ROWS = 100


def read_pages(org, sample_case_id, repeats: int) -> dict:
    """p50/p95 and queries for the inbox, a filtered list, a case page and the leaders' red list,
    and for the mixed list (not a page: the newest open cases of every type a leader sees,
    read through the base model as a list across types would). The inbox, the red list and
    the mixed list also give the case types of the rows they show."""
    from workflow.cases import selectors
    from workflow.web.pages import INBOX_PAGE
    from workflow.web.leadership import RED_LIST_ROWS, red_cases

    leaf = RectificationCase.objects.select_related("unit").get(pk=sample_case_id).unit
    handler, leader = org.one(Role.HANDLER, leaf), org.one(Role.LEADER, org.city)
    pages = {
        "inbox": (handler, "/inbox/"),
        "case_list": (leader, "/rectification/?status=rectifying"),
        "case_page": (org.one(Role.INSPECTOR, org.city), f"/rectification/{sample_case_id}/"),
        "red_list": (leader, "/red-list/"),
    }
    out = {}
    for name, (user, url) in pages.items():
        client = Client()
        client.force_login(user)
        for _ in range(3):
            assert client.get(url).status_code == 200, url
        out[name] = _timed(lambda: client.get(url), repeats)
    for _ in range(3):
        mixed_list(leader)
    out["mixed_list"] = _timed(lambda: mixed_list(leader), repeats)
    out["inbox"]["types"] = _types(selectors.inbox_todo(handler).values_list("process__case__case_type", flat=True)
                                   [:INBOX_PAGE])
    out["red_list"]["types"] = _types(red_cases(leader).values_list("case_type", flat=True)[:RED_LIST_ROWS])
    out["mixed_list"]["types"] = _types(row["case_type"] for row in mixed_list(leader))
    return out


def _timed(fn, repeats: int) -> dict:
    """Statements of one call, then p50/p95 over `repeats` calls."""
    _, queries = count_queries(fn)
    gc.collect()  # start each series with the same heap
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {**summary_ms(times), "queries": queries}


def mixed_list(user) -> list[dict]:
    """The newest open cases of every type the user may see, as a list across types shows
    them: one query on the base model, each row's type and state labelled from its declaration."""
    today = timezone.localdate()
    cases = Case.objects.visible_to(user).open().select_related("unit").order_by("-created_at")[:MIXED_LIST_ROWS]
    return [{"case_type": case.case_type, "type": case.type_label, "number": case.number, "title": case.title,
             "unit": case.unit.name, "state": case.status_label, "deadline": case.deadline,
             "light": case.light(today)} for case in cases]


def _types(case_types) -> dict:
    """How many rows of each case type a page shows."""
    counts = {}
    for case_type in case_types:
        counts[case_type] = counts.get(case_type, 0) + 1
    return dict(sorted(counts.items()))


# 3. Escalation sweep ---------------------------------------------------------------------------
def prepare_due(case_ids, today):
    """Make exactly these cases due for one rung (the reminder) today; clear earlier results."""
    Escalation.objects.filter(case_id__in=case_ids).delete()
    OutboxMessage.objects.filter(case_id__in=case_ids, key__startswith="esc:").delete()
    policy = escalation.policy_for("rectification")
    deadline = today
    while escalation.rung_dates(deadline, policy)[1] < today:
        deadline += timedelta(days=1)
    Case.objects.filter(pk__in=case_ids).update(rung=0, deadline=deadline, next_rung_on=today)


def sweep_once(case_ids, today) -> dict:
    prepare_due(case_ids, today)
    with stopwatch() as clock:
        fired = escalation.sweep(today=today)
    again = escalation.sweep(today=today)
    return {"seconds": round(clock["seconds"], 4), "fired": fired, "second_run_fired": again,
            "escalations": Escalation.objects.filter(case_id__in=case_ids).count(),
            "open_cases": Case.objects.open().count()}


# 4. Bulk dispatch ---------------------------------------------------------------------------
def dispatch(org, n_units: int) -> dict:
    inspector = Actor(org.one(Role.INSPECTOR, org.city))
    units = org.leaves[:n_units]
    counts = _row_counts()
    with stopwatch() as bulk:
        services.case_dispatch(actor=inspector, units=units, title="批量交办", description="d", requirement="r")
    after_bulk = _row_counts()
    with stopwatch() as single:
        for unit in units:
            services.case_create(actor=inspector, unit=unit, title="逐个交办", description="d", requirement="r",
                                 issue=True)
    after_single = _row_counts()
    bulk_rows = {k: after_bulk[k] - counts[k] for k in counts}
    single_rows = {k: after_single[k] - after_bulk[k] for k in counts}
    return {"units": len(units), "bulk_seconds": round(bulk["seconds"], 3), "single_seconds": round(single["seconds"], 3),
            "speedup": round(single["seconds"] / bulk["seconds"], 1), "bulk_rows": bulk_rows,
            "single_rows": single_rows, "same_rows": bulk_rows == single_rows}


def _row_counts():
    from viewflow.workflow.models import Process

    return {"cases": Case.objects.count(), "processes": Process.objects.count(), "tasks": Task.objects.count(),
            "audit_events": AuditEvent.objects.count(), "outbox": OutboxMessage.objects.count()}


# 5. Documents -----------------------------------------------------------------------------
def bulletin(org, rows: int, repeats: int) -> dict:
    from django.template.loader import render_to_string
    from django.utils import translation
    from weasyprint import HTML

    from processes.rectification import exports
    from workflow.documents.pdf import PDF_TEMPLATE_DIR, render_pdf

    leader = org.one(Role.LEADER, org.city)
    cases = RectificationCase.objects.visible_to(leader).order_by("-created_at")[:rows]
    context = exports.bulletin_context(leader, cases)
    with translation.override("zh-hans"):
        html = render_to_string(exports.BULLETIN_TEMPLATE, context)
    render_pdf(exports.BULLETIN_TEMPLATE, context)  # warm fonts once for both
    ours, alone = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        render_pdf(exports.BULLETIN_TEMPLATE, exports.bulletin_context(leader, cases))
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        HTML(string=html, base_url=PDF_TEMPLATE_DIR.as_uri() + "/").write_pdf()
        alone.append(time.perf_counter() - start)
    p50_ours, p50_alone = percentile(ours, 50), percentile(alone, 50)
    return {"rows": len(context.get("rows", [])) or rows, "ours_ms": round(p50_ours * 1000, 1),
            "weasyprint_alone_ms": round(p50_alone * 1000, 1), "ratio": round(p50_ours / p50_alone, 3)}


def ledger_memory(rows: int) -> dict:
    """Write a ledger of `rows` cases in a child process and report its peak RSS growth."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    connection.close()  # the child opens its own connection
    child = ctx.Process(target=_ledger_child, args=(rows, queue))
    child.start()
    child.join(timeout=1800)
    result = queue.get(timeout=5)
    return result


def _ledger_child(rows, queue):
    import tempfile

    from workflow.web import ledger

    from .measure import vm_kib

    if RectificationCase.objects.count() >= rows:
        source = ledger.ledger_rows(RectificationCase, RectificationCase.objects.order_by("pk")[:rows])
        synthetic = False
    else:  # a small database (the smoke run): repeat its rows up to the asked number
        sample = list(ledger.ledger_rows(RectificationCase, RectificationCase.objects.order_by("pk")[:1000]))
        source = (sample[i % len(sample)] for i in range(rows)) if sample else iter(())
        synthetic = True
    base = vm_kib("VmRSS")
    with tempfile.TemporaryFile() as handle, stopwatch() as clock:
        written = ledger.write_ledger(RectificationCase.spec.ledger, source, handle)
        size = handle.tell()
    peak = vm_kib("VmHWM")
    queue.put({"rows": written, "seconds": round(clock["seconds"], 2), "file_mb": round(size / 1e6, 1),
               "rss_growth_mb": round(max(0, peak - base) / 1024, 1), "synthetic_rows": synthetic})


# The inbox user's unit holds a full inbox page already at the small scale, so that both
# scales render the same page and the ratio measures the data's growth, not the page's; half
# of its cases are inspection items, so that the page mixes the two types at both scales.
INBOX_UNIT_CASES = 60
INBOX_UNIT_ITEM_SHARE = 0.5


def pick_case_with_history(leaf):
    return (RectificationCase.objects.filter(unit=leaf, status="rectifying").order_by("pk")
            .values_list("pk", flat=True).first()
            or RectificationCase.objects.filter(unit=leaf).values_list("pk", flat=True).first())


def ladder_case_ids(n):
    """n open cases in states where the ladder runs."""
    return list(RectificationCase.objects.filter(status__in=RectificationCase.spec.states_where(lambda s: s.ladder))
                .order_by("pk").values_list("pk", flat=True)[:n])


def rng(seed=2026):
    return random.Random(seed)
