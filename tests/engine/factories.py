"""Builders for tickets, the test-only case type, on top of tests.factories' world of units and people.
Everything goes through the platform's generic services (workflow.services), as pages and the API do."""
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from tests.engine.models import TicketCase
from tests.factories import World, upload
from workflow.cases import services


def ticket_fields(**fields) -> dict:
    values = dict(title="东门路灯不亮", description="东门外两盏路灯夜间不亮", priority="low", deadline_days=5)
    values.update(fields)
    return values


def open_ticket(world: World, unit=None, assign=True, **fields) -> TicketCase:
    """A ticket opened by the inspector for one unit: assigned at once, or left new (a draft)."""
    return services.open_cases(TicketCase, actor=world.actor("inspector"), units=[unit or world.county_a],
                               issue=assign, **ticket_fields(**fields))[0]


def act(world: World, ticket, actor: str, action: str, **params) -> TicketCase:
    return services.act(TicketCase, actor=world.actor(actor), case_id=ticket.pk, action=action, **params)


def add_evidence(world: World, ticket, actor: str = "handler_a", name="photo.png"):
    return services.add_evidence(TicketCase, actor=world.actor(actor), case_id=ticket.pk, upload=upload(name))


def finished_ticket(world: World, **fields) -> TicketCase:
    """A ticket the unit has worked on and finished, with evidence: waiting for the leader's check."""
    ticket = open_ticket(world, **fields)
    add_evidence(world, ticket)
    return act(world, ticket, "handler_a", "finish", reason="已更换灯泡")


def reload(ticket) -> TicketCase:
    return TicketCase.objects.get(pk=ticket.pk)


def open_tasks(ticket) -> list[tuple[str, str, int]]:
    """The ticket's open viewflow tasks as (node, role, unit id)."""
    return sorted((t.flow_task.name, t.owner_permission, int(t.owner_permission_obj_pk))
                  for t in Task.objects.filter(process_id=ticket.pk, status__in=[STATUS.NEW, STATUS.ASSIGNED]))


def closed_tasks(ticket) -> list[tuple[str, str, str, int | None]]:
    """The ticket's closed tasks as (node, role, status, owner id)."""
    return sorted((t.flow_task.name, t.owner_permission, str(t.status), t.owner_id)
                  for t in Task.objects.filter(process_id=ticket.pk).exclude(
                      status__in=[STATUS.NEW, STATUS.ASSIGNED]))
