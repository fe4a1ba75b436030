"""A 403 (or 404 when the case is not visible) for every role that must not act."""
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from processes.rectification import services
from processes.rectification.models import RectificationCase
from tests.factories import drive, make_case, to_submitted

ACTORS = ["inspector", "leader", "legal", "admin", "handler_a", "head_a", "handler_b", "head_b"]
OTHER_UNIT = {"handler_b", "head_b", "admin"}  # the admin sees no case at all


def _draft(world):
    return make_case(world, issue=False)


def _issued(world):
    return make_case(world)


def _signed(world):
    return drive(world, make_case(world), ("handler_a", "sign"))


def _submitted(world):
    return to_submitted(world, make_case(world))


def _awaiting_head(world):
    from tests.factories import upload

    case = _signed(world)
    services.case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk, upload=upload())
    return drive(world, case, ("handler_a", "submit", {"reason": "完成"}))


def _accepted(world):
    return drive(world, to_submitted(world, make_case(world)), ("inspector", "accept"))


def _refused(world):
    return drive(world, make_case(world), ("handler_a", "refuse", {"reason": "r"}))


def _extension_pending(world):
    case = _signed(world)
    return drive(world, case, ("handler_a", "request_extension",
                               {"reason": "r", "new_deadline": case.deadline + timedelta(days=9)}))


def _cancel_pending(world):
    return drive(world, make_case(world), ("inspector", "request_cancel", {"reason": "r"}))


# action -> (state builder, the one actor allowed, params)
CASES = {
    "issue": (_draft, "inspector", {}),
    "sign": (_issued, "handler_a", {}),
    "refuse": (_issued, "handler_a", {"reason": "r"}),
    "reject_refusal": (_refused, "inspector", {"reason": "r"}),
    "report_progress": (_signed, "handler_a", {"reason": "r"}),
    "head_approve": (_awaiting_head, "head_a", {}),
    "head_reject": (_awaiting_head, "head_a", {"reason": "r"}),
    "start_review": (_submitted, "inspector", {}),
    "accept": (_submitted, "inspector", {}),
    "return_case": (_submitted, "inspector", {"reason": "r"}),
    "sign_off": (_accepted, "leader", {}),
    "approve_extension": (_extension_pending, "head_a", {}),
    "approve_cancel": (_cancel_pending, "leader", {}),
    "request_cancel": (_signed, "inspector", {"reason": "r"}),
}


@pytest.mark.parametrize("action", sorted(CASES))
def test_permissions__only_the_right_role_may_act(world, action):
    # given
    build, allowed, params = CASES[action]
    case = build(world)
    before = RectificationCase.objects.get(pk=case.pk).status
    for name in ACTORS:
        if name == allowed:
            continue
        # when / then
        expected = Http404 if name in OTHER_UNIT else PermissionDenied
        with pytest.raises(expected):
            services.case_act(actor=world.actor(name), case_id=case.pk, action=action, **params)
        assert RectificationCase.objects.get(pk=case.pk).status == before
    # and the allowed actor succeeds
    services.case_act(actor=world.actor(allowed), case_id=case.pk, action=action, **params)


@pytest.mark.parametrize("name,status", [("head_a", 403), ("handler_a", 403), ("legal", 403), ("handler_b", 404)])
def test_permissions__web_accept_is_forbidden_for_other_roles(world, client, name, status):
    # given
    case = _submitted(world)
    client.force_login(getattr(world, name))
    # when
    response = client.post(f"/rectification/{case.pk}/act/accept/", {"reason": ""})
    # then
    assert response.status_code == status
    assert RectificationCase.objects.get(pk=case.pk).status == "submitted"


def test_permissions__case_page_shows_only_the_users_actions(world, client):
    case = _submitted(world)
    client.force_login(world.handler_a)
    page = client.get(f"/rectification/{case.pk}/").content.decode()
    assert "/act/accept/" not in page and "/act/sign_off/" not in page
    client.force_login(world.inspector)
    page = client.get(f"/rectification/{case.pk}/").content.decode()
    assert "/act/accept/" in page and "/act/return_case/" in page and "/act/sign_off/" not in page


def test_permissions__only_inspectors_open_cases(world):
    for name in ("handler_a", "head_a", "leader", "admin"):
        with pytest.raises(PermissionDenied):
            services.case_create(actor=world.actor(name), unit=world.county_a, title="t", description="d",
                                 requirement="r")
