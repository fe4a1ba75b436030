"""Request-wide handling: the language (Chinese unless the user picked another) and the input no form sees."""
import codecs
from urllib.parse import unquote_to_bytes, urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import Http404, JsonResponse, QueryDict
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils import translation
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from rest_framework.views import APIView

from .forms import within_key_range


class ExplicitLanguageMiddleware:
    """Use the language cookie set by the language switcher, else LANGUAGE_CODE.

    Bureau computers often run browsers that ask for English; the product is Chinese
    first, so the browser's Accept-Language header is deliberately not consulted.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.available = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in self.available:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        self.remember_choice(request, response)
        return response

    def remember_choice(self, request, response):
        """A signed-in user who picks a language with the switcher (Django's set_language sets
        the cookie) keeps it on their account: notifications to them are written in it."""
        cookie = response.cookies.get(settings.LANGUAGE_COOKIE_NAME)
        user = getattr(request, "user", None)
        if cookie is None or cookie.value not in self.available or not getattr(user, "is_authenticated", False):
            return
        if user.language != cookie.value:
            get_user_model().objects.filter(pk=user.pk).update(language=cookie.value)
            user.language = cookie.value


class InputBoundsMiddleware:
    """What reaches every view before any form can check it: the form body's encoding and the
    numbers in the path.

    Django reads an ``application/x-www-form-urlencoded`` body as UTF-8 only: another declared
    charset raised ``BadRequest`` wherever ``request.POST`` was first read (the CSRF check, a
    view, django-axes; under DEBUG, the error page itself), and bytes that are not UTF-8 were
    silently replaced. Older office software posts GBK forms and says so, and its staff need
    their words kept: such a body is decoded as declared. A body that does not decode in its
    charset is answered 400 with a message, before any view sees it.

    A path's ``<int:...>`` takes any number of digits, and a number beyond a 64-bit key made
    the database driver fail (SQLite) in whichever view used it: it names nothing, so 404.
    """

    METHODS = {"POST", "PUT", "PATCH", "DELETE"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in self.METHODS and request.content_type == "application/x-www-form-urlencoded":
            # Django keeps a declared charset only when Python knows it, else reads UTF-8.
            charset = codecs.lookup(request.encoding or settings.DEFAULT_CHARSET).name
            try:
                pairs = decode_form(request.body, charset)
            except UnicodeDecodeError:
                return refuse(request, _("The form could not be read: its text is not in the declared character "
                                         "set (UTF-8 unless stated)."))
            if charset != "utf-8":
                request._post = QueryDict(urlencode(pairs), encoding="utf-8")
                request._files = MultiValueDict()
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if any(isinstance(v, int) and not within_key_range(v) for v in (*view_args, *view_kwargs.values())):
            if _is_api(view_func):
                return _json({"detail": _("No such page, or you may not see it.")}, status=404)
            raise Http404(_("No such page, or you may not see it."))


def decode_form(body: bytes, charset: str) -> list[tuple[str, str]]:
    """The (name, value) pairs of a URL-encoded body, each decoded strictly in `charset`."""
    pairs = []
    for field in body.split(b"&"):
        if field:
            name, _sep, value = field.partition(b"=")
            pairs.append(tuple(unquote_to_bytes(part.replace(b"+", b" ")).decode(charset) for part in (name, value)))
    return pairs


def refuse(request, message, status=400):
    """A refusal before any view ran: JSON for the API's views, else the error page."""
    try:
        view_func = resolve(request.path_info).func
    except Resolver404:
        view_func = None
    if _is_api(view_func):
        return _json({"detail": str(message)}, status=status)
    return render(request, "workflow/error.html", {"message": message}, status=status)


def _json(data, status):
    return JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})


def _is_api(view_func) -> bool:
    view = getattr(view_func, "cls", None)
    return isinstance(view, type) and issubclass(view, APIView)
