"""The platform names no process: no case type's key, none of its states' names and none of its
URL names (``rectification:list``) appears as a string literal in workflow/ (migrations aside),
templates/base.html or templates/workflow/. The names are read from the registry, so every
installed case type counts, the test-only ones included.

A few literals coincide with a state name without naming a state (a phase, a column of viewflow,
a URL name of the generic pages); each is listed below with what it is, at most as many times as
it is there now. Anything else fails the test."""
import ast
import re
from collections import Counter
from pathlib import Path

from workflow.kernel import registry

ROOT = Path(__file__).resolve().parent.parent

# (file, literal) -> (how many times at most, what the literal is when it is not a state)
COINCIDENCES = {
    ("workflow/models/cases.py", "draft"): (1, "the Phase choice itself"),
    ("workflow/models/cases.py", "cancelled"): (1, "the Phase choice itself"),
    ("workflow/kernel/declaration.py", "draft"): (1, "State.phase: a state its unit does not see is in the draft phase"),
    ("workflow/kernel/declaration.py", "cancelled"): (1, "the ledger's overdue cell reads the phase (done, cancelled)"),
    ("workflow/models/cases.py", "issued"): (1, "verbose name of the base column issued_at"),
    ("workflow/models/cases.py", "closed"): (1, "verbose name of the base column closed_at"),
    ("workflow/cases/engine.py", "finished"): (1, "viewflow's Process.finished column"),
    ("workflow/web/pages.py", "finished"): (1, "viewflow's Task.finished column, read by the inbox"),
    ("workflow/models/units.py", "new"): (3, "the new value in an account-change audit event"),
    ("workflow/web/context.py", "new"): (1, "the menu entry's new-case label"),
    ("workflow/web/urls.py", "new"): (1, "the URL name of every type's new-case page"),
    ("templates/workflow/case_detail.html", "working"): (1, "a co-unit whose part is not done, translated"),
}


def registered_names() -> tuple[set[str], re.Pattern]:
    """Every case type's key and state names, and a pattern for URL names in a type's namespace."""
    names, keys = set(), []
    for spec in registry.case_types():
        keys.append(spec.key)
        names.add(spec.key)
        names.update(state.name for state in spec.states)
    return names, re.compile(r"(?<![\w.])(?:" + "|".join(map(re.escape, keys)) + r"):")


def python_literals(source: str) -> list[tuple[int, str]]:
    """String literals of a module (f-string parts included), docstrings aside."""
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


QUOTED = re.compile(r"""(["'])([^"'\n]*)\1""")


def template_literals(source: str) -> list[tuple[int, str]]:
    """Quoted strings of a template: tag arguments ({% url 'x:list' %}, == 'closed') and attributes."""
    return [(number, match.group(2)) for number, line in enumerate(source.splitlines(), 1)
            for match in QUOTED.finditer(line)]


def named(literals, names, urls) -> list[tuple[int, str]]:
    return sorted((line, value) for line, value in literals if value in names or urls.search(value))


def platform_files() -> list[tuple[str, str]]:
    """(path from the project root, "py" or "html") for every file of the platform the rule covers."""
    files = [(p, "py") for p in sorted((ROOT / "workflow").rglob("*.py")) if "migrations" not in p.parts]
    files += [(ROOT / "templates" / "base.html", "html")]
    files += [(p, "html") for p in sorted((ROOT / "templates" / "workflow").rglob("*.html"))]
    return [(str(p.relative_to(ROOT)), kind) for p, kind in files]


def findings() -> dict[str, list[tuple[int, str]]]:
    names, urls = registered_names()
    found = {}
    for path, kind in platform_files():
        source = (ROOT / path).read_text(encoding="utf-8")
        literals = python_literals(source) if kind == "py" else template_literals(source)
        hits = named(literals, names, urls)
        if hits:
            found[path] = hits
    return found


def test_names__the_registry_holds_every_type_the_scan_looks_for():
    names, urls = registered_names()
    assert {"rectification", "ticket"} <= names
    assert {"draft", "issued", "closed", "new", "assigned", "resolved"} <= names
    assert urls.search("rectification:list") and urls.search("ticket:detail") and not urls.search("x.ticket:y")


def test_names__the_scan_finds_a_planted_name():
    # given code and a template that name a process, a state and a URL of a type
    names, urls = registered_names()
    code = 'def f(case):\n    """Docstrings may say "closed"."""\n    return case.status == "closed"\n' \
           'URL = reverse("rectification:list")\nKEY = f"{x}ticket:detail"\nTYPE = "ticket"\n'
    template = "{% if case.status == 'issued' %}<a href=\"{% url 'ticket:list' %}\">{% endif %}"
    # then each is found, the docstring is not
    assert named(python_literals(code), names, urls) == [(3, "closed"), (4, "rectification:list"),
                                                         (5, "ticket:detail"), (6, "ticket")]
    assert named(template_literals(template), names, urls) == [(1, "issued"), (1, "ticket:list")]


def test_names__the_platform_names_no_process_state_or_process_url():
    found = findings()
    unexplained = []
    for path, hits in found.items():
        counts = Counter(value for _line, value in hits)
        for value, count in counts.items():
            allowed = COINCIDENCES.get((path, value), (0, ""))[0]
            if count > allowed:
                unexplained += [f"{path}:{line}: {value!r}" for line, v in hits if v == value]
    assert not unexplained, "the platform names a process, a state or a process's URL:\n" + "\n".join(unexplained)
