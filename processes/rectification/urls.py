from django.urls import path

from . import views, views_pdf

app_name = "rectification"

urlpatterns = [
    path("", views.case_list, name="list"),
    path("new/", views.case_new, name="new"),
    path("<int:pk>/", views.case_detail, name="detail"),
    path("<int:pk>/act/<str:action>/", views.case_act, name="act"),
    path("<int:pk>/evidence/", views.case_upload, name="upload"),
    path("<int:pk>/comment/", views.case_comment, name="comment"),
    path("<int:pk>/notice.pdf", views_pdf.notice_pdf, name="notice"),
]

# Downloads of the filtered case list: the Excel ledger (整改台账) and the bulletin (情况通报).
from . import exports  # noqa: E402

urlpatterns += [
    path("export.xlsx", exports.export_xlsx, name="export"),
    path("bulletin.pdf", exports.bulletin_pdf, name="bulletin"),
]
