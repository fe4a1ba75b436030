"""workflow/'s layers: each sub-package imports only from those below it, and models never
import the engine (docs/platform.md, "Layout of workflow/")."""
import ast
from pathlib import Path

WORKFLOW = Path(__file__).resolve().parent.parent / "workflow"
# Lowest first. A layer may import its own modules, the models and the layers before it;
# web and api are the top and may import anything.
ORDER = ["kernel", "storage", "trail", "documents", "cases", "web", "api"]
TOP = {"web", "api"}
# The app's own modules at its root (admin, apps, tasks, urls, management) wire layers together.
ROOT_MODULES = {"admin", "apps", "tasks", "urls", "limits", "management", "templatetags", "migrations"}


def imports(path: Path):
    """(line, imported module) for every import in the file, lazy ones inside functions too."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(WORKFLOW.parent).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names = [module] if node.module else [f"{module}.{alias.name}" for alias in node.names]
            for name in names:
                yield node.lineno, name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "workflow" or len(parts) < 2:
        return None
    return parts[1]


def test_layers__each_imports_only_from_those_below_it():
    wrong = []
    for path in sorted(WORKFLOW.rglob("*.py")):
        own = path.relative_to(WORKFLOW).parts[0].removesuffix(".py")
        if own in ROOT_MODULES or own in TOP:
            continue
        allowed = {"models", "limits"} | set(ORDER[: ORDER.index(own) + 1]) if own in ORDER else {"models", "limits"}
        if own == "models":
            allowed = {"models", "limits", "kernel"}
        for line, module in imports(path):
            layer = layer_of(module)
            if layer is not None and layer not in allowed:
                wrong.append(f"{path.relative_to(WORKFLOW.parent)}:{line} imports {module}")
    assert wrong == []


def test_layers__the_modules_named_in_the_layout_exist():
    for layer in ORDER:
        assert (WORKFLOW / layer / "__init__.py").exists(), layer
    assert not [p.name for p in WORKFLOW.glob("*.py") if p.stem not in ROOT_MODULES | {"__init__"}]
