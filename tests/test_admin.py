"""The administrator stays an administrator (RELIABILITY 27): account changes are audited,
nobody grants themselves rights, the admin shows no case, speaks Chinese, and refuses to
move a unit below itself."""
import re

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.admin.utils import label_for_field, model_format_dict
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, override
from rest_framework.authtoken.models import Token

from workflow.trail import audit
from workflow.models import AuditEvent, OutboxMessage, Proposal, Role, Unit, User
from workflow.models.units import MOVE_BELOW_ITSELF, SELF_GRANT, SUPERUSER_ONLY, acting_as
from tests.factories import make_case, make_unit, make_user

ADMIN_MODELS = ["unit", "user", "calendaryear", "calendarday", "outboxmessage", "escalationpolicy", "unitsetting",
                "proposal"]
TITLE = "城南敬老院独有标题甲乙丙"


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def sysadmin(world):
    """The administrator as the demo sets it up: staff, with the workflow admin permissions only."""
    user = world.admin
    User.objects.filter(pk=user.pk).update(is_staff=True)
    user.refresh_from_db()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="workflow",
                                                        content_type__model__in=ADMIN_MODELS))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def superadmin(world):
    user = make_user(Role.ADMIN, world.city)
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    return User.objects.get(pk=user.pk)


def account_events(account, action="account_change"):
    return [e for e in AuditEvent.objects.filter(chain=audit.SYSTEM_CHAIN, action=action).order_by("seq")
            if e.data["account"]["id"] == account.pk]


def account_form(user, **changes) -> dict:
    """The admin's change form for `user` as the browser would post it, with `changes` applied."""
    joined = timezone.localtime(user.date_joined)
    data = {
        "username": user.username, "full_name": user.full_name, "email": user.email, "phone": user.phone,
        "unit": user.unit_id or "", "role": user.role,
        "date_joined_0": joined.strftime("%Y-%m-%d"), "date_joined_1": joined.strftime("%H:%M:%S"),
        "last_login_0": "", "last_login_1": "",
        "groups": [g.pk for g in user.groups.all()],
        "user_permissions": [p.pk for p in user.user_permissions.all()],
    }
    for flag in ("is_active", "is_staff", "is_superuser", "notify_in_app", "notify_email", "notify_sms"):
        if getattr(user, flag):
            data[flag] = "on"
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


