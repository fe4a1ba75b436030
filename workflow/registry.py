"""Case types register here (from their app's ready()), so generic pages can show any case."""
CASE_TYPES: dict[str, type] = {}


def register_case_type(case_type: str, model: type):
    CASE_TYPES[case_type] = model


def state_label(case_type: str, status: str) -> str:
    model = CASE_TYPES.get(case_type)
    states = getattr(model, "State", None)
    return str(dict(states.choices).get(status, status)) if states else status


def type_label(case_type: str) -> str:
    model = CASE_TYPES.get(case_type)
    return str(model._meta.verbose_name) if model else case_type
