"""Access control and sessions (RELIABILITY 10-13)."""
import datetime
import re

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from processes.rectification import services
from processes.rectification.models import RectificationCase, State
from workflow.cases.engine import ActionError, Actor
from workflow.models import AuditChain, AuditEvent, Evidence, Role, UnitKind
from tests.factories import PASSWORD, drive, make_case, make_unit, make_user, to_submitted, upload

API = "/api/v1/rectification/cases/"


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api(user) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def denied_events(user, target=None):
    events = AuditEvent.objects.filter(action="access_denied", outcome="denied", actor_id=user.pk)
    return [e for e in events if target is None or e.data.get("target") == target]


def snapshot(case):
    fresh = RectificationCase.objects.get(pk=case.pk)
    return (fresh.status, fresh.unit_id, fresh.updated_at,
            AuditEvent.objects.filter(case_id=case.pk, outcome="ok").count(), Evidence.objects.count())


@pytest.fixture
def case_b(world, settings, tmp_path):
    """An issued case of unit B, signed, with one piece of evidence."""
    settings.EVIDENCE_ROOT = str(tmp_path)
    case = drive(world, make_case(world, unit=world.county_b, title="乙县敬老院消防隐患"), ("handler_b", "sign"))
    evidence = services.case_add_evidence(actor=world.actor("handler_b"), case_id=case.pk, upload=upload())
    case.evidence_id = evidence.pk
    return case


@pytest.fixture
def other_city(db):
    """A bureau outside the inspectors' unit tree, with one county below it."""
    city = make_unit("外市民政局", UnitKind.CITY_BUREAU)
    return make_unit("外市丙县民政局", parent=city)


# 10. Reading another unit's things ---------------------------------------------------------
READS = {
    "case_page": (web, lambda c: f"/rectification/{c.pk}/", "case"),
    "evidence_file": (web, lambda c: f"/evidence/{c.evidence_id}/", "evidence"),
    "list_filter": (web, lambda c: f"/rectification/?unit={c.unit_id}", "unit-filter"),
    "notice_pdf": (web, lambda c: f"/rectification/{c.pk}/notice.pdf", "notice"),
    "api_case": (api, lambda c: f"{API}{c.pk}/", "case"),
    "api_list_filter": (api, lambda c: f"{API}?unit={c.unit_id}", "unit-filter"),
    "api_evidence_file": (api, lambda c: f"{API}{c.pk}/evidence/{c.evidence_id}/", "evidence"),
}


@pytest.mark.parametrize("route", sorted(READS))
@pytest.mark.parametrize("who", ["handler_a", "head_a"])
def test_access__unit_a_reading_unit_b_is_404_and_audited(world, case_b, route, who):
    # given
    make_client, url_of, target = READS[route]
    user = getattr(world, who)
    # when
    response = make_client(user).get(url_of(case_b), REMOTE_ADDR="10.1.2.3")
    # then
    assert response.status_code == 404
    assert "乙县敬老院" not in response.content.decode(errors="replace")
    [event] = denied_events(user, target)
    assert event.ip == "10.1.2.3" and event.actor_role == user.role and event.unit_id == world.county_a.pk
    assert event.data["id"] in (str(case_b.pk), str(case_b.evidence_id), str(case_b.unit_id))


@pytest.mark.parametrize("route", sorted(READS))
def test_access__unit_b_itself_may_read_the_same_things(world, case_b, route):
    # given: the control for the test above — the routes work for the owning unit
    make_client, url_of, _ = READS[route]
    if route == "notice_pdf":
        pytest.skip("rendered in test_pdf.py; WeasyPrint is slow")
    # when
    response = make_client(world.handler_b).get(url_of(case_b))
    # then
    assert response.status_code == 200
    assert denied_events(world.handler_b) == []


