"""Pages shared by every case type: inbox, notifications, evidence download."""
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from workflow.cases import selectors
from workflow.storage.files import evidence_storage
from workflow.web.http import not_found
from workflow.models import Case, Evidence, Role, User
from workflow.web.paging import CappedPaginator, capped_count
from workflow.models.cases import ENDED


@login_required
def home(request):
    if request.user.role == Role.ADMIN and request.user.is_staff:  # administers; has no cases
        return redirect("admin:index")
    return redirect("inbox")


INBOX_PAGE = 20
# Plain columns, not model instances: the inbox's cost per row stays small as it fills up.
INBOX_COLUMNS = ("flow_task", "created", "finished", "process_id", "process__case__number", "process__case__title",
                 "process__case__unit__name", "process__case__deadline", "process__case__phase",
                 "process__case__case_type")


@login_required
def inbox(request):
    tab = "done" if request.GET.get("tab") == "done" else "todo"
    tasks = selectors.inbox_done(request.user) if tab == "done" else selectors.inbox_todo(request.user)
    page = CappedPaginator(tasks.values_list(*INBOX_COLUMNS), INBOX_PAGE).get_page(request.GET.get("page"))
    today = timezone.localdate()
    rows = [{"task": node.task_title, "url": reverse(f"{case_type}:detail", args=[pk]), "number": number,
             "title": title, "unit": unit, "deadline": deadline, "light": Case.light_of(deadline, phase not in ENDED, today),
             "when": finished if tab == "done" else created}
            for node, created, finished, pk, number, title, unit, deadline, phase, case_type in page.object_list]
    return render(request, "workflow/inbox.html", {
        "tab": tab, "page": page, "rows": rows, "todo_count": capped_count(selectors.inbox_todo(request.user), 99),
    })


@login_required
def notifications(request):
    items = request.user.notifications.select_related("case")[:100]
    return render(request, "workflow/notifications.html", {"items": items})


@login_required
@require_POST
def notification_open(request, pk):
    """Mark one notification read and go to its case."""
    note = request.user.notifications.select_related("case").filter(pk=pk).first()
    if note is None:
        raise Http404(_("No such notification."))
    if note.read_at is None:
        note.read_at = timezone.now()
        note.save(update_fields=["read_at"])
    return redirect(note.case.get_absolute_url() if note.case_id else "notifications")


class ChannelForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["notify_in_app", "notify_email", "notify_sms"]


@login_required
def notification_settings(request):
    form = ChannelForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your notification channels were saved."))
        return redirect("notifications")
    return render(request, "workflow/notification_settings.html", {"form": form})


@login_required
@require_POST
def notifications_read(request):
    request.user.notifications.filter(read_at__isnull=True).update(read_at=timezone.now())
    return redirect("notifications")


@login_required
def evidence_download(request, pk):
    """Serve a file only after its case's or record's unit scope check; always with nosniff and a sandbox."""
    evidence = Evidence.objects.select_related("case__unit").filter(pk=pk).first()
    if evidence is None or not evidence.seen_by(request.user):
        not_found(request, "evidence", pk, _("No such file, or you may not see it."))
    try:
        stored = evidence_storage().open(evidence.storage_name, "rb")  # streamed, never a URL to the store
    except FileNotFoundError:
        raise Http404(_("The file is missing from storage; please tell the administrator."))
    inline = request.GET.get("inline") == "1" and evidence.is_image
    response = FileResponse(stored, as_attachment=not inline, filename=evidence.display_name,
                            content_type=evidence.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
