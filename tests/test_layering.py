"""The package layering the README's architecture section states: no module imports a later layer."""

import re
from pathlib import Path

import steerid

ORDER = ["errors", "validation", "results", "provenance", "io", "config_errors", "models", "engine", "moments",
         "capture", "vector", "scorers",
         "traits", "extract", "answers", "stats", "experiments", "claims", "recover", "report", "audit", "interop", "cli"]
IMPORT = re.compile(r"^\s*(?:from|import) steerid\.(\w+)|^\s*from steerid import (\w+)", re.M)


def _layer(path: Path, root: Path) -> str:
    return path.relative_to(root).parts[0].removesuffix(".py")


def test_every_module_has_a_layer_and_imports_only_earlier_layers():
    root = Path(steerid.__file__).parent
    back_edges, unplaced = [], set()
    for path in root.rglob("*.py"):
        layer = _layer(path, root)
        if layer in ("__init__",):
            continue
        if layer not in ORDER:
            unplaced.add(layer)
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*from \.\.", text, re.M), f"{path}: relative import across packages"
        for match in IMPORT.finditer(text):
            target = match.group(1) or match.group(2)
            if target in ORDER and ORDER.index(target) > ORDER.index(layer):
                back_edges.append(f"{path.relative_to(root)} imports steerid.{target}")
    assert not unplaced, f"modules with no layer in the README order: {sorted(unplaced)}"
    assert not back_edges, "\n".join(back_edges)


ENGINE_ORDER = ["batching", "steer", "attention", "sampling", "prefix", "fork", "decode", "generation"]


def test_engine_modules_import_only_earlier_engine_modules():
    root = Path(steerid.__file__).parent / "engine"
    pattern = re.compile(r"^\s*from steerid\.engine(?:\.(\w+))? import (\w+)", re.M)
    back_edges = []
    for path in root.glob("*.py"):
        if path.stem == "__init__":
            continue
        assert path.stem in ENGINE_ORDER, f"engine module {path.stem} has no place in ENGINE_ORDER"
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            target = match.group(1) or match.group(2)
            if target in ENGINE_ORDER and ENGINE_ORDER.index(target) > ENGINE_ORDER.index(path.stem):
                back_edges.append(f"engine/{path.name} imports engine.{target}")
    assert not back_edges, "\n".join(back_edges)
