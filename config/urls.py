from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("workflow.api.urls")),
    path("", include("workflow.web.urls")),
    path("", include("workflow.urls")),
]