# 11. Writing to another unit's case, forging the unit ---------------------------------------
WRITES = {
    "web_transition": (web, lambda c: (f"/rectification/{c.pk}/act/report_progress/", {"reason": "已整改"})),
    "web_upload": (web, lambda c: (f"/rectification/{c.pk}/evidence/", {"file": upload("x.png")})),
    "web_comment": (web, lambda c: (f"/rectification/{c.pk}/comment/", {"body": "看看"})),
    "api_transition": (api, lambda c: (f"{API}{c.pk}/transitions/report_progress/", {"reason": "已整改"})),
}


@pytest.mark.parametrize("route", sorted(WRITES))
def test_access__unit_a_posting_on_unit_b_case_is_rejected_without_change(world, case_b, route):
    # given
    make_client, request_of = WRITES[route]
    before = snapshot(case_b)
    url, data = request_of(case_b)
    # when
    response = make_client(world.handler_a).post(url, data)
    # then
    assert response.status_code == 404
    assert snapshot(case_b) == before
    [event] = denied_events(world.handler_a, "case")
    assert event.data["id"] == str(case_b.pk)


def test_access__service_transition_on_unit_b_case_raises_404(world, case_b):
    # given
    before = snapshot(case_b)
    # when / then
    with pytest.raises(Http404):
        services.case_act(actor=world.actor("handler_a"), case_id=case_b.pk, action="report_progress", reason="x")
    assert snapshot(case_b) == before
    assert denied_events(world.handler_a, "case")[0].data["attempted"] == "report_progress"


@pytest.fixture
def refused(world):
    """A case that unit A says is wrongly addressed; the inspector must reassign it."""
    return drive(world, make_case(world), ("handler_a", "refuse", {"reason": "不属于本单位职责"}))


def test_forged_unit__reassign_outside_the_subtree_is_rejected(world, refused, other_city):
    # given
    before = snapshot(refused)
    # when / then
    with pytest.raises(ActionError):
        services.case_act(actor=world.actor("inspector"), case_id=refused.pk, action="reassign", unit=other_city)
    assert snapshot(refused) == before


def test_forged_unit__reassign_to_the_supervising_unit_itself_is_rejected(world, refused):
    # given: the city bureau is visible to its inspector but is not a unit under supervision
    before = snapshot(refused)
    # when / then
    with pytest.raises(ActionError):
        services.case_act(actor=world.actor("inspector"), case_id=refused.pk, action="reassign", unit=world.city)
    assert snapshot(refused) == before


def test_forged_unit__reassign_via_api_to_own_or_foreign_unit_is_rejected(world, refused, other_city):
    # given
    before = snapshot(refused)
    url = f"{API}{refused.pk}/transitions/reassign/"
    # when
    foreign = api(world.inspector).post(url, {"unit": other_city.pk}, format="json")
    own = api(world.inspector).post(url, {"unit": world.city.pk}, format="json")
    # then
    # (the API answers a unit the caller may not send cases to, its own among them, with a 404)
    assert foreign.status_code in (400, 404) and own.status_code in (400, 404, 409)
    assert snapshot(refused) == before


def test_forged_unit__reassign_web_form_with_foreign_unit_is_rejected(world, refused, other_city):
    # given
    before = snapshot(refused)
    # when
    response = web(world.inspector).post(f"/rectification/{refused.pk}/act/reassign/", {"unit": other_city.pk},
                                         follow=True)
    # then
    assert response.status_code == 200
    assert snapshot(refused) == before


def test_forged_unit__reassign_within_the_subtree_still_works(world, refused):
    # given: the control for the three tests above
    # when
    case = services.case_act(actor=world.actor("inspector"), case_id=refused.pk, action="reassign",
                             unit=world.county_b)
    # then
    assert case.status == State.ISSUED and case.unit_id == world.county_b.pk


