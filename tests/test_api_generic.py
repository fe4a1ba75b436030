"""The v1 API is built from each case type's declaration, not written per type.

Every test takes a case type key and reads what it expects from that type's declaration:
paths and URL names, the schema of each action, the fields of rows and case pages, the
bounds of new cases and of each action's input, list filters and scoping. They run for every
registered type (a test-only one too, once installed).
"""
import datetime
import itertools
import json

import pytest
from django.urls import resolve, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import make_unit
from workflow.kernel import registry
from workflow.cases import selectors
from workflow.api.serializers import DETAIL, ROW, camel
from workflow.models import AuditEvent, Case, UnitKind

KEYS = [spec.key for spec in registry.case_types()]


# Helpers, by case type key ----------------------------------------------------------------------
def spec_of(key):
    return registry.model_for(key).spec


def client_for(user) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def opener_of(world, key):
    """A person of the world who may open cases of the type, with units below them."""
    if spec_of(key).create is None:
        pytest.skip("the type declares no way to open its cases")
    role = spec_of(key).create.role
    people = [getattr(world, name) for name in world.__dataclass_fields__]
    return next(p for p in people if getattr(p, "role", None) == role and selectors.target_units(p).exists())


def sample(field, unit=None):
    """A value the declared field accepts."""
    if field.default is not None:
        return field.default
    return {"int": lambda: field.min_value, "choice": lambda: field.choices[0][0], "unit": lambda: unit.pk,
            "date": lambda: timezone.localdate().isoformat(), "money": lambda: "1234.50",
            }.get(field.kind, lambda: "检查发现的问题")()


def hostile(field) -> list:
    """Values the declared field refuses, each alone."""
    if field.kind == "int":
        return [field.min_value - 1, field.max_value + 1, "十"]
    if field.kind == "choice":
        return ["no-such-choice"]
    if field.kind == "date":
        return ["下个月", (timezone.localdate() + datetime.timedelta(days=3650)).isoformat()]
    if field.kind == "unit":
        return [2 ** 70, "甲"]
    if field.kind == "money":
        return ["-1", "1.234", "一千元", "1" * 20]
    return ["x" * (field.max_length + 1)]


def new_case_body(world, key, unit=None, **extra) -> dict:
    """A body that opens a case of the type: under a new case of its parent type if it always
    has one; for a type kept in the opener's own unit, with no unit."""
    spec = spec_of(key)
    unit = unit or selectors.target_units(opener_of(world, key)).order_by("pk").first()
    body = {field.name: sample(field, unit) for field in spec.create.fields}
    if not spec.create.own_unit:
        body["unit"] = unit.pk
    if spec.parent is not None and spec.parent.required:
        body["parent"] = open_case(world, spec.parent.types[0])["id"]
    return {**body, **({"issue": True} if spec.create.then else {}), **extra}


def open_case(world, key, **extra) -> dict:
    response = client_for(opener_of(world, key)).post(f"/api/v1/{key}/cases/", new_case_body(world, key, **extra),
                                                      format="json")
    assert response.status_code == 201, response.content
    return response.json()


def schema(world) -> dict:
    return json.loads(client_for(world.handler_a).get("/api/v1/schema/", {"format": "json"}).content)


def body_schema(doc, path) -> dict | None:
    operation = doc["paths"][path]["post"]
    if "requestBody" not in operation:
        return None
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]]


def audit_count(case_id) -> int:
    return AuditEvent.objects.filter(case_id=case_id).count()


# Paths, names, schema ---------------------------------------------------------------------------
@pytest.mark.parametrize("key", KEYS)
def test_urls__every_type_has_the_same_paths_and_names(key):
    # given
    model = registry.model_for(key)
    evidence = "00000000-0000-0000-0000-000000000007"
    expected = {"cases": ([], f"/api/v1/{key}/cases/"), "case": ([5], f"/api/v1/{key}/cases/5/"),
                "transition": ([5, "x"], f"/api/v1/{key}/cases/5/transitions/x/"),
                "evidence": ([5], f"/api/v1/{key}/cases/5/evidence/"),
                "evidence-file": ([5, evidence], f"/api/v1/{key}/cases/5/evidence/{evidence}/"),
                "comments": ([5], f"/api/v1/{key}/cases/5/comments/")}
    if model.spec.create and model.spec.create.many:
        expected["dispatch"] = ([], f"/api/v1/{key}/dispatch/")
    # when / then
    for name, (args, path) in expected.items():
        assert reverse(f"api-{key}-{name}", args=args) == path
        assert resolve(path).func.cls.model is model, name
    for action in model.spec.verbs:
        match = resolve(f"/api/v1/{key}/cases/5/transitions/{action}/")
        assert (match.func.cls.model, match.func.cls.fixed_action) == (model, action)


