"""Shared by the after-training tests: one tiny trained run per session, the doc's code blocks."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import ROOT, run_train, tiny_overrides

_RUNS: dict[str, Path] = {}


def overrides(
    model_dir: Path, data_file: Path, out_dir: Path, cache: Path, *drop: str, epochs: int = 4
) -> list[str]:
    """tiny_overrides with `epochs` epochs, minus the keys in `drop` (e.g. model.pretrained)."""
    keep = [
        o
        for o in tiny_overrides(model_dir, data_file, out_dir, cache)
        if o.split("=")[0] not in (*drop, "trainer.max_epochs")
    ]
    return [*keep, f"trainer.max_epochs={epochs}"]


def trained_run(tmp_path_factory, model_dir: Path, data_file: Path) -> Path:
    """A finished 4-epoch run of the tiny model on the toy corpus (trained once per session)."""
    if "default" not in _RUNS:
        base = tmp_path_factory.mktemp("trained")
        proc = run_train(*overrides(model_dir, data_file, base / "run", base / "cache"))
        assert proc.returncode == 0, proc.stderr[-3000:]
        _RUNS["default"] = base / "run"
    return _RUNS["default"]


def doc_blocks(doc: str = "docs/extending.md") -> dict[str, str]:
    """The code blocks of a doc page marked ```lang file=<path>, by path."""
    text = (ROOT / doc).read_text()
    return {m[1]: m[2] for m in re.finditer(r"```\w+ file=(\S+)\n(.*?)```", text, re.S)}


def write_block(path: str, root: Path, replace: dict[str, str] | None = None) -> Path:
    """Write the doc's block for `path` under `root` (with literal replacements); a config
    (configs/<group>/<name>.yaml) goes to <root>/<group>/<name>.yaml, for --config-dir."""
    text = doc_blocks()[path]
    for old, new in (replace or {}).items():
        assert old in text, f"{old!r} not in the doc's {path}"
        text = text.replace(old, new)
    target = root / path.removeprefix("configs/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target
