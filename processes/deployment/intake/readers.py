"""Readers for work plans: pasted text, a .txt file in the encodings bureaus use, and a .docx file.

A .docx is checked before python-docx parses it: size (WORKPLAN_MAX_BYTES), then the zip's central directory
with the evidence checks of workflow.cases.evidence (entry count, total unzipped size, each part's
compression ratio, vbaProject), then macro parts and macro-enabled content types. python-docx never fetches external relationships, and its XML parser does not
resolve entities.
"""
from __future__ import annotations

import codecs
import functools
import io
import re
import unicodedata
import zipfile

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from workflow.cases.evidence import EvidenceRejected, check_ooxml

from .workplan import table_lines

MACRO_PART = re.compile(r"(^|/)(vbaProject\.bin|vbaData\.xml)$|\.(bin|exe|js|vbs)$", re.IGNORECASE)
MACRO_TYPES = (b"macroEnabled", b"vbaProject", b"ms-office.activeX", b"vnd.ms-office.vba")
ZIP_SIGNATURE = b"PK\x03\x04"


class WorkplanRejected(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _check_size(data: bytes):
    check_size(len(data))


def check_size(size: int):
    """Refuse a file over WORKPLAN_MAX_BYTES (callers with a file on disk check before reading it)."""
    limit = settings.WORKPLAN_MAX_BYTES
    if size > limit:
        raise WorkplanRejected(_("The file is larger than %(limit)s and was refused.")
                               % {"limit": filesizeformat(limit)})


# ---------------------------------------------------------------- text

def decode_text(data: bytes) -> str:
    """Decode a .txt file: UTF-8 (with or without BOM), UTF-16 (with BOM, or without one when its zero bytes
    show the byte order), GB18030 (a superset of GBK and GB2312) or Big5 (cp950, or Big5-HKSCS).

    GB18030 accepts almost any byte string, so Big5 bytes would decode as GB18030 into nonsense (and short GB
    text sometimes decodes as Big5): when both decode, the one whose ideographs fall in its own encoding's
    block of common characters (GB2312 level 1, Big5 常用字) wins, by a clear margin; otherwise the file is
    refused rather than garbled."""
    _check_size(data)
    if data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    elif b"\x00" in data:
        candidates = [_utf16_order(data)]
    else:
        candidates = ["utf-8"]
    utf8 = None
    for encoding in candidates:
        text = _decode(data, encoding)
        if text is not None and (encoding != "utf-8" or (len(data) >= 64 and not UNUSUAL.search(text))
                                 or _plausible(text) == 1.0):
            return text
        utf8 = text
    if candidates != ["utf-8"]:
        raise WorkplanRejected(_unknown_encoding())
    decoded = {}
    for family, encodings in (("gb", ("gb18030",)), ("big5", ("cp950", "big5hkscs"))):
        for encoding in encodings:
            text = _decode(data, encoding)
            if text is not None:
                decoded[family] = text
                break
    if utf8 is not None:  # valid UTF-8 with other characters than ASCII and Chinese (℃, é, Ҫ): kept, unless
        # it reads as well as Chinese in GBK or Big5 (C7 B0 is "ǰ" in UTF-8 and "前" in GBK)
        if any(_plausible(text) >= max(0.7, _plausible(utf8)) for text in decoded.values()):
            raise WorkplanRejected(_undecided())
        return utf8
    if len(decoded) == 1:
        text = next(iter(decoded.values()))
        if _plausible(text) >= 0.7:
            return text
        raise WorkplanRejected(_unknown_encoding())
    if not decoded:
        raise WorkplanRejected(_unknown_encoding())
    # each reading's common ideographs, discounted by its other characters (kana, Cyrillic, box drawing)
    gb = _common_share(decoded["gb"], "gb") * _plausible(decoded["gb"])
    big5 = _common_share(decoded["big5"], "big5") * _plausible(decoded["big5"])
    for family, share, other in (("gb", gb, big5), ("big5", big5, gb)):
        if share >= 0.85 and share - other >= 0.2 - 1e-9 and _ideographs(decoded[family]) >= 10:
            return decoded[family]
    raise WorkplanRejected(_undecided())


def _undecided():
    return _("The text file's encoding could not be decided: it reads as Chinese in more than one encoding "
             "(UTF-8, GBK, Big5). Save it as UTF-8 with a BOM and try again.")


def _unknown_encoding():
    return _("The text file's encoding could not be recognised. Save it as UTF-8 or GBK and try again.")


def _decode(data: bytes, encoding: str) -> str | None:
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    return text if _looks_like_text(text) else None


def _utf16_order(data: bytes) -> str:
    """UTF-16 without a BOM (its zero bytes give it away): the byte order whose reading is plausible text."""
    if len(data) % 2:
        return "undecidable"
    scores = {}
    for encoding in ("utf-16-le", "utf-16-be"):
        text = _decode(data, encoding)
        scores[encoding] = _plausible(text) if text is not None else 0.0
    best = max(scores, key=scores.get)
    if scores[best] < 0.8 or min(scores.values()) > scores[best] - 0.2:
        return "undecidable"
    return best


CONTROL_OR_PRIVATE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ue000-\uf8ff\U000f0000-\U0010ffff]")


