"""Photo evidence that can be trusted: the time and place a camera recorded (EXIF), and a
perceptual hash that finds the same picture reused on another case (以拍代改), even resized
or re-encoded.

At upload, `read_photo` takes from an image its EXIF DateTimeOriginal (with its
OffsetTimeOriginal, else the camera's local time is read as Asia/Shanghai), its GPS latitude
and longitude, and a 64-bit difference hash (dHash) of a 9x8 grayscale downscale. Anything
malformed yields nothing: an upload is never refused or failed for its EXIF. Messaging apps
(政务钉钉, WeChat) strip EXIF; such a photo has no time or place and is never flagged for them.

The near-duplicate lookup uses the pigeonhole principle: the 64 bits are split into
`BANDS` bands; two hashes within Hamming distance t < BANDS agree exactly on at least one
band. Each band is an indexed column, so candidates are found by band equality (index
lookups, never a scan) and then checked on their full distance. Six bands of 11/11/11/11/10/10
bits support a threshold up to 5 (`MAX_DISTANCE`); a larger setting is refused at startup
by a system check. The default, 4, keeps a resized or re-encoded copy (typically 0-2 bits
apart) while two different pictures (about 32 bits apart) are far beyond it.
"""
import datetime
import io
import math
import re
import warnings
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import checks
from django.db import connection
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

BAND_WIDTHS = (11, 11, 11, 11, 10, 10)
BANDS = len(BAND_WIDTHS)
MAX_DISTANCE = BANDS - 1
BAND_FIELDS = tuple(f"photo_band_{i}" for i in range(BANDS))
CAMERA_ZONE = ZoneInfo("Asia/Shanghai")
MAX_HASH_PIXELS = 40_000_000  # after JPEG draft scaling; larger images keep no hash rather than decode
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL = 0x9003, 0x9011
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON = 1, 2, 3, 4
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


@dataclass
class PhotoFacts:
    taken_at: datetime.datetime | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    hash: int | None = None  # signed 64-bit, as the database keeps it


# Reading ------------------------------------------------------------------------------------


def read_photo(data: bytes) -> PhotoFacts:
    """The EXIF time and place and the perceptual hash of an image already checked at upload.
    Never raises: a part that cannot be read is left empty."""
    from PIL import Image

    facts = PhotoFacts()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                facts.taken_at, facts.latitude, facts.longitude = _exif_facts(image)
                facts.hash = _dhash(image)
    except Exception:  # noqa: BLE001 - hostile or damaged input stores nothing
        pass
    return facts


def _exif_facts(image):
    try:
        exif = image.getexif()
    except Exception:  # noqa: BLE001
        return None, None, None
    taken_at = lat = lon = None
    try:
        sub = exif.get_ifd(EXIF_IFD)
        taken_at = parse_exif_time(sub.get(DATETIME_ORIGINAL), sub.get(OFFSET_TIME_ORIGINAL))
    except Exception:  # noqa: BLE001
        taken_at = None
    try:
        gps = exif.get_ifd(GPS_IFD)
        lat = _coordinate(gps.get(GPS_LAT), gps.get(GPS_LAT_REF), "N", "S", 90)
        lon = _coordinate(gps.get(GPS_LON), gps.get(GPS_LON_REF), "E", "W", 180)
        if lat is None or lon is None:
            lat = lon = None
    except Exception:  # noqa: BLE001
        lat = lon = None
    return taken_at, lat, lon


