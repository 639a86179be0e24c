"""For the after-training tests: one tiny trained run per session, the docs' code blocks."""

from __future__ import annotations

import re
from pathlib import Path

from helpers.inprocess import train_in_process
from helpers.runs import ROOT, with_epochs

_RUNS: dict[str, Path] = {}


def trained_run(tmp_path_factory, model_dir: Path, data_file: Path) -> Path:
    """A finished 4-epoch run of the tiny model on the toy corpus (trained once per session,
    in this process)."""
    if "default" not in _RUNS:
        base = tmp_path_factory.mktemp("trained")
        _RUNS["default"] = train_in_process(
            *with_epochs(model_dir, data_file, base / "run", base / "cache")
        ).dir
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
