"""The v1 JSON API: scoping, creation, transitions, evidence, auth and the schema."""
import datetime
import json

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from processes.rectification.models import RectificationCase
from workflow.models import AuditEvent, Comment, Evidence, UnitKind
from tests.factories import PDF_BYTES, PNG_BYTES, make_case, make_unit, to_submitted, upload

CASES = "/api/v1/rectification/cases/"


def client_for(user) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def act(client, case_id, action, **params):
    return client.post(f"{CASES}{case_id}/transitions/{action}/", params, format="json")


def new_case_body(unit, **extra):
    body = dict(unit=unit.pk, title="食堂卫生不达标", description="后厨未分区", requirement="十日内整改", deadline_days=5)
    body.update(extra)
    return body


def ids(response):
    return {row["id"] for row in response.json()["results"]}


# Scoping -------------------------------------------------------------------------------
def test_list__handler_b_never_sees_unit_a_case(world):
    # given
    case_a, case_b = make_case(world), make_case(world, unit=world.county_b)
    client = client_for(world.handler_b)
    # when
    listed = client.get(CASES)
    filtered = client.get(CASES, {"unit": world.county_a.pk})
    by_status = client.get(CASES, {"status": "issued"})
    by_id = client.get(f"{CASES}{case_a.pk}/")
    # then
    assert listed.status_code == 200 and ids(listed) == {case_b.pk}
    assert filtered.status_code == 404
    assert ids(by_status) == {case_b.pk}
    assert by_id.status_code == 404
    assert AuditEvent.objects.filter(action="access_denied", actor_id=world.handler_b.pk).count() == 2


def test_list__inspector_sees_subtree_and_filters_apply(world):
    # given
    draft = make_case(world, issue=False, source="audit")
    issued = make_case(world, unit=world.county_b)
    overdue = make_case(world)
    RectificationCase.objects.filter(pk=overdue.pk).update(deadline=timezone.localdate() - datetime.timedelta(days=1))
    today = timezone.localdate().isoformat()
    client = client_for(world.inspector)
    # when / then
    assert ids(client.get(CASES)) == {draft.pk, issued.pk, overdue.pk}
    assert ids(client.get(CASES, {"status": "draft"})) == {draft.pk}
    assert ids(client.get(CASES, {"unit": world.county_b.pk})) == {issued.pk}
    assert ids(client.get(CASES, {"overdue": "1"})) == {overdue.pk}
    assert ids(client.get(CASES, {"source": "audit"})) == {draft.pk}
    assert ids(client.get(CASES, {"created_from": today, "created_to": today})) == {draft.pk, issued.pk, overdue.pk}
    ten_years_ago = (timezone.localdate() - datetime.timedelta(days=3650)).isoformat()
    assert ids(client.get(CASES, {"created_to": ten_years_ago})) == set()
    assert client.get(CASES, {"status": "bogus"}).status_code == 400


def test_detail__shows_deadline_light_and_actions_for_the_user(world):
    # given
    case = make_case(world)
    # when
    body = client_for(world.handler_a).get(f"{CASES}{case.pk}/").json()
    # then
    assert body["status"] == "issued" and body["deadline"] and body["light"] in ("green", "yellow")
    assert set(body["available_actions"]) >= {"sign", "refuse"}
    assert body["unit"]["id"] == world.county_a.pk and body["evidence"] == []


# Creating ------------------------------------------------------------------------------
def test_create__inspector_opens_and_issues_a_case(world):
    # when
    response = client_for(world.inspector).post(CASES, new_case_body(world.county_a, issue=True), format="json")
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "issued" and body["deadline"] and body["unit"]["id"] == world.county_a.pk
    assert RectificationCase.objects.get(pk=body["id"]).created_by == world.inspector


@pytest.mark.parametrize("who, where, refused", [("inspector", "elsewhere", 404), ("inspector", "own", 404),
                                                 ("handler_b", "county_a", 403)])
def test_create__forged_or_wrong_unit_is_rejected_and_nothing_created(world, who, where, refused):
    # given
    units = {"elsewhere": make_unit("外市民政局", UnitKind.CITY_BUREAU), "own": world.city, "county_a": world.county_a}
    # when
    response = client_for(getattr(world, who)).post(CASES, new_case_body(units[where]), format="json")
    # then: a unit not below the inspector's own is a 404 saying so (the schema cannot tell a valid
    # key from another: a 400 would refuse input it calls valid); a role that opens nothing, a 403
    assert response.status_code == refused
    assert response.json()["detail"]
    assert not RectificationCase.objects.exists()


def test_create__handler_may_not_open_cases(world):
    response = client_for(world.handler_a).post(CASES, new_case_body(world.county_a), format="json")
    assert response.status_code == 403
    assert not RectificationCase.objects.exists()