def _text(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    return value.strip("\x00 ").strip()


def parse_exif_time(raw, offset=None) -> datetime.datetime | None:
    """'YYYY:MM:DD HH:MM:SS' with an optional '+08:00' offset; the camera's local time is read
    as Asia/Shanghai when no offset was recorded. None when unreadable."""
    text = _text(raw)
    if not text:
        return None
    try:
        naive = datetime.datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    match = _OFFSET.match(_text(offset) or "")
    if match:
        sign, hours, minutes = match.groups()
        delta = datetime.timedelta(hours=int(hours), minutes=int(minutes))
        if delta > datetime.timedelta(hours=14):
            return None
        return naive.replace(tzinfo=datetime.timezone(-delta if sign == "-" else delta))
    return naive.replace(tzinfo=CAMERA_ZONE)


def _coordinate(value, ref, positive, negative, bound) -> Decimal | None:
    ref = _text(ref)
    if ref not in (positive, negative) or not isinstance(value, tuple) or len(value) != 3:
        return None
    degrees, minutes, seconds = (float(part) for part in value)
    if not all(math.isfinite(p) and p >= 0 for p in (degrees, minutes, seconds)) or minutes >= 60 or seconds >= 60:
        return None
    number = degrees + minutes / 60 + seconds / 3600
    if ref == negative:
        number = -number
    if not -bound <= number <= bound:
        return None
    return Decimal(f"{number:.6f}")


def _dhash(image) -> int | None:
    """A 64-bit difference hash: each of 8 rows of a 9x8 grayscale downscale gives 8 bits, one
    per pair of neighbours (1 when the left one is brighter)."""
    from PIL import Image

    if image.format == "JPEG":
        image.draft("L", (64, 64))  # decode at 1/2..1/8 scale: fast and small
    if image.width * image.height > MAX_HASH_PIXELS:
        return None
    image.seek(0)
    gray = image.convert("L")
    gray.thumbnail((256, 256), Image.Resampling.BOX)
    small = gray.resize((9, 8), Image.Resampling.LANCZOS)
    pixels = list(small.getdata())
    value = 0
    for row in range(8):
        for col in range(8):
            value = (value << 1) | (pixels[row * 9 + col] > pixels[row * 9 + col + 1])
    return to_signed(value)


# Hashes and bands ---------------------------------------------------------------------------


def to_signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned(value: int) -> int:
    return value & ((1 << 64) - 1)


def distance(a: int, b: int) -> int:
    return (to_unsigned(a) ^ to_unsigned(b)).bit_count()


def bands(value: int) -> tuple[int, ...]:
    """The hash's band values, most significant bits first."""
    value, out, shift = to_unsigned(value), [], 64
    for width in BAND_WIDTHS:
        shift -= width
        out.append((value >> shift) & ((1 << width) - 1))
    return tuple(out)


def band_values(value: int | None) -> dict:
    """The evidence row's band columns for a hash (all None without one)."""
    parts = bands(value) if value is not None else (None,) * BANDS
    return dict(zip(BAND_FIELDS, parts))


def threshold() -> int:
    return settings.PHOTO_HASH_DISTANCE


def candidates_filter(hashes) -> Q:
    """Rows sharing at least one band with one of `hashes`: one IN per band column, each
    answered by that column's index."""
    per_band = [set() for _ in range(BANDS)]
    for value in hashes:
        for i, part in enumerate(bands(value)):
            per_band[i].add(part)
    query = Q()
    for name, values in zip(BAND_FIELDS, per_band):
        query |= Q(**{f"{name}__in": sorted(values)})
    return query


def candidates(hashes, other_than=None):
    """Photos on cases (other than case `other_than`) sharing a band with one of `hashes`,
    found through the band indexes: a superset of those within the threshold. PostgreSQL also
    keeps only those within it (bit_count of the XOR) on the rows the indexes found, so only
    matches come back; elsewhere the caller's check of the distance does it."""
    from workflow.models import Evidence

    hashes = list(hashes)
    rows = Evidence.objects.filter(candidates_filter(hashes), case__isnull=False).order_by()
    if connection.vendor == "postgresql" and hashes:
        column = f'"{Evidence._meta.db_table}"."photo_hash"'
        near = " OR ".join([f"bit_count(({column} # %s)::bit(64)) <= %s"] * len(hashes))
        rows = rows.filter(RawSQL(f"({near})", [x for value in hashes for x in (value, threshold())],
                                  output_field=BooleanField()))
    return rows.exclude(case_id=other_than) if other_than is not None else rows


@checks.register()
def check_hash_distance(app_configs=None, **kwargs):
    value = getattr(settings, "PHOTO_HASH_DISTANCE", 4)
    if not isinstance(value, int) or not 0 <= value <= MAX_DISTANCE:
        return [checks.Error(
            f"DUBAN_PHOTO_HASH_DISTANCE is {value!r}; it must be a whole number from 0 to {MAX_DISTANCE}: "
            f"the near-duplicate index has {BANDS} bands, which find every hash within {MAX_DISTANCE} bits.",
            id="workflow.E101")]
    return []


# The case page ------------------------------------------------------------------------------


@dataclass
class PhotoNote:
    """What the case page shows beside one photo."""

    taken_at: datetime.datetime | None
    place: tuple[str, str] | None
    out_of_order: bool = False
    out_of_period: bool = False
    duplicates: list = field(default_factory=list)  # visible cases [(number, url)]
    unseen_duplicate: bool = False

    @property
    def recorded(self) -> bool:
        return self.taken_at is not None or self.place is not None

    @property
    def duplicated(self) -> bool:
        return bool(self.duplicates) or self.unseen_duplicate


def annotate(case, evidence, user) -> None:
    """Set `photo` (a PhotoNote) on each image of `evidence` (the case's rows, already read).
    Two queries at most, whatever the number of photos: the candidates sharing a band with one
    of them on other cases, and which of those cases the user may see."""
    from workflow.models import Case, Evidence

    photos = [ev for ev in evidence if ev.is_image]
    skew = datetime.timedelta(minutes=settings.PHOTO_CLOCK_SKEW_MINUTES)
    befores = [ev.taken_at for ev in photos if ev.stage == Evidence.Stage.BEFORE and ev.taken_at]
    latest_before = max(befores) if befores else None
    for ev in photos:
        place = (f"{ev.latitude:.5f}", f"{ev.longitude:.5f}") if ev.latitude is not None and ev.longitude is not None else None
        note = PhotoNote(taken_at=ev.taken_at, place=place)
        if ev.taken_at is not None:
            note.out_of_order = (ev.stage == Evidence.Stage.AFTER and latest_before is not None
                                 and ev.taken_at < latest_before)
            note.out_of_period = (ev.taken_at < case.created_at - skew or ev.taken_at > ev.created_at + skew)
        ev.photo = note
    hashed = [ev for ev in photos if ev.photo_hash is not None]
    if not hashed:
        return
    limit = threshold()
    rows = candidates([ev.photo_hash for ev in hashed], other_than=case.pk).values_list(
        "case_id", "photo_hash", "case__number", "case__case_type")
    matches = {ev.pk: {} for ev in hashed}
    for case_id, value, number, case_type in rows:
        for ev in hashed:
            if distance(ev.photo_hash, value) <= limit:
                matches[ev.pk][case_id] = (number, case_type)
    found = {case_id for by_case in matches.values() for case_id in by_case}
    if not found:
        return
    seen = set(Case.objects.visible_to(user).filter(pk__in=found).values_list("pk", flat=True))
    from django.urls import reverse

    for ev in hashed:
        for case_id, (number, case_type) in sorted(matches[ev.pk].items(), key=lambda item: item[1][0]):
            if case_id in seen:
                ev.photo.duplicates.append((number, reverse(f"{case_type}:detail", args=[case_id])))
            else:
                ev.photo.unseen_duplicate = True