@pytest.mark.parametrize("key", KEYS)
def test_schema__each_action_has_its_own_body_as_declared(world, key):
    # given
    spec = spec_of(key)
    # when
    doc = schema(world)
    # then
    for action, verb in spec.verbs.items():
        body = body_schema(doc, f"/api/v1/{key}/cases/{{id}}/transitions/{action}/")
        if not verb.fields:
            assert body is None or not body.get("properties"), action
            continue
        assert set(body["properties"]) == {f.name for f in verb.fields}, action
        required = {f.name for f in verb.fields if f.required and f.default is None}
        assert set(body.get("required", [])) == required, action
        for field in verb.fields:
            prop = body["properties"][field.name]
            if field.kind in ("text", "long"):
                assert prop["maxLength"] == field.max_length, (action, field.name)
            if field.kind == "int":
                assert (prop["minimum"], prop["maximum"]) == (field.min_value, field.max_value), (action, field.name)
    # The path naming the action has the same addresses as the actions' own: it is not listed again.
    assert f"/api/v1/{key}/cases/{{id}}/transitions/{{action}}/" not in doc["paths"]
    assert f"{camel(key)}StatusEnum" in doc["components"]["schemas"]
    assert set(doc["components"]["schemas"][f"{camel(key)}StatusEnum"]["enum"]) == {s.name for s in spec.states}


@pytest.mark.parametrize("key", KEYS)
def test_schema__new_case_and_dispatch_bodies_follow_the_declaration(world, key):
    # given
    create = spec_of(key).create
    # when
    doc = schema(world)
    # then
    if create is None:
        assert "post" not in doc["paths"][f"/api/v1/{key}/cases/"]
        return
    declared = {f.name for f in create.fields} | ({"parent"} if spec_of(key).parent else set())
    body = body_schema(doc, f"/api/v1/{key}/cases/")
    unit = set() if create.own_unit else {"unit"}
    assert set(body["properties"]) == declared | unit | ({"issue"} if create.then else set())
    dispatch = f"/api/v1/{key}/dispatch/"
    assert (dispatch in doc["paths"]) == create.many
    if create.many:
        assert set(body_schema(doc, dispatch)["properties"]) == declared | {"units"}


# Rows and case pages ----------------------------------------------------------------------------
@pytest.mark.parametrize("key", KEYS)
def test_rows_and_detail__carry_the_declared_fields(world, key):
    # given
    spec, model = spec_of(key), registry.model_for(key)
    created = open_case(world, key)
    client = client_for(opener_of(world, key))
    # when
    rows = client.get(f"/api/v1/{key}/cases/").json()["results"]
    detail = client.get(f"/api/v1/{key}/cases/{created['id']}/").json()
    # then
    assert [row["id"] for row in rows] == [created["id"]]
    assert set(rows[0]) == set(ROW) | set(spec.list_columns)
    choice = [n for n in dict.fromkeys([*spec.list_columns, *spec.detail_fields]) if model._meta.get_field(n).choices]
    assert set(detail) == (set(ROW) | set(spec.list_columns) | {"description"} | set(spec.detail_fields)
                           | {f"{name}_label" for name in choice} | set(DETAIL))
    case = model.objects.get(pk=created["id"])
    for name in choice:
        assert detail[f"{name}_label"] == case._get_FIELD_display(model._meta.get_field(name))
    assert detail["status_label"] == spec.state_label(case.status)
    assert set(detail["available_actions"]) <= set(spec.verbs)
    assert created == detail


@pytest.mark.parametrize("key", KEYS)
def test_list__declared_choice_filters_are_query_parameters(world, key):
    # given
    spec, model = spec_of(key), registry.model_for(key)
    created = open_case(world, key)
    client = client_for(opener_of(world, key))
    for name in spec.list_filters:
        value = getattr(model.objects.get(pk=created["id"]), name)
        other = next((c for c, _label in model._meta.get_field(name).choices if c != value), None)
        # when
        matching = client.get(f"/api/v1/{key}/cases/", {name: value})
        bogus = client.get(f"/api/v1/{key}/cases/", {name: "no-such-choice"})
        # then
        assert [row["id"] for row in matching.json()["results"]] == [created["id"]]
        assert bogus.status_code == 400 and name in bogus.json()
        if other is not None:
            assert client.get(f"/api/v1/{key}/cases/", {name: other}).json()["results"] == []


