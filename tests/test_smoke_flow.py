from processes.rectification.models import RectificationCase
from tests.factories import drive, make_case, to_submitted


def test_flow__happy_path_from_draft_to_closed(world):
    # given
    case = make_case(world, issue=False)
    assert case.status == "draft"
    # when
    case = drive(world, case, ("inspector", "issue"))
    case = to_submitted(world, case)
    case = drive(world, case, ("inspector", "start_review"), ("inspector", "accept"), ("leader", "sign_off"))
    # then
    assert case.status == "closed"
    assert RectificationCase.objects.get(pk=case.pk).closed_at is not None
