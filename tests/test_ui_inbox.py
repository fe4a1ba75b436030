"""The inbox says what put each task there: the case's last change, with its reason."""
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from processes.rectification.declaration import Rectification
from tests.factories import drive, make_case, make_world, to_submitted


def zh(msgid, **params) -> str:
    with translation.override("zh-hans"):
        return translation.gettext(msgid) % params if params else str(msgid)


def inbox(user) -> str:
    client = Client()
    client.force_login(user)
    return client.get(reverse("inbox"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()


@pytest.mark.django_db
def test_inbox__a_returned_case_says_it_was_returned_and_why():
    world = make_world()
    # given a case returned with a reason, and a case just issued
    returned = drive(world, to_submitted(world, make_case(world)),
                     ("inspector", "return_case", {"reason": "照片不清晰，请补拍"}))
    make_case(world, title="灭火器过期")
    # when the handler opens the inbox
    page = inbox(world.handler_a)
    # then the returned case's row names the return and its reason, the new one its issue
    returned_label = zh(Rectification.event_label("return_case"))
    assert zh("%(event)s: %(reason)s", event=returned_label, reason="照片不清晰，请补拍") in page
    assert returned.number in page
    assert f'<small class="muted">{zh(Rectification.event_label("issue"))}</small>' in page


@pytest.mark.django_db
def test_inbox__one_query_for_the_reasons_whatever_the_number_of_rows():
    world = make_world()
    make_case(world)

    def count():
        with CaptureQueriesContext(connection) as queries:
            inbox(world.handler_a)
        return len(queries)

    count()  # the first page of a process also reads what it keeps (settings, calendar)
    one = count()
    for n in range(12):
        drive(world, make_case(world, title=f"问题{n}"), ("handler_a", "sign"))
    assert count() == one
