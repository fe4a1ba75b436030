"""Seeding at provincial scale with bulk statements: units, users, and cases of two types
(rectification tasks, and a share of inspection items in the same units) in every state, with
their tasks and audit chains."""
import random
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import PROCESS, STATUS

from processes.rectification.models import RectificationCase, State
from workflow.trail import audit
from workflow.cases import engine, escalation
from workflow.models import Role, Unit, UnitKind, User

from .models import InspectionItemCase

PASSWORD = "bench-Duban-2026"
LEAF_KINDS = [UnitKind.TOWNSHIP_OFFICE, UnitKind.ELDERLY_CARE, UnitKind.CHILD_WELFARE, UnitKind.RELIEF_STATION,
              UnitKind.FUNERAL_HOME, UnitKind.SOCIAL_ORG, UnitKind.SOCIAL_WORK]
# The share of the cases that are inspection items; the rest are rectification tasks.
ITEM_SHARE = 0.2


@dataclass(frozen=True)
class Kind:
    """How one case type is seeded: its open and closed states weighted as a working system
    would hold them, the actions that lead to each state after "create", who takes each
    action and the state it leads to, and the task node that each action completes."""

    model: type
    states: list
    path: dict
    actor_of: dict
    state_after: dict
    done_node: dict
    titles: tuple


RECTIFICATION = Kind(
    model=RectificationCase,
    states=[(State.ISSUED, 12), (State.SIGNED, 10), (State.RECTIFYING, 30), (State.PENDING_HEAD, 6),
            (State.SUBMITTED, 8), (State.UNDER_REVIEW, 5), (State.RETURNED, 8), (State.ACCEPTED, 6),
            (State.LONG_TERM, 2), (State.DRAFT, 3), (State.CLOSED, 8), (State.CANCELLED, 2)],
    path={
        State.DRAFT: [], State.ISSUED: ["issue"], State.SIGNED: ["issue", "sign"],
        State.RECTIFYING: ["issue", "sign", "report_progress"],
        State.PENDING_HEAD: ["issue", "sign", "upload_evidence", "submit"],
        State.SUBMITTED: ["issue", "sign", "upload_evidence", "submit", "head_approve"],
        State.UNDER_REVIEW: ["issue", "sign", "upload_evidence", "submit", "head_approve", "start_review"],
        State.RETURNED: ["issue", "sign", "upload_evidence", "submit", "head_approve", "return_case"],
        State.ACCEPTED: ["issue", "sign", "upload_evidence", "submit", "head_approve", "accept"],
        State.LONG_TERM: ["issue", "sign", "upload_evidence", "submit", "head_approve", "accept_long_term"],
        State.CLOSED: ["issue", "sign", "upload_evidence", "submit", "head_approve", "accept", "sign_off"],
        State.CANCELLED: ["issue", "request_cancel", "approve_cancel"],
    },
    actor_of={"issue": "inspector", "sign": "handler", "report_progress": "handler", "upload_evidence": "handler",
              "submit": "handler", "head_approve": "head", "start_review": "inspector", "return_case": "inspector",
              "accept": "inspector", "accept_long_term": "inspector", "sign_off": "leader",
              "request_cancel": "inspector", "approve_cancel": "leader"},
    state_after={"issue": State.ISSUED, "sign": State.SIGNED, "report_progress": State.RECTIFYING,
                 "submit": State.PENDING_HEAD, "head_approve": State.SUBMITTED, "start_review": State.UNDER_REVIEW,
                 "return_case": State.RETURNED, "accept": State.ACCEPTED, "accept_long_term": State.LONG_TERM,
                 "sign_off": State.CLOSED, "approve_cancel": State.CANCELLED},
    done_node={"sign": "sign", "submit": "rectify", "accept": "review", "sign_off": "sign_off"},
    titles=("消防通道堵塞", "灭火器过期", "低保档案不全", "资金发放滞后", "燃气报警器失效"),
)
INSPECTION_ITEM = Kind(
    model=InspectionItemCase,
    states=[("fixing", 50), ("head_check", 12), ("verifying", 13), ("verified", 25)],
    path={"fixing": [], "head_check": ["upload_evidence", "report"],
          "verifying": ["upload_evidence", "report", "confirm"],
          "verified": ["upload_evidence", "report", "confirm", "verify"]},
    actor_of={"upload_evidence": "handler", "report": "handler", "confirm": "head", "verify": "inspector"},
    state_after={"report": "head_check", "confirm": "verifying", "verify": "verified"},
    done_node={"report": "fix", "confirm": "head_check", "verify": "verify"},
    titles=("安全出口标识缺失", "食堂留样不全", "床头呼叫器失灵", "消毒记录缺漏", "电动车违规充电"),
)
KINDS = (RECTIFICATION, INSPECTION_ITEM)


@dataclass
class Org:
    city: Unit
    counties: list[Unit]
    leaves: list[Unit]
    people: dict = field(default_factory=dict)  # (role, unit id) -> [User]

    def one(self, role, unit):
        return self.people[(role, unit.pk)][0]


def _bulk_units(units: list[Unit]) -> list[Unit]:
    Unit.objects.bulk_create(units)
    for unit in units:
        unit.path = f"{unit.parent.path if unit.parent else ''}{unit.pk:06d}."
    Unit.objects.bulk_update(units, ["path"])
    return units


@transaction.atomic
def seed_org(n_units: int, n_users: int, rng: random.Random) -> Org:
    """A city bureau, county bureaus and the offices and institutions under them."""
    city = _bulk_units([Unit(code="B-0", name="基准市民政局", kind=UnitKind.CITY_BUREAU)])[0]
    n_counties = max(2, n_units // 100)
    counties = _bulk_units([Unit(code=f"B-C{i}", name=f"基准{i}县民政局", kind=UnitKind.COUNTY_BUREAU, parent=city)
                            for i in range(n_counties)])
    n_leaves = max(n_counties, n_units - 1 - n_counties)
    leaves = _bulk_units([Unit(code=f"B-L{i}", name=f"基准{i % n_counties}县第{i}单位",
                               kind=LEAF_KINDS[i % len(LEAF_KINDS)], parent=counties[i % n_counties])
                          for i in range(n_leaves)])
    password = make_password(PASSWORD)
    plan = [(Role.INSPECTOR, city), (Role.INSPECTOR, city), (Role.LEADER, city), (Role.LEGAL, city)]
    for county in counties:
        plan += [(Role.INSPECTOR, county), (Role.INSPECTOR, county), (Role.LEADER, county), (Role.LEGAL, county)]
    for leaf in leaves:
        plan += [(Role.HANDLER, leaf), (Role.UNIT_HEAD, leaf)]
    extra = max(0, n_users - len(plan))
    plan += [(Role.HANDLER, leaves[i % len(leaves)]) for i in range(extra)]
    users = [User(username=f"b{i}", password=password, full_name=f"基准用户{i}", role=role, unit=unit)
             for i, (role, unit) in enumerate(plan)]
    User.objects.bulk_create(users, batch_size=5000)
    org = Org(city, counties, leaves)
    for user in users:
        org.people.setdefault((user.role, user.unit_id), []).append(user)
    return org


def _pick_state(kind: Kind, rng):
    return rng.choices([s for s, _ in kind.states], weights=[w for _, w in kind.states])[0]


def kinds_of(start: int, size: int, share: float) -> list[Kind]:
    """The type of each of cases start .. start+size-1: every case whose place crosses a
    multiple of 1/share is an inspection item, so the share holds in any run of cases."""
    return [INSPECTION_ITEM if int((k + 1) * share) > int(k * share) else RECTIFICATION
            for k in range(start, start + size)]


def seed_cases(org: Org, n: int, rng: random.Random, chunk: int = 5000, leaves=None,
               share: float = ITEM_SHARE) -> int:
    """n cases spread over the units (or over `leaves`), each with its audit chain and tasks:
    a `share` of inspection items, the rest rectification tasks."""
    done = 0
    while done < n:
        size = min(chunk, n - done)
        with transaction.atomic():
            _seed_chunk(org, kinds_of(done, size, share), rng, leaves or org.leaves)
        done += size
    escalation.rebuild_counts()
    return done


def _seed_chunk(org: Org, kinds: list[Kind], rng: random.Random, leaves: list[Unit]):
    now = timezone.now()
    today = timezone.localdate()
    processes = Process.objects.bulk_create([Process(flow_class=kind.model.flow_class, status=PROCESS.NEW)
                                             for kind in kinds])
    cases = {kind.model: [] for kind in KINDS}
    events, tasks = [], []
    content_type = engine._unit_content_type()
    for kind, process in zip(kinds, processes):
        model = kind.model
        flow = model.flow_class.instance
        unit = rng.choice(leaves)
        supervisor = unit.parent
        crew = {"inspector": org.one(Role.INSPECTOR, supervisor), "leader": org.one(Role.LEADER, supervisor),
                "handler": org.one(Role.HANDLER, unit), "head": org.one(Role.UNIT_HEAD, unit)}
        state = _pick_state(kind, rng)
        created = now - timedelta(days=rng.randint(0, 360), minutes=rng.randint(0, 1440))
        deadline = (created + timedelta(days=rng.randint(7, 40))).date()
        draft = model.spec.phase_of(state) == "draft"
        ended = model.spec.phase_of(state) in ("done", "cancelled")
        # The constructor fills the phase from the declaration.
        case = model(
            process=process, case_type=model.spec.key, title=rng.choice(kind.titles),
            description="基准数据", unit=unit, supervisor_unit=supervisor,
            created_by=crew["inspector"], status=state, created_at=created, updated_at=created,
            deadline=None if draft else deadline, issued_at=None if draft else created,
            closed_at=created if ended else None, **_own_fields(kind, created, process, rng))
        case.case_ptr_id = process.pk
        cases[model].append(case)
        current = model.spec.initial
        events.append(audit.event_for(action="create", user=crew["inspector"], case=case, to_state=current))
        if rng.random() < 0.27:  # brings the mean to about five events per case
            events.append(audit.event_for(action="comment", user=crew["inspector"], case=case,
                                          from_state=current, to_state=current))
        for action in kind.path[state]:
            actor = crew[kind.actor_of[action]]
            after = kind.state_after.get(action, current)
            events.append(audit.event_for(action=action, user=actor, case=case, from_state=current, to_state=after))
            current = after
            if action in kind.done_node:
                tasks.append(Task(process_id=process.pk, flow_task=flow.node(kind.done_node[action]),
                                  flow_task_type="HUMAN", status=STATUS.DONE, created=created, finished=created,
                                  owner=actor, owner_permission=actor.role, owner_permission_content_type=content_type,
                                  owner_permission_obj_pk=str(actor.unit_id)))
        for wait in flow.waits(case):
            tasks.append(Task(process_id=process.pk, flow_task=flow.node(wait.node), flow_task_type="HUMAN",
                              status=STATUS.NEW, created=created, owner_permission=wait.role,
                              owner_permission_content_type=content_type, owner_permission_obj_pk=str(wait.unit_id)))
        if case.is_open and case.deadline and case.deadline < today and case.state.ladder:
            case.rung = 3 if (today - case.deadline).days > 10 else 2
    audit.start_chains(events, [case for rows in cases.values() for case in rows])
    for model, rows in cases.items():
        if rows:
            engine.bulk_insert_cases(model, rows)
    Task.objects.bulk_create(tasks, batch_size=5000)


def _own_fields(kind: Kind, created, process, rng) -> dict:
    """The fields of the type's own table, and its number."""
    if kind is INSPECTION_ITEM:
        return {"number": f"基准检查〔{created.year}〕{process.pk}号", "severity": rng.choice(["minor", "minor", "major"]),
                "deadline_days": 10}
    return {"number": f"基准〔{created.year}〕{process.pk}号", "requirement": "按要求整改", "deadline_days": 15}