# Input bounds -------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", KEYS)
def test_create__each_declared_bound_is_a_400_naming_the_field_and_nothing_opened(world, key):
    # given
    spec = spec_of(key)
    client = client_for(opener_of(world, key))
    valid = new_case_body(world, key)
    # when / then
    for field in spec.create.fields:
        for value in hostile(field):
            response = client.post(f"/api/v1/{key}/cases/", {**valid, field.name: value}, format="json")
            assert response.status_code == 400 and field.name in response.json(), (field.name, value)
        if field.required and field.default is None:
            missing = {k: v for k, v in valid.items() if k != field.name}
            response = client.post(f"/api/v1/{key}/cases/", missing, format="json")
            assert response.status_code == 400 and field.name in response.json(), field.name
    assert not registry.model_for(key).objects.exists()


@pytest.mark.parametrize("key", KEYS)
def test_transitions__each_action_checks_its_own_declared_fields(world, key):
    # given: input is checked before the case is touched, whoever asks and whatever the state
    spec = spec_of(key)
    case_id = open_case(world, key)["id"]
    client = client_for(opener_of(world, key))
    before = (registry.model_for(key).objects.get(pk=case_id).status, audit_count(case_id))
    checked = 0
    # when / then
    for action, verb in spec.verbs.items():
        url = f"/api/v1/{key}/cases/{case_id}/transitions/{action}/"
        valid = {field.name: sample(field, world.county_b) for field in verb.fields}
        for field in verb.fields:
            for value in hostile(field):
                response = client.post(url, {**valid, field.name: value}, format="json")
                assert response.status_code == 400 and field.name in response.json(), (action, field.name, value)
                checked += 1
            if field.required and field.default is None and field.name != "reason":
                response = client.post(url, {k: v for k, v in valid.items() if k != field.name}, format="json")
                assert response.status_code == 400 and field.name in response.json(), (action, field.name)
    assert checked or not any(verb.fields for verb in spec.verbs.values())
    assert (registry.model_for(key).objects.get(pk=case_id).status, audit_count(case_id)) == before


@pytest.mark.parametrize("key", KEYS)
def test_transitions__a_field_any_action_takes_is_bounded_on_every_actions_path(world, key):
    # given: a body meant for one action, sent to another, is checked as a whole
    spec = spec_of(key)
    case_id = open_case(world, key)["id"]
    client = client_for(opener_of(world, key))
    fields = {field.name: field for verb in spec.verbs.values() for field in verb.fields}
    before = (registry.model_for(key).objects.get(pk=case_id).status, audit_count(case_id))
    # when / then
    for action, field in itertools.product(sorted(spec.verbs), fields.values()):
        response = client.post(f"/api/v1/{key}/cases/{case_id}/transitions/{action}/",
                               {field.name: hostile(field)[0]}, format="json")
        assert response.status_code == 400 and field.name in response.json(), (action, field.name)
    assert (registry.model_for(key).objects.get(pk=case_id).status, audit_count(case_id)) == before


@pytest.mark.parametrize("key", KEYS)
def test_transitions__a_name_the_type_does_not_declare_is_400(world, key):
    # given
    case_id = open_case(world, key)["id"]
    client = client_for(opener_of(world, key))
    undeclared = ["delete", "save", "light", "may_upload", "_required"]
    # when
    responses = [client.post(f"/api/v1/{key}/cases/{case_id}/transitions/{name}/", {}, format="json")
                 for name in undeclared if name not in spec_of(key).verbs]
    # then
    assert responses and {r.status_code for r in responses} == {400}
    assert all(r.json()["detail"] for r in responses)


# Creating ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", KEYS)
def test_dispatch__many_units_at_once_with_the_batch_if_the_type_keeps_one(world, key):
    # given
    spec, model = spec_of(key), registry.model_for(key)
    if not (spec.create and spec.create.many):
        pytest.skip("the type opens one case at a time")
    units = list(selectors.target_units(opener_of(world, key)).order_by("pk")[:2])
    body = {k: v for k, v in new_case_body(world, key).items() if k not in ("unit", "issue")}
    # when
    response = client_for(opener_of(world, key)).post(f"/api/v1/{key}/dispatch/",
                                                      {**body, "units": [u.pk for u in units]}, format="json")
    # then
    assert response.status_code == 201, response.content
    answer = response.json()
    cases = model.objects.filter(pk__in=[c["id"] for c in answer["cases"]])
    assert {c.unit_id for c in cases} == {u.pk for u in units}
    assert {c["status"] for c in answer["cases"]} == {spec.create.then and cases[0].status}
    batches = {getattr(c, "batch_id", None) for c in cases}
    assert batches == {answer["batch"]} and (answer["batch"] is not None) == hasattr(model, "batch_id")


