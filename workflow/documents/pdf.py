"""Rendering Django templates to PDF with WeasyPrint, with no network access.

Templates live under ``templates/pdf/``; relative URLs in them resolve against that folder.
The only resources WeasyPrint may load are ``data:`` URLs and local files below the PDF
template folder, the static folders and the system font folders (for ``@font-face``).
"""
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import translation
from workflow.documents.responses import as_download

PDF_TEMPLATE_DIR = Path(settings.BASE_DIR) / "templates" / "pdf"
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path("/usr/share/texlive"))


def _allowed_roots() -> list[Path]:
    roots = [PDF_TEMPLATE_DIR, *FONT_DIRS]
    roots += [Path(d) for d in getattr(settings, "STATICFILES_DIRS", ())]
    if getattr(settings, "STATIC_ROOT", None):
        roots.append(Path(settings.STATIC_ROOT))
    return [r.resolve() for r in roots]


def _fetcher():
    """A URL fetcher that refuses every network scheme and files outside the allowed folders."""
    from weasyprint.urls import URLFetcher

    class LocalOnlyFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme == "file":
                path = Path(unquote(parts.path)).resolve()
                if not any(path.is_relative_to(root) for root in _allowed_roots()):
                    raise ValueError(f"PDF rendering may not read {path}")
            elif scheme != "data":
                raise ValueError(f"PDF rendering uses no network resources: {url[:80]}")
            return super().fetch(url, headers)

    return LocalOnlyFetcher(allowed_protocols=("file", "data"), allow_redirects=False, timeout=1)


def render_pdf(template_name: str, context: dict, request=None) -> bytes:
    """Render a Django template to PDF bytes."""
    from weasyprint import HTML  # heavy import: only when a PDF is asked for

    with translation.override(settings.LANGUAGE_CODE):  # official documents are always in Chinese
        html = render_to_string(template_name, context, request=request)
    base_url = PDF_TEMPLATE_DIR.as_uri() + "/"
    return HTML(string=html, base_url=base_url, url_fetcher=_fetcher()).write_pdf()


def pdf_response(pdf_bytes: bytes, filename: str, fallback: str | None = None) -> HttpResponse:
    """A download response for a PDF, with an RFC 5987/6266 UTF-8 file name."""
    response = HttpResponse(pdf_bytes, content_type="application/pdf")
    response["Content-Length"] = str(len(pdf_bytes))
    return as_download(response, filename, fallback or filename)
