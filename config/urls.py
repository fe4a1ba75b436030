from django.contrib import admin
from django.urls import include, path

from config.urls_public import captcha_urls
from workflow.web.public import public_urls

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("workflow.api.urls")),
    *public_urls(),
    *captcha_urls(),
    path("", include("workflow.web.urls")),
    path("", include("workflow.urls")),
]
