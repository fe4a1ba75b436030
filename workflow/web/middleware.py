"""Request-wide handling: the language (Chinese unless the user picked another) and the input no form sees."""
import codecs
from urllib.parse import unquote_to_bytes, urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import TooManyFieldsSent
from django.core.handlers.wsgi import get_bytes_from_wsgi
from django.core.signals import request_started
from django.dispatch import receiver
from django.http import Http404, JsonResponse, QueryDict
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils import translation
from django.utils.datastructures import MultiValueDict
from django.utils.http import parse_header_parameters
from django.utils.translation import gettext as _
from rest_framework.views import APIView

from workflow.web.bounds import within_key_range


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

    Django keeps any charset Python can look up, and reads the query string and a multipart
    body in it too. Python also looks up codecs that are not text encodings (base64, rot13,
    zlib...), and some text codecs fail with errors other than a decoding error (idna): the
    request that declares one is answered 400, and so is one whose query string or form does
    not decode in its charset. A NUL character in the path or in a query or form name or value
    is refused here too: no field holds one, and PostgreSQL fails on it in whichever lookup it
    reaches (the Django admin's filters, searches and object pages among them).

    A path's ``<int:...>`` takes any number of digits, and a number beyond a 64-bit key made
    the database driver fail (SQLite) in whichever view used it: it names nothing, so 404.
    """

    METHODS = {"POST", "PUT", "PATCH", "DELETE"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        charset = request.META.get(SET_ASIDE) or request.content_params.get("charset")
        if charset is not None and not is_text_encoding(charset):
            request.encoding = None  # the error page reads the query string in UTF-8
            return refuse(request, _("The request could not be read: the character set it declares is not one "
                                     "for text. Send it in UTF-8."))
        try:
            fields = None if SET_ASIDE in request.META else self.read(request)
        except (UnicodeError, LookupError):
            fields = None
        if fields is None:
            request.encoding = None
            return refuse(request, _("The form could not be read: its text is not in the declared character "
                                     "set (UTF-8 unless stated)."))
        if "\x00" in request.path_info or any("\x00" in text for pair in fields for text in pair):
            return refuse(request, _("The request could not be read: it contains a NUL character, which no "
                                     "address, name or value may hold."))
        return self.get_response(request)

    def read(self, request) -> list[tuple[str, str]]:
        """The (name, value) pairs of the query string and the form body, decoded strictly."""
        fields = pairs_of(request.GET)
        if request.method in self.METHODS and request.content_type == "application/x-www-form-urlencoded":
            # Django keeps a declared charset only when Python knows it, else reads UTF-8.
            charset = codecs.lookup(request.encoding or settings.DEFAULT_CHARSET).name
            pairs = decode_form(request.body, charset)
            if charset != "utf-8":
                request._post = QueryDict(urlencode(pairs), encoding="utf-8")
                request._files = MultiValueDict()
            fields += pairs
        elif request.method == "POST" and request.content_type == "multipart/form-data":
            fields += pairs_of(request.POST)  # parsed once, here: what follows reads the same
        return fields

    def process_view(self, request, view_func, view_args, view_kwargs):
        if any(isinstance(v, int) and not within_key_range(v) for v in (*view_args, *view_kwargs.values())):
            if _is_api(view_func):
                return _json({"detail": _("No such page, or you may not see it.")}, status=404)
            raise Http404(_("No such page, or you may not see it."))


SET_ASIDE = "duban.unreadable_charset"


@receiver(request_started)
def set_aside_an_unreadable_charset(sender, environ=None, **kwargs):
    """When a request declares a charset, Django reads the query string in it while it builds
    the request, before any middleware runs, and fails there (a 500 no handler sees) on a codec
    that is no text encoding, on one that fails otherwise than by a decoding error, and on too
    many fields. The charset is then taken out of the request's Content-Type before Django
    reads it: kept aside for InputBoundsMiddleware to refuse the request, or, for too many
    fields, left to Django's refusal when the middleware reads the query string."""
    content_type = (environ or {}).get("CONTENT_TYPE", "")
    if "charset" not in content_type.lower():
        return
    media_type, params = parse_header_parameters(content_type)
    charset = params.get("charset")
    try:
        if charset is not None:
            QueryDict(get_bytes_from_wsgi(environ, "QUERY_STRING", ""), encoding=charset)
        return
    except TooManyFieldsSent:
        pass
    except Exception:  # noqa: BLE001 - whatever fails here would fail unhandled
        environ[SET_ASIDE] = charset
    environ["CONTENT_TYPE"] = "; ".join([media_type] + [f'{k}="{v}"' for k, v in params.items() if k != "charset"])


def pairs_of(query: QueryDict) -> list[tuple[str, str]]:
    return [(name, value) for name, values in query.lists() for value in values]


def is_text_encoding(charset: str) -> bool:
    try:
        return codecs.lookup(charset)._is_text_encoding
    except LookupError:
        return False


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
