"""The API's views, the same for every case type: parse input, call the platform's selectors
and services, serialise. Each view reads its type from ``model``, set per type by
``workflow.api.urls``, which also gives each type's views their schema.

Reads go through ``workflow.selectors`` (scoped with ``visible_to``); writes through
``workflow.services``, or the type's own opener. Engine errors become responses in
``workflow.api.exception_handler``.
"""
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from workflow.cases import selectors, services
from workflow.cases.engine import ActionError, AlreadyHandled
from workflow.web.http import actor_for, record_denied
from workflow.models import Case, Evidence, Unit
from workflow.web.paging import CappedPaginator
from workflow.web.pages import evidence_download
from workflow.api.fields import unknown_name
from workflow.api.serializers import (CommentSerializer, EvidenceSerializer, EvidenceUploadSerializer, action_serializer, any_action_serializer, create_serializer, detail_serializer, dispatch_serializer, list_serializer, query_serializer)


def not_visible(request, target, pk, message):
    """A 404 that, like the web pages, leaves a denied-access event on the audit trail."""
    record_denied(request, target, pk, via="api")
    raise NotFound(message)


class CasePagination(PageNumberPagination):
    """50 a page by default; clients may ask for up to 200. Counts stop at a cap, as on the web."""

    django_paginator_class = CappedPaginator
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        """A page size that is no number from 1 to 200 is refused (DRF would take the default)."""
        if self.page_size_query_param in request.query_params:
            field = serializers.IntegerField(min_value=1, max_value=self.max_page_size)
            try:
                field.run_validation(request.query_params[self.page_size_query_param])
            except ValidationError as exc:
                raise ValidationError({self.page_size_query_param: exc.detail}) from exc
        return super().get_page_size(request)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"].update(minimum=1)
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters


def refused_by_the_process(exc: ActionError) -> AlreadyHandled:
    """A request whose input its schema accepts, refused by the engine or the process (the case's
    state, evidence still missing, a rule between fields): a 409 with the refusal, never a 400,
    which the schema keeps for input it does not describe."""
    return AlreadyHandled(exc.message)