def test_dispatch__one_problem_to_many_units_all_or_none(world):
    # given
    client = client_for(world.inspector)
    body = new_case_body(world.county_a)
    del body["unit"]
    stranger = make_unit("外市民政局", UnitKind.CITY_BUREAU)
    # when
    refused = client.post("/api/v1/rectification/dispatch/", {**body, "units": [world.county_a.pk, stranger.pk]},
                          format="json")
    sent = client.post("/api/v1/rectification/dispatch/", {**body, "units": [world.county_a.pk, world.county_b.pk]},
                       format="json")
    # then
    assert refused.status_code == 404 and refused.json()["detail"]
    assert sent.status_code == 201, sent.content
    assert {c["unit"]["id"] for c in sent.json()["cases"]} == {world.county_a.pk, world.county_b.pk}
    assert {c["status"] for c in sent.json()["cases"]} == {"issued"}
    assert RectificationCase.objects.count() == 2


# Transitions ---------------------------------------------------------------------------
def test_transitions__happy_path_through_the_api_to_closed(world):
    # given
    names = ("inspector", "handler_a", "head_a", "leader")
    inspector, handler, head, leader = (client_for(getattr(world, name)) for name in names)
    case_id = inspector.post(CASES, new_case_body(world.county_a), format="json").json()["id"]
    # when
    steps = [(inspector, "issue", {}), (handler, "sign", {}), (handler, "report_progress", {"reason": "已清理一半"})]
    for client, action, params in steps:
        assert act(client, case_id, action, **params).status_code == 200, action
    uploaded = handler.post(f"{CASES}{case_id}/evidence/", {"file": upload(), "note": "整改后照片"}, format="multipart")
    steps = [(handler, "submit", {"reason": "已清理完毕"}), (head, "head_approve", {}),
             (inspector, "start_review", {}), (inspector, "accept", {"reason": "同意"}), (leader, "sign_off", {})]
    for client, action, params in steps:
        response = act(client, case_id, action, **params)
        assert response.status_code == 200, (action, response.content)
    # then
    assert uploaded.status_code == 201
    assert response.json()["status"] == "closed" and response.json()["available_actions"] == []
    assert RectificationCase.objects.get(pk=case_id).closed_at is not None


def test_transitions__params_are_parsed_and_required(world):
    # given
    case = make_case(world)
    inspector, handler = client_for(world.inspector), client_for(world.handler_a)
    # when
    no_reason = act(handler, case.pk, "refuse")
    refused = act(handler, case.pk, "refuse", reason="不属于本单位职责")
    no_unit = act(inspector, case.pk, "reassign")
    reassigned = act(inspector, case.pk, "reassign", unit=world.county_b.pk)
    # then
    assert no_reason.status_code == 400 and no_reason.json()["detail"]
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    assert no_unit.status_code == 400 and "unit" in no_unit.json()
    assert reassigned.status_code == 200 and reassigned.json()["unit"]["id"] == world.county_b.pk


def test_transitions__extension_takes_an_iso_date(world):
    # given
    case = make_case(world)
    handler = client_for(world.handler_a)
    act(handler, case.pk, "sign")
    later = (case.deadline + datetime.timedelta(days=10)).isoformat()
    # when
    missing = act(handler, case.pk, "request_extension", reason="需采购设备")
    garbled = act(handler, case.pk, "request_extension", reason="需采购设备", new_deadline="下个月")
    asked = act(handler, case.pk, "request_extension", reason="需采购设备", new_deadline=later)
    # then
    assert missing.status_code == 400 and "new_deadline" in missing.json()
    assert garbled.status_code == 400
    assert asked.status_code == 200 and asked.json()["pending_requests"][0]["new_deadline"] == later


def test_transitions__wrong_role_403_other_unit_404_repeat_409_unknown_400(world):
    # given
    case = make_case(world)
    # when
    wrong_role = act(client_for(world.head_a), case.pk, "sign")
    other_unit = act(client_for(world.handler_b), case.pk, "sign")
    first = act(client_for(world.handler_a), case.pk, "sign")
    again = act(client_for(world.handler_a), case.pk, "sign")
    unknown = [act(client_for(world.inspector), case.pk, name).status_code for name in ("delete", "save", "_required")]
    # then
    assert wrong_role.status_code == 403 and wrong_role.json()["detail"]
    assert other_unit.status_code == 404
    assert first.status_code == 200
    assert again.status_code == 409 and again.json()["detail"]
    assert unknown == [400, 400, 400]
    assert RectificationCase.objects.get(pk=case.pk).status == "signed"


def test_transitions__review_separation_of_duties_is_403(world):
    # given: the leader did not open the case, but the inspector who opened it may not sign off
    case = to_submitted(world, make_case(world))
    inspector = client_for(world.inspector)
    act(inspector, case.pk, "start_review")
    act(inspector, case.pk, "accept")
    # when
    response = act(inspector, case.pk, "sign_off")
    # then
    assert response.status_code == 403


