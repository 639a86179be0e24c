"""Imports point one way (docs/architecture.md): each part of bertlab imports only the floors
below it, never a part beside it on its own floor, nor one above.

    errors → utils → pretrained, tasks → data | model → callbacks → train → sweep | tools
    → compare → entry points (bertlab/__init__, evaluate.py, predict.py, export.py, testing.py,
    hydra_plugins)

Every import statement of every module counts, including those inside functions and under
TYPE_CHECKING: a lazy import is still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
FLOORS = {
    "errors": 0,
    "utils": 1,
    "pretrained": 2,
    "tasks": 2,
    "data": 3,
    "model": 3,
    "callbacks": 4,
    "train": 5,
    "sweep": 6,
    "tools": 6,
    "compare": 7,  # uses sweep (a sweep dir's best config, final's compose) and train
}
ENTRY = 8  # bertlab/__init__.py, the `python -m` modules, testing.py, the sweeper plugin


def part(module: str) -> str:
    """The part of bertlab a dotted module belongs to ("bertlab.data.sources" -> "data")."""
    names = module.split(".")
    if names[0] != "bertlab":
        return "entry"  # hydra_plugins
    return names[1] if len(names) > 1 and names[1] in FLOORS else "entry"


def floor(module: str) -> int:
    return FLOORS.get(part(module), ENTRY)


def module_name(path: Path) -> str:
    names = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(names[:-1] if names[-1] == "__init__" else names)


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every bertlab import in a file; `from bertlab import x` names the
    submodule x when there is one."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            if node.module in ("bertlab", *(f"bertlab.{p}" for p in FLOORS)):
                out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return [(line, m) for line, m in out if m == "bertlab" or m.startswith("bertlab.")]


def back_edges() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        here = module_name(path)
        for line, target in imported(path):
            if target == "bertlab":
                target = "bertlab.__init__"  # the package itself: the entry floor
            if part(target) == part(here):
                continue  # inside one part
            if floor(target) >= floor(here):
                found.append(
                    f"{path.relative_to(SRC)}:{line} {part(here)} (floor {floor(here)}) imports "
                    f"{target} ({part(target)}, floor {floor(target)})"
                )
    return found


def test_every_import_points_down():
    assert back_edges() == []


def test_every_part_has_a_floor():
    """A new top-level package under bertlab/ must be placed on a floor here (and in the
    docs) rather than default to the entry floor unnoticed."""
    packages = {p.name for p in (SRC / "bertlab").iterdir() if (p / "__init__.py").is_file()}
    assert packages <= set(FLOORS)


@pytest.mark.parametrize(
    ("here", "target", "ok"),
    [
        ("bertlab.model.module", "bertlab.data.batching", False),  # beside, same floor
        ("bertlab.train.pipeline", "bertlab.sweep.context", False),  # up
        ("bertlab.callbacks.pruning", "bertlab.tasks.base", True),  # down
        ("bertlab.tools.evaluate", "bertlab.train.run_dir", True),
        ("bertlab.utils.instantiate", "bertlab.tasks.base", False),
        ("bertlab.compare.arms", "bertlab.sweep.final", True),
        ("bertlab.sweep.final", "bertlab.compare.stats", False),
    ],
)
def test_the_rule_itself(here, target, ok):
    assert (floor(target) < floor(here)) is ok
