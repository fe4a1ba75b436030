"""URLs of the v1 JSON API (mounted at /api/v1/): one schema, and under each registered case
type's key the same paths and URL names (``api-<key>-cases``, ``api-<key>-case``, ...).

Each action has a path of its own (``.../transitions/sign/``) whose schema states its input;
``.../transitions/<action>/`` takes any of them and is what ``api-<key>-transition`` reverses to.
"""
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view,
                                   inline_serializer)
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated

from workflow.kernel import registry
from workflow.api import views
from workflow.api.serializers import (CommentSerializer, EvidenceSerializer, EvidenceUploadSerializer, action_serializer, any_action_serializer, camel, create_serializer, detail_serializer, dispatch_serializer, list_serializer, query_serializer)

ERROR = inline_serializer("Error", {"detail": serializers.CharField()})
ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid input: {field: [messages]} or {detail: message}"),
    403: OpenApiResponse(ERROR, description="Your role may not do this"),
    404: OpenApiResponse(ERROR, description="No such case or unit, or you may not see it"),
    409: OpenApiResponse(ERROR, description="Already handled; the case's state no longer allows it"),
}


def _view(base, model, name: str, attrs=None, **schemas):
    """`base` for this case type, with the schema of each of its methods."""
    view = type(f"{camel(model.spec.key)}{name}", (base,), {"model": model, "__doc__": base.__doc__, **(attrs or {})})
    return extend_schema_view(**schemas)(view).as_view()


def case_type_urls(model) -> list:
    """The type's paths under its key, with today's URL names."""
    spec = model.spec
    key, detail, actions = spec.key, detail_serializer(model), sorted(spec.verbs)
    case = f"{key}/cases/<int:pk>/"

    def op(summary, **kwargs):
        return extend_schema(summary=summary, tags=[key], **kwargs)

    listing = op("List visible cases", parameters=[query_serializer(model)],
                 responses={200: list_serializer(model)(many=True), **ERRORS})
    if spec.create:
        cases = _view(views.CaseListCreateView, model, "CaseListCreateView", get=listing, post=op(
            "Open a case", request=create_serializer(model), responses={201: detail, **ERRORS}))
    else:
        cases = _view(views.CaseListView, model, "CaseListView", get=listing)
    urls = [
        path(f"{key}/cases/", cases, name=f"api-{key}-cases"),
        path(case, _view(views.CaseDetailView, model, "CaseDetailView", get=op(
            "One case and what you may do next", responses={200: detail, 404: ERRORS[404]})), name=f"api-{key}-case"),
    ]
    # One path per action, each with its own input; then the path that names the action.
    urls += [path(f"{case}transitions/{action}/", _view(
        views.TransitionView, model, f"{camel(action)}View", {"fixed_action": action}, post=op(
            f"Action: {action}", description=str(spec.verbs[action].label), request=action_serializer(model, action),
            responses={200: detail, **ERRORS}))) for action in actions]
    any_action = op("Take any action (each also has its own path)", request=any_action_serializer(model),
                    responses={200: detail, **ERRORS},
                    parameters=[OpenApiParameter("action", str, OpenApiParameter.PATH, enum=actions)])
    upload = op("Add an evidence file", request={"multipart/form-data": EvidenceUploadSerializer},
                responses={201: EvidenceSerializer, 413: OpenApiResponse(ERROR, description="Too large"), **ERRORS})
    download = op("Download an evidence file",
                  responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: ERRORS[404]})
    comment = op("Add a comment", request=CommentSerializer, responses={201: CommentSerializer, **ERRORS})
    urls += [
        path(f"{case}transitions/<slug:action>/", _view(views.TransitionView, model, "TransitionView", post=any_action),
             name=f"api-{key}-transition"),
        path(f"{case}evidence/", _view(views.EvidenceView, model, "EvidenceView", post=upload),
             name=f"api-{key}-evidence"),
        path(f"{case}evidence/<uuid:evidence_id>/", _view(views.EvidenceFileView, model, "EvidenceFileView",
                                                          get=download), name=f"api-{key}-evidence-file"),
        path(f"{case}comments/", _view(views.CommentView, model, "CommentView", post=comment),
             name=f"api-{key}-comments"),
    ]
    if spec.create and spec.create.many:
        result = inline_serializer(f"{camel(key)}DispatchResult", {
            "batch": serializers.IntegerField(allow_null=True), "cases": list_serializer(model)(many=True)})
        urls.append(path(f"{key}/dispatch/", _view(views.DispatchView, model, "DispatchView", post=op(
            "Send one problem to many units", request=dispatch_serializer(model), responses={201: result, **ERRORS})),
            name=f"api-{key}-dispatch"))
    return urls


def enum_names() -> dict:
    """A name per choice set of each type (its states, its actions, its fields with choices), as
    ``RectificationStatusEnum``: two types' ``status`` never collide on one component."""
    names = {}
    for spec in registry.case_types():
        model = registry.model_for(spec.key)
        sets = {"Status": spec.state_choices(), "Action": sorted(spec.verbs)}
        for name in dict.fromkeys([*spec.list_columns, *spec.detail_fields, *spec.list_filters]):
            if model._meta.get_field(name).choices:
                sets[camel(name)] = model._meta.get_field(name).choices
        for name, choices in sets.items():
            pairs = tuple((c, c) if isinstance(c, str) else tuple(c) for c in choices)
            names.setdefault(pairs, f"{camel(spec.key)}{name}Enum")  # a set two types share keeps one name
    return {name: list(pairs) for pairs, name in names.items()}


urlpatterns = [
    # The schema maps the whole API surface; only signed-in staff get it.
    path("schema/", SpectacularAPIView.as_view(permission_classes=[IsAuthenticated],
                                               custom_settings={"ENUM_NAME_OVERRIDES": enum_names()}),
         name="api-schema"),
]
for _spec in registry.case_types():
    urlpatterns += case_type_urls(registry.model_for(_spec.key))
