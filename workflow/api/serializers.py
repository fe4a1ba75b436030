"""Serializers of the API, built once per case type from its declaration.

Every type's rows and case pages share the same core (number, title, state, units, deadline,
evidence, thread, pending requests, what the user may do next); the declaration adds its
``list_columns`` and ``detail_fields``, the fields of a new case (``create.fields``), its
choice filters (``list_filters``) and one input per action (``verbs[action].fields``).
Component names start with the type's key in CamelCase, so types never share a schema.
"""
from functools import cache

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from workflow.cases.engine import available_actions
from workflow.web.bounds import KEY_MAX
from workflow.models import CaseRequest, Comment, Evidence, Unit
from workflow.kernel.limits import COMMENT_MAX, NOTE_MAX, SEARCH_MAX
from workflow.api.fields import NOT_BLANK, OnlyDeclared, ParentCaseField, TargetUnitField, TargetUnitsField, UploadField, WindowDateField, input_field, text

ROW = ["id", "number", "title", "status", "status_label", "unit", "deadline", "light", "created_at", "issued_at",
       "closed_at"]
DETAIL = ["supervisor_unit", "created_by", "deadline_days", "calendar_warning", "updated_at", "evidence", "comments",
          "pending_requests", "available_actions", "may_upload"]


def camel(name: str) -> str:
    """``fund_inspection`` → ``FundInspection``: the prefix of a type's schema components."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


# Shared by every type --------------------------------------------------------------------------
class UnitBriefSerializer(serializers.ModelSerializer):
    """A unit as shown inside a case."""

    class Meta:
        model = Unit
        fields = ["id", "code", "name"]


class EvidenceSerializer(serializers.ModelSerializer):
    """One evidence file and where to download it (under the case type of the request)."""

    name = serializers.CharField(source="display_name")
    uploaded_by = serializers.CharField(source="uploaded_by.display_name")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields = ["id", "name", "content_type", "size", "sha256", "note", "stage", "taken_at", "latitude", "longitude",
                  "uploaded_by", "created_at", "download_url"]

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, evidence) -> str:
        url = reverse(f"api-{self.context['case_type']}-evidence-file", args=[evidence.case_id, evidence.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class CommentSerializer(OnlyDeclared, serializers.ModelSerializer):
    """A message in the case's discussion thread (also the input of a new one)."""

    author = serializers.CharField(source="author.display_name", read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "author", "body", "created_at"]
        read_only_fields = ["created_at"]
        extra_kwargs = {"body": {"max_length": COMMENT_MAX, "validators": [NOT_BLANK]}}


class CaseRequestSerializer(serializers.ModelSerializer):
    """A pending side request (an extension, a cancellation, ...) and the role it waits for."""

    waiting_role = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = CaseRequest
        fields = ["id", "kind", "reason", "new_deadline", "waiting_role", "created_at"]


class EvidenceUploadSerializer(OnlyDeclared, serializers.Serializer):
    """One evidence file (multipart field ``file``) with an optional note and, for a photo, its
    stage (before / after the rectification, or other)."""

    file = UploadField()
    note = text(max_length=NOTE_MAX, allow_blank=True, default="")
    stage = serializers.ChoiceField(choices=Evidence.Stage.choices, default=Evidence.Stage.OTHER)


class AvailableActionsField(serializers.ListField):
    """The actions the requesting user may take on the case now, among the type's own."""

    def __init__(self, names, **kwargs):
        super().__init__(child=serializers.ChoiceField(choices=names), source="*", read_only=True, **kwargs)

    def to_representation(self, case):
        return available_actions(case, self.context["request"].user)


class CaseRowSerializer(serializers.ModelSerializer):
    """A case as a row of the list; each type adds its ``list_columns``."""

    id = serializers.IntegerField(source="pk", read_only=True)
    status_label = serializers.CharField(read_only=True)
    unit = UnitBriefSerializer(read_only=True)
    light = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(choices=["none", "green", "yellow", "red"]))
    def get_light(self, case) -> str:
        return case.light()


class CaseDetailSerializer(CaseRowSerializer):
    """A case with its evidence, thread, pending requests and what the requesting user may do;
    each type adds its ``detail_fields`` (and ``<name>_label`` for a field with choices)."""

    supervisor_unit = UnitBriefSerializer(read_only=True)
    created_by = serializers.CharField(source="created_by.display_name", read_only=True)
    evidence = EvidenceSerializer(many=True, read_only=True)
    comments = CommentSerializer(many=True, read_only=True)
    pending_requests = serializers.SerializerMethodField()
    may_upload = serializers.SerializerMethodField()

    @extend_schema_field(CaseRequestSerializer(many=True))
    def get_pending_requests(self, case):
        pending = sorted(case.pending_requests_by_kind().values(), key=lambda r: (r.created_at, r.pk))
        return CaseRequestSerializer(pending, many=True).data

    def get_may_upload(self, case) -> bool:
        return case.may_upload(self.context["request"].user)


# Built per type ------------------------------------------------------------------------------
def _choice_fields(model, names) -> list[str]:
    return [name for name in names if model._meta.get_field(name).choices]


def _meta(model, fields):
    return type("Meta", (), {"model": model, "fields": fields, "read_only_fields": fields})


@cache
def list_serializer(model):
    spec = model.spec
    fields = ROW[:5] + [name for name in spec.list_columns if name not in ROW] + ROW[5:]
    return type(f"{camel(spec.key)}CaseListSerializer", (CaseRowSerializer,), {
        "__doc__": f"A {spec.key} case as a row of the list.", "Meta": _meta(model, fields),
        "status": serializers.ChoiceField(choices=spec.state_choices(), read_only=True)})


