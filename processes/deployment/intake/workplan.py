"""Work-plan intake: plain text of a Chinese work plan (工作要点 / 实施方案 / 若干措施) → a tree of items.

The parser follows the structure of Chinese official documents (GB/T 9704 headings 一、 （一） 1. （1）,
plus ①, inline 一是…二是… and 第一，第二，), not any one bureau's layout:

- a numbering style's level is the order in which the style first appears in the document, so a plan
  that starts at ``1.`` has ``1.`` as its top level; the tree's ``level`` is the item's depth (1 = top);
- short unnumbered lines without sentence-final punctuation start a section;
- text before the first item is the plan's preamble; a trailing signature (issuer and date) is the
  closing; web-page debris (发布时间, 责任编辑, 打印本页, 关闭窗口 …) is dropped;
- traditional characters are parsed as written (numbering characters are the same).

Everything is regular expressions over lines: deterministic and linear in the document's size.
"""
from __future__ import annotations

import calendar
import functools
import re
import unicodedata
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

CN_DIGITS = "零〇○一二三四五六七八九十百两兩"
CN_NUM = f"[{CN_DIGITS}]+"
FORMAL_DIGITS = "壹贰貳叁參肆伍陆陸柒捌玖拾佰"
OPEN, CLOSE = "[(（]", "[)）]"

# Numbering styles at the start of a line: (style key, pattern). The pattern's group "n" is the number.
STYLES = [
    ("part", re.compile(rf"第\s*(?P<n>{CN_NUM}|\d{{1,3}})\s*(?:部分|章|节|節|篇)\s*[、，,．.：:]?\s*")),
    ("article", re.compile(rf"第\s*(?P<n>{CN_NUM}|\d{{1,3}})\s*(?:条|條)\s*[、，,．.：:]?\s*")),
    ("formal", re.compile(rf"(?P<n>[{FORMAL_DIGITS}]+)\s*[、，,．.]\s*")),  # 壹、貳、: the top level in Taiwan
    ("cn", re.compile(rf"(?P<n>{CN_NUM})\s*[、，,．.]\s*")),
    ("pcn", re.compile(rf"{OPEN}\s*(?P<n>{CN_NUM})\s*{CLOSE}\s*[、，,．.]?\s*")),
    ("num3", re.compile(r"(?P<n>\d{1,3})[.．]\d{1,3}[.．]\d{1,3}(?:[.．、]\s*|\s+)")),
    ("num2", re.compile(r"(?P<n>\d{1,3})[.．]\d{1,3}(?:[.．、]\s*|\s+)")),
    ("num", re.compile(r"(?P<n>\d{1,3})\s*[.．、](?!\d)\s*|(?P<n2>[\u2488-\u249b])\s*")),
    ("pnum", re.compile(rf"{OPEN}\s*(?P<n>\d{{1,3}})\s*{CLOSE}\s*[、，,．.]?\s*|(?P<n2>[\u2474-\u2487])\s*")),
    ("numr", re.compile(r"(?P<n>\d{1,3})\s*[)）]\s*")),
    ("circ", re.compile(r"(?P<n>[\u2460-\u2473\u3251-\u325f])\s*")),
    ("bullet", re.compile(r"(?P<n>[●◆■▲★☆◇□•▪►❖➢➤])\s*")),  # typed bullets: items without a number
]

DEBRIS = re.compile(
    r"^(?=.{0,80}$)(?:来源[:：]|來源[:：]|当前位置|當前位置|您的位置|首页\s*[>＞»]|首頁\s*[>＞»]"
    r"|.{0,30}(?:发布时间|發布時間|发布日期|發布日期|发布机构|發布機構|信息来源|信息來源|文章来源|文章來源|稿件来源"
    r"|责任编辑|責任編輯|浏览次数|瀏覽次數|访问量|訪問量|点击数|點擊數|阅读次数|閱讀次數|阅读量|閱讀量"
    r"|打印本页|打印本頁|关闭窗口|關閉窗口|【打印】|【关闭】|【關閉】|分享到|字号[:：]|字號[:：]|【字体|【字體"
    r"|扫一扫|掃一掃|收藏本页|收藏本頁|返回顶部|返回頂部|上一篇|下一篇|相关链接|相關鏈接)"
    # page numbers of a document pasted from a PDF: — 3 —, -3-, 第3页 共5页, 3/5, Page 3 of 5, a bare 3
    r"|(?:[—–\-－~～]+\s*\d{1,4}\s*[—–\-－~～]+|第\s*\d{1,4}\s*[页頁](?:\s*[，,/]?\s*共\s*\d{1,4}\s*[页頁])?"
    r"|共\s*\d{1,4}\s*[页頁]\s*[，,]?\s*第\s*\d{1,4}\s*[页頁]|\d{1,4}\s*/\s*\d{1,4}"
    r"|(?i:page)\s*\d{1,4}(?:\s*(?i:of)\s*\d{1,4})?|\d{1,4})$)"
)
CLOSING = re.compile(r"^(?:[（(]此件.{0,12}[)）]|抄送[:：]|抄報[:：]|抄报[:：]|.{0,30}印发$|.{0,30}印發$"
                     r"|联系人[:：]|聯繫人[:：]|联系电话[:：]|聯繫電話[:：])")