def change_url(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def columns(user):
    fresh = User.objects.get(pk=user.pk)
    return (fresh.role, fresh.unit_id, fresh.is_superuser, fresh.is_staff, fresh.is_active,
            set(fresh.groups.values_list("pk", flat=True)), set(fresh.user_permissions.values_list("pk", flat=True)))


# No one grants themselves anything ------------------------------------------------------------
@pytest.mark.parametrize("change", [
    {"role": Role.LEADER}, {"unit": "county_a"}, {"is_staff": False}, {"is_superuser": False},
    {"groups": "new group"}, {"user_permissions": "view_rectificationcase"},
])
def test_admin__own_role_unit_rights_cannot_be_changed(world, superadmin, change):
    # given: a superuser editing their own account
    group = Group.objects.create(name="督查组")
    name, value = next(iter(change.items()))
    value = {"county_a": world.county_a.pk, "new group": [group.pk],
             "view_rectificationcase": [Permission.objects.get(codename="view_rectificationcase").pk]}.get(value, value)
    before = columns(superadmin)
    # when
    response = web(superadmin).post(change_url(superadmin), account_form(superadmin, **{name: value}))
    # then: the form says why, in Chinese, and nothing changed
    assert response.status_code == 200
    with override("zh-hans"):
        assert gettext(SELF_GRANT) in response.content.decode()
    assert response.context["adminform"].form.errors[name]
    assert columns(superadmin) == before
    assert account_events(superadmin) == []


def test_admin__sysadmin_cannot_make_itself_a_leader_or_superuser(world, sysadmin):
    # given: the administrator as deployed (staff, not superuser); the superuser box is read-only
    client = web(sysadmin)
    page = client.get(change_url(sysadmin)).content.decode()
    with override("zh-hans"):
        assert gettext(SUPERUSER_ONLY) in page
    before = columns(sysadmin)
    # when: it posts a leader's role, then superuser status, on its own account
    as_leader = client.post(change_url(sysadmin), account_form(sysadmin, role=Role.LEADER))
    as_superuser = client.post(change_url(sysadmin), account_form(sysadmin, is_superuser=True))
    # then: the first is refused with a message; the second box is not the sysadmin's to tick
    assert as_leader.status_code == 200 and as_leader.context["adminform"].form.errors["role"]
    assert as_superuser.status_code == 302  # saved, without the read-only box
    assert columns(sysadmin) == before
    assert not User.objects.get(pk=sysadmin.pk).is_superuser


def test_admin__only_a_superuser_makes_a_superuser_or_touches_ones_account(world, sysadmin, superadmin):
    # given
    client = web(sysadmin)
    # when: the sysadmin ticks superuser on the leader, and opens the superuser's password page
    client.post(change_url(world.leader), account_form(world.leader, is_superuser=True))
    password = client.post(reverse("admin:auth_user_password_change", args=[superadmin.pk]),
                           {"password1": "Another-pass-2026", "password2": "Another-pass-2026",
                            "usable_password": "true"})
    edit = client.post(change_url(superadmin), account_form(superadmin, role=Role.HANDLER))
    # then
    assert not User.objects.get(pk=world.leader.pk).is_superuser
    assert password.status_code == 403 and edit.status_code == 403
    assert User.objects.get(pk=superadmin.pk).check_password("Another-pass-2026") is False
    # and: a superuser may
    web(superadmin).post(change_url(world.leader), account_form(world.leader, is_superuser=True))
    assert User.objects.get(pk=world.leader.pk).is_superuser


def test_admin__no_permissions_for_a_group_one_belongs_to(world, superadmin):
    # given
    group = Group.objects.create(name="管理组")
    superadmin.groups.add(group)
    permission = Permission.objects.get(codename="view_rectificationcase")
    # when
    response = web(superadmin).post(change_url(group), {"name": group.name, "permissions": [permission.pk]})
    # then
    assert response.status_code == 200 and response.context["adminform"].form.errors["permissions"]
    assert not group.permissions.exists()


def test_model__refuses_self_grants_whatever_the_path(world, sysadmin):
    # given: code acting for the sysadmin
    group = Group.objects.create(name="领导组")
    permission = Permission.objects.get(codename="view_rectificationcase")
    before = columns(sysadmin)
    with acting_as(sysadmin):
        for field, value in (("role", Role.LEADER), ("unit", world.county_a), ("is_staff", False),
                             ("is_superuser", True)):
            account = User.objects.get(pk=sysadmin.pk)
            setattr(account, field, value)
            # when / then
            with pytest.raises(PermissionDenied):
                account.save()
        for add in (lambda: sysadmin.groups.add(group), lambda: sysadmin.user_permissions.add(permission),
                    lambda: group.user_set.add(sysadmin)):
            with pytest.raises(PermissionDenied), transaction.atomic():  # many-to-many writes take no savepoint
                add()
        # nor superuser for anyone, being no superuser
        leader = User.objects.get(pk=world.leader.pk)
        leader.is_superuser = True
        with pytest.raises(PermissionDenied):
            leader.save()
    sysadmin.groups.add(group)  # as the system (no actor) it may; a group it is in gains nothing from it
    with acting_as(sysadmin), pytest.raises(PermissionDenied), transaction.atomic():
        group.permissions.add(permission)
    assert columns(sysadmin)[:5] == before[:5] and not group.permissions.exists()
    assert not User.objects.get(pk=world.leader.pk).is_superuser
    assert account_events(sysadmin) == []


# Every change is an audit event ---------------------------------------------------------------
def test_admin__account_changes_are_audited_with_actor_and_old_and_new(world, superadmin):
    # given
    handler = world.handler_a
    client = Client(REMOTE_ADDR="192.0.2.7")
    client.force_login(superadmin)
    # when: one save changes role, unit, staff, superuser and active
    response = client.post(change_url(handler), account_form(
        handler, role=Role.UNIT_HEAD, unit=world.county_b.pk, is_staff=True, is_superuser=True, is_active=False))
    # then
    assert response.status_code == 302
    [event] = account_events(handler)
    assert event.actor_id == superadmin.pk and event.actor_role == Role.ADMIN and event.ip == "192.0.2.7"
    assert event.data["account"] == {"id": handler.pk, "username": handler.username}
    assert event.data["changes"] == {
        "role": {"old": "handler", "new": "unit_head"},
        "unit": {"old": {"id": world.county_a.pk, "name": "甲县民政局"},
                 "new": {"id": world.county_b.pk, "name": "乙县民政局"}},
        "is_superuser": {"old": False, "new": True}, "is_staff": {"old": False, "new": True},
        "is_active": {"old": True, "new": False},
    }
    assert audit.verify() == []


def test_admin__new_accounts_passwords_and_groups_are_audited(world, sysadmin, superadmin):
    # given
    client = web(sysadmin)
    # when: the sysadmin creates a leader, then sets the leader's password
    response = client.post(reverse("admin:workflow_user_add"), {
        "username": "newleader", "usable_password": "true", "password1": "Leader-pass-2026",
        "password2": "Leader-pass-2026", "full_name": "新领导", "unit": world.city.pk, "role": Role.LEADER})
    created = User.objects.get(username="newleader")
    client.post(reverse("admin:auth_user_password_change", args=[world.leader.pk]),
                {"password1": "Reset-pass-2026", "password2": "Reset-pass-2026", "usable_password": "true"})
    group = Group.objects.create(name="法制组")
    web(superadmin).post(change_url(world.legal), account_form(world.legal, groups=[group.pk]))
    # then
    assert response.status_code == 302
    [event] = account_events(created, "account_create")
    assert event.actor_id == sysadmin.pk
    assert event.data["changes"]["role"] == {"old": None, "new": "leader"}
    assert event.data["changes"]["unit"]["new"] == {"id": world.city.pk, "name": "市民政局"}
    [password] = account_events(world.leader)
    assert password.actor_id == sysadmin.pk and password.data["changes"] == {"password": {"old": None, "new": "set"}}
    [grant] = AuditEvent.objects.filter(action="account_permissions", actor_id=superadmin.pk)
    assert grant.actor_id == superadmin.pk and grant.data["change"] == "add"
    assert grant.data["of"]["id"] == world.legal.pk and grant.data["items"]["names"] == ["法制组"]


@pytest.mark.parametrize("field,value", [
    ("role", Role.LEADER), ("unit", "county_b"), ("is_superuser", True), ("is_staff", True), ("is_active", False),
])
@pytest.mark.parametrize("partial", [False, True])
def test_model__a_plain_save_is_audited_as_the_system(world, field, value, partial):
    # given: code with no actor (a shell, a command)
    account = User.objects.get(pk=world.handler_a.pk)
    value = world.county_b if value == "county_b" else value
    old = getattr(account, f"{field}_id" if field == "unit" else field)
    # when
    setattr(account, field, value)
    account.save(update_fields=[field] if partial else None)
    # then
    [event] = account_events(account)
    assert event.actor_id is None and event.actor_name == ""
    change = event.data["changes"][field]
    if field == "unit":
        assert (change["old"]["id"], change["new"]["id"]) == (old, world.county_b.pk)
    else:
        assert (change["old"], change["new"]) == (old, value)
    assert list(event.data["changes"]) == [field]


def test_model__saves_that_change_nothing_watched_record_nothing(world):
    # given
    account = User.objects.get(pk=world.handler_a.pk)
    before = AuditEvent.objects.count()
    # when: the name, the notification settings, a sign-in
    account.full_name, account.notify_sms = "陈承办", True
    account.save()
    account.last_login = timezone.now()
    account.save(update_fields=["last_login"])
    # then
    assert AuditEvent.objects.count() == before


def test_model__the_event_commits_with_the_change_or_not_at_all(world, monkeypatch):
    # given
    account = User.objects.get(pk=world.handler_a.pk)
    # when: the change's transaction is rolled back
    with pytest.raises(RuntimeError), transaction.atomic():
        account.role = Role.LEADER
        account.save()
        raise RuntimeError("rolled back")
    # then: neither is there
    assert User.objects.get(pk=account.pk).role == Role.HANDLER and account_events(account) == []

    # when: the audit write fails
    def broken(**kwargs):
        raise RuntimeError("audit down")

    monkeypatch.setattr(audit, "record", broken)
    account = User.objects.get(pk=world.handler_a.pk)
    account.role = Role.LEADER
    with pytest.raises(RuntimeError):
        account.save()
    # then: the change did not happen
    assert User.objects.get(pk=account.pk).role == Role.HANDLER


# The admin shows no case ----------------------------------------------------------------------
@pytest.fixture
def busy_admin(world, superadmin):
    """A case with a distinctive title, its deliveries (one failed), a proposal, a sign-in lock
    and an API token: something on every admin page."""
    case = make_case(world, title=TITLE)
    OutboxMessage.objects.filter(case=case).update(failed_at=timezone.now(), last_error="smtp down")
    Proposal.objects.create(case=case, kind=Proposal.Kind.INTERVIEW, unit=case.unit)
    AccessAttempt.objects.create(username=world.leader.username, ip_address="192.0.2.1", user_agent="test",
                                 http_accept="*/*", path_info="/accounts/login/", get_data="", post_data="",
                                 failures_since_start=5)
    Token.objects.create(user=world.leader)
    Group.objects.create(name="督查组")
    return case


@pytest.mark.parametrize("who", ["superadmin", "sysadmin"])
def test_admin__no_page_shows_a_case(world, busy_admin, request, who):
    # given: the case's number and title
    user = request.getfixturevalue(who)
    client = web(user)
    secrets = (busy_admin.number, TITLE, busy_admin.title)
    pages = ["/admin/", reverse("admin:workflow_outboxmessage_changelist") + "?delivery=failed"]
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        pages.append(reverse("admin:%s_%s_changelist" % info))
        pages.append(reverse("admin:%s_%s_add" % info))
        for obj in model._default_manager.all()[:3]:
            for page in ("change", "history", "delete"):
                pages.append(reverse(f"admin:%s_%s_{page}" % info, args=[obj.pk]))
    # the unit that owns the case and the inspector who opened it: their delete pages list what stands in the way
    for obj in (busy_admin.unit, world.inspector):
        pages.append(reverse(f"admin:workflow_{obj._meta.model_name}_delete", args=[obj.pk]))
    # when
    responses = {url: client.get(url) for url in pages}
    # then: no error, and nothing of the case
    assert {url: r.status_code for url, r in responses.items() if r.status_code >= 500} == {}
    shown = [url for url, r in responses.items() if r.status_code == 200]
    assert len(shown) > (30 if who == "superadmin" else 20)
    for url in shown:
        body = responses[url].content.decode()
        assert not [s for s in secrets if s in body], url
    # and: searching the deliveries for the title finds nothing
    found = client.get(reverse("admin:workflow_outboxmessage_changelist"), {"q": TITLE})
    assert found.status_code == 200 and found.context["cl"].result_count == 0


def test_admin__failed_deliveries_are_listed_and_retried(world, busy_admin, sysadmin):
    # given
    failed = list(OutboxMessage.objects.filter(failed_at__isnull=False).values_list("pk", flat=True))
    client = web(sysadmin)
    # when
    listed = client.get(reverse("admin:workflow_outboxmessage_changelist"), {"delivery": "failed"})
    retried = client.post(reverse("admin:workflow_outboxmessage_changelist"),
                          {"action": "retry", "_selected_action": failed})
    # then
    assert failed and listed.context["cl"].result_count == len(failed)
    assert retried.status_code == 302
    assert not OutboxMessage.objects.filter(pk__in=failed, failed_at__isnull=False).exists()


def test_admin__viewflow_process_and_task_lists_are_gone(superadmin):
    from viewflow.workflow.models import Process, Task

    assert Process not in admin.site._registry and Task not in admin.site._registry
    assert web(superadmin).get("/admin/viewflow/process/").status_code == 404


# Chinese throughout ---------------------------------------------------------------------------
ALLOWED_LATIN = re.compile(r"\b(IP|HTTP|GET|POST|SHA-256|API|SMS)\b|（[A-Z]）")


def english(text) -> bool:
    return bool(re.search(r"[A-Za-z]", ALLOWED_LATIN.sub("", str(text))))


def test_admin__names_headers_filters_and_fields_are_chinese(rf, superadmin):
    # given
    request = rf.get("/admin/")
    request.user = superadmin
    untranslated = []
    with override("zh-hans"):
        for model, model_admin in admin.site._registry.items():
            opts = model._meta
            labels = [opts.verbose_name, opts.verbose_name_plural, opts.app_config.verbose_name]
            # when: every column header, filter title, form label, fieldset title and action name
            labels += [label_for_field(name, model, model_admin) for name in model_admin.get_list_display(request)
                       if name != "action_checkbox"]
            for item in model_admin.list_filter:
                if isinstance(item, str):
                    labels.append(opts.get_field(item.split("__")[0]).verbose_name)
                elif isinstance(item, type):
                    labels.append(item.title)
            for field in opts.get_fields():
                if getattr(field, "verbose_name", None) and not field.auto_created:
                    labels.append(field.verbose_name)
                labels += [label for _value, label in (getattr(field, "choices", None) or ())]
            if model_admin.has_change_permission(request):
                for title, options in model_admin.get_fieldsets(request):
                    labels.append(title or "")
            labels += [str(description) % model_format_dict(opts)
                       for _func, _name, description in model_admin.get_actions(request).values()]
            untranslated += [f"{opts.label}: {label}" for label in labels if english(label)]
    # then
    assert untranslated == []


def test_admin__index_and_lists_render_chinese_model_names(world, sysadmin, busy_admin):
    # given
    client = web(sysadmin)
    # when
    index = client.get("/admin/").content.decode()
    deliveries = client.get(reverse("admin:workflow_outboxmessage_changelist")).content.decode()
    users = client.get(reverse("admin:workflow_user_changelist")).content.decode()
    # then
    for name in ("单位", "用户", "待发送消息", "节假日安排", "催督办规则"):
        assert name in index
    assert "Outbox" not in index and "Units" not in index and "Proposals" not in index
    assert "待发送消息" in deliveries and "渠道" in deliveries and "Channel" not in deliveries
    assert "角色" in users and "Role" not in users


# Navigation -----------------------------------------------------------------------------------
def test_nav__sysadmin_sees_the_admin_link_and_no_case_menus(world, sysadmin):
    # when
    page = web(sysadmin).get(reverse("notifications")).content.decode()
    leader_page = web(world.leader).get(reverse("notifications")).content.decode()
    # then
    nav = re.search(r"<nav[^>]*>(.*?)</nav>", page, re.S).group(1)
    assert 'href="/admin/"' in nav
    assert reverse("rectification:list") not in nav and reverse("inbox") not in nav
    assert 'href="/admin/"' not in leader_page and reverse("rectification:list") in leader_page


def test_nav__the_administrator_lands_on_the_admin_after_logging_in(world, sysadmin):
    from tests.factories import PASSWORD
    # when: the administrator and a leader log in through the log-in page
    admin_landing = Client().post(reverse("login"), {"username": sysadmin.username, "password": PASSWORD}, follow=True)
    leader_landing = Client().post(reverse("login"), {"username": world.leader.username, "password": PASSWORD},
                                   follow=True)
    # then: the administrator is in the admin, the leader in the inbox
    assert admin_landing.redirect_chain[-1][0] == reverse("admin:index")
    assert leader_landing.redirect_chain[-1][0] == reverse("inbox")


# Units are never moved below themselves ---------------------------------------------------------
def unit_paths():
    return dict(Unit.objects.values_list("pk", "path"))


@pytest.mark.parametrize("target", ["itself", "child", "grandchild"])
def test_admin__moving_a_unit_below_itself_is_refused_in_chinese(world, superadmin, target):
    # given: the city bureau, its county and a township below the county
    township = make_unit("城关镇民政办", parent=world.county_a)
    parent = {"itself": world.city, "child": world.county_a, "grandchild": township}[target]
    before = unit_paths()
    # when
    response = web(superadmin).post(change_url(world.city), {
        "code": world.city.code, "name": world.city.name, "kind": world.city.kind, "parent": parent.pk,
        "credit_code": "", "head_name": "", "address": ""})
    # then
    assert response.status_code == 200
    with override("zh-hans"):
        assert gettext(MOVE_BELOW_ITSELF) in response.content.decode()
        assert not english(gettext(MOVE_BELOW_ITSELF))
    assert unit_paths() == before


def test_model__moving_a_unit_below_its_descendant_is_refused(world):
    # given
    township = make_unit("城关镇民政办", parent=world.county_a)
    before = unit_paths()
    county = Unit.objects.get(pk=world.county_a.pk)
    # when / then
    county.parent = township
    with pytest.raises(ValidationError):
        county.full_clean()
    with pytest.raises(ValidationError):
        county.save()
    assert unit_paths() == before
    # and: a real move still rewrites the subtree
    county = Unit.objects.get(pk=world.county_a.pk)
    county.parent = world.county_b
    county.save()
    assert Unit.objects.get(pk=township.pk).path.startswith(Unit.objects.get(pk=world.county_b.pk).path)
