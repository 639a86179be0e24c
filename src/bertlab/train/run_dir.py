"""One run per run dir: a new run claims its dir, and refuses one that already holds a run."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from bertlab.errors import RunDirError

MARKER = ".bertlab-run"
# Files that only a bertlab run writes into its dir (Hydra's .hydra/ and the log are not).
RUN_FILES = ("config.yaml", "metrics.json", "split_manifest.json", "checkpoints")


def claim_run_dir(out: Path) -> None:
    """Claim `out` for this run: create its marker exclusively, so two runs started into one
    dir (the same second, a copied command with hydra.run.dir) cannot both write there.

    Raises:
        RunDirError: `out` already holds (or is being written by) another run.
    """
    out.mkdir(parents=True, exist_ok=True)
    found = [name for name in RUN_FILES if (out / name).exists()]
    try:
        fd = os.open(out / MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        found.insert(0, MARKER)
    else:
        with os.fdopen(fd, "w") as f:
            json.dump({"host": socket.gethostname(), "pid": os.getpid(), "time": time.time()}, f)
    if found:
        raise RunDirError(
            f"{out} already holds a run ({', '.join(found)}). Each run needs its own dir: drop "
            f"hydra.run.dir to get a fresh one, or continue that run with resume={out}."
        )
