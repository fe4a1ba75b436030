"""Pages shared by every case type: inbox, notifications, evidence download."""
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from workflow.cases import selectors
from workflow.cases.engine import REASON_QUOTED, shorten
from workflow.kernel import registry
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
    changes = selectors.last_changes([row[3] for row in page.object_list]) if tab == "todo" else {}
    rows = [{"task": node.task_title, "url": reverse(f"{case_type}:detail", args=[pk]), "number": number,
             "title": title, "unit": unit, "deadline": deadline, "light": Case.light_of(deadline, phase not in ENDED, today),
             "when": finished if tab == "done" else created, "why": _why(case_type, changes.get(pk))}
            for node, created, finished, pk, number, title, unit, deadline, phase, case_type in page.object_list]
    return render(request, "workflow/inbox.html", {
        "tab": tab, "page": page, "rows": rows, "todo_count": capped_count(selectors.inbox_todo(request.user), 99),
    })


def _why(case_type: str, change) -> str:
    """What put a task in the inbox: the case's last change, with its reason ("退回：照片不清晰")."""
    if change is None:
        return ""
    action, reason = change
    label = registry.declaration(case_type).event_label(action)
    reason = shorten(reason, REASON_QUOTED)
    return _("%(event)s: %(reason)s") % {"event": label, "reason": reason} if reason else str(label)


NOTES_PAGE = 20


@login_required
def notifications(request):
    """The user's notifications, newest first, a page at a time; the unread ones marked."""
    notes = request.user.notifications.order_by("-created_at", "-pk").only("pk", "message", "created_at", "read_at")
    page = CappedPaginator(notes, NOTES_PAGE).get_page(request.GET.get("page"))
    unread = capped_count(request.user.notifications.filter(read_at__isnull=True), 99)
    return render(request, "workflow/notifications.html", {"page": page, "unread": unread})


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


MOBILE = RegexValidator(r"^1[3-9][0-9]{9}$", _lazy("Enter a mainland China mobile number: 11 digits starting with 1."))


class MobileField(forms.CharField):
    """A mainland mobile number, written as people write it (138 0000 0000, 138-0000-0000)
    and kept as its 11 digits."""

    default_validators = [MOBILE]

    def to_python(self, value):
        return "".join(ch for ch in super().to_python(value) if ch not in " -")


class ChannelForm(forms.ModelForm):
    """Where the user is told (their email and mobile number) and how. A channel needs its
    address: without one its box is disabled on the page, and refused here."""

    email = forms.EmailField(label=_lazy("Email address"), required=False, max_length=254)
    phone = MobileField(label=_lazy("Mobile phone"), required=False, max_length=20,
                        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
                        help_text=_lazy("11 digits, e.g. 13800000000"))
    # Each channel that goes to an address, with the field that holds it and what it says when empty.
    NEEDS = {"notify_email": ("email", _lazy("To be told by email, enter your email address above.")),
             "notify_sms": ("phone", _lazy("To be told by SMS, enter your mobile number above."))}
    ERRORS = {"notify_email": _lazy("Email notifications need an email address: enter one, or untick email."),
              "notify_sms": _lazy("SMS notifications need a mobile number: enter one, or untick SMS.")}

    class Meta:
        model = User
        fields = ["email", "phone", "notify_in_app", "notify_email", "notify_sms"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update(autocomplete="email")
        for name, (address, note) in self.NEEDS.items():
            widget = self.fields[name].widget
            widget.attrs["data-needs"] = self[address].auto_id
            given = self.data.get(self.add_prefix(address)) if self.is_bound else getattr(self.instance, address)
            if not (given or "").strip():
                # No address yet: the box starts unticked and disabled (the page's script
                # enables it once one is typed); the form refuses it below all the same.
                self.initial[name] = False
                widget.attrs["disabled"] = True
                self.fields[name].help_text = note

    def clean(self):
        data = super().clean()
        for name, (address, _note) in self.NEEDS.items():
            if data.get(name) and not data.get(address) and address not in self.errors:
                self.add_error(name, self.ERRORS[name])
        return data


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
