"""Unit scoping: one rule for units and cases, kept true when units move."""
from processes.rectification.models import RectificationCase
from workflow.models import Case, Unit
from tests.factories import make_case, make_unit


def test_scope__moving_a_unit_moves_its_subtree_and_who_sees_it(world):
    # given: an office under county A with a case
    office = make_unit("城关镇民政办", parent=world.county_a)
    case = make_case(world, unit=office)
    assert Case.objects.visible_to(world.handler_a).filter(pk=case.pk).exists() is False  # not the county's own
    # when: the office moves to county B
    office.parent = world.county_b
    office.name = "城关镇民政办（调整）"
    office.save()
    # then: its path, its name and who may see its cases all follow
    office.refresh_from_db()
    assert office.name.endswith("（调整）") and office.path.startswith(world.county_b.path)
    assert Unit.objects.visible_to(world.inspector).filter(pk=office.pk).exists()
    from tests.factories import make_user

    head_a, head_b = make_user("inspector", world.county_a), make_user("inspector", world.county_b)
    assert not Case.objects.visible_to(head_a).filter(pk=case.pk).exists()
    assert Case.objects.visible_to(head_b).filter(pk=case.pk).exists()


def test_scope__the_administrator_reads_no_case(world, client):
    case = make_case(world)
    assert not Case.objects.visible_to(world.admin).exists()
    client.force_login(world.admin)
    assert client.get(f"/rectification/{case.pk}/").status_code == 404


def test_scope__a_unit_does_not_see_drafts_addressed_to_it(world):
    draft = make_case(world, issue=False)
    assert not RectificationCase.objects.visible_to(world.handler_a).filter(pk=draft.pk).exists()
    assert RectificationCase.objects.visible_to(world.inspector).filter(pk=draft.pk).exists()
