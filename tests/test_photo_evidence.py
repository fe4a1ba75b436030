"""Photo evidence that can be trusted (issue 12): the EXIF time and place shown beside the upload
time, an after-photo older than the before-photo or a photo outside the case's period flagged,
the same picture reused on another case flagged through the band index, a photo without EXIF
never flagged. Real JPEGs written by Pillow."""
import datetime
import io
import json
import random
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image, ImageDraw

from tests.factories import drive, make_case, make_world, upload
from workflow.cases import photos, services
from workflow.models import Case, Evidence

pytestmark = pytest.mark.django_db
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


# Pictures -----------------------------------------------------------------------------------


def scene(seed: int, size=(640, 480)) -> Image.Image:
    """A picture with broad shapes and some noise, different for each seed."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw = ImageDraw.Draw(image)
    w, h = size
    for _ in range(12):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        box = (x0, y0, x0 + rng.randrange(w // 8, w // 2), y0 + rng.randrange(h // 8, h // 2))
        fill = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
    for _ in range(2000):
        draw.point((rng.randrange(w), rng.randrange(h)), fill=(rng.randrange(256),) * 3)
    return image


def exif_of(taken=None, offset=None, gps=None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Test camera"
    if taken is not None:
        sub = exif.get_ifd(0x8769)
        sub[0x9003] = taken
        if offset is not None:
            sub[0x9011] = offset
    if gps is not None:
        exif.get_ifd(0x8825).update(gps)
    return exif


def gps_tags(lat, lon):
    def dms(value):
        value = abs(value)
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
        return (float(degrees), float(minutes), seconds)

    return {1: "N" if lat >= 0 else "S", 2: dms(lat), 3: "E" if lon >= 0 else "W", 4: dms(lon)}


def jpeg(image: Image.Image, exif: Image.Exif | None = None, quality=90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, **({"exif": exif.tobytes()} if exif is not None else {}))
    return out.getvalue()


def camera_time(moment: datetime.datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y:%m:%d %H:%M:%S")


# Reading EXIF -------------------------------------------------------------------------------


def test_reads_time_with_its_offset_place_and_hash():
    data = jpeg(scene(1), exif_of("2026:03:04 09:15:30", "+02:00", gps_tags(31.2304, 121.4737)))
    facts = photos.read_photo(data)
    assert facts.taken_at == datetime.datetime(2026, 3, 4, 7, 15, 30, tzinfo=datetime.timezone.utc)
    assert facts.latitude == Decimal("31.230400") and facts.longitude == Decimal("121.473700")
    assert facts.hash is not None and -(1 << 63) <= facts.hash < (1 << 63)


def test_camera_time_without_offset_is_shanghai_time_and_south_west_is_negative():
    data = jpeg(scene(1), exif_of("2026:03:04 09:15:30", gps=gps_tags(-33.8688, -151.2093)))
    facts = photos.read_photo(data)
    assert facts.taken_at == datetime.datetime(2026, 3, 4, 1, 15, 30, tzinfo=datetime.timezone.utc)
    assert facts.latitude == Decimal("-33.868800") and facts.longitude == Decimal("-151.209300")


def test_stripped_exif_keeps_only_the_hash():
    facts = photos.read_photo(jpeg(scene(1)))
    assert (facts.taken_at, facts.latitude, facts.longitude) == (None, None, None)
    assert facts.hash is not None


@pytest.mark.parametrize("taken, offset, gps", [
    ("not a date", None, None),
    ("2026:13:45 99:99:99", None, None),
    ("2026:03:04 09:15:30", "+99:00", None),  # an offset no place has: no time rather than a wrong one
    (None, None, {1: "N", 2: (95.0, 0.0, 0.0), 3: "E", 4: (10.0, 0.0, 0.0)}),  # latitude out of range
    (None, None, {1: "N", 2: (30.0, 0.0, 0.0), 3: "E", 4: (190.0, 0.0, 0.0)}),  # longitude out of range
    (None, None, {1: "X", 2: (30.0, 0.0, 0.0), 3: "E", 4: (100.0, 0.0, 0.0)}),  # no hemisphere
    (None, None, {1: "N", 2: (30.0, 0.0), 3: "E", 4: (100.0, 0.0, 0.0)}),  # two parts
])
def test_malformed_values_store_nothing(taken, offset, gps):
    facts = photos.read_photo(jpeg(scene(2), exif_of(taken, offset, gps)))
    assert facts.taken_at is None and facts.latitude is None and facts.longitude is None


def test_malformed_exif_bytes_never_raise():
    good = jpeg(scene(3), exif_of("2026:03:04 09:15:30", gps=gps_tags(30, 120)))
    start = good.index(b"Exif\x00\x00")
    rng = random.Random(7)
    for trial in range(60):
        damaged = bytearray(good)
        for _ in range(20):
            damaged[start + 6 + rng.randrange(200)] = rng.randrange(256)
        photos.read_photo(bytes(damaged))  # never raises, whatever it makes of the bytes
    # A TIFF header pointing its first IFD far outside the segment, and a truncated segment
    for body in (b"II*\x00\xff\xff\xff\x7f", b"MM\x00*\x00\x00\x00\x08\x00\xff", b"II*"):
        segment = b"Exif\x00\x00" + body
        data = good[:2] + b"\xff\xe1" + (len(segment) + 2).to_bytes(2, "big") + segment + good[2:]
        facts = photos.read_photo(data)
        assert facts.latitude is None
    assert photos.read_photo(b"\xff\xd8\xff garbage").hash is None


def test_resized_and_reencoded_copy_is_near_and_another_picture_is_far():
    original = photos.read_photo(jpeg(scene(4), quality=95)).hash
    copy = scene(4).resize((320, 240), Image.Resampling.BILINEAR)
    again = photos.read_photo(jpeg(copy, quality=40)).hash
    png = io.BytesIO()
    scene(4).resize((800, 600)).save(png, "PNG")
    assert photos.distance(original, again) <= 2
    assert photos.distance(original, photos.read_photo(png.getvalue()).hash) <= 2
    others = [photos.distance(original, photos.read_photo(jpeg(scene(seed))).hash) for seed in range(10, 30)]
    assert min(others) > photos.MAX_DISTANCE


def test_bands_find_every_hash_within_the_largest_threshold():
    rng = random.Random(1)
    for _ in range(300):
        value = photos.to_signed(rng.getrandbits(64))
        flipped = value
        for bit in rng.sample(range(64), photos.MAX_DISTANCE):
            flipped = photos.to_signed(photos.to_unsigned(flipped) ^ (1 << bit))
        assert photos.distance(value, flipped) == photos.MAX_DISTANCE
        assert any(a == b for a, b in zip(photos.bands(value), photos.bands(flipped)))


def test_a_threshold_beyond_the_bands_is_refused_at_startup(settings):
    settings.PHOTO_HASH_DISTANCE = photos.MAX_DISTANCE + 1
    with pytest.raises(SystemCheckError, match="DUBAN_PHOTO_HASH_DISTANCE"):
        call_command("check")
    settings.PHOTO_HASH_DISTANCE = photos.MAX_DISTANCE
    call_command("check")


# Uploading and the case page ------------------------------------------------------------------


@pytest.fixture
def world():
    return make_world()


def signed_case(world, unit=None, handler="handler_a"):
    case = make_case(world, unit=unit)
    return drive(world, case, (handler, "sign"))


def add(world, case, data, stage="other", name="现场.jpg", handler="handler_a"):
    return services.add_evidence(type(case), actor=world.actor(handler), case_id=case.pk,
                                 upload=upload(name, data, "image/jpeg"), stage=stage)


def page_of(user, case) -> str:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "en"
    response = client.get(case.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def open_since(case, hours):
    Case.objects.filter(pk=case.pk).update(created_at=case.created_at - datetime.timedelta(hours=hours))


def test_upload_keeps_the_facts_and_the_page_shows_them(world):
    case = signed_case(world)
    open_since(case, 48)
    taken = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=3)
    ev = add(world, case, jpeg(scene(5), exif_of(camera_time(taken), gps=gps_tags(31.2304123, 121.4737456))),
             stage="before")
    ev.refresh_from_db()
    assert ev.stage == "before" and ev.taken_at == taken.replace(microsecond=0)
    assert (ev.latitude, ev.longitude) == (Decimal("31.230412"), Decimal("121.473746"))
    assert ev.photo_hash is not None
    assert (ev.photo_band_0, ev.photo_band_5) == (photos.bands(ev.photo_hash)[0], photos.bands(ev.photo_hash)[5])
    html = page_of(world.inspector, case)
    local = taken.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    assert f"Taken {local}" in html and "Place 31.23041, 121.47375" in html
    assert "before the fix" in html and 'class="photo-flags"' not in html


def test_a_photo_without_exif_is_shown_as_such_and_never_flagged(world):
    case = signed_case(world)
    add(world, case, jpeg(scene(6), exif_of(camera_time(datetime.datetime.now(datetime.timezone.utc)))), "before")
    ev = add(world, case, jpeg(scene(7)), "after", name="微信图片.jpg")
    assert ev.taken_at is None and ev.latitude is None
    html = page_of(world.inspector, case)
    assert "No time or place recorded" in html and 'class="photo-flags"' not in html


def test_an_after_photo_older_than_the_before_photo_is_flagged(world):
    case = signed_case(world)
    open_since(case, 48)
    now = datetime.datetime.now(datetime.timezone.utc)
    add(world, case, jpeg(scene(8), exif_of(camera_time(now - datetime.timedelta(hours=2)))), "before")
    add(world, case, jpeg(scene(9), exif_of(camera_time(now - datetime.timedelta(hours=5)))), "after")
    html = page_of(world.inspector, case)
    assert html.count("flag-order") == 1 and "flag-period" not in html
    # the same pair the right way round is not flagged
    other = signed_case(world)
    open_since(other, 48)
    add(world, other, jpeg(scene(40), exif_of(camera_time(now - datetime.timedelta(hours=5)))), "before")
    add(world, other, jpeg(scene(41), exif_of(camera_time(now - datetime.timedelta(hours=2)))), "after")
    assert "flag-" not in page_of(world.inspector, other).split('class="photo-facts"', 1)[1]


def test_a_photo_outside_the_case_period_is_flagged(world, settings):
    case = signed_case(world)
    now = datetime.datetime.now(datetime.timezone.utc)
    add(world, case, jpeg(scene(10), exif_of("2020:01:01 08:00:00")))  # years before the case was opened
    add(world, case, jpeg(scene(11), exif_of(camera_time(now + datetime.timedelta(hours=2)))))  # after the upload
    add(world, case, jpeg(scene(12), exif_of(camera_time(now + datetime.timedelta(minutes=5)))))  # clock skew
    html = page_of(world.inspector, case)
    assert html.count("flag-period") == 2
    settings.PHOTO_CLOCK_SKEW_MINUTES = 1
    assert page_of(world.inspector, case).count("flag-period") == 3


def test_a_resized_reencoded_copy_on_another_case_is_flagged_with_a_link_only_for_those_who_see_it(world):
    first = signed_case(world, unit=world.county_b, handler="handler_b")
    add(world, first, jpeg(scene(13), quality=92), handler="handler_b")
    second = signed_case(world)
    copy = scene(13).resize((480, 360), Image.Resampling.BICUBIC)
    add(world, second, jpeg(copy, quality=55), stage="after", name="整改后.jpg")
    different = signed_case(world)
    add(world, different, jpeg(scene(14)))

    inspector_page = page_of(world.inspector, second)  # the city sees both counties' cases
    assert "flag-duplicate" in inspector_page and f'href="{first.get_absolute_url()}">{first.number}</a>' in inspector_page
    handler_page = page_of(world.handler_a, second)  # county A does not see county B's case
    assert "flag-duplicate" in handler_page and "another case" in handler_page
    assert first.number not in handler_page and first.get_absolute_url() not in handler_page
    assert "flag-duplicate" in page_of(world.inspector, first)  # the earlier upload is flagged too
    assert "flag-duplicate" not in page_of(world.inspector, different)


def test_the_same_picture_twice_on_one_case_is_not_a_duplicate(world):
    case = signed_case(world)
    add(world, case, jpeg(scene(15)))
    add(world, case, jpeg(scene(15), quality=60))
    assert "flag-duplicate" not in page_of(world.inspector, case)


def test_the_page_reads_the_same_number_of_queries_for_one_photo_or_many(world):
    case = signed_case(world)
    other = signed_case(world)
    add(world, other, jpeg(scene(20)))
    add(world, case, jpeg(scene(20), quality=50))

    def count():
        client = Client()
        client.force_login(world.inspector)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(case.get_absolute_url()).status_code == 200
        return len(queries)

    count()  # the first request also fills in-process caches
    one = count()
    for seed in range(21, 27):
        add(world, case, jpeg(scene(seed), exif_of("2020:01:01 08:00:00")), stage="after")
        add(world, other, jpeg(scene(seed), quality=50))
    assert count() == one


def test_the_upload_form_takes_a_bounded_stage(world):
    case = signed_case(world)
    client = Client()
    client.force_login(world.handler_a)
    url = f"/rectification/{case.pk}/evidence/"
    response = client.post(url, {"stage": "after", "file": upload("后.jpg", jpeg(scene(30)), "image/jpeg")})
    assert response.status_code == 302
    assert Evidence.objects.get(case=case).stage == "after"
    response = client.post(url, {"stage": "during", "file": upload("中.jpg", jpeg(scene(31)), "image/jpeg")})
    assert response.status_code == 400 and Evidence.objects.filter(case=case).count() == 1
    client.post(url, {"file": upload("无.jpg", jpeg(scene(32)), "image/jpeg")})
    assert Evidence.objects.filter(case=case).latest("created_at").stage == "other"


@pytest.mark.django_db(transaction=True)
def test_bench_photos_lookup_finds_what_the_scan_finds(tmp_path):
    """The benchmark suite (`bench --suite photos`) at a tiny scale, so it never rots: no timing
    asserted, only that the band lookup agrees with the full scan and the plan uses the bands."""
    out = tmp_path / "bench.json"
    call_command("bench", suite="photos", scale=0.001, in_place=True, json=str(out))
    results = json.loads(out.read_text(encoding="utf-8"))
    lookup = results["lookup"]
    assert results["photos"] == 1000 and lookup["same_result"] is True
    assert lookup["found"] >= lookup["queries"] // 2
    if connection.vendor == "postgresql":
        assert results["explain"]["band_indexes_used"] == photos.BANDS and not results["explain"]["seq_scan"]


def test_the_api_takes_a_photo_stage_and_answers_with_the_camera_facts(world):
    from tests.test_api import CASES, client_for

    case = signed_case(world)
    open_since(case, 48)
    shot = timezone.localtime() - datetime.timedelta(hours=2)
    data = jpeg(scene(7), exif_of(taken=camera_time(shot), gps=gps_tags(31.2304, 121.4737)))
    handler = client_for(world.handler_a)
    # when
    answer = handler.post(f"{CASES}{case.pk}/evidence/", {"file": upload("现场.jpg", data, "image/jpeg"),
                                                          "stage": "after"}, format="multipart")
    refused = handler.post(f"{CASES}{case.pk}/evidence/", {"file": upload("现场.jpg", data, "image/jpeg"),
                                                           "stage": "later"}, format="multipart")
    # then
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["stage"] == "after" and body["taken_at"] is not None
    assert body["latitude"].startswith("31.2304") and body["longitude"].startswith("121.4737")
    assert refused.status_code == 400 and "stage" in refused.json()
    assert Evidence.objects.filter(case_id=case.pk).count() == 1
