"""Language choice: Chinese unless the user picked another language themselves."""
from django.conf import settings
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
        return response
