"""Suggesting the units an item should go to, from what each unit is responsible for (its
职责, ``UnitDuty``): the item's text is matched against each duty's keywords, or, for a duty
kept without keywords, against the words of the duty itself.

Chinese has no spaces, so a keyword matches wherever it occurs in the text. Both sides are
compared per character after NFKC (full width to half) and case folding, and every word a
suggestion shows is the text's own substring, as the item writes it: the reason shown for the
suggestion. A duty without keywords offers the longest stretches it shares with the text (two
characters or more, not crossing punctuation), with generic words trimmed off their ends and
counted at half weight. A unit is suggested for its best-matching duty; more and longer
matched words rank higher, ties by the unit's name. A unit with no match is never suggested.
"""
import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from workflow.cases.evidence import EvidenceRejected, check_ooxml
from workflow.models import Unit

from .models import UnitDuty

TEXT_MAX = 10_000   # characters of an item's text looked at
KEYWORD_WEIGHT = 2  # per character of a matched keyword (and one more per word)
DERIVED_WEIGHT = 1  # per character of a word the duty's own text shares with the item's
MIN_DERIVED = 2     # the shortest shared stretch that counts
WORDS_SHOWN = 10    # the longest matched words a suggestion shows as its reason
GRAM_MAX = 8        # stretches up to this long are looked up in a set of the text's

# Words that say nothing of what a duty is about. Trimmed off the ends of a stretch a duty
# without keywords shares with the text (as long as two characters remain); a stretch that
# is nothing but these does not count.
STOP_WORDS = ("负责", "承担", "工作", "管理", "有关", "相关", "组织实施", "指导", "开展", "推进", "落实", "加强",
              "做好", "监督", "实施", "本级", "全市", "全县", "全区", "的", "和", "及", "与", "等", "并", "对")
_STOPS = tuple(sorted(STOP_WORDS, key=len, reverse=True))
_STOP_FIRST, _STOP_LAST = {w[0] for w in STOP_WORDS}, {w[-1] for w in STOP_WORDS}
_KEYWORD_SPLIT = re.compile(r"[\s,、;]+")  # after NFKC: full-width ，； and spaces are half-width
_SEGMENT_SPLIT = re.compile(r"[\W_]+")     # punctuation and spaces end a stretch; CJK ideographs are \w


@dataclass
class Suggestion:
    """A unit suggested for an item: the duty that matched best, the words of the item's
    text that matched it (as the text writes them) and the score it ranks by."""

    unit: Unit
    duty: str
    words: list[str] = field(default_factory=list)
    score: int = 0


def fold(text: str) -> str:
    """How words are compared: each character NFKC-normalised (full width to half) and case-folded."""
    return "".join(unicodedata.normalize("NFKC", ch).casefold() for ch in text)


class Folded:
    """A text folded per character, with the way back from a folded stretch to the original:
    a character may fold to several (ﬁ to fi, ß to ss), so positions are mapped, not assumed."""

    def __init__(self, text: str):
        self.text = text
        parts, origin = [], []
        for index, ch in enumerate(text):
            folded = fold(ch)
            parts.append(folded)
            origin.extend([index] * len(folded))
        self.folded = "".join(parts)
        self.origin = origin

    @cached_property
    def grams(self) -> set[str]:
        """Every stretch of the folded text of two to GRAM_MAX characters: looked up, not searched for."""
        text = self.folded
        return {text[i:i + n] for n in range(MIN_DERIVED, GRAM_MAX + 1) for i in range(len(text) - n + 1)}

    def __contains__(self, word: str) -> bool:
        if MIN_DERIVED <= len(word) <= GRAM_MAX:
            return word in self.grams
        return word in self.folded

    def original(self, word: str) -> str:
        """The text's own stretch where the folded `word` first occurs (it must occur)."""
        start = self.folded.index(word)
        return self.text[self.origin[start]:self.origin[start + len(word) - 1] + 1]


def keywords(raw: str) -> list[str]:
    """A duty's keywords, folded: split on spaces, commas, 、 and semicolons, empties dropped."""
    return [word for word in _KEYWORD_SPLIT.split(fold(raw or "")) if word]


def _trim(word: str) -> str:
    """`word` with generic words cut off its ends while two characters remain; "" if nothing but them."""
    changed = True
    while changed and (word[:1] in _STOP_FIRST or word[-1:] in _STOP_LAST):
        changed = False
        for stop in _STOPS:
            if word.startswith(stop) and len(word) - len(stop) >= MIN_DERIVED:
                word, changed = word[len(stop):], True
            elif word.endswith(stop) and len(word) - len(stop) >= MIN_DERIVED:
                word, changed = word[:-len(stop)], True
    return "" if _only_stops(word) else word


def _only_stops(word: str) -> bool:
    if not word:
        return True
    if word[0] not in _STOP_FIRST:
        return False
    return any(word.startswith(stop) and _only_stops(word[len(stop):]) for stop in _STOPS)