@pytest.mark.parametrize("key", KEYS)
def test_create__a_unit_the_opener_may_not_see_is_404_and_nothing_opened(world, key):
    # given
    if spec_of(key).create is not None and spec_of(key).create.own_unit:
        pytest.skip("the type's cases stay in the opener's own unit")
    stranger = make_unit("外市民政局", UnitKind.CITY_BUREAU)
    # when
    response = client_for(opener_of(world, key)).post(
        f"/api/v1/{key}/cases/", new_case_body(world, key, unit=stranger), format="json")
    # then
    assert response.status_code == 404 and response.json()["detail"]
    assert not registry.model_for(key).objects.exists()


@pytest.mark.parametrize("key", [key for key in KEYS if spec_of(key).parent is not None])
def test_create__a_parent_out_of_sight_is_404_and_one_of_another_type_409(world, key):
    # given: a case the opener does not see, and one of a type this one cannot belong to
    opener = opener_of(world, key)
    body = new_case_body(world, key)
    hidden = open_case(world, key if spec_of(key).parent.required else spec_of(key).parent.types[0])
    Case.objects.filter(pk=hidden["id"]).update(unit=make_unit("外市民政局", UnitKind.CITY_BUREAU),
                                                supervisor_unit=make_unit("外省民政厅", UnitKind.CITY_BUREAU))
    count = registry.model_for(key).objects.count()
    unrelated = next((k for k in KEYS if k not in spec_of(key).parent.types and spec_of(k).create
                      and not spec_of(k).parent), None)
    # when
    out_of_sight = client_for(opener).post(f"/api/v1/{key}/cases/", {**body, "parent": hidden["id"]}, format="json")
    # then
    assert out_of_sight.status_code == 404 and out_of_sight.json()["detail"]
    if unrelated is not None:
        other = open_case(world, unrelated)["id"]
        wrong_type = client_for(opener).post(f"/api/v1/{key}/cases/", {**body, "parent": other}, format="json")
        assert wrong_type.status_code in (404, 409), wrong_type.content
    assert registry.model_for(key).objects.count() == count


# Scoping ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", KEYS)
def test_scoping__another_units_case_is_404_on_every_path_and_audited(world, key):
    # given: a case of county A, asked for by county B's handler
    case_id = open_case(world, key, unit=world.county_a)["id"]
    client = client_for(world.handler_b)
    action, verb = sorted(spec_of(key).verbs.items())[0]
    params = {field.name: sample(field, world.county_b) for field in verb.fields}
    base = f"/api/v1/{key}/cases/{case_id}/"
    # when
    answers = [client.get(base), client.post(f"{base}transitions/{action}/", params, format="json"),
               client.post(f"{base}comments/", {"body": "看看"}, format="json"),
               client.get(f"/api/v1/{key}/cases/", {"unit": world.county_a.pk})]
    # then
    assert [r.status_code for r in answers] == [404] * 4
    assert case_id not in {row["id"] for row in client.get(f"/api/v1/{key}/cases/").json()["results"]}
    assert AuditEvent.objects.filter(action="access_denied", actor_id=world.handler_b.pk).count() == 4


@pytest.mark.parametrize("key, other", list(itertools.permutations(KEYS, 2)))
def test_types__a_case_is_reached_only_under_its_own_type(world, key, other):
    # given
    case_id = open_case(world, key)["id"]
    client = client_for(opener_of(world, key))
    # when
    own = client.get(f"/api/v1/{key}/cases/{case_id}/")
    elsewhere = client.get(f"/api/v1/{other}/cases/{case_id}/")
    # then
    assert own.status_code == 200 and elsewhere.status_code == 404
    assert case_id not in {row["id"] for row in client.get(f"/api/v1/{other}/cases/").json()["results"]}
    assert Case.objects.get(pk=case_id).case_type == key


def test_dispatch__to_one_unit__is_still_a_dispatch_batch(world):
    client = client_for(world.inspector)
    answer = client.post(reverse("api-rectification-dispatch"), {
        "units": [world.county_a.pk], "title": "消防通道堵塞", "description": "二楼", "requirement": "清理"},
        format="json")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["batch"] is not None and len(body["cases"]) == 1
    assert body["cases"][0]["status"] == "issued"


def test_schema__generates_as_served_without_a_warning_or_error(db):
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.settings import patched_settings

    from workflow.api.urls import SCHEMA_SETTINGS, enum_names

    GENERATOR_STATS._warn_cache.clear()
    GENERATOR_STATS._error_cache.clear()
    with GENERATOR_STATS.silence(), patched_settings({**SCHEMA_SETTINGS, "ENUM_NAME_OVERRIDES": enum_names()}):
        SchemaGenerator().get_schema(request=None, public=True)
    assert not GENERATOR_STATS._warn_cache and not GENERATOR_STATS._error_cache, (
        dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache))