ATTACHMENTS = re.compile(r"^附\s*件\s*\d*\s*[:：]")
SENTENCE_END = "。！？!?；;：:"
DATE_LINE = re.compile(rf"^(?:\d{{4}}|[{CN_DIGITS}]{{4}})\s*年\s*(?:\d{{1,2}}|{CN_NUM})\s*月\s*(?:\d{{1,2}}|{CN_NUM})\s*日$")
DOC_TITLE = re.compile(r"^.{5,}(要点|要點|方案|措施|计划|計劃|意见|意見|通知|安排|规划|規劃|清单|清單|任务|任務|事项|事項|纪要|紀要"
                       r"|决定|決定|办法|辦法|细则|細則)$")
SHORT_LINE = 30

# Annotations that never belong in a title.
PINYIN = re.compile(r"(?<=[\u4e00-\u9fff])\s*[(（]\s*[a-zA-Zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňḿ]+(?:\s+[a-zA-Zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+)*\s*[)）]")
FOOTNOTE = re.compile(r"\[\d{1,3}\]|［\d{1,3}］|〔注\d*〕|[\u00b9\u00b2\u00b3\u2070-\u2079]+|[\u2460-\u2473](?=[。，；,;）)]|$)")
CLAUSE = "，,；;、：:"
TRAILING = "。！？!?；;：:，,、 \u3000"

INLINE_SHI = re.compile(r"(?:(?<=^)|(?<=[。；;，,：:\s]))(?P<n>[一二三四五六七八九十]+)是")
INLINE_PAREN = re.compile(r"(?<=[。；;：:])\s*[（(](?P<n>[一二三四五六七八九十]+)[）)]\s*")
INLINE_DI = re.compile(r"(?:(?<=^)|(?<=[。；;，,：:\s]))第(?P<n>[一二三四五六七八九十]+)\s*[，,、：:]")


def cn_to_int(s: str) -> int | None:
    """一 → 1, 十二 → 12, 二十 → 20, 一百零五 → 105, 二〇二五 → 2025; None when it is not a Chinese numeral."""
    digits = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9, "壹": 1, "贰": 2, "貳": 2, "叁": 3, "參": 3, "肆": 4, "伍": 5, "陆": 6,
              "陸": 6, "柒": 7, "捌": 8, "玖": 9}
    s = s.replace("拾", "十").replace("佰", "百")
    if s.isdigit():
        return int(s)
    if len(s) > 1 and s and all(ch in digits or ch == "○" for ch in s):  # 二〇二五 (a year), read digit by digit
        return int("".join(str(digits.get(ch, 0)) for ch in s))
    total, current = 0, 0
    for ch in s:
        if ch in digits:
            current = digits[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch in "百千":
            total += (current or 1) * (100 if ch == "百" else 1000)
            current = 0
        else:
            return None
    return total + current


def _number_value(n: str) -> int | None:
    if len(n) == 1 and n in "●◆■▲★☆◇□•▪►❖➢➤":
        return 0
    if len(n) == 1 and ("\u2474" <= n <= "\u2487"):
        return ord(n) - 0x2474 + 1
    if len(n) == 1 and ("\u2488" <= n <= "\u249b"):
        return ord(n) - 0x2488 + 1
    if len(n) == 1 and ("\u2460" <= n <= "\u2473"):
        return ord(n) - 0x2460 + 1
    if len(n) == 1 and ("\u3251" <= n <= "\u325f"):
        return ord(n) - 0x3251 + 21
    return cn_to_int(n)


@dataclass
class Item:
    level: int
    number: str
    title: str
    text: str
    style: str = ""
    deadline: dict | None = None
    deadlines: list = field(default_factory=list)
    targets: list = field(default_factory=list)
    children: list = field(default_factory=list)

    def as_dict(self) -> dict:
        deadline = self.deadline
        others = [d for d in self.deadlines if d is not deadline]
        if deadline and others:
            deadline = {**deadline, "also": others}  # every deadline found, the main one first
        return {"level": self.level, "number": self.number, "title": self.title, "text": self.text,
                "deadline": deadline, "targets": self.targets,
                "children": [c.as_dict() for c in self.children]}


@dataclass
class Plan:
    items: list
    preamble: str = ""
    closing: str = ""
    year: int | None = None
    notes: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"items": [i.as_dict() for i in self.items], "preamble": self.preamble, "closing": self.closing,
                "year": self.year, "notes": self.notes}

    def walk(self):
        stack = list(reversed(self.items))
        while stack:
            item = stack.pop()
            yield item
            stack.extend(reversed(item.children))


