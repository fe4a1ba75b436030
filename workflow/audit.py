"""Writing and verifying the hash-chained audit trail."""
import datetime
import hashlib
import json
from dataclasses import dataclass

from django.db import transaction

from .models import AuditChain, AuditEvent

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


def record(*, action, user=None, case=None, outcome=AuditEvent.Outcome.OK, from_state="",
           to_state="", reason="", ip=None, data=None, chain=None) -> AuditEvent:
    """Append one event to its chain. Runs inside the caller's transaction when there is one."""
    chain_key = chain or (case_chain(case.pk) if case is not None else SYSTEM_CHAIN)
    with transaction.atomic(savepoint=False):
        head = AuditChain.objects.select_for_update().filter(key=chain_key).first()
        if head is None:
            head, _ = AuditChain.objects.get_or_create(key=chain_key)
            head = AuditChain.objects.select_for_update().get(key=chain_key)
        unit = getattr(user, "unit", None) if user is not None else None
        event = AuditEvent(
            chain=chain_key, seq=head.seq + 1, case_id=getattr(case, "pk", None),
            actor_id=getattr(user, "pk", None),
            actor_name=(user.display_name if user is not None and user.pk else ""),
            actor_role=getattr(user, "role", "") or "",
            unit_id=getattr(unit, "pk", None), unit_name=getattr(unit, "name", "") or "",
            action=action, outcome=outcome, from_state=from_state or "", to_state=to_state or "",
            reason=reason or "", ip=ip, data=data or {}, prev_hash=head.last_hash,
        )
        event.hash = compute_hash(event)
        event.save(force_insert=True)
        AuditChain.objects.filter(key=chain_key).update(seq=event.seq, last_hash=event.hash)
    return event


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
    """Check every chain; returns the first break of each broken chain, in chain order."""
    heads = {key: (seq, last_hash)
             for key, seq, last_hash in AuditChain.objects.values_list("key", "seq", "last_hash")}
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


def start_chains(events: list[AuditEvent]) -> list[AuditEvent]:
    """Write the first events of brand-new case chains in bulk (one query for events, one for
    heads). `events` are unsaved, grouped by case in order; seq, links and hashes are set here."""
    heads: dict[str, tuple[int, str]] = {}
    for event in events:
        seq, prev = heads.get(event.chain, (0, GENESIS))
        event.seq, event.prev_hash = seq + 1, prev
        event.hash = compute_hash(event)
        heads[event.chain] = (event.seq, event.hash)
    AuditEvent.objects.bulk_create(events)
    AuditChain.objects.bulk_create([AuditChain(key=k, seq=s, last_hash=h) for k, (s, h) in heads.items()])
    return events


def event_for(*, action, user, case, from_state="", to_state="", reason="", ip=None, data=None) -> AuditEvent:
    """An unsaved event with the actor's snapshot, for start_chains."""
    unit = getattr(user, "unit", None)
    return AuditEvent(chain=case_chain(case.pk), case_id=case.pk, actor_id=user.pk, actor_name=user.display_name,
                      actor_role=user.role or "", unit_id=getattr(unit, "pk", None),
                      unit_name=getattr(unit, "name", "") or "", action=action, from_state=from_state,
                      to_state=to_state, reason=reason, ip=ip, data=data or {})
