"""The v1 JSON API of every case type, built from the declarations (see docs/platform.md).

* ``errors``: the REST framework exception handler (settings name ``workflow.api.exception_handler``);
* ``fields``: declared fields as serializer fields, with the web forms' bounds;
* ``serializers``: list rows, case detail, creation, dispatch, list filters and one input per action;
* ``views`` and ``urls``: the same paths under /api/v1/<key>/ for each registered type, and one schema.
"""
from workflow.api.errors import exception_handler
from workflow.api.fields import WindowDateField

__all__ = ["WindowDateField", "exception_handler"]