# ---------------------------------------------------------------- titles

def clean_annotations(text: str) -> str:
    """Remove pinyin after a character, footnote marks and superscript digits (for titles)."""
    return FOOTNOTE.sub("", PINYIN.sub("", text))


BRACKET_OPEN, BRACKET_CLOSE = "《“‘「『（([【〔", "》”’」』）)]】〕"


def _outside(text: str, marks: str):
    """The positions of `marks` outside 《》, “”, quotes and brackets."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in BRACKET_OPEN:
            depth += 1
        elif ch in BRACKET_CLOSE:
            depth = max(0, depth - 1)
        elif depth == 0 and ch in marks:
            yield i


def _boundaries(text: str):
    """Clause boundaries outside brackets and quotes: the positions a title may end at."""
    return _outside(text, CLAUSE)


RESPONSIBILITY = re.compile(
    r"[（(]\s*[^（）()]*(?:责任|責任|牵头|牽頭|配合|协办|協辦|主责|主責|负责|負責|时限|時限|完成时间|完成時間|前完成|底前"
    r"|\d{4}\s*年\s*\d{1,2}\s*月|\d{4}\s*年[^（）()]*(?:前|底|末|完成|内|內)|[月季]底?前|年底|年內|年内)[^（）()]*[)）]$")


def make_title(text: str, limit: int = 40) -> str:
    """The heading part of an item: before the first 。, cleaned, trimmed, at most ~limit characters."""
    text = clean_annotations(text).strip()
    gap = re.search(r"\u3000|\s{2,}", text)  # 总体要求　坚持…: a heading set off from its body by spaces
    if gap and gap.start() >= 2 and _depth(text, gap.start()) == 0 and not _numbering(text[:gap.start()] + "x"):
        text = text[:gap.start()]
    for mark in "。！？!?：:":
        cut = _first_outside(text, mark)
        if cut is not None and (cut >= 4 or mark not in "：:"):
            text = text[:cut]
    text = text.strip().rstrip(TRAILING).strip()
    while True:  # （责任单位：市民政局；完成时限：2025年6月底前） after the heading belongs to the text, not the title
        m = RESPONSIBILITY.search(text)
        if not m or m.start() < 2:
            break
        text = text[:m.start()].rstrip(TRAILING).strip()
    if len(text) <= limit:
        return text
    cuts = [i for i in _boundaries(text) if 4 <= i]
    within = [i for i in cuts if i <= limit]
    if within:
        return text[:within[-1]].rstrip(TRAILING)
    soon = [i for i in cuts if i <= limit + 12]
    if soon:
        return text[:soon[0]].rstrip(TRAILING)
    return text[:limit].rstrip(TRAILING) + "…"


def _depth(text: str, position: int) -> int:
    depth = 0
    for ch in text[:position]:
        if ch in BRACKET_OPEN:
            depth += 1
        elif ch in BRACKET_CLOSE:
            depth = max(0, depth - 1)
    return depth


def _first_outside(text: str, mark: str) -> int | None:
    return next(_outside(text, mark), None)


# ---------------------------------------------------------------- deadlines and targets

def _month_end(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"


# Chinese numerals in dates, periods and quantities (二〇二五年十月底, 三个月内, 第三季度, 五个, 百分之九十五) are
# read as Arabic numerals before the patterns below run; the text reported is the original's.
CN_QUANTITY = re.compile(
    rf"(?:中華民國|中华民国|民國|民国)\s*(?P<roc>\d{{2,3}}|[{CN_DIGITS}]+)(?=\s*年)"  # Taiwan: 民國114年 is 2025
    rf"|(?<![\d.])(?P<roc2>1[0-4]\d)(?=\s*年\s*(?:\d{{1,2}}|[{CN_DIGITS}]+)\s*月|\s*年度)"
    rf"|百分之(?P<p>[{CN_DIGITS}]+)"
    rf"|(?<![统統唯万萬同之逐专專划劃单單归歸合])(?P<n>[{CN_DIGITS}千]+)(?=\s*(?:年|月|日|号|號|个|個|季度|季|周|週|天|工作日"
    r"|星期|户|戶|人|家|所|项|項|处|處|张|張|名|座|间|間|条|條|场|場|支|件|套|床|台|辆|輛|公里|平方米|万|萬|亿|億|元))"
)


@functools.lru_cache(maxsize=32)  # an item's text is read for deadlines, then for targets
def arabic(text: str) -> tuple[str, list[int] | None]:
    """The text with Chinese numerals in dates and quantities written in Arabic numerals (and years of the
    Republic of China as Gregorian years: 民國114年, 114年6月 → 2025年), and for each of its
    characters (plus one past the end) the position it comes from in `text`."""
    matches = list(CN_QUANTITY.finditer(text))
    if not matches:
        return text, None  # nothing to rewrite: positions are the text's own
    out, where, last = [], [], 0
    for m in matches:
        roc = m["roc"] or m["roc2"]
        value = cn_to_int(roc or m["p"] or m["n"])
        if value is None:
            continue
        if roc:
            value += 1911
        out.append(text[last:m.start()])
        where.extend(range(last, m.start()))
        digits = f"{value}%" if m["p"] else str(value)
        out.append(digits)
        where.extend([m.start()] * (len(digits) - 1) + [m.end() - 1])
        last = m.end()
    out.append(text[last:])
    where.extend(range(last, len(text) + 1))
    return "".join(out), where


def _original(text: str, where: list[int] | None, m) -> str:
    if where is None:
        return m.group(0)
    return text[where[m.start()]:where[m.end() - 1] + 1] if m.end() > m.start() else ""


BEFORE = r"(?:前|之前|以前)"
DEADLINE_PATTERNS = [
    ("range", re.compile(r"(?P<y>\d{4})\s*年\s*\d{1,2}\s*月(?:份)?(?:\s*\d{1,2}\s*[日号號])?\s*(?:至|到|—|－|-|~|～)+\s*"
                         r"(?:(?P<y2>\d{4})\s*年\s*)?(?P<m>\d{1,2})\s*月(?:份)?(?:\s*(?P<d>\d{1,2})\s*[日号號])?"
                         r"(?P<p>底|末|上旬|中旬|下旬)?(?:前|之前|以前)?")),
    ("day", re.compile(r"(?:到|至|于|於|在)?(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号號](?:前|之前|以前)?")),
    ("month", re.compile(r"(?:到|至|于|於)?(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月(?:份)?(?P<p>底|末|上旬|中旬|下旬)(?:前|之前|以前)?")),
    ("month", re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月(?:份)?(?:前|之前|以前)")),
    ("quarter", re.compile(r"(?:到|至|于|於)?(?P<y>\d{4})\s*年\s*第?\s*(?P<q>[1-4])\s*季度?(?:末|底)?(?:前|之前|以前)?")),
    ("half", re.compile(r"(?:到|至|于|於)?(?P<y>\d{4})\s*年\s*(?:(?P<h>上|下)半年(?:前|底前|末)?"
                        r"|年中(?![央国國华華心小层層期旬等共])(?:前|之前|以前)?)")),
    ("year", re.compile(r"(?:到|至|于|於)(?P<y>\d{4})\s*年(?:年?底|年?末)?(?:前|之前|以前)?|(?P<y2>\d{4})\s*年年?(?:底|末)(?:前|之前|以前)?"
                        r"|(?P<y3>\d{4})\s*年(?:前|之前|以前|内|內|度内|度內)")),
    ("this-day", re.compile(r"(?<![\d年])(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号號](?:前|之前|以前)")),
    ("this-month", re.compile(r"(?<![\d年])(?P<m>\d{1,2})\s*月(?:份)?(?P<p>底|末|上旬|中旬|下旬)(?:前|之前|以前)?"
                              r"|(?<![\d年])(?P<m2>\d{1,2})\s*月(?:份)?(?:前|之前|以前)")),
    ("this-quarter", re.compile(r"(?<![\d年每])第?(?P<q>[1-4])\s*季度(?:末|底)?(?:前|之前|以前)?")),
    ("this-half", re.compile(r"(?<!\d年)(?P<h>上|下)半年(?:前|底前|末)?"
                             r"|(?<![\d全每一今本去明])年?年中(?![央国國华華心小层層期旬等共])(?:前|之前|以前)?")),
    ("relative", re.compile(r"(?<!\d)(?P<n>\d{1,3}|半)\s*(?P<u>个月|個月|年|个季度|個季度|季度|周|週|个星期|個星期|星期|个工作日|個工作日"
                            r"|工作日|日|天)(?:内|內|之内|之內)")),
    ("this-year", re.compile(r"年内|年內|年底前|今年底|本年度内|本年度內|年底之前|(?<![\d年])年(?:底|末)")),
    ("cadence", re.compile(r"每(?P<c>季度|季|月|年|半年|周|週|旬|日|天)")),
]
RELATIVE_UNITS = {"个月": "months", "個月": "months", "年": "years", "周": "weeks", "週": "weeks", "个星期": "weeks",
                  "個星期": "weeks", "星期": "weeks", "日": "days", "天": "days", "个季度": "quarters",
                  "個季度": "quarters", "季度": "quarters"}
CADENCE = {"季度": "quarter", "季": "quarter", "月": "month", "年": "year", "半年": "half-year", "周": "week",
           "週": "week", "旬": "ten-days", "日": "day", "天": "day"}


def _quarter_end(year: int, quarter: int) -> str:
    return _month_end(year, quarter * 3)


def _in_month(year: int, month: int, part: str | None) -> str:
    """A month's 上旬 (the 10th), 中旬 (the 20th), or its end (底, 末, 下旬)."""
    if part in ("上旬", "中旬"):
        return f"{year:04d}-{month:02d}-{10 if part == '上旬' else 20}"
    return _month_end(year, month)


