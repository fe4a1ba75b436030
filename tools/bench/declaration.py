"""An inspection item (检查问题项): a second case type, declared for the benchmark only, so that
its inbox, red list and lists hold two case types as a working system would.

A problem found on an inspection goes straight to the unit: its handler fixes it, the unit
head confirms, the supervising inspector verifies. The ladder runs while the unit works on it.
Installed only where the benchmark is (config.settings.bench and config.settings.test)."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from workflow.kernel.declaration import (SUPERVISOR, UNIT, Action, CaseType, Choice, Create, Int, Ladder, Long, Menu, Reason, State, Task, Text, at)
from workflow.models import Role, Rung

HANDLER, UNIT_HEAD = at(Role.HANDLER, UNIT), at(Role.UNIT_HEAD, UNIT)
INSPECTOR, LEADER = at(Role.INSPECTOR, SUPERVISOR), at(Role.LEADER, SUPERVISOR)


class Severity(models.TextChoices):
    MINOR = "minor", _("Minor")
    MAJOR = "major", _("Major")


class InspectionItem(CaseType):
    key = "inspection_item"
    label = _("Inspection item")
    initial = "fixing"
    number_prefix = "检查"
    states = (
        State("fixing", _("Being fixed"), (Task("fix", _("Fix the problem"), HANDLER),), ladder=True, uploads=True),
        State("head_check", _("Awaiting unit-head check"), (Task("head_check", _("Check the fix"), UNIT_HEAD),),
              ladder=True),
        State("verifying", _("Awaiting verification"), (Task("verify", _("Verify the fix"), INSPECTOR),)),
        State("verified", _("Verified"), end="done"),
    )
    actions = (
        Action("report", "fixing", "head_check", HANDLER, _("Report the problem fixed"),
               (Reason(_("What was fixed"), required=True),)),
        Action("confirm", "head_check", "verifying", UNIT_HEAD, _("Confirm and send up")),
        Action("send_back", "head_check", "fixing", UNIT_HEAD, _("Send back to the handler"),
               (Reason(_("Reason"), required=True),), style="danger"),
        Action("verify", "verifying", "verified", INSPECTOR, _("Verify the fix")),
        Action("reopen", "verifying", "fixing", INSPECTOR, _("Not fixed: reopen"),
               (Reason(_("Reason"), required=True),), style="danger"),
    )
    ladder = Ladder(told={Rung.REMINDER: (HANDLER,), Rung.YELLOW: (UNIT_HEAD, HANDLER), Rung.RED: (LEADER, UNIT_HEAD),
                          Rung.INTERVIEW: (LEADER, INSPECTOR, UNIT_HEAD), Rung.ACCOUNTABILITY: (LEADER,)})
    uploader = HANDLER
    create = Create(role=Role.INSPECTOR, many=False,
                    fields=(Text("title", _("Title"), 200), Long("description", _("Problem description"), 2000),
                            Choice("severity", _("Severity"), Severity.choices, Severity.MINOR),
                            Int("deadline_days", _("Working days allowed"), 1, 60, default=10)))
    list_filters = ("severity",)
    list_columns = ("severity",)
    detail_fields = ("severity",)
    menu = Menu(_("Inspection items"), new=_("New inspection item"))
