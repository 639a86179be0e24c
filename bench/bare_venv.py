"""Make a venv that sees only what a lent GPU machine has, for rehearsing bench/gpu_check.sh:
torch, transformers, lightning, torchmetrics, pandas and their dependency closure, symlinked
from an existing site-packages (the project's .venv) into one directory the new venv reads
through a .pth file. Nothing is installed or downloaded.

    python bench/bare_venv.py /tmp/bare        # then:
    python bench/gpu_site.py && TINY=1 PY=/tmp/bare/bin/python bash bench/gpu_check.sh
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

MACHINE = ("torch", "transformers", "lightning", "torchmetrics", "pandas")


def closure(site: Path, roots: tuple[str, ...]) -> dict[str, md.Distribution]:
    """The distributions in `site` that `roots` need (required dependencies, no extras)."""
    norm = lambda name: name.lower().replace("_", "-")  # noqa: E731
    found = {norm(d.metadata["Name"]): d for d in md.distributions(path=[str(site)])}
    todo, seen = list(roots), {}
    while todo:
        name = norm(todo.pop())
        if name in seen or name not in found:
            continue
        seen[name] = found[name]
        for req in found[name].requires or []:
            if "extra ==" not in req:
                todo.append(re.split(r"[ ;<>=!\[~(]", req, maxsplit=1)[0])
    return seen


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("venv", help="where to make the venv (a fresh directory)")
    p.add_argument("--site", default=sysconfig.get_paths()["purelib"], help="take packages here")
    args = p.parse_args(argv)
    venv, site = Path(args.venv), Path(args.site)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    links = venv / "machine_site"
    links.mkdir()
    dists = closure(site, MACHINE)
    tops = {
        f.parts[0]
        for d in dists.values()
        for f in d.files or []
        if f.parts[0] != ".." and not f.parts[0].endswith(".pth") and f.parts[0] != "__pycache__"
    }
    for top in sorted(tops):
        if (site / top).exists():
            (links / top).symlink_to(site / top)
    purelib = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "machine.pth").write_text(f"{links}\n")
    print(f"{venv}: {len(dists)} distributions: {' '.join(sorted(dists))}")


if __name__ == "__main__":
    main()