# Evidence and comments -----------------------------------------------------------------
def test_evidence__upload_returns_a_download_url(world, settings, tmp_path):
    # given
    settings.EVIDENCE_ROOT = str(tmp_path)
    case = make_case(world)
    handler = client_for(world.handler_a)
    act(handler, case.pk, "sign")
    # when
    response = handler.post(f"{CASES}{case.pk}/evidence/", {"file": upload("报告.pdf", PDF_BYTES, "application/pdf")},
                            format="multipart")
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "报告.pdf" and body["download_url"].endswith(f"/evidence/{body['id']}/")
    download = handler.get(body["download_url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF_BYTES
    assert download["X-Content-Type-Options"] == "nosniff"
    assert client_for(world.handler_b).get(body["download_url"]).status_code == 404
    assert client_for(world.handler_a).get(f"{CASES}{case.pk}/").json()["evidence"][0]["id"] == body["id"]


def test_evidence__exe_renamed_pdf_is_400_and_nothing_stored(world, settings, tmp_path):
    # given
    settings.EVIDENCE_ROOT = str(tmp_path)
    case = make_case(world)
    handler = client_for(world.handler_a)
    act(handler, case.pk, "sign")
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200
    # when
    response = handler.post(f"{CASES}{case.pk}/evidence/", {"file": upload("整改报告.pdf", exe, "application/pdf")},
                            format="multipart")
    # then
    assert response.status_code == 400 and response.json()["detail"]
    assert not Evidence.objects.exists()
    assert list(tmp_path.rglob("*")) == []


def test_evidence__too_large_is_413_and_wrong_state_is_409(world, settings, tmp_path):
    # given
    settings.EVIDENCE_ROOT = str(tmp_path)
    case = make_case(world)
    handler = client_for(world.handler_a)
    # when
    before_signing = handler.post(f"{CASES}{case.pk}/evidence/", {"file": upload()}, format="multipart")
    settings.EVIDENCE_MAX_BYTES = len(PNG_BYTES) - 1
    act(handler, case.pk, "sign")
    too_large = handler.post(f"{CASES}{case.pk}/evidence/", {"file": upload()}, format="multipart")
    # then
    assert before_signing.status_code == 409
    assert too_large.status_code == 413
    assert not Evidence.objects.exists()


def test_comments__post_and_blank(world):
    # given
    case = make_case(world)
    # when
    posted = client_for(world.head_a).post(f"{CASES}{case.pk}/comments/", {"body": "请尽快处理"}, format="json")
    blank = client_for(world.head_a).post(f"{CASES}{case.pk}/comments/", {"body": "  "}, format="json")
    hidden = client_for(world.handler_b).post(f"{CASES}{case.pk}/comments/", {"body": "看看"}, format="json")
    # then
    assert posted.status_code == 201 and posted.json()["body"] == "请尽快处理"
    assert blank.status_code == 400
    assert hidden.status_code == 404
    assert Comment.objects.count() == 1


# Authentication and schema -------------------------------------------------------------
def test_auth__token_and_session_work_anonymous_and_bad_token_are_401(world):
    # given
    make_case(world)
    session = APIClient()
    session.force_login(world.handler_a)
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    # when / then
    assert client_for(world.handler_a).get(CASES).json()["count"] == 1
    assert session.get(CASES).json()["count"] == 1
    assert APIClient().get(CASES).status_code == 401
    assert bad.get(CASES).status_code == 401
    assert APIClient().post(CASES, new_case_body(world.county_a), format="json").status_code == 401


def test_schema__is_valid_openapi_3(world):
    from drf_spectacular.validation import validate_schema

    # when
    response = client_for(world.handler_a).get("/api/v1/schema/", {"format": "json"})
    # then
    assert APIClient().get("/api/v1/schema/").status_code == 401
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/rectification/cases/{id}/transitions/sign/" in schema["paths"]
    validate_schema(schema)


def test_exception_handler__maps_workflow_errors():
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    from workflow.api import exception_handler
    from workflow.cases.engine import ActionError, AlreadyHandled
    from workflow.cases.evidence import EvidenceRejected

    cases = [(ActionError("不行"), 400), (AlreadyHandled("已办"), 409), (EvidenceRejected("太大", status=413), 413),
             (EvidenceRejected("类型不符"), 400), (Http404("没有"), 404), (PermissionDenied("无权"), 403)]
    for exc, code in cases:
        response = exception_handler(exc, {})
        assert response.status_code == code
        assert response.data["detail"] == str(exc.args[0])
    assert exception_handler(ValueError("boom"), {}) is None