def _looks_like_text(text: str) -> bool:
    """No more than one character in a thousand is a control character, private use or unassigned (the last
    counted in the first SAMPLE characters)."""
    bad = len(CONTROL_OR_PRIVATE.findall(text))
    bad += sum(1 for ch in text[:SAMPLE] if not ch.isascii() and unicodedata.category(ch) == "Cn")
    return bad == 0 or bad <= len(text) // 1000


# Characters a Chinese document is made of: ASCII, punctuation, symbols, ideographs, full-width forms. GBK or Big5
# bytes that happen to be valid UTF-8 read as other characters (C7 B0, 前 in GBK, is "ǰ"), unless the file is tiny.
UNUSUAL = re.compile("[^\x00-\x7f\u00b7\u00d7\u2000-\u27bf\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\ufe30-\ufe4f"
                     "\uff00-\uffef\U00020000-\U0003ffff]")
SAMPLE = 200_000  # characters: enough to tell encodings apart


GB_COMMON = (0xB0A1, 0xD7F9)    # GB2312 level 1: the 3,755 common simplified characters
BIG5_COMMON = (0xA440, 0xC67E)  # Big5 常用字: the 5,401 common traditional characters


@functools.lru_cache(maxsize=20000)
def _char_class(ch: str) -> str:
    """"gb" / "big5" / "both" for an ideograph in a block of common characters, "ideograph" for another one,
    "plain" for ASCII, CJK punctuation and full-width forms, "other" for the rest."""
    if (ch.isascii() or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef" or "\u2000" <= ch <= "\u206f"
            or "\u2460" <= ch <= "\u257f" or ch in "●■□★○◆"):
        return "plain"
    if not ("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or ch >= "\U00020000"):
        return "other"
    found = []
    for family, encoding, (low, high) in (("gb", "gb2312", GB_COMMON), ("big5", "big5", BIG5_COMMON)):
        try:
            raw = ch.encode(encoding)
        except UnicodeEncodeError:
            continue
        if len(raw) == 2 and low <= int.from_bytes(raw, "big") <= high:
            found.append(family)
    return "both" if len(found) == 2 else found[0] if found else "ideograph"


def _common_share(text: str, family: str) -> float:
    """The share of the text's ideographs that are common characters: for Big5, in its block of common
    characters; for GB18030, in either block, whichever holds more (GBK holds traditional characters too)."""
    counts = {"gb": 0, "big5": 0, "both": 0, "ideograph": 0}
    for ch in text[:SAMPLE]:
        kind = _char_class(ch)
        if kind in counts:
            counts[kind] += 1
    ideographs = sum(counts.values())
    if not ideographs:
        return 0.0
    common = counts["big5"] + counts["both"]
    if family == "gb":  # simplified, or traditional saved as GBK; a misread mixes the two
        common = max(common, counts["gb"] + counts["both"])
    return common / ideographs


def _ideographs(text: str) -> int:
    return sum(1 for ch in text[:SAMPLE] if _char_class(ch) not in ("plain", "other"))


def _plausible(text: str) -> float:
    """The share of characters that are ASCII, Chinese punctuation or common ideographs (of either script)."""
    text = text[:SAMPLE]
    if not text:
        return 0.0
    return sum(1 for ch in text if _char_class(ch) in ("plain", "gb", "big5", "both")) / len(text)


# ---------------------------------------------------------------- docx

def check_docx(data: bytes):
    """Refuse a corrupt or hostile .docx before anything parses it."""
    _check_size(data)
    if not data.startswith(ZIP_SIGNATURE):
        raise WorkplanRejected(_("The file is not a Word (.docx) document."))
    try:  # the central directory: part count, total and per-part expansion, vbaProject, programs
        check_ooxml(data, "word/", refuse_macros=True, max_ratio=settings.OOXML_MAX_RATIO)
    except EvidenceRejected as refused:
        raise WorkplanRejected(refused.message)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for entry in archive.infolist():  # macros stored under other names (vbaData.xml, scripts)
            if MACRO_PART.search(entry.filename):
                raise WorkplanRejected(_("The Word document contains macros or embedded programs and was refused."))
        try:
            types = archive.read("[Content_Types].xml")
        except (KeyError, zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError):
            raise WorkplanRejected(_("The Word document is damaged and cannot be opened."))
    if any(marker.lower() in types.lower() for marker in MACRO_TYPES):
        raise WorkplanRejected(_("The Word document contains macros or embedded programs and was refused."))


def read_docx(data: bytes) -> str:
    """The plan's text from a .docx: one line per paragraph, automatic numbering written out as text."""
    check_docx(data)
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile, OSError, SyntaxError) as exc:
        raise WorkplanRejected(_("The Word document is damaged and cannot be opened.")) from exc
    numbering = _Numbering(document)
    lines = []
    body = document.element.body
    for block in body.iterchildren():
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            text = _paragraph_text(block)
            prefix = numbering.prefix(block) if text.strip() else ""
            lines.append(prefix + text)
        elif tag == "tbl":
            rows = [["\n".join(_paragraph_text(p) for p in cell.iter(_w("p"))).strip() for cell in row.iter(_w("tc"))]
                    for row in block.iter(_w("tr"))]
            converted = table_lines(rows)  # a task table: its rows as items
            if converted is None:
                converted = []
                for cells in rows:
                    filled = [c for c in cells if c]
                    if len(filled) == 1:  # a one-cell frame around the text: its paragraphs stay lines
                        converted.extend(filled[0].split("\n"))
                    else:
                        converted.append("  ".join(c.replace("\n", "") for c in filled))
            lines.extend(converted)
    return "\n".join(lines)


