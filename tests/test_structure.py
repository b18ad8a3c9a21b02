"""The shape of the code: layers one way, no import cycle, small folders, Flask only in http.

The layer contract itself is import-linter's (``setup.cfg``, run by ``scripts/test``); these
tests hold what it does not say, and show once that the contract does catch a wrong-way import.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

from tests.support import ROOT

PACKAGES = ("service", "archive", "schemas")
NOT_CODE = {"migrations", "templates", "static", "fonts", "__pycache__"}
MAX_MODULES_PER_FOLDER = 15


def _code_folders() -> list[Path]:
    folders = []
    for package in PACKAGES:
        for folder in [ROOT / package, *(ROOT / package).rglob("*")]:
            if folder.is_dir() and not NOT_CODE & set(folder.relative_to(ROOT).parts):
                folders.append(folder)
    return folders


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), i.e. import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in graph.modules:
                continue
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_counting_imports_inside_functions() -> None:
    graph = grimp.build_graph(*PACKAGES)  # every import statement, at any depth
    assert _cycles(graph) == []


def test_the_only_import_inside_a_function_is_the_app_factory_and_says_why() -> None:
    inside = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            source = path.read_text(encoding="utf-8")
            lines = source.splitlines()
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    for sub in ast.walk(node):
                        if isinstance(sub, ast.Import | ast.ImportFrom):
                            said = lines[sub.lineno - 2].strip().startswith("#")
                            inside.append((str(path.relative_to(ROOT)), said))
    assert inside == [("service/__init__.py", True)]


def test_no_folder_of_code_holds_more_than_fifteen_modules() -> None:
    crowded = {
        str(folder.relative_to(ROOT)): n
        for folder in _code_folders()
        if (n := len(list(folder.glob("*.py")))) > MAX_MODULES_PER_FOLDER
    }
    assert crowded == {}


def test_document_production_loads_neither_flask_nor_the_database() -> None:
    code = (
        "import sys\n"
        "import service.documents.render, service.documents.seal, service.documents.pades\n"
        "import service.documents.watermark, service.documents.scan, service.documents.layout\n"
        "import service.documents.convert.client, service.documents.convert.pool\n"
        "import service.doctypes\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "                ('flask', 'werkzeug', 'flask_smorest', 'sqlalchemy'))\n"
        "print(loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_wrong_way_import_breaks_the_layer_contract(tmp_path: Path) -> None:
    """A copy of the tree where the seal (documents) imports the web layer: lint-imports fails."""
    for name in (*PACKAGES, "setup.cfg"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, tmp_path / name)
    lint = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"]
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    kept = subprocess.run(lint, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert kept.returncode == 0, kept.stdout + kept.stderr

    seal = tmp_path / "service" / "documents" / "seal.py"
    seal.write_text(seal.read_text(encoding="utf-8") + "\nimport service.http.auth\n")
    broken = subprocess.run(lint, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert broken.returncode == 1
    assert "service.documents.seal -> service.http.auth" in broken.stdout