class CaseTypeMixin:
    """What every view of a case type's API shares: its model, input checks and the case page.
    Bodies are JSON (an upload's, multipart): another media type is a 415."""

    model = None  # the case model; its ``spec`` is the declaration
    parser_classes = [JSONParser]

    def get_serializer_context(self):
        return {"request": self.request, "view": self, "case_type": self.model.spec.key}

    def valid(self, serializer_class, data=None) -> dict:
        serializer = serializer_class(data=self.request.data if data is None else data,
                                      context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def case_response(self, case, code=status.HTTP_200_OK) -> Response:
        return Response(detail_serializer(self.model)(case, context=self.get_serializer_context()).data, status=code)

    def check_opener(self):
        """A role that may not open cases of the type is refused (403) whatever its body says."""
        services.check_opener(self.model.spec, actor_for(self.request))

    def open(self, units, **fields) -> list:
        """Open cases through the type's opener (the process's own, or the platform's), with a
        body its serializer accepted: what the opener refuses then is a 409."""
        try:
            return services.opener(self.model)(actor=actor_for(self.request), units=units, **fields)
        except AlreadyHandled:
            raise
        except ActionError as exc:
            raise refused_by_the_process(exc) from exc


class KnownQueryMixin:
    """A list takes the query parameters its schema lists (its filters, and the pages'), and
    refuses any other with a 400 naming it: a misspelt filter is not silently ignored."""

    def query_names(self) -> set[str]:
        paginator = self.paginator
        paging = {getattr(paginator, name, None) for name in ("page_query_param", "page_size_query_param")}
        return set(self.filter_serializer().fields) | (paging - {None})

    def refuse_unknown_query(self):
        known = self.query_names()
        unknown = sorted(name for name in self.request.query_params if name not in known)
        if unknown:
            raise ValidationError({name: [unknown_name(name)] for name in unknown})


class CaseListView(KnownQueryMixin, CaseTypeMixin, generics.ListAPIView):
    """List the cases of the type the user may see."""

    pagination_class = CasePagination

    def get_serializer_class(self):
        return list_serializer(self.model)

    def filter_serializer(self):
        return query_serializer(self.model)()

    def get_queryset(self):
        self.refuse_unknown_query()
        # Read as one value a name (an empty one is refused, not taken for no filter).
        filters = self.valid(query_serializer(self.model), self.request.query_params.dict())
        unit = None
        if "unit" in filters:
            unit = Unit.objects.visible_to(self.request.user).filter(pk=filters["unit"]).first()
            if unit is None:
                not_visible(self.request, "unit-filter", filters["unit"], _("No such unit, or you may not see it."))
        under = None
        if "under" in filters:
            under = Case.objects.visible_to(self.request.user).filter(pk=filters["under"]).first()
            if under is None:
                not_visible(self.request, "case-filter", filters["under"], _("No such case, or you may not see it."))
        choices = {name: filters.get(name, "") for name in self.model.spec.list_filters}
        return selectors.case_list(
            self.model, self.request.user, status=filters.get("status", ""), unit=unit, under=under,
            overdue=filters.get("overdue", False), date_from=filters.get("created_from"),
            date_to=filters.get("created_to"), q=filters.get("q", ""), **choices)


class CaseListCreateView(CaseListView):
    """List the cases of the type, or open a new one for one unit (the declared opener)."""

    def get_serializer_class(self):
        return create_serializer(self.model) if self.request.method == "POST" else list_serializer(self.model)

    def post(self, request, *args, **kwargs):
        self.check_opener()
        fields = dict(self.valid(create_serializer(self.model)))
        unit = fields.pop("unit", None)  # none for a type kept in the opener's own unit
        case = self.open([unit] if unit else [], issue=fields.pop("issue", False), **fields)[0]
        return self.case_response(case, status.HTTP_201_CREATED)


class CaseDetailView(CaseTypeMixin, APIView):
    """One case, with what the requesting user may do next."""

    def get(self, request, pk):
        case = selectors.case_detail(self.model, request.user, pk)
        if case is None:
            not_visible(request, "case", pk, _("No such case, or you may not see it."))
        return self.case_response(case)


class DispatchView(CaseTypeMixin, APIView):
    """Send one problem to many units at once, all or none."""

    def post(self, request):
        self.check_opener()
        fields = dict(self.valid(dispatch_serializer(self.model)))
        cases = self.open(fields.pop("units"), issue=True, bulk=True, **fields)
        context = self.get_serializer_context()
        body = {"batch": getattr(cases[0], "batch_id", None),
                "cases": list_serializer(self.model)(cases, many=True, context=context).data}
        return Response(body, status=status.HTTP_201_CREATED)


class TransitionView(CaseTypeMixin, APIView):
    """Take one action (a state-machine transition) on a case; the action's declared fields
    are its input. Each action also has a path of its own, for its schema."""

    fixed_action = ""  # set on an action's own path

    def post(self, request, pk, action=""):
        action = self.fixed_action or action
        if action not in self.model.spec.verbs:
            raise ActionError(_("Unknown action."))
        # A field any of the type's actions takes is bounded wherever it is sent, as in one body
        # for all; the action's own serializer then asks for what it requires.
        self.valid(any_action_serializer(self.model))
        params = self.valid(action_serializer(self.model, action))
        # A body the action's path's schema accepts (a reason it requires is there) that the engine
        # refuses is refused by the case's state: 409. Without it, the engine's message is a 400,
        # after the role and the state were checked.
        described = action_serializer(self.model, action, strict=True)(data=request.data,
                                                                         context=self.get_serializer_context())
        try:
            case = services.act(self.model, actor=actor_for(request), case_id=pk, action=action, **params)
        except AlreadyHandled:
            raise
        except ActionError as exc:
            if described.is_valid():
                raise refused_by_the_process(exc) from exc
            raise
        return self.case_response(case)


class EvidenceView(CaseTypeMixin, APIView):
    """Add one evidence file to a case (whom the type names as uploader, in its upload states)."""

    parser_classes = [MultiPartParser]

    def post(self, request, pk):
        data = self.valid(EvidenceUploadSerializer)
        evidence = services.add_evidence(self.model, actor=actor_for(request), case_id=pk, upload=data["file"],
                                         note=data["note"], stage=data["stage"])
        return Response(EvidenceSerializer(evidence, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)


class EvidenceFileView(CaseTypeMixin, APIView):
    """Download one evidence file with token or session auth."""

    def get(self, request, pk, evidence_id):
        if not Evidence.objects.filter(pk=evidence_id, case_id=pk, case__case_type=self.model.spec.key).exists():
            not_visible(request, "evidence", evidence_id, _("No such file, or you may not see it."))
        # The web view keeps the scope check, audit and safe headers in one place; DRF has set
        # the token user on the underlying request, so its login_required passes.
        return evidence_download(request._request, evidence_id)


class CommentView(CaseTypeMixin, APIView):
    """Add a message to a case's thread."""

    def post(self, request, pk):
        body = self.valid(CommentSerializer)["body"]
        comment = services.comment(self.model, actor=actor_for(request), case_id=pk, body=body)
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


@extend_schema(exclude=True)
class NoSuchPath(APIView):
    """Any address under the API that names nothing: a JSON 404 (after the sign-in check)."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise NotFound(_("No such page, or you may not see it."))


class ApiDocsView(SpectacularSwaggerSplitView):
    """The API's documentation page (Swagger UI, served from this site), for signed-in staff
    (``login_required`` in the URLs: the anonymous are sent to the log-in page). Its script
    comes from this address (``?script``), so the page needs no inline script."""

    template_name = "workflow/api_docs.html"
    title = None  # the template's own, translated