def extract_deadlines(text: str, year: int | None) -> list[dict]:
    plain, where = arabic(text)
    found, taken = [], []
    this_year = {"kind": "this-year", "date": None}
    numbers = bool(re.search(r"\d", plain))
    for kind, pattern in DEADLINE_PATTERNS:
        if not numbers and kind not in ("this-half", "relative", "this-year", "cadence"):
            continue  # the others need a number
        for m in pattern.finditer(plain):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            value = None
            if kind == "day":
                y, mo, d = int(m["y"]), int(m["m"]), int(m["d"])
                if 1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1]:
                    value = {"kind": "date", "date": f"{y:04d}-{mo:02d}-{d:02d}"}
            elif kind == "month":
                y, mo = int(m["y"]), int(m["m"])
                if 1 <= mo <= 12:
                    value = {"kind": "date", "date": _in_month(y, mo, m.groupdict().get("p"))}
            elif kind == "range":  # 2025年4月至8月: the end of the period
                y, mo = int(m["y2"] or m["y"]), int(m["m"])
                if 1 <= mo <= 12 and m["d"] and 1 <= int(m["d"]) <= calendar.monthrange(y, mo)[1]:
                    value = {"kind": "date", "date": f"{y:04d}-{mo:02d}-{int(m['d']):02d}"}
                elif 1 <= mo <= 12 and not m["d"]:
                    value = {"kind": "date", "date": _in_month(y, mo, m["p"])}
            elif kind == "quarter":
                value = {"kind": "date", "date": _quarter_end(int(m["y"]), int(m["q"]))}
            elif kind == "half":
                value = {"kind": "date", "date": f"{int(m['y']):04d}-{'12-31' if m['h'] == '下' else '06-30'}"}
            elif kind == "year":
                y = int(m["y"] or m["y2"] or m["y3"])
                value = {"kind": "date", "date": f"{y:04d}-12-31"}
            elif kind == "this-day":
                mo, d = int(m["m"]), int(m["d"])
                if year and 1 <= mo <= 12 and 1 <= d <= calendar.monthrange(year, mo)[1]:
                    value = {"kind": "date", "date": f"{year:04d}-{mo:02d}-{d:02d}"}
                elif not year and 1 <= mo <= 12 and 1 <= d <= 31:
                    value = dict(this_year)
            elif kind == "this-month":
                mo = int(m["m"] or m["m2"])
                if 1 <= mo <= 12:
                    value = ({"kind": "date", "date": _in_month(year, mo, m["p"])} if year else dict(this_year))
            elif kind == "this-quarter":
                value = {"kind": "date", "date": _quarter_end(year, int(m["q"]))} if year else dict(this_year)
            elif kind == "this-half":
                end = "12-31" if m["h"] == "下" else "06-30"
                value = {"kind": "date", "date": f"{year:04d}-{end}"} if year else dict(this_year)
            elif kind == "this-year":
                value = {"kind": "date", "date": f"{year:04d}-12-31"} if year else dict(this_year)
            elif kind == "relative":
                unit = RELATIVE_UNITS.get(m["u"], "working_days")
                n = cn_to_int(m["n"]) if m["n"] != "半" else None
                if m["n"] == "半":  # 半年 is six months, 半个月 fifteen days
                    unit, n = {"years": ("months", 6), "months": ("days", 15)}.get(unit, (unit, None))
                if n:
                    value = {"kind": "relative", unit: n}
            elif kind == "cadence":
                value = {"kind": "cadence", "every": CADENCE[m["c"]]}
            if value:
                value["text"] = _original(text, where, m)
                found.append((m.start(), value))
                taken.append((m.start(), m.end()))
    return [v for _, v in sorted(found, key=lambda p: p[0])]


