"""JSON API for rectification cases (v1). Thin: parse input, call selectors or services, serialise.

Reads go through ``selectors`` (scoped with ``visible_to``); writes go through ``services``.
Engine errors become responses in ``workflow.api.exception_handler``.
"""
import inspect

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (OpenApiParameter, OpenApiResponse, extend_schema,
                                   inline_serializer)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from workflow.engine import ActionError
from workflow.http import actor_for, record_denied
from workflow.models import Evidence, Unit
from workflow.paging import CappedPaginator
from workflow.views import evidence_download

from . import selectors, services
from .api_serializers import (CaseCreateSerializer, CaseDetailSerializer, CaseListQuerySerializer, CaseListSerializer,
                              CommentSerializer, DispatchSerializer, EvidenceSerializer, EvidenceUploadSerializer,
                              TransitionSerializer, transition_names)
from .models import RectificationCase


def required_params(action: str) -> list[str]:
    """Keyword parameters the transition needs and has no default for (reassign's unit, ...)."""
    params = inspect.signature(getattr(RectificationCase, action)).parameters.values()
    return [p.name for p in params if p.kind is p.KEYWORD_ONLY and p.default is p.empty and p.name != "actor"]


def _not_visible(request, target, pk, message):
    """A 404 that, like the web pages, leaves a denied-access event on the audit trail."""
    record_denied(request, target, pk, via="api")
    raise NotFound(message)


def _valid(serializer_class, request, data=None) -> dict:
    serializer = serializer_class(data=request.data if data is None else data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _case_response(case, request, code=status.HTTP_200_OK) -> Response:
    return Response(CaseDetailSerializer(case, context={"request": request}).data, status=code)


ERROR = inline_serializer("Error", {"detail": serializers.CharField()})
ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid input: {field: [messages]} or {detail: message}"),
    403: OpenApiResponse(ERROR, description="Your role may not do this"),
    404: OpenApiResponse(ERROR, description="No such case or unit, or you may not see it"),
    409: OpenApiResponse(ERROR, description="Already handled; the case's state no longer allows it"),
}


# Output --------------------------------------------------------------------------------
class CasePagination(PageNumberPagination):
    """50 a page by default; clients may ask for up to 200. Counts stop at a cap, as on the web."""

    django_paginator_class = CappedPaginator
    page_size_query_param = "page_size"
    max_page_size = 200


class CaseListCreateView(generics.ListCreateAPIView):
    """List the cases the user may see, or open a new one (inspectors)."""

    pagination_class = CasePagination

    def get_serializer_class(self):
        return CaseCreateSerializer if self.request.method == "POST" else CaseListSerializer

    def get_queryset(self):
        filters = _valid(CaseListQuerySerializer, self.request, self.request.query_params)
        unit = None
        if "unit" in filters:
            unit = Unit.objects.visible_to(self.request.user).filter(pk=filters["unit"]).first()
            if unit is None:
                _not_visible(self.request, "unit-filter", filters["unit"], _("No such unit, or you may not see it."))
        return selectors.case_list(
            self.request.user, unit=unit, status=filters.get("status", ""), overdue=filters.get("overdue", False),
            source=filters.get("source", ""), date_from=filters.get("created_from"),
            date_to=filters.get("created_to"), q=filters.get("q", ""),
        )

    @extend_schema(summary="List visible cases", parameters=[CaseListQuerySerializer],
                   responses={200: CaseListSerializer(many=True), **ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(summary="Open a case", request=CaseCreateSerializer, responses={201: CaseDetailSerializer, **ERRORS})
    def post(self, request, *args, **kwargs):
        case = services.case_create(actor=actor_for(request), **_valid(CaseCreateSerializer, request))
        return _case_response(case, request, status.HTTP_201_CREATED)


class CaseDetailView(APIView):
    """One case, with what the requesting user may do next."""

    @extend_schema(responses={200: CaseDetailSerializer, 404: ERRORS[404]})
    def get(self, request, pk):
        case = selectors.case_detail(request.user, pk)
        if case is None:
            _not_visible(request, "case", pk, _("No such case, or you may not see it."))
        return _case_response(case, request)


class DispatchView(APIView):
    """Send one problem to many units at once, all or none."""

    @extend_schema(request=DispatchSerializer, responses={201: inline_serializer(
        "DispatchResult", {"batch": serializers.IntegerField(), "cases": CaseListSerializer(many=True)}), **ERRORS})
    def post(self, request):
        cases = services.case_dispatch(actor=actor_for(request), **_valid(DispatchSerializer, request))
        body = {"batch": cases[0].batch_id, "cases": CaseListSerializer(cases, many=True).data}
        return Response(body, status=status.HTTP_201_CREATED)


class TransitionView(APIView):
    """Take one action (a state-machine transition) on a case."""

    @extend_schema(
        request=TransitionSerializer, responses={200: CaseDetailSerializer, **ERRORS},
        parameters=[OpenApiParameter("action", str, OpenApiParameter.PATH, enum=sorted(transition_names()))],
    )
    def post(self, request, pk, action):
        if action not in transition_names():
            raise ActionError(_("Unknown action."))
        params = _valid(TransitionSerializer, request)
        missing = [name for name in required_params(action) if name not in params]
        if missing:
            raise ValidationError({name: [_("This field is required.")] for name in missing})
        case = services.case_act(actor=actor_for(request), case_id=pk, action=action, **params)
        return _case_response(case, request)


class EvidenceView(APIView):
    """Add one evidence file to a case (the responsible unit's handler, while rectifying)."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": EvidenceUploadSerializer},
                   responses={201: EvidenceSerializer, 413: OpenApiResponse(ERROR, description="Too large"), **ERRORS})
    def post(self, request, pk):
        data = _valid(EvidenceUploadSerializer, request)
        evidence = services.case_add_evidence(actor=actor_for(request), case_id=pk, upload=data["file"],
                                              note=data["note"])
        return Response(EvidenceSerializer(evidence, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)


class EvidenceFileView(APIView):
    """Download one evidence file with token or session auth."""

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: ERRORS[404]})
    def get(self, request, pk, evidence_id):
        if not Evidence.objects.filter(pk=evidence_id, case_id=pk).exists():
            _not_visible(request, "evidence", evidence_id, _("No such file, or you may not see it."))
        # The web view keeps the scope check, audit and safe headers in one place; DRF has set
        # the token user on the underlying request, so its login_required passes.
        return evidence_download(request._request, evidence_id)


class CommentView(APIView):
    """Add a message to a case's thread."""

    @extend_schema(request=CommentSerializer, responses={201: CommentSerializer, **ERRORS})
    def post(self, request, pk):
        body = _valid(CommentSerializer, request)["body"]
        comment = services.case_comment(actor=actor_for(request), case_id=pk, body=body)
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)
