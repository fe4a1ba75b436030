# temporary: the old API reads its limits here until workflow.api replaces it
from workflow.web.forms import COMMENT_MAX, NOTE_MAX, REASON_MAX, SEARCH_MAX, TEXT_MAX, TITLE_MAX  # noqa: F401
BASIS_MAX = 200