def pick_deadline(deadlines: list[dict]) -> dict | None:
    for kinds in (("date",), ("relative", "this-year"), ("cadence",)):
        for d in deadlines:
            if d["kind"] in kinds:
                return d
    return None


QUALIFIER = r"(?:不低于|不低於|不少于|不少於|不超过|不超過|达到|達到|超过|超過|高于|高於|低于|低於|提高到|提升到|控制在|保持在)?"
AFTER = r"(?:以上|以下|以内|以內|左右)?"
TARGET_PATTERNS = [
    ("percent", re.compile(rf"(?P<q>{QUALIFIER})(?<![\d.])(?P<v>\d+(?:\.\d+)?)\s*[%％](?P<a>{AFTER})")),
    ("money", re.compile(rf"(?P<q>{QUALIFIER})(?<![\d.])(?P<v>\d+(?:\.\d+)?)\s*(?P<m>亿|億|万|萬|千)?\s*(?:余|餘|多)?元(?P<a>{AFTER})")),
    ("count", re.compile(rf"(?P<q>{QUALIFIER})(?<![\d.%])(?P<v>\d+(?:\.\d+)?)\s*(?P<m>亿|億|万|萬|千)?\s*(?:余|餘|多)?"
                         r"(?P<u>个|個|户|戶|人次|人|家|所|项|項|处|處|张|張|名|座|间|間|条|條|场|場|支|件|套|床|台|辆|輛|公里|平方米|万人)"
                         rf"(?![月工小季])(?P<a>{AFTER})")),
]
COUNT_VERB = re.compile(r"新建|建成|建设|建設|新增|增设|增設|新设|新設|设置|設置|建置|佈建|布建|打造|培育|改造|完成|开展|实施|达到|達到|不少于|不少於|累计|累計|培训|培訓|组建|組建"
                        r"|设立|設立|创建|創建|举办|舉辦|建立|提供|覆盖|覆蓋|扶持|认定|認定|命名|评选|評選|招募|引进|引進|至少")