@pytest.mark.parametrize("target", ["outside", "own_unit"])
def test_forged_unit__create_for_a_unit_outside_the_subtree_is_rejected(world, other_city, target):
    # given
    unit = other_city if target == "outside" else world.city
    # when / then
    with pytest.raises(ActionError):
        make_case(world, unit=unit)
    response = web(world.inspector).post("/rectification/new/", {
        "units": [unit.pk], "title": "伪造", "source": "inspection", "description": "x", "requirement": "y",
        "deadline_days": 5, "issue_now": "on"})
    assert response.status_code == 200  # the form comes back with an error
    assert not RectificationCase.objects.exists()


def test_forged_unit__handler_cannot_open_cases_for_any_unit(world):
    # when / then
    with pytest.raises(PermissionDenied):
        services.case_create(actor=world.actor("handler_a"), unit=world.county_b, title="t", description="d",
                             requirement="r")
    assert web(world.handler_a).get("/rectification/new/").status_code == 404
    assert not RectificationCase.objects.exists()


# 12. Roles and separation of duties ------------------------------------------------------
@pytest.fixture
def accepted(world):
    return drive(world, to_submitted(world, make_case(world)), ("inspector", "accept"))


@pytest.fixture
def under_review(world):
    return drive(world, to_submitted(world, make_case(world)), ("inspector", "start_review"))


@pytest.mark.parametrize("who", ["handler_a", "head_a"])
@pytest.mark.parametrize("action", ["accept", "sign_off"])
def test_roles__unit_role_cannot_accept_or_sign_off(world, who, action, request):
    # given
    case = request.getfixturevalue("under_review" if action == "accept" else "accepted")
    before = snapshot(case)
    # when
    with pytest.raises(PermissionDenied):
        services.case_act(actor=world.actor(who), case_id=case.pk, action=action)
    response = web(getattr(world, who)).post(f"/rectification/{case.pk}/act/{action}/", {"reason": "同意"})
    # then
    assert response.status_code == 403
    assert snapshot(case) == before
    user = getattr(world, who)
    denied = AuditEvent.objects.filter(case_id=case.pk, action=action, outcome="denied", actor_id=user.pk)
    assert denied.count() == 2


def test_roles__leader_who_opened_the_case_cannot_sign_it_off(world, accepted):
    # given: the case's opener is recorded as the leader
    RectificationCase.objects.filter(pk=accepted.pk).update(created_by=world.leader)
    before = snapshot(accepted)
    # when / then
    assert "sign_off" not in web(world.leader).get(accepted.get_absolute_url()).content.decode()
    with pytest.raises(PermissionDenied):
        services.case_act(actor=world.actor("leader"), case_id=accepted.pk, action="sign_off")
    assert web(world.leader).post(f"/rectification/{accepted.pk}/act/sign_off/").status_code == 403
    assert snapshot(accepted) == before


def test_roles__another_leader_may_sign_off(world, accepted):
    # given: the control — a leader who did not open the case
    RectificationCase.objects.filter(pk=accepted.pk).update(created_by=world.leader)
    other = make_user(Role.LEADER, world.city)
    # when
    case = services.case_act(actor=Actor(user=other), case_id=accepted.pk, action="sign_off")
    # then
    assert case.status == State.CLOSED


def test_roles__admin_cannot_see_or_change_audit_data_in_admin(world, accepted):
    # given: the administrator with every admin permission
    world.admin.is_staff = world.admin.is_superuser = True
    world.admin.save()
    client = web(world.admin)
    event = AuditEvent.objects.filter(case_id=accepted.pk).first()
    # when
    index = client.get("/admin/")
    pages = [client.get(url).status_code for url in (
        "/admin/workflow/auditevent/", f"/admin/workflow/auditevent/{event.pk}/change/",
        f"/admin/workflow/auditevent/{event.pk}/delete/", "/admin/workflow/auditchain/",
    )]
    # then
    assert index.status_code == 200
    assert "auditevent" not in index.content.decode().lower()
    assert pages == [404, 404, 404, 404]
    assert AuditEvent not in admin.site._registry and AuditChain not in admin.site._registry
    assert client.get("/admin/workflow/unit/").status_code == 200  # the admin itself works


