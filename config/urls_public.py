"""The URLconf of a server for the internet (DUBAN_PUBLIC_ONLY=1): only the pages served
without a login (each app's public_patterns, under /public/), their captcha pictures and the
language switch. Static files are served by WhiteNoise before any URL is resolved. The admin,
the API, the login page and every case page do not exist here: each is a 404, answered by a
page that links nowhere else."""
from django.shortcuts import render
from django.urls import include, path, re_path
from django.utils.translation import gettext as _

from workflow.web.public import as_anonymous, public_urls

PUBLIC_ERROR_TEMPLATE = "hazard/public_error.html"


def captcha_urls() -> list:
    """django-simple-captcha's pictures (1x and 2x), under /public/captcha/; its refresh view
    (which draws a new captcha on every GET) and audio (which needs a speech program) are not
    served."""
    from captcha import views

    return [path("public/captcha/", include([
        re_path(r"image/(?P<key>\w+)/$", views.captcha_image, name="captcha-image", kwargs={"scale": 1}),
        re_path(r"image/(?P<key>\w+)@2/$", views.captcha_image, name="captcha-image-2x", kwargs={"scale": 2}),
    ]))]


urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    *public_urls(),
    *captcha_urls(),
]


@as_anonymous
def _error(request, status: int, message: str):
    return render(request, PUBLIC_ERROR_TEMPLATE, {"status": status, "message": message}, status=status)


def bad_request(request, exception=None):
    return _error(request, 400, _("The request could not be understood. Nothing was changed."))


def permission_denied(request, exception=None):
    return _error(request, 403, _("Nothing was changed."))


def page_not_found(request, exception=None):
    return _error(request, 404, _("No such page."))


def csrf_failure(request, reason=""):
    return _error(request, 403, _("The form has expired or did not come from this site, so it was not accepted. Nothing was changed."))


handler400 = bad_request
handler403 = permission_denied
handler404 = page_not_found
# handler500 stays Django's: templates/500.html needs no context and no address.
