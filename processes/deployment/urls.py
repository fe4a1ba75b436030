"""督办事项's own pages beside the platform's, in the namespace of the type they belong to:
the matter's tree editor, imports, roll-up and exports; an item's passing down."""
from . import editor, exports, views_rollup


def patterns_for(key: str) -> list:
    return [*editor.urls.get(key, ()), *exports.urls.get(key, ()), *views_rollup.urls.get(key, ())]
