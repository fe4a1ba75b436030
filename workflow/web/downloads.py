"""Downloading a case's archived documents (rendered by the worker, see workflow.documents)."""
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.utils.translation import gettext as _

from workflow.storage.files import document_storage
from workflow.documents.responses import as_download
from workflow.web.http import not_found
from workflow.models import ArchivedDocument, Case


@login_required
def document_download(request, pk):
    """An archived document of a case or record the user may see; anything else is a 404
    (audited). The file is streamed from the document store through this view, never by a URL
    of the store."""
    doc = ArchivedDocument.objects.select_related("case", "record_type").filter(pk=pk).first()
    if doc is None or not _seen(doc, request.user):
        not_found(request, "document", pk, _("No such document, or you may not see it."))
    if doc.rendered_at is None:
        raise Http404(_("The document is still being prepared; please try again in a few minutes."))
    try:
        stored = document_storage().open(doc.storage_name, "rb")
    except FileNotFoundError:
        raise Http404(_("The file is missing from storage; please tell the administrator."))
    declaration = doc.declaration
    owner = doc.owner
    name = declaration.filename(owner) if declaration else f"{doc.name}-{owner.pk}.pdf"
    response = FileResponse(stored, content_type="application/pdf")
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return as_download(response, name, fallback=f"{doc.name}-{owner.pk}.pdf")


def _seen(doc, user) -> bool:
    if doc.case_id is None:
        return doc.seen_by(user)
    return Case.objects.visible_to(user).filter(pk=doc.case_id).exists()