def test_roles__audit_events_refuse_save_and_delete_through_the_orm(world, accepted):
    # given
    event = AuditEvent.objects.filter(case_id=accepted.pk).first()
    event.reason = "改写"
    # when / then
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).reason != "改写"


# 13. Sessions and login throttling ----------------------------------------------------------
LOGIN = "/accounts/login/"
COOKIE = django_settings.SESSION_COOKIE_NAME


def _login(client, username, password=PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def test_session__key_rotates_at_login(world):
    # given: an anonymous session already exists
    client = Client()
    session = client.session
    session["seen"] = True
    session.save()
    before = session.session_key
    client.cookies[COOKIE] = before
    # when
    response = _login(client, world.handler_a.username)
    # then
    assert response.status_code == 302
    after = client.cookies[COOKIE].value
    assert after and after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert client.get("/inbox/").status_code == 200


def test_session__logout_invalidates_the_old_cookie(world):
    # given
    client = Client()
    _login(client, world.handler_a.username)
    stolen = client.cookies[COOKIE].value
    # when
    client.post("/accounts/logout/")
    replay = Client()
    replay.cookies[COOKIE] = stolen
    # then
    assert not Session.objects.filter(session_key=stolen).exists()
    response = replay.get("/inbox/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_session__idle_timeout_ends_the_session(world):
    # given
    client = Client()
    _login(client, world.handler_a.username)
    key = client.cookies[COOKIE].value
    # when: the idle period passed
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    # then
    assert client.get("/inbox/").status_code == 302


def test_session__disabled_user_loses_the_session_on_next_request(world):
    # given
    case = make_case(world)
    client = Client()
    _login(client, world.handler_a.username)
    assert client.get("/inbox/").status_code == 200
    # when
    world.handler_a.is_active = False
    world.handler_a.save()
    # then
    page = client.get("/inbox/")
    post = client.post(f"/rectification/{case.pk}/act/sign/")
    api_call = api(world.handler_a).get(API)
    assert page.status_code == 302 and page["Location"].startswith("/accounts/login/")
    assert post.status_code == 302
    assert api_call.status_code == 401
    assert RectificationCase.objects.get(pk=case.pk).status == State.ISSUED


def _normalised(response, username):
    body = response.content.decode()
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", body)
    return body.replace(username, "USERNAME")


def test_login__five_failures_lock_without_revealing_whether_the_account_exists(world):
    # given: one real account and one name that does not exist
    real, ghost = world.handler_a.username, "no-such-user-2026"
    answers = {}
    # when: five wrong passwords each, then a sixth try (the real one with the right password)
    for name in (real, ghost):
        client = Client(REMOTE_ADDR="10.9.9.9")
        tries = [_login(client, name, "wrong-password") for _ in range(5)]
        answers[name] = tries + [_login(client, name, PASSWORD)]
    # then: the same statuses and bodies for both names, and the real account is locked
    statuses = {name: [r.status_code for r in rs] for name, rs in answers.items()}
    assert statuses[real] == statuses[ghost]
    assert statuses[real][:4] == [200] * 4 and statuses[real][4:] == [429, 429]
    for index in range(6):
        assert _normalised(answers[real][index], real) == _normalised(answers[ghost][index], ghost)
    locked = answers[real][-1]
    assert COOKIE not in locked.cookies or not locked.cookies[COOKIE].value


def test_login__the_account_is_locked_from_every_address(world):
    # given: the lock is on the account, so moving to another address does not help a guesser
    attacker = Client(REMOTE_ADDR="10.9.9.9")
    for _ in range(5):
        _login(attacker, world.handler_a.username, "wrong-password")
    # when: even the right password, from another address
    response = _login(Client(REMOTE_ADDR="10.0.0.1"), world.handler_a.username)
    # then: locked for now; another account is not
    assert response.status_code == 429
    assert _login(Client(REMOTE_ADDR="10.9.9.9"), world.handler_b.username).status_code == 302