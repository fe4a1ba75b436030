"""Writing and verifying the hash-chained audit trail."""
import datetime
import hashlib
import json
from dataclasses import dataclass

from django.db import transaction

from workflow.storage import sql
from workflow.models import AuditChain, AuditEvent, Case

GENESIS = "0" * 64
SYSTEM_CHAIN = "system"
HASHED_FIELDS = (
    "chain", "seq", "case_id", "actor_id", "actor_name", "actor_role", "unit_id", "unit_name",
    "action", "outcome", "from_state", "to_state", "reason", "ip", "data", "created_at", "prev_hash",
)


def case_chain(case_id) -> str:
    return f"case:{case_id}"


def compute_hash(event: AuditEvent) -> str:
    values = []
    for name in HASHED_FIELDS:
        value = getattr(event, name)
        if isinstance(value, datetime.datetime):
            value = value.astimezone(datetime.timezone.utc).isoformat()
        values.append(value)
    payload = json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def event_for(*, action, user=None, case=None, outcome=AuditEvent.Outcome.OK, from_state="", to_state="",
              reason="", ip=None, data=None, chain=None) -> AuditEvent:
    """An unsaved event with snapshots of the actor, role and unit; its place in a chain
    (seq, links, hash) is set by whoever appends it."""
    unit = getattr(user, "unit", None) if user is not None else None
    return AuditEvent(
        chain=chain or (case_chain(case.pk) if case is not None else SYSTEM_CHAIN),
        case_id=getattr(case, "pk", None), actor_id=getattr(user, "pk", None),
        actor_name=(user.display_name if user is not None and user.pk else ""),
        actor_role=getattr(user, "role", "") or "",
        unit_id=getattr(unit, "pk", None), unit_name=getattr(unit, "name", "") or "",
        action=action, outcome=outcome, from_state=from_state or "", to_state=to_state or "",
        reason=reason or "", ip=ip, data=data or {},
    )


def event_key(event: AuditEvent) -> str:
    """A name for the event that is unique and known before the row is written (its place
    in its chain), for keys derived from it such as the outbox's."""
    return f"ev:{event.chain}:{event.seq}"


def _append(event: AuditEvent, seq: int, prev: str) -> AuditEvent:
    """Link the event into its chain and write it. Its id is not read back (the write may
    be pipelined); `event_key` names it."""
    event.seq, event.prev_hash = seq, prev
    event.hash = compute_hash(event)
    sql.insert([event])
    return event


def record(*, action, user=None, case=None, outcome=AuditEvent.Outcome.OK, from_state="",
           to_state="", reason="", ip=None, data=None, locked=False, defer_head=False, on=None) -> AuditEvent:
    """Append one event to its chain, inside the caller's transaction when there is one.

    A case's chain head lives on the case row. When the caller holds the case's lock
    (``locked``, as inside ``engine.locked_case``) the head is read from the loaded case,
    and with ``defer_head`` (which implies ``locked``) the caller's own save of the case
    writes the new head, so recording costs one INSERT. Events about a record beside cases
    (`on`) go to that record's chain; events with neither go to the system chain.
    """
    fields = dict(action=action, user=user, case=case, outcome=outcome, from_state=from_state,
                  to_state=to_state, reason=reason, ip=ip, data=data)
    with transaction.atomic(savepoint=False):
        if case is None:
            key = on.audit_chain if on is not None else SYSTEM_CHAIN
            head = AuditChain.objects.select_for_update().filter(key=key).first()
            if head is None:
                AuditChain.objects.get_or_create(key=key)
                head = AuditChain.objects.select_for_update().get(key=key)
            event = _append(event_for(**fields, chain=key), head.seq + 1, head.last_hash)
            AuditChain.objects.filter(key=key).update(seq=event.seq, last_hash=event.hash)
            return event
        if locked or defer_head:
            seq, prev = case.audit_seq, case.audit_hash
        else:
            seq, prev = Case.objects.select_for_update().filter(pk=case.pk).values_list(
                "audit_seq", "audit_hash").get()
        event = _append(event_for(**fields), seq + 1, prev)
        case.audit_seq, case.audit_hash = event.seq, event.hash
        if not defer_head:
            Case.objects.filter(pk=case.pk).update(audit_seq=event.seq, audit_hash=event.hash)
    return event


def has_acted(case_id, user_id, actions) -> bool:
    """Whether the user took any of `actions` on the case (successfully). One prepared
    statement: permission checks ask this on every review transition and case page."""
    if user_id is None or case_id is None:
        return False
    table = sql.quote(AuditEvent._meta.db_table)
    with sql.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE case_id = %s AND actor_id = %s AND outcome = %s "
                       f"AND action IN ({', '.join(['%s'] * len(actions))}) LIMIT 1",
                       [case_id, user_id, AuditEvent.Outcome.OK, *actions])
        return cursor.fetchone() is not None


@dataclass
class Break:
    chain: str
    seq: int
    event_id: int | None
    problem: str

    def __str__(self):
        where = f"event #{self.event_id}" if self.event_id else "chain head"
        return f"{where} (chain {self.chain}, seq {self.seq}): {self.problem}"


def verify(chunk_size=5000) -> list[Break]:
    """Check every chain; returns the first break of each broken chain, in chain order.

    Heads and events are read from one snapshot, so events written meanwhile are no break."""
    conn = transaction.get_connection()
    outermost = not conn.in_atomic_block
    with transaction.atomic():
        if outermost and conn.vendor == "postgresql":
            with transaction.get_connection().cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _verify(chunk_size)


def _verify(chunk_size) -> list[Break]:
    heads = {key: (seq, last_hash)
             for key, seq, last_hash in AuditChain.objects.values_list("key", "seq", "last_hash")}
    heads.update({case_chain(pk): (seq, last_hash) for pk, seq, last_hash in
                  Case.objects.filter(audit_seq__gt=0).values_list("pk", "audit_seq", "audit_hash").iterator()})
    breaks: list[Break] = []
    chain, expected_seq, prev, broken = None, 1, GENESIS, False
    seen = set()

    def close_chain():
        if chain is None or broken or chain not in heads:
            return
        head_seq, head_hash = heads[chain]
        if head_seq != expected_seq - 1:
            breaks.append(Break(chain, expected_seq, None,
                                f"chain head says {head_seq} events, found {expected_seq - 1}"))
        elif head_hash != prev:
            # the newest event was rewritten (or the tail re-linked) with recomputed hashes
            breaks.append(Break(chain, head_seq, None, "last event does not match the chain head's hash"))

    for event in AuditEvent.objects.order_by("chain", "seq").iterator(chunk_size=chunk_size):
        if event.chain != chain:
            close_chain()
            chain, expected_seq, prev, broken = event.chain, 1, GENESIS, False
            seen.add(chain)
        if broken:
            continue
        problem = None
        if event.seq != expected_seq:
            problem = f"expected seq {expected_seq}, found {event.seq} (missing or reordered event)"
        elif event.prev_hash != prev:
            problem = "previous-hash link does not match"
        elif compute_hash(event) != event.hash:
            problem = "content does not match its hash (edited)"
        if problem:
            breaks.append(Break(chain, event.seq, event.pk, problem))
            broken = True
            continue
        expected_seq, prev = expected_seq + 1, event.hash
    close_chain()
    for key, (seq, _) in heads.items():
        if seq and key not in seen:
            breaks.append(Break(key, 1, None, f"chain head says {seq} events, found none"))
    return breaks


def start_chains(events: list[AuditEvent], cases) -> list[AuditEvent]:
    """Write the first events of brand-new case chains in bulk. `events` are unsaved and in
    order per case; seq, links and hashes are set here, and each case in `cases` gets its
    chain head (so insert the cases after this)."""
    heads: dict[int, tuple[int, str]] = {}
    for event in events:
        seq, prev = heads.get(event.case_id, (0, GENESIS))
        event.seq, event.prev_hash = seq + 1, prev
        event.hash = compute_hash(event)
        heads[event.case_id] = (event.seq, event.hash)
    for case in cases:
        case.audit_seq, case.audit_hash = heads.get(case.pk, (0, GENESIS))
    sql.insert(events)
    return events


def record_account_event(sender, *, action, user, ip, data, **_kwargs):
    """An account changed (workflow.models.units.account_event): one event on the system chain."""
    record(action=action, user=user, ip=ip, data=data)