@cache
def detail_serializer(model):
    spec = model.spec
    row = list_serializer(model).Meta.fields
    own = [name for name in ("description", *spec.detail_fields) if name not in row]
    labels = {f"{name}_label": serializers.CharField(source=f"get_{name}_display", read_only=True)
              for name in _choice_fields(model, dict.fromkeys([*spec.list_columns, *spec.detail_fields]))}
    fields = row + own + list(labels) + DETAIL
    # A choice that may be left unset is "" until it is set: the schema lists "" among its values.
    unset = {name: serializers.ChoiceField(choices=model._meta.get_field(name).choices, allow_blank=True,
                                           read_only=True)
             for name in _choice_fields(model, own) if model._meta.get_field(name).blank}
    return type(f"{camel(spec.key)}CaseDetailSerializer", (CaseDetailSerializer,), {
        "__doc__": f"A {spec.key} case with its evidence, thread, pending requests and what the user may do.",
        "Meta": _meta(model, fields), **labels, **unset,
        "status": serializers.ChoiceField(choices=spec.state_choices(), read_only=True),
        "available_actions": AvailableActionsField(sorted(spec.verbs))})


def _declared(spec, doc: str, fields, name: str, strict: bool = False, **extra):
    attrs = {field.name: input_field(field, strict=strict) for field in fields}
    return type(f"{camel(spec.key)}{name}Serializer", (OnlyDeclared, serializers.Serializer),
                {"__doc__": doc, **attrs, **extra})


@cache
def create_serializer(model):
    """Open one case for one unit; with the type's first action (``issue``), send it at once."""
    spec = model.spec
    extra = {} if spec.create.own_unit else {"unit": TargetUnitField(help_text="The responsible unit, below your own.")}
    extra.update(_parent(spec))
    if spec.create.then:
        extra["issue"] = serializers.BooleanField(
            default=False, help_text=f"true: {spec.create.then} at once instead of saving a draft")
    return _declared(spec, f"A new {spec.key} case for one unit.", spec.create.fields, "CaseCreate", **extra)


KEY_LIST_MAX = 2000  # units one dispatch may name


@cache
def dispatch_serializer(model):
    """The same new case for many units, each sent its own at once, all or none."""
    spec = model.spec
    return _declared(spec, f"One {spec.key} problem for many units: each gets its own case, sent at once.",
                     spec.create.fields, "Dispatch",
                     units=TargetUnitsField(min_length=1, max_length=KEY_LIST_MAX), **_parent(spec))


def _parent(spec) -> dict:
    """The ``parent`` field of a type whose cases belong to others (required if they always do)."""
    if spec.parent is None:
        return {}
    return {"parent": ParentCaseField(required=spec.parent.required,
                                      help_text=f"The id of the case it belongs to: a {' or '.join(spec.parent.types)}.")}


@cache
def action_serializer(model, action: str, strict: bool = False):
    """The input of one action: the fields its verb declares. `strict` (the schema of the
    action's path) requires a reason the action requires; the view reads the body leniently,
    so that the role and the state are checked before a missing reason, and a body the strict
    one accepts is never refused as input (see ``TransitionView``)."""
    spec = model.spec
    verb = spec.verbs[action]
    return _declared(spec, f"The input of the {spec.key} action {action}.", verb.fields,
                     f"{camel(action)}Action" if strict else f"{camel(action)}ActionInput", strict=strict)


@cache
def any_action_serializer(model):
    """Every action's fields, none required, each within its bounds: the body of the path that
    names the action, and checked on every action's own path too, so a field is bounded
    wherever it is sent. A name two actions declare as different kinds is left to each action."""
    spec = model.spec
    by_name = {}
    for verb in spec.verbs.values():
        for field in verb.fields:
            by_name.setdefault(field.name, []).append(field)
    attrs = {name: input_field(fields[0], optional=True) for name, fields in by_name.items()
             if len({(f.kind, f.max_length, f.min_value, f.max_value, f.choices) for f in fields}) == 1}
    return type(f"{camel(spec.key)}TransitionSerializer", (OnlyDeclared, serializers.Serializer), {
        "__doc__": f"The fields of any {spec.key} action; which ones an action takes is on its own path.", **attrs})


@cache
def query_serializer(model):
    """List filters; ``unit`` includes the units below it; ``under`` (for a type with a parent)
    keeps the cases below one case."""
    spec = model.spec
    attrs = {
        "status": serializers.ChoiceField(choices=spec.state_choices(), required=False),
        "unit": serializers.IntegerField(min_value=1, max_value=KEY_MAX, required=False),
        "overdue": serializers.BooleanField(required=False, help_text="1: only open cases past their deadline"),
    }
    for name in spec.list_filters:
        attrs[name] = serializers.ChoiceField(choices=model._meta.get_field(name).choices, required=False)
    if spec.parent is not None:
        attrs["under"] = serializers.IntegerField(
            min_value=1, max_value=KEY_MAX, required=False,
            help_text="id of a case: only the cases under it (those it is the parent or the top case of)")
    attrs.update(created_from=WindowDateField(required=False), created_to=WindowDateField(required=False),
                 q=text(max_length=SEARCH_MAX, required=False, help_text="title or number contains"))
    return type(f"{camel(spec.key)}CaseListQuerySerializer", (serializers.Serializer,), {"__doc__": "", **attrs})
