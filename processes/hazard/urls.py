"""Hazards' own pages beside the platform's, in the ``hazard`` namespace: checklist
inspections, the documents, reports from outside and the indicators. ``public_patterns`` are
the pages served without a login (the public report form and its query page)."""
from . import documents, indicators, inspections, public


def patterns_for(key: str) -> list:
    return [*inspections.urls.get(key, ()), *documents.urls.get(key, ()), *public.urls.get(key, ()),
            *indicators.urls.get(key, ())]


def public_patterns() -> list:
    return list(public.public_urls)
