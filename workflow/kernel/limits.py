"""Lengths of what people type, shared by the web forms, the API's serializers and the services."""
TITLE_MAX = 200
TEXT_MAX = 10000      # long texts: a problem's description, requirements
REASON_MAX = 5000     # the reason or opinion given with an action
COMMENT_MAX = 5000
NOTE_MAX = 200        # the note on an evidence file
SEARCH_MAX = 100

# Money in yuan (Decimal, two places): amounts up to this, as a NUMERIC(14, 2) column holds.
MONEY_DIGITS, MONEY_PLACES = 14, 2
