"""URLs of the v1 JSON API (mounted at /api/v1/): one schema, and under each registered case
type's key the same paths and URL names (``api-<key>-cases``, ``api-<key>-case``, ...).

Each action has a path of its own (``.../transitions/sign/``) whose schema states its input;
``.../transitions/<action>/`` takes any of them and is what ``api-<key>-transition`` reverses to;
the schema lists each action's path only (the same addresses), so that each address has one body.
"""
from csp.decorators import csp_update
from django.contrib.auth.decorators import login_required
from django.urls import path, re_path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (OpenApiResponse, extend_schema, extend_schema_view,
                                   inline_serializer)
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated

from workflow.kernel import registry
from workflow.api import views
from workflow.api.errors import ErrorSerializer, InputErrorSerializer
from workflow.api.serializers import (CommentSerializer, EvidenceSerializer, EvidenceUploadSerializer, action_serializer, camel, create_serializer, detail_serializer, dispatch_serializer, list_serializer, query_serializer)
from workflow.cases.evidence import ALLOWED

# Every error the API answers is JSON shaped by workflow.api.exception_handler: ``Error``
# ({"detail": message}), or for input ``InputError`` (a message per field, or ``detail``).
ERRORS = {
    400: OpenApiResponse(InputErrorSerializer, description=_(
        "Invalid input: a list of messages per field ({\"title\": [\"...\"]}), or {\"detail\": message} for a "
        "body that cannot be read or a NUL character anywhere in the request")),
    401: OpenApiResponse(ErrorSerializer, description=_("Not signed in: send \"Authorization: Token <key>\"")),
    403: OpenApiResponse(ErrorSerializer, description=_("Your role may not do this")),
    404: OpenApiResponse(ErrorSerializer, description=_("No such case, unit or file, or you may not see it")),
    409: OpenApiResponse(ErrorSerializer, description=_(
        "The request is well formed, but the case's state or the process's rules refuse it now (already "
        "handled, evidence still missing, a deadline not later than the current one...)")),
    413: OpenApiResponse(ErrorSerializer, description=_("The file is too large")),
    415: OpenApiResponse(ErrorSerializer, description=_("The body is not in the media type the operation takes")),
}


def errors(*codes) -> dict:
    """The error responses an operation can give; every one may answer 401."""
    return {code: ERRORS[code] for code in sorted({401, *codes})}


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

    listing = op(_("List visible cases"), parameters=[query_serializer(model)], description=_(
        "Only the query parameters listed here are taken: any other is refused (400)."),
        responses={200: list_serializer(model)(many=True), **errors(400, 404)})
    if spec.create:
        cases = _view(views.CaseListCreateView, model, "CaseListCreateView", get=listing, post=op(
            _("Open a case"), request=create_serializer(model), responses={201: detail, **errors(400, 403, 404, 409, 415)}))
    else:
        cases = _view(views.CaseListView, model, "CaseListView", get=listing)
    urls = [
        path(f"{key}/cases/", cases, name=f"api-{key}-cases"),
        path(case, _view(views.CaseDetailView, model, "CaseDetailView", get=op(
            _("One case and what you may do next"), responses={200: detail, **errors(404)})), name=f"api-{key}-case"),
    ]
    # One path per action, each with its own input; then the path that names the action.
    urls += [path(f"{case}transitions/{action}/", _view(
        views.TransitionView, model, f"{camel(action)}View", {"fixed_action": action}, post=op(
            spec.verbs[action].label, description=f"{action}", request=action_serializer(model, action, strict=True),
            responses={200: detail, **errors(400, 403, 404, 409, 415)}))) for action in actions]
    # The path that names the action answers each action's own path (listed above, with its
    # body); any other name is a 400. Its address is the same as theirs, so it is not listed again.
    any_action = extend_schema(exclude=True)
    # The file types evidence may be (the server also reads the file's first bytes).
    types = ", ".join(dict.fromkeys(content_type for content_type, _family in ALLOWED.values()))
    upload = op(_("Add an evidence file"), request={"multipart/form-data": EvidenceUploadSerializer},
                responses={201: EvidenceSerializer, **errors(400, 403, 404, 409, 413, 415)},
                extensions={"x-file-types": types})
    download = op(_("Download an evidence file"),
                  responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **errors(404)})
    comment = op(_("Add a comment"), request=CommentSerializer,
                 responses={201: CommentSerializer, **errors(400, 403, 404, 409, 415)})
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
            _("Send one problem to many units"), request=dispatch_serializer(model),
            responses={201: result, **errors(400, 403, 404, 409, 415)})),
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


def contract(result, generator, request, public):
    """Post-processing of the schema: an upload states the file types it takes (as the
    multipart ``encoding``), from the operation's ``x-file-types``; a body takes no field its
    schema does not name (``OnlyDeclared``)."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
        for field, prop in component.get("properties", {}).items():
            # A text that may be blank: drf-spectacular writes oneOf [the text, ""]; one pattern says it.
            branches = prop.get("oneOf", [])
            if len(branches) == 2 and branches[1] == {"type": "string", "maxLength": 0} and "pattern" in branches[0]:
                text = prop.pop("oneOf")[0]
                text["pattern"] = "^(?:" + text["pattern"].removeprefix("^").removesuffix("$") + ")?$"
                component["properties"][field] = {**prop, **text}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            types = operation.pop("x-file-types", None)
            multipart = operation.get("requestBody", {}).get("content", {}).get("multipart/form-data")
            if types and multipart:
                multipart["encoding"] = {"file": {"contentType": types}}
    return result


SCHEMA_SETTINGS = {
    "TITLE": _("Duban API"),
    "DESCRIPTION": _("The JSON API of Duban, the supervision system: every case type's cases, their actions, "
                     "evidence and comments, with the permissions of the web pages."),
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "workflow.api.urls.contract"],
}

urlpatterns = [
    # The schema maps the whole API surface; only signed-in staff get it, and its page.
    path("schema/", SpectacularAPIView.as_view(permission_classes=[IsAuthenticated],
                                               custom_settings={**SCHEMA_SETTINGS, "ENUM_NAME_OVERRIDES": enum_names()}),
         name="api-schema"),
    # Swagger UI's stylesheet draws its small icons as data: images; the page allows those, nothing more.
    path("docs/", csp_update({"img-src": ["data:"]})(login_required(views.ApiDocsView.as_view(url_name="api-schema"))),
         name="api-docs"),
]
for _spec in registry.case_types():
    urlpatterns += case_type_urls(registry.model_for(_spec.key))
# Any other address under the API is a JSON 404, as the API's own are (not the site's page).
urlpatterns.append(re_path(r"^(?P<rest>.*)$", views.NoSuchPath.as_view(), name="api-no-such-path"))