def shared_words(duty: str, text: Folded) -> list[str]:
    """The longest stretches (two characters or more) of the folded `duty` that occur in the
    text, none crossing punctuation, generic words trimmed off their ends."""
    found = []
    for segment in _SEGMENT_SPLIT.split(fold(duty)):
        i, covered = 0, 0
        while i + MIN_DERIVED <= len(segment):
            end = i + MIN_DERIVED
            if segment[i:end] not in text:
                i += 1
                continue
            while end < len(segment) and segment[i:end + 1] in text:
                end += 1
            if end > covered:  # a stretch inside the previous one adds nothing
                found.append(segment[i:end])
                covered = end
            i += 1
    return [word for word in (_trim(word) for word in found) if len(word) >= MIN_DERIVED]


def _outermost(words: Iterable[str]) -> list[str]:
    """The distinct words, leaving out any inside another (低保 when 低保审核 matched too), longest first."""
    ordered = sorted(set(words), key=lambda w: (-len(w), w))
    kept: list[str] = []
    for word in ordered:
        if not any(word in longer for longer in kept):
            kept.append(word)
    return kept


def score_duty(duty: UnitDuty, text: Folded) -> tuple[int, list[str]]:
    """(score, folded words matched) of one duty against the text."""
    words = keywords(duty.keywords)
    if words:
        matched, weight = _outermost(word for word in words if word in text), KEYWORD_WEIGHT
    else:
        matched, weight = _outermost(shared_words(duty.duty, text)), DERIVED_WEIGHT
    return sum(weight * (len(word) + 1) for word in matched), matched


def suggest(text: str, units, limit: int = 5) -> list[Suggestion]:
    """The units among `units` (a queryset or a list of units) an item with this text should
    go to, best first, at most `limit`: each for its best-matching duty, with the words of the
    text that matched. The units' duties are read in one query; units without duties, or whose
    duties do not match, are not suggested."""
    limit = max(0, int(limit))
    folded = Folded(str(text or "")[:TEXT_MAX])
    if not folded.folded.strip() or not limit:
        return []
    if isinstance(units, QuerySet):
        duties = UnitDuty.objects.filter(unit__in=units).select_related("unit").order_by("unit_id", "pk")
        given = {}
    else:
        given = {unit.pk: unit for unit in units}
        if not given:
            return []
        duties = UnitDuty.objects.filter(unit_id__in=list(given)).order_by("unit_id", "pk")
    best: dict[int, Suggestion] = {}
    for duty in duties:
        score, matched = score_duty(duty, folded)
        if not score:
            continue
        current = best.get(duty.unit_id)
        if current is None or score > current.score:
            unit = given.get(duty.unit_id) or duty.unit
            best[duty.unit_id] = Suggestion(unit=unit, duty=duty.duty,
                                            words=[folded.original(word) for word in matched[:WORDS_SHOWN]],
                                            score=score)
    ranked = sorted(best.values(), key=lambda s: (-s.score, s.unit.name, s.unit.pk))
    return ranked[:limit]


# Loading duties from a table ----------------------------------------------------------------------
# A table of two or three columns (单位, 职责, 关键词), as .xlsx or .csv: units matched by their
# exact name; a unit cell left empty (or merged down) is the unit above.
TABLE_MAX_BYTES = 2 * 1024 * 1024
TABLE_MAX_ROWS = 5000
UNIT_NAME_MAX = 100
CSV_ENCODINGS = ("utf-8-sig", "gb18030")  # what Excel writes as "CSV UTF-8" and as plain CSV on Chinese Windows


