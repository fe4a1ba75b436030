"""URLs of every installed case type, under its key: ``<key>/`` with the namespace ``<key>``.

The generic pages come first; a process adds its own (a notice, a bulletin) in an optional
``urls.py`` of its app, whose ``urlpatterns`` join the same namespace."""
from importlib import import_module
from importlib.util import find_spec

from django.urls import include, path

from workflow.kernel import registry
from workflow.web import ledger, views


def case_type_patterns(key: str) -> list:
    kw = {"case_type": key}
    return [
        path("", views.case_list, kw, name="list"),
        path("new/", views.case_new, kw, name="new"),
        path("<int:pk>/", views.case_detail, kw, name="detail"),
        path("<int:pk>/act/<str:action>/", views.case_act, kw, name="act"),
        path("<int:pk>/evidence/", views.case_upload, kw, name="upload"),
        path("<int:pk>/comment/", views.case_comment, kw, name="comment"),
        path("export.xlsx", ledger.export_xlsx, kw, name="export"),
    ]


def own_patterns(model) -> list:
    """The process's own pages of this type: its ``urls.patterns_for(key)`` where an app holds
    several types, else its ``urlpatterns``."""
    module = f"{model._meta.app_config.name}.urls"
    if not find_spec(module):
        return []
    urls = import_module(module)
    if hasattr(urls, "patterns_for"):
        return list(urls.patterns_for(model.spec.key))
    return list(urls.urlpatterns)


def case_type_urls() -> list:
    return [path(f"{spec.key}/", include((case_type_patterns(spec.key) + own_patterns(registry.model_for(spec.key)),
                                          spec.key)))
            for spec in registry.case_types()]


urlpatterns = case_type_urls()
