"""Serializers of the rectification API."""
from functools import cache

from django.urls import reverse
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from workflow.api import WindowDateField
from workflow.forms import KEY_MAX, within_key_range
from workflow.engine import available_actions
from workflow.models import CaseRequest, Comment, Evidence, Unit

from .forms import BASIS_MAX, COMMENT_MAX, NOTE_MAX, REASON_MAX, SEARCH_MAX, TEXT_MAX, TITLE_MAX
from .models import RectificationCase, Source, State


@cache
def transition_names() -> frozenset[str]:
    """Every transition the model defines; the only actions the API accepts."""
    field = RectificationCase._meta.get_field("status")
    return frozenset(t.name for t in field.get_all_transitions(RectificationCase))


class UnitBriefSerializer(serializers.ModelSerializer):
    """A unit as shown inside a case."""

    class Meta:
        model = Unit
        fields = ["id", "code", "name"]


class EvidenceSerializer(serializers.ModelSerializer):
    """One evidence file and where to download it."""

    name = serializers.CharField(source="display_name")
    uploaded_by = serializers.CharField(source="uploaded_by.display_name")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields = ["id", "name", "content_type", "size", "sha256", "note", "uploaded_by", "created_at", "download_url"]

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, evidence) -> str:
        url = reverse("api-rectification-evidence-file", args=[evidence.case_id, evidence.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class CommentSerializer(serializers.ModelSerializer):
    """A message in the case's discussion thread (also the input of a new one)."""

    author = serializers.CharField(source="author.display_name", read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "author", "body", "created_at"]
        read_only_fields = ["created_at"]
        extra_kwargs = {"body": {"max_length": COMMENT_MAX}}


class CaseRequestSerializer(serializers.ModelSerializer):
    """A pending extension or cancellation request and the role it waits for."""

    waiting_role = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = CaseRequest
        fields = ["id", "kind", "reason", "new_deadline", "waiting_role", "created_at"]


class CaseListSerializer(serializers.ModelSerializer):
    """A case as a row of the list."""

    id = serializers.IntegerField(source="pk", read_only=True)
    status_label = serializers.CharField()
    unit = UnitBriefSerializer()
    light = serializers.SerializerMethodField()

    class Meta:
        model = RectificationCase
        fields = ["id", "number", "title", "status", "status_label", "source", "unit", "deadline", "light",
                  "created_at", "issued_at", "closed_at"]

    @extend_schema_field(serializers.ChoiceField(choices=["none", "green", "yellow", "red"]))
    def get_light(self, case) -> str:
        return case.light()


class CaseDetailSerializer(CaseListSerializer):
    """A case with its evidence, thread, pending requests and what the requesting user may do."""

    supervisor_unit = UnitBriefSerializer()
    created_by = serializers.CharField(source="created_by.display_name")
    source_label = serializers.CharField(source="get_source_display")
    evidence = EvidenceSerializer(many=True, read_only=True)
    comments = CommentSerializer(many=True, read_only=True)
    pending_requests = serializers.SerializerMethodField()
    available_actions = serializers.SerializerMethodField()
    may_upload = serializers.SerializerMethodField()

    class Meta(CaseListSerializer.Meta):
        fields = CaseListSerializer.Meta.fields + [
            "description", "requirement", "source_label", "basis", "supervisor_unit", "created_by",
            "deadline_days", "calendar_warning", "long_term", "report_every_days", "returns", "signed_at",
            "updated_at", "evidence", "comments", "pending_requests", "available_actions",
            "may_upload",
        ]

    @extend_schema_field(CaseRequestSerializer(many=True))
    def get_pending_requests(self, case):
        return CaseRequestSerializer(case.requests.filter(status=CaseRequest.Status.PENDING), many=True).data

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=sorted(transition_names()))))
    def get_available_actions(self, case) -> list:
        return available_actions(case, self.context["request"].user)

    def get_may_upload(self, case) -> bool:
        return case.may_upload(self.context["request"].user)


# Input ---------------------------------------------------------------------------------
@extend_schema_field(OpenApiTypes.INT)
class VisibleUnitField(serializers.PrimaryKeyRelatedField):
    """A unit id resolved only among the units the requesting user may see."""

    default_error_messages = {"does_not_exist": gettext_lazy("No such unit, or you may not see it.")}

    def get_queryset(self):
        return Unit.objects.visible_to(self.context["request"].user)

    def to_internal_value(self, data):
        if not within_key_range(data):
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class CaseFieldsSerializer(serializers.Serializer):
    """The problem itself, shared by create and dispatch."""

    title = serializers.CharField(max_length=TITLE_MAX)
    description = serializers.CharField(max_length=TEXT_MAX)
    requirement = serializers.CharField(max_length=TEXT_MAX)
    source = serializers.ChoiceField(choices=Source.choices, default=Source.INSPECTION)
    basis = serializers.CharField(max_length=BASIS_MAX, allow_blank=True, default="")
    deadline_days = serializers.IntegerField(min_value=1, max_value=365, default=10)


class CaseCreateSerializer(CaseFieldsSerializer):
    """Open one case for one unit; ``issue`` sends it at once instead of saving a draft."""

    unit = VisibleUnitField()
    issue = serializers.BooleanField(default=False)


class DispatchSerializer(CaseFieldsSerializer):
    """One problem for many units: each gets its own issued case."""

    units = VisibleUnitField(many=True, allow_empty=False)

    def validate_units(self, units):
        return list({unit.pk: unit for unit in units}.values())


class TransitionSerializer(serializers.Serializer):
    """Parameters of a transition; which ones an action needs depends on the action."""

    reason = serializers.CharField(max_length=REASON_MAX, allow_blank=True, required=False)
    new_deadline = WindowDateField(required=False)
    unit = VisibleUnitField(required=False)
    report_every_days = serializers.IntegerField(min_value=1, max_value=365, required=False)


@extend_schema_field(OpenApiTypes.BINARY)
class UploadField(serializers.FileField):
    """A file sent in the request: binary in the schema, not the URL a FileField shows on output."""


class EvidenceUploadSerializer(serializers.Serializer):
    """One evidence file (multipart field ``file``) with an optional note."""

    file = UploadField()
    note = serializers.CharField(max_length=NOTE_MAX, allow_blank=True, default="")


class CaseListQuerySerializer(serializers.Serializer):
    """List filters; ``unit`` includes the units below it."""

    status = serializers.ChoiceField(choices=State.choices, required=False)
    unit = serializers.IntegerField(min_value=1, max_value=KEY_MAX, required=False)
    overdue = serializers.BooleanField(required=False, help_text="1: only open cases past their deadline")
    source = serializers.ChoiceField(choices=Source.choices, required=False)
    created_from = WindowDateField(required=False)
    created_to = WindowDateField(required=False)
    q = serializers.CharField(max_length=SEARCH_MAX, required=False, help_text="title or number contains")


# Views ---------------------------------------------------------------------------------
