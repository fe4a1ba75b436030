"""The demo's photo evidence (seed_demo): two 东城区 cases of one problem show the camera's time
and place in order, a photo without either, and the same after-photo on both, flagged on both
as the case page flags it, and no other photo matched. Uploaded through the real path, once."""
import pytest
from django.core.management import call_command

from processes.rectification.management.commands.seed_demo import PHOTO_PROBLEM
from processes.rectification.models import RectificationCase
from workflow.cases import photos
from workflow.models import Evidence, User

pytestmark = pytest.mark.django_db


def notes(case, user):
    evidence = list(Evidence.objects.filter(case=case).order_by("created_at"))
    photos.annotate(case, evidence, user)
    return [(ev.stage, ev.photo) for ev in evidence]


def test_demo_photos_show_time_place_and_a_reused_photo_on_both_cases():
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    inspector = User.objects.get(username="inspector")
    first, second = RectificationCase.objects.filter(
        unit__code="DEMO-DC", title=PHOTO_PROBLEM, evidence__stage="before").order_by("pk")
    (s1, before), (s2, after), (s3, forwarded) = notes(first, inspector)
    assert (s1, s2, s3) == ("before", "after", "other")
    # then: times and places recorded, in order, within the case's period: no flag but the reuse
    assert before.taken_at < after.taken_at and before.place and after.place
    assert not (before.out_of_order or before.out_of_period or before.duplicated)
    assert not (after.out_of_order or after.out_of_period)
    assert [number for number, _url in after.duplicates] == [second.number]
    # a photo forwarded through a messaging app has no time or place, and is not flagged
    assert not forwarded.recorded and not forwarded.duplicated
    (t1, own_before), (t2, copy) = notes(second, inspector)
    assert (t1, t2) == ("before", "after")
    assert own_before.recorded and not (own_before.out_of_period or own_before.duplicated)
    assert not copy.recorded and [number for number, _url in copy.duplicates] == [first.number]
    # the reports' site photos are pictures of their own: the reused after-photo is the only match
    rows = list(Evidence.objects.exclude(photo_hash=None).values_list("case_id", "photo_hash"))
    near = {frozenset((a, b)) for i, (a, x) in enumerate(rows) for b, y in rows[i + 1:]
            if a != b and photos.distance(x, y) <= photos.threshold()}
    assert len(rows) > 20 and near == {frozenset((first.pk, second.pk))}
    # and a second run adds nothing
    count = Evidence.objects.count()
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    assert Evidence.objects.count() == count

