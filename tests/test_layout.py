"""The README's test command collects ``tests`` and ``integrations`` in one pytest run.

Neither folder is a package, so pytest imports each test file under its bare basename: two files
with the same name in the two folders abort the whole collection ("import file mismatch"), which
is how CI failed once. This keeps the names unique.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_test_module_basename_in_both_tiers():
    unit = {p.name for p in (ROOT / "tests").glob("test_*.py")}
    integ = {p.name for p in (ROOT / "integrations").glob("test_*.py")}
    assert unit and integ
    assert not unit & integ, f"rename one of each pair: {sorted(unit & integ)}"


# --- the import graph (../shared/DESIGN.md, "Layout") -------------------------------------------------------------
import ast  # noqa: E402

PACKAGE = ROOT / "tctcb"
# part -> the parts it may import (root modules such as tctcb._paths, tctcb._atomic, tctcb._command and tctcb.java
# are open to every part; a part may always import itself)
ALLOWED = {
    "data": set(),
    "models": set(),
    "eval": {"data"},
    "encode": {"models", "data"},
    "index": {"encode", "models", "data", "eval"},
    "search": {"encode", "index", "models", "data", "eval"},
    "train": {"models", "data", "encode", "index", "eval"},
    "fuse": {"search", "eval", "data"},
    "export": {"encode", "models"},
    "pipeline": {"reproduce", "data", "eval", "search", "index", "encode", "train", "models"},
    "reproduce": {"data", "eval"},
}
ROOT_MODULES = {"_paths", "_atomic", "_command", "_wheels", "java", "__version__"}


def _imports(path: Path, root: Path):
    """(line, imported module) for every ``import`` / ``from`` in ``path``, relative imports resolved."""
    mod = ".".join(path.relative_to(root).with_suffix("").parts)
    here = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    if path.name == "__init__.py":
        here = here[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
            yield node.lineno, base
            for a in node.names:
                yield node.lineno, f"{base}.{a.name}"


def _edges(root: Path = ROOT):
    """(file:line, importing part, imported name split at dots) for every import of tctcb inside tctcb."""
    for path in sorted((root / "tctcb").rglob("*.py")):
        rel = path.relative_to(root / "tctcb").parts
        part = rel[0].removesuffix(".py") if len(rel) == 1 else rel[0]
        for line, target in _imports(path, root):
            t = target.split(".")
            if t[0] == "tctcb" and len(t) > 1:
                yield f"{path.relative_to(root)}:{line}", part, t


def test_parts_import_only_what_the_design_allows():
    wrong = sorted({f"{where}: {part} imports tctcb.{t[1]}" for where, part, t in _edges()
                    if part in ALLOWED and t[1] != part and t[1] not in ROOT_MODULES and t[1] not in ALLOWED[part]})
    assert not wrong, "\n".join(wrong)


def test_no_part_imports_another_parts_private_module():
    wrong = sorted({f"{where}: {'.'.join(t[:3])}" for where, part, t in _edges()
                    if len(t) > 2 and t[1] != part and t[1] not in ROOT_MODULES and t[2].startswith("_")})
    assert not wrong, "\n".join(wrong)


def test_root_modules_and_ground_floor_stand_alone():
    """data and models import no other part; the root modules import no part at all."""
    wrong = sorted({f"{where}: tctcb.{t[1]}" for where, part, t in _edges()
                    if part in ROOT_MODULES and t[1] not in ROOT_MODULES})
    assert not wrong, "\n".join(wrong)


def test_the_graph_checker_sees_absolute_and_relative_imports(tmp_path):
    """The checks above can fail: imports written either way, at any depth, are seen with their file and line."""
    fake = tmp_path / "tctcb" / "models"
    fake.mkdir(parents=True)
    (fake / "_x.py").write_text("import os\nfrom tctcb.search._dense import DenseSearcher\n"
                                "def f():\n    from ..data._paths import cache_dir\n")
    edges = {(where, part, ".".join(t)) for where, part, t in _edges(tmp_path)}
    assert ("tctcb/models/_x.py:2", "models", "tctcb.search._dense.DenseSearcher") in edges
    assert ("tctcb/models/_x.py:4", "models", "tctcb.data._paths.cache_dir") in edges


def test_no_test_scaffolding_in_the_package():
    assert not (PACKAGE / "train" / "_tiny.py").exists() and not (PACKAGE / "search" / "_compare.py").exists()