W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _w(tag: str) -> str:
    return f"{{{W_NS}}}{tag}"


def _paragraph_text(p) -> str:
    parts = []
    for node in p.iter(_w("t"), _w("tab"), _w("br")):
        if node.tag == _w("t"):
            parts.append(node.text or "")
        elif node.tag == _w("tab"):
            parts.append("\t")
    return "".join(parts)


CN = "零一二三四五六七八九"


def int_to_cn(n: int) -> str:
    if n <= 0:
        return str(n)
    if n < 10:
        return CN[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else CN[tens]) + "十" + (CN[ones] if ones else "")
    return str(n)


def _format(value: int, fmt: str) -> str:
    if fmt.startswith(("chineseCounting", "chineseLegal", "ideographTraditional", "taiwaneseCounting",
                       "ideographDigital", "japaneseCounting")):
        return int_to_cn(value)
    if fmt.startswith("decimalEnclosedCircle") and 1 <= value <= 20:
        return chr(0x2460 + value - 1)
    if fmt == "decimalFullWidth" or fmt == "decimalFullWidth2":
        return "".join(chr(ord(c) + 0xFEE0) for c in str(value))
    if fmt == "decimalEnclosedParen":
        return f"({value})"
    return str(value)


OFFICIAL = [lambda n: f"{int_to_cn(n)}、", lambda n: f"（{int_to_cn(n)}）", lambda n: f"{n}.",
            lambda n: f"（{n}）", lambda n: _format(n, "decimalEnclosedCircle")]