MULTIPLIER = {"亿": 100_000_000, "億": 100_000_000, "万": 10_000, "萬": 10_000, "千": 1000}


def extract_targets(text: str) -> list[dict]:
    plain, where = arabic(text)
    found, taken = [], []
    for kind, pattern in TARGET_PATTERNS:
        for m in pattern.finditer(plain):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            v = float(m["v"])
            at = where[m.start()] if where is not None else m.start()
            clause = re.split(r"[，,。；;：:、！？]", text[max(0, at - 20):at])[-1]
            if kind == "count" and text[at] in CN_DIGITS and (
                    v == 1 or (v <= 10 and not COUNT_VERB.search(clause)) or text[at - 1:at] in "“‘「『《\"'"):
                continue  # 一个 (an article), 两项补贴, 四个意识 and “三个生态” (names): a target says 建成五个, 新建…十个
            if kind != "percent":
                v *= MULTIPLIER.get(m["m"] or "", 1)
            value = {"kind": kind, "value": int(v) if v == int(v) else v, "text": _original(text, where, m)}
            if kind == "count":
                value["unit"] = m["u"]
            qualifier = (m["q"] or "") + ("…" + m["a"] if m["a"] else "")
            if qualifier:
                value["qualifier"] = qualifier
            found.append((m.start(), value))
            taken.append((m.start(), m.end()))
    return [v for _, v in sorted(found, key=lambda p: p[0])]


# ---------------------------------------------------------------- lines

def _numbering(line: str):
    """(style, number text, value, rest) when the line starts with a numbering mark."""
    for style, pattern in STYLES:
        m = pattern.match(line)
        if not m:
            continue
        value = _number_value(m["n"] or m.groupdict().get("n2") or "")
        rest = line[m.end():]
        if value is None or not rest.strip():
            continue
        if style == "num" and m.group(0).rstrip()[-1] in ".．" and rest[:1] in "%％":
            continue
        if style == "cn" and m.group(0).strip()[-1] in "，,":
            continue  # 一，… is a sentence, not a heading
        return style, "" if style == "bullet" else m.group(0).strip(), value, rest.strip()
    return None


def _is_short_title(line: str) -> bool:
    return (len(line) <= SHORT_LINE and line[-1] not in SENTENCE_END + "，,、"
            and not re.search(r"[。！？!?；;]", line))


