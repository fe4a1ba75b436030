"""Language choice: Chinese unless the user picked another language themselves."""
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import translation


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
