"""What a hazard rule set's body must hold, checked when an administrator saves a version, and
reading it: the checklist's items, the criteria's articles."""
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .declaration import Category

GRADES = ("G", "M", "G/M")
CODE = re.compile(r"^[0-9A-Za-z()（）一二三四五六七八九十.\-]{1,20}$")
ITEMS_MAX = 300


def _text(entry, key, limit, required=True):
    value = entry.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise ValidationError(_("Each entry needs “%(key)s”: text of at most %(n)d characters.")
                              % {"key": key, "n": limit})
    return value


def check_checklist(body) -> None:
    """{"items": [{"code", "section", "title", "check", "grade": G|M|G/M, "criterion",
    "category", "tag", "source"}, ...]}: codes unique, a major grade citing a criterion."""
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= ITEMS_MAX:
        raise ValidationError(_("A checklist needs “items”: a list of 1 to %(n)d items.") % {"n": ITEMS_MAX})
    codes = set()
    for item in items:
        if not isinstance(item, dict):
            raise ValidationError(_("Each item must be a JSON object."))
        code = _text(item, "code", 20)
        if not CODE.match(code) or code in codes:
            raise ValidationError(_("Item codes must be short and unique: “%(code)s”.") % {"code": code})
        codes.add(code)
        _text(item, "title", 200)
        for key, limit in (("section", 100), ("check", 2000), ("criterion", 20), ("tag", 30), ("source", 200)):
            _text(item, key, limit, required=False)
        if item.get("grade", "G") not in GRADES:
            raise ValidationError(_("An item's grade is G, M or G/M: “%(code)s”.") % {"code": code})
        if item.get("category", "other") not in Category.values:
            raise ValidationError(_("Unknown category in item “%(code)s”.") % {"code": code})
        if item.get("grade") == "M" and not item.get("criterion"):
            raise ValidationError(_("A major item must cite its criterion: “%(code)s”.") % {"code": code})


def check_criteria(body) -> None:
    """{"document", "articles": [{"code", "text"}, ...]}: the articles as officially worded."""
    _text(body, "document", 200)
    articles = body.get("articles")
    if not isinstance(articles, list) or not articles:
        raise ValidationError(_("The criteria need “articles”: a list of {code, text}."))
    codes = set()
    for article in articles:
        if not isinstance(article, dict):
            raise ValidationError(_("Each entry must be a JSON object."))
        code = _text(article, "code", 20)
        if not CODE.match(code) or code in codes:
            raise ValidationError(_("Article codes must be short and unique: “%(code)s”.") % {"code": code})
        codes.add(code)
        _text(article, "text", 500)


def article(criteria, code: str) -> dict | None:
    """The article `code` of a criteria version, or None."""
    if criteria is None or not code:
        return None
    return next((a for a in criteria.body.get("articles", ()) if a.get("code") == code), None)