def split_lines(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    lines = []
    for raw in text.split("\n"):
        line = raw.strip(" \t\u3000\u00a0\ufeff\u200b")
        if line:
            lines.append(line)
    return lines


def unwrap(lines: list[str]) -> list[str]:
    """Text pasted from a PDF is hard-wrapped at the page width: join a full-width line that does not end a
    sentence with the unnumbered line after it. Only when most long lines share one width."""
    lengths = [len(line) for line in lines if len(line) >= 15]
    if len(lengths) < 3:
        return lines
    width = max(set(lengths), key=lambda n: (sum(1 for x in lengths if abs(x - n) <= 1), n))
    at_width = sum(1 for x in lengths if abs(x - width) <= 1)
    if at_width < 3 or at_width < 0.5 * len(lengths) or not 20 <= width <= 60:
        return lines
    joins = sum(1 for line, nxt in zip(lines, lines[1:])
                if len(line) >= width - 1 and line[-1] not in SENTENCE_END and not _numbering(nxt))
    if joins < 3:
        return lines
    out = []
    for line in lines:
        if (out and len(out[-1]) >= width - 1 and out[-1][-1] not in SENTENCE_END
                and not _numbering(line) and not DEBRIS.match(line)):
            out[-1] += line
        else:
            out.append(line)
    return out


YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年")


def table_lines(rows: list[list[str]]) -> list[str] | None:
    """A task table inside a plan (a Word table, or lines of tab-separated cells) as the lines of numbered items:
    its heading row is found by the task table's headings (序号, 任务, 牵头单位, 完成时限 …); each row becomes
    "1. task" and a line "牵头单位：…；完成时限：…。" in the table's own words. None when no row is headed
    like a task table."""
    from .task_table import _row_mapping  # task_table reads Chinese numerals with this module

    rows = [[(cell or "").strip() for cell in row] for row in rows]
    header = next((i for i, row in enumerate(rows[:3])
                   if "task" in (m := _row_mapping(row)) and len(m) >= 2), None)
    if header is None:
        return None
    headings = rows[header]
    mapping = _row_mapping(headings)
    out = ["  ".join(cell for cell in row if cell) for row in rows[:header]]
    for row in rows[header + 1:]:
        cell = {field: row[column] for field, column in mapping.items() if column < len(row)}
        task = cell.get("task", "")
        values = list(dict.fromkeys(value for value in row if value))
        if not task or task == headings[mapping["task"]]:
            if len(values) == 1:
                out.append(values[0])  # a section row across the table: 一、养老服务
            continue
        number = unicodedata.normalize("NFKC", cell.get("number", "")).strip().rstrip("、.．")
        if re.fullmatch(r"\d{1,3}(?:\.\d{1,3})*", number):
            mark = f"{number}." if "." not in number else f"{number} "
        elif re.fullmatch(CN_NUM, number):
            mark = f"{number}、"
        elif number and _numbering(number + " x"):
            mark = number
        else:
            mark = ""
        out.append(f"{mark}{task}".replace("\n", " "))
        details = [f"{headings[column] or field}：{row[column]}" for field, column in
                   sorted(mapping.items(), key=lambda pair: pair[1])
                   if field not in ("number", "task") and column < len(row) and row[column]]
        if details:
            out.append("；".join(details).replace("\n", " ") + "。")
    return out


def _tab_tables(lines: list[str]) -> list[str]:
    """Runs of tab-separated lines (a table pasted from Excel or Word) headed like a task table, as items."""
    out, i = [], 0
    while i < len(lines):
        j = i
        while j < len(lines) and "\t" in lines[j]:
            j += 1
        if j - i >= 2:
            converted = table_lines([line.split("\t") for line in lines[i:j]])
            out.extend(converted if converted is not None else lines[i:j])
            i = j
        else:
            out.append(lines[i])
            i += 1
    return out


def parse(text: str, year: int | None = None) -> Plan:
    """Parse a work plan's plain text into a Plan (tree of items, preamble, closing, notes)."""
    lines = split_lines(text or "")
    debris, kept = [], []
    for line in lines:
        (debris if DEBRIS.match(line) else kept).append(line)
    lines = kept

    lines = unwrap(_tab_tables(lines))
    closing = []
    before = None
    while before != len(lines):  # signature, date, contacts, 抄送 and the list of attachments, in any order
        before = len(lines)
        while lines and CLOSING.match(lines[-1]) and len(closing) < 12:
            closing.insert(0, lines.pop())
        if lines and DATE_LINE.match(lines[-1].replace(" ", "")):
            closing.insert(0, lines.pop())
            issuers = 0
            while lines and issuers < 2 and _is_short_title(lines[-1]) and not _numbering(lines[-1]):
                closing.insert(0, lines.pop())
                issuers += 1
        # The list of attachments after the body (附件：1．任务分解表 / 2．联系人名单) is not an item.
        for back in range(1, min(len(lines), 12) + 1):
            line = lines[-back]
            if ATTACHMENTS.match(line):
                if back < len(lines) and any(_numbering(x) for x in lines[:-back]):
                    closing[:0] = lines[-back:]
                    del lines[-back:]
                break
            if len(line) > 40 or line[-1] in "。！？!?；;":
                break

    classified = [(line, _numbering(line)) for line in lines]
    first_numbered = next((i for i, (_, n) in enumerate(classified) if n), None)

    # Year of the plan: given, else the first year in the preamble, the closing date or the page's date.
    if year is None:
        head = lines[:first_numbered] if first_numbered is not None else lines[:1]
        for source in ("\n".join(head), "\n".join(closing), "\n".join(debris)):
            source = arabic(source)[0]  # 二〇二五年, 民國114年
            m = YEAR.search(source) or re.search(r"(?<!\d)((?:19|20)\d{2})[-/.]\d{1,2}[-/.]\d{1,2}", source)
            if m:
                year = int(m.group(1))
                break

    plan = Plan(items=[], closing="\n".join(closing), year=year)
    if first_numbered is None:
        body = "\n".join(lines)
        if not body:
            plan.items = [_finish(Item(level=1, number="", title="", text=""), year)]
            plan.notes.append(_("The document is empty; it was imported as one empty item."))
        elif _unnumbered_sections(plan, lines, year):
            plan.notes.append(_("No numbered headings were found; the text was divided at its unnumbered headings, "
                                "one item per paragraph. Check the items in the editor."))
        else:
            item = Item(level=1, number="", title=make_title(lines[0]), text=body)
            _inline_children(item)  # 一是…二是… still splits a paragraph without headings
            plan.items = [_finish(item, year)]
            plan.notes.append(_("No numbered headings were found; the whole text was imported as one item. "
                                "Split it into items in the editor."))
        return plan

    # Sections: short unnumbered lines after the preamble (or right before the first numbered line).
    def section_at(i: int) -> bool:
        line, numbered = classified[i]
        if numbered or not _is_short_title(line) or "\t" in line:  # a row of a table is not a heading
            return False
        if i < first_numbered:
            # Right before the first item: a section, unless it is (part of) the document's title block.
            return (i == first_numbered - 1 and not DOC_TITLE.search(line)
                    and (i == 0 or any(not _is_short_title(prev) for prev, _n in classified[:i])))
        prev = classified[i - 1][0]
        nxt = classified[i + 1] if i + 1 < len(classified) else None
        after_break = prev[-1] in SENTENCE_END or _is_short_title(prev) or bool(classified[i - 1][1])
        return after_break and (nxt is None or bool(nxt[1]) or len(line) <= 15)

    preamble = []
    rank: dict[str, int] = {}
    root = Item(level=0, number="", title="", text="")
    stack: list[tuple[int, Item]] = [(-2, root)]  # (rank, item); sections have rank -1
    for i, (line, numbered) in enumerate(classified):
        if i < first_numbered and not section_at(i):
            preamble.append(line)
            continue
        if numbered:
            style, number, _value, rest = numbered
            r = rank.setdefault(style, len(rank))
            while stack[-1][0] >= r:
                stack.pop()
            parent = stack[-1][1]
            item = Item(level=parent.level + 1, number=number, title="", text=rest, style=style)
            parent.children.append(item)
            stack.append((r, item))
        elif section_at(i):
            stack = stack[:1]
            item = Item(level=1, number="", title="", text=line, style="section")
            root.children.append(item)
            stack.append((-1, item))
        else:
            current = stack[-1][1]
            if current is root:
                preamble.append(line)
            else:
                current.text += "\n" + line

    def _title_source(item):
        head = item.text.split("\n", 1)[0]
        return head

    plan.preamble = "\n".join(preamble)
    plan.items = root.children
    for item in list(plan.walk()):
        item.title = make_title(_title_source(item))
        _inline_children(item)
        _finish(item, year)
    return plan


def _unnumbered_sections(plan: Plan, lines: list[str], year: int | None) -> bool:
    """A plan with headings but no numbers (headings set in bold in Word: 总体目标 / 重点任务 / 保障措施): two or
    more short lines, each followed by a paragraph, become sections and each paragraph under them an item."""
    def heading(i: int) -> bool:
        line = lines[i]
        return (0 < i < len(lines) - 1 and _is_short_title(line) and "\t" not in line and not DOC_TITLE.search(line)
                and not re.fullmatch(r"[（(].*[)）]", line) and not _is_short_title(lines[i + 1])
                and not DATE_LINE.match(line.replace(" ", "")))

    heads = [i for i in range(len(lines)) if heading(i)]
    if len(heads) < 2:
        return False
    plan.preamble = "\n".join(lines[:heads[0]])
    for k, head in enumerate(heads):
        end = heads[k + 1] if k + 1 < len(heads) else len(lines)
        section = Item(level=1, number="", title=make_title(lines[head]), text=lines[head], style="section")
        for paragraph in lines[head + 1:end]:
            child = Item(level=2, number="", title=make_title(paragraph), text=paragraph)
            _inline_children(child)
            section.children.append(_finish(child, year))
        plan.items.append(_finish(section, year))
    return True


def _finish(item: Item, year: int | None) -> Item:
    item.deadlines = extract_deadlines(item.text, year)
    item.deadline = pick_deadline(item.deadlines)
    item.targets = extract_targets(item.text)
    for child in item.children:
        if child.style == "inline":
            _finish(child, year)
    return item


def _inline_children(item: Item) -> None:
    """一是…；二是…；三是… (or 第一，…第二，…) inside the item's text become its children."""
    if item.style == "inline":
        return
    for pattern in (INLINE_SHI, INLINE_DI, INLINE_PAREN):
        marks, expected = [], 1
        for m in pattern.finditer(item.text):
            value = cn_to_int(m["n"])
            if value == expected:
                marks.append(m)
                expected += 1
        if len(marks) < 2:
            continue
        inline = []
        for k, m in enumerate(marks):
            end = marks[k + 1].start() if k + 1 < len(marks) else _paragraph_end(item.text, m.end())
            segment = item.text[m.start():end].strip()
            body = item.text[m.end():end].strip()
            if pattern is INLINE_DI:
                body = body.lstrip("，,、：: ")
            title = make_title(re.split(r"[；;]", body, maxsplit=1)[0])
            inline.append(Item(level=item.level + 1, number=m.group(0).strip().rstrip("，,、：: "), title=title,
                               text=segment, style="inline"))
        item.children = inline + item.children  # the paragraph's own enumeration, then numbered children
        return


def _paragraph_end(text: str, start: int) -> int:
    nl = text.find("\n", start)
    return len(text) if nl < 0 else nl
