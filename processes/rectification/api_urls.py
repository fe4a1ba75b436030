"""URLs of the v1 JSON API (mounted at /api/v1/)."""
from django.urls import path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import IsAuthenticated

from . import api

urlpatterns = [
    # The schema maps the whole API surface; only signed-in staff get it.
    path("schema/", SpectacularAPIView.as_view(permission_classes=[IsAuthenticated]), name="api-schema"),
    path("rectification/cases/", api.CaseListCreateView.as_view(), name="api-rectification-cases"),
    path("rectification/cases/<int:pk>/", api.CaseDetailView.as_view(), name="api-rectification-case"),
    path("rectification/cases/<int:pk>/transitions/<slug:action>/", api.TransitionView.as_view(),
         name="api-rectification-transition"),
    path("rectification/cases/<int:pk>/evidence/", api.EvidenceView.as_view(), name="api-rectification-evidence"),
    path("rectification/cases/<int:pk>/evidence/<uuid:evidence_id>/", api.EvidenceFileView.as_view(),
         name="api-rectification-evidence-file"),
    path("rectification/cases/<int:pk>/comments/", api.CommentView.as_view(), name="api-rectification-comments"),
    path("rectification/dispatch/", api.DispatchView.as_view(), name="api-rectification-dispatch"),
]
