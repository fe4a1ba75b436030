"""Static files come only from the apps whose pages Duban serves.

Every installed app with a static/ folder would otherwise be collected. viewflow ships a whole
front end that Duban does not use, and one of its stylesheets names font files it does not ship;
the manifest storage used in production rightly refuses such a reference, so collectstatic failed.
"""
from django.conf import settings
from django.contrib.staticfiles.finders import AppDirectoriesFinder


class ServedAppsFinder(AppDirectoriesFinder):
    """AppDirectoriesFinder restricted to settings.DUBAN_STATIC_APPS."""

    def __init__(self, app_names=None, *args, **kwargs):
        super().__init__(settings.DUBAN_STATIC_APPS, *args, **kwargs)