class TableRefused(Exception):
    """The table cannot be read; `message` is for the user."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def read_table(data: bytes, filename: str) -> list[tuple[int, list[str]]]:
    """The table's rows as (row number, its first three cells as text), blank rows left out.
    A file too large, of another kind, damaged or hostile (a zip bomb, macros) is refused
    before it is read."""
    if len(data) > TABLE_MAX_BYTES:
        raise TableRefused(_("The table is larger than %(mb)d MB.") % {"mb": TABLE_MAX_BYTES // (1024 * 1024)})
    if not data:
        raise TableRefused(_("The file is empty."))
    suffix = filename.rpartition(".")[2].lower()
    if suffix == "xlsx":
        rows = _xlsx_rows(data)
    elif suffix == "csv":
        rows = _csv_rows(data)
    else:
        raise TableRefused(_("Only an Excel workbook (.xlsx) or a CSV file (.csv) can be loaded."))
    table = []
    for number, values in rows:
        if number > TABLE_MAX_ROWS:
            raise TableRefused(_("The table has more than %(n)d rows.") % {"n": TABLE_MAX_ROWS})
        cells = [" ".join(str(v).split()) if v is not None else "" for v in list(values)[:3]]
        cells += [""] * (3 - len(cells))
        if any(cells):
            table.append((number, cells))
    return table


def _xlsx_rows(data: bytes):
    from openpyxl import load_workbook

    if not data.startswith(b"PK\x03\x04"):
        raise TableRefused(_("The file's content does not match its extension."))
    try:
        check_ooxml(data, "xl/", refuse_macros=True, max_ratio=settings.OOXML_MAX_RATIO)
    except EvidenceRejected as refused:
        raise TableRefused(refused.message)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception:
        raise TableRefused(_("The office document is damaged and cannot be opened."))
    try:
        sheet = next((s for s in workbook.worksheets if getattr(s, "sheet_state", "visible") == "visible"), None)
        if sheet is None:
            raise TableRefused(_("The workbook has no visible sheet."))
        rows = []
        for number, values in enumerate(sheet.iter_rows(values_only=True, max_col=3), start=1):
            rows.append((number, values))
            if number > TABLE_MAX_ROWS:
                break
        return rows
    except TableRefused:
        raise
    except Exception:
        raise TableRefused(_("The office document is damaged and cannot be opened."))
    finally:
        workbook.close()


def _csv_rows(data: bytes):
    if b"\x00" in data:
        raise TableRefused(_("The file's content does not match its extension."))
    for encoding in CSV_ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise TableRefused(_("The CSV file is neither UTF-8 nor GB18030 text."))
    rows = []
    try:
        for number, values in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
            rows.append((number, values[:3]))
            if number > TABLE_MAX_ROWS:
                break
    except csv.Error:
        raise TableRefused(_("The CSV file is malformed."))
    return rows


def _is_heading(cells) -> bool:
    return "单位" in fold(cells[0]) and "职责" in fold(cells[1])


@dataclass
class Loaded:
    """What loading a table did: duties added, keywords updated, rows naming no unit or several
    units by that name (by name, with their row numbers) and rows refused (row number, reason)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    unmatched: dict[str, list[int]] = field(default_factory=dict)
    ambiguous: dict[str, list[int]] = field(default_factory=dict)
    refused: list[tuple[int, str]] = field(default_factory=list)


def load_table(rows: list[tuple[int, list[str]]], *, save: bool = True) -> Loaded:
    """Load the rows of `read_table`: a duty a unit does not have is added; one it has gets the
    row's keywords when the row gives some (a two-column table leaves keywords as they are).
    Units are read in one query by name; nothing is saved unless every matched row is loaded
    (one transaction), and nothing at all when `save` is false."""
    loaded = Loaded()
    if rows and _is_heading(rows[0][1]):
        rows = rows[1:]
    wanted: list[tuple[int, str, str, str]] = []
    unit_name = ""
    for number, (name, duty, words) in rows:
        unit_name = name or unit_name
        problem = _row_problem(unit_name, duty, words)
        if problem:
            loaded.refused.append((number, problem))
        else:
            wanted.append((number, unit_name, duty, words))
    by_name: dict[str, list[Unit]] = {}
    for unit in Unit.objects.filter(name__in={name for _n, name, _d, _w in wanted}).order_by("pk"):
        by_name.setdefault(unit.name, []).append(unit)
    chosen: dict[tuple[int, str], tuple[Unit, str]] = {}
    for number, name, duty, words in wanted:
        units = by_name.get(name, [])
        if len(units) != 1:
            (loaded.ambiguous if units else loaded.unmatched).setdefault(name, []).append(number)
            continue
        chosen[(units[0].pk, duty)] = (units[0], words)  # a duty given twice: the later row counts
    existing = {(d.unit_id, d.duty): d for d in UnitDuty.objects.filter(unit__in={u for u, _w in chosen.values()})}
    added, changed = [], []
    for key, (unit, words) in chosen.items():
        duty = existing.get(key)
        if duty is None:
            added.append(UnitDuty(unit=unit, duty=key[1], keywords=words))
        elif words and duty.keywords != words:
            duty.keywords = words
            changed.append(duty)
        else:
            loaded.unchanged += 1
    loaded.added, loaded.updated = len(added), len(changed)
    if save:
        with transaction.atomic():
            UnitDuty.objects.bulk_create(added)
            UnitDuty.objects.bulk_update(changed, ["keywords"])
    return loaded


def _row_problem(unit_name: str, duty: str, words: str) -> str:
    """Why a row cannot be loaded, or ""."""
    if not unit_name:
        return _("No unit is named in this row or above it.")
    if not duty:
        return _("The row gives no duty.")
    if len(unit_name) > UNIT_NAME_MAX:
        return _("The unit's name is longer than %(n)d characters.") % {"n": UNIT_NAME_MAX}
    if len(duty) > UnitDuty._meta.get_field("duty").max_length:
        return _("The duty is longer than %(n)d characters.") % {"n": UnitDuty._meta.get_field("duty").max_length}
    if len(words) > UnitDuty._meta.get_field("keywords").max_length:
        return _("The keywords are longer than %(n)d characters.") % {
            "n": UnitDuty._meta.get_field("keywords").max_length}
    return ""
