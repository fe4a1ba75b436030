"""Case types (and the documents they archive) register here when their model is built (``class XCase(Case, case_type=X)``), so
generic pages, the sweep and the documents can reach any case type. Imports nothing."""
CASE_TYPES: dict[str, type] = {}
DOCUMENTS: dict[tuple[str, str], object] = {}  # (case type, name) -> an archived document's declaration


def register_case_type(key: str, model: type):
    CASE_TYPES[key] = model


def model_for(key: str):
    return CASE_TYPES.get(key)


def declaration(key: str):
    """The case type's declaration, or an empty one for a key no installed app declares."""
    model = CASE_TYPES.get(key)
    if model is not None:
        return model.spec
    from workflow.kernel.declaration import CaseType

    return CaseType


def state_label(key: str, status: str) -> str:
    return declaration(key).state_label(status)


def type_label(key: str) -> str:
    model = CASE_TYPES.get(key)
    return str(model.spec.label) if model else key


def case_types() -> list:
    """The declarations of every installed case type, in the order their models were built."""
    return [model.spec for model in CASE_TYPES.values()]


def register_document(key: str, document):
    DOCUMENTS[(key, document.name)] = document


def document(key: str, document_name: str):
    """The declaration of the archived document `document_name` of a case type, or None."""
    return DOCUMENTS.get((key, document_name))
