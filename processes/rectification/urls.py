"""Rectification's own pages beside the platform's (workflow.web): the notice of one case and
the bulletin on the filtered list. They join the ``rectification`` namespace."""
from django.urls import path

from . import exports, views_pdf

urlpatterns = [
    path("<int:pk>/notice.pdf", views_pdf.notice_pdf, name="notice"),
    path("bulletin.pdf", exports.bulletin_pdf, name="bulletin"),
]