class _Numbering:
    """Automatic list numbering (w:numPr) written out as the text Word would show: "一、", "（一）", "1."."""

    def __init__(self, document):
        self.levels: dict[tuple[str, int], tuple[str, str, int]] = {}
        self.counters: dict[str, list[int]] = {}
        self.styles: dict[str, object] = {}
        self.shapes: dict[tuple[str, str], int] = {}
        try:
            root = document.part.numbering_part.element
        except (NotImplementedError, KeyError, AttributeError):
            root = None
        if root is not None:
            abstract = {}
            for a in root.iter(_w("abstractNum")):
                lvls = {}
                for lvl in a.iter(_w("lvl")):
                    ilvl = int(lvl.get(_w("ilvl"), "0"))
                    fmt = _val(lvl.find(_w("numFmt")), "decimal")
                    text = _val(lvl.find(_w("lvlText")), "")
                    start = int(_val(lvl.find(_w("start")), "1") or 1)
                    lvls[ilvl] = (fmt, text, start)
                abstract[a.get(_w("abstractNumId"))] = lvls
            for num in root.iter(_w("num")):
                num_id = num.get(_w("numId"))
                lvls = dict(abstract.get(_val(num.find(_w("abstractNumId")), ""), {}))
                for override in num.iter(_w("lvlOverride")):
                    ilvl = int(override.get(_w("ilvl"), "0"))
                    start = override.find(_w("startOverride"))
                    if ilvl in lvls and start is not None:
                        fmt, text, _start = lvls[ilvl]
                        lvls[ilvl] = (fmt, text, int(_val(start, "1")))
                for ilvl, spec in lvls.items():
                    self.levels[(num_id, ilvl)] = spec
        try:
            for style in document.styles:
                self.styles[style.style_id] = style.element
        except (KeyError, AttributeError, ValueError):
            pass

    def _num_pr(self, p):
        """The paragraph's numbering (numPr) and the depth its style implies ("List Number 2" → 1)."""
        ppr = p.find(_w("pPr"))
        num_pr = ppr.find(_w("numPr")) if ppr is not None else None
        style_id = _val(ppr.find(_w("pStyle")) if ppr is not None else None, "")
        match = re.search(r"(\d)$", style_id) if style_id.lower().startswith("list") else None
        offset = int(match.group(1)) - 1 if match else 0
        if num_pr is not None:
            return num_pr, offset
        seen = set()
        while style_id and style_id not in seen:
            seen.add(style_id)
            element = self.styles.get(style_id)
            if element is None:
                return None
            sppr = element.find(_w("pPr"))
            found = sppr.find(_w("numPr")) if sppr is not None else None
            if found is not None:
                return found, offset
            style_id = _val(element.find(_w("basedOn")), "")
        return None, 0

    def prefix(self, p) -> str:
        num_pr, offset = self._num_pr(p)
        if num_pr is None:
            return ""
        num_id = _val(num_pr.find(_w("numId")), "0")
        ilvl = int(_val(num_pr.find(_w("ilvl")), "0") or 0)
        if num_id == "0" or (num_id, ilvl) not in self.levels or not 0 <= ilvl < 9:
            return ""
        counters = self.counters.setdefault(num_id, [0] * 9)
        fmt, text, start = self.levels[(num_id, ilvl)]
        counters[ilvl] = counters[ilvl] + 1 if counters[ilvl] else start
        for deeper in range(ilvl + 1, 9):
            counters[deeper] = 0
        if fmt in ("bullet", "none") or not text:
            return ""

        def level_text(m):
            k = int(m.group(1)) - 1
            spec = self.levels.get((num_id, k))
            value = counters[k] or (spec[2] if spec else 1)
            return _format(value, spec[0] if spec else "decimal")

        # The same shape ("%1.") used at two depths (List Number, List Number 2) would read as one level in
        # plain text: at the later depth it is written in the official-document form of that depth instead.
        depth = min(ilvl + offset, len(OFFICIAL) - 1)
        shape = (fmt, re.sub(r"%[1-9]", "%", text))
        first_depth = self.shapes.setdefault(shape, depth)
        if first_depth != depth:
            return OFFICIAL[depth](counters[ilvl])
        return re.sub(r"%([1-9])", level_text, text)


def _val(element, default: str) -> str:
    if element is None:
        return default
    return element.get(_w("val"), default)


# ---------------------------------------------------------------- dispatch

def read_file(name: str, data: bytes) -> str:
    """The text of an uploaded work plan by its extension: .docx or .txt."""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension == "docx":
        return read_docx(data)
    if extension in ("txt", "text", ""):
        return decode_text(data)
    raise WorkplanRejected(_("Only .txt and .docx files can be imported as a work plan."))
