"""The run directory: one home for its file names, their reading, writing and verification.

    <run dir>/config.yaml  split_manifest.json  label_map.json  encoding.json  metrics.json
              test_predictions.npz (a tested run)  checkpoints/  FAILED.txt (a failed run)
              .bertlab-run (the claim)  .hydra/

A new run claims its dir (and refuses one that already holds a run); the pipeline writes the
record through `RunDir`; evaluate, resume, export, the model card and sweeps read it back
through it, and `check_*` refuse data or a config that is not the run's own. What counts as a
difference is computed in `bertlab.train.verify`."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf, open_dict

from bertlab.errors import DataError, ModelError, RunDirError
from bertlab.train.verify import RESUME_FIXED, config_differences, flat, split_differences
from bertlab.utils.checkpoint_io import load_checkpoint_file
from bertlab.utils.config import save_config
from bertlab.utils.io import atomic_write, atomic_write_json, atomic_write_text
from bertlab.utils.latest import resolve_latest
from bertlab.utils.resolvers import HYDRA_SUBDIR

log = logging.getLogger(__name__)


class RunDir:
    """A run's directory (which need not exist yet).

    Args:
        path: the run dir.
    """

    CONFIG = "config.yaml"
    MANIFEST = "split_manifest.json"
    LABEL_MAP = "label_map.json"
    ENCODING = "encoding.json"
    METRICS = "metrics.json"
    TEST_PREDICTIONS = "test_predictions.npz"  # ids, logits, labels of each test example
    CHECKPOINTS = "checkpoints"
    FAILED = "FAILED.txt"
    MARKER = ".bertlab-run"
    HYDRA = HYDRA_SUBDIR
    # Files that only a bertlab run writes into its dir (Hydra's .hydra/ and the log are not).
    RUN_FILES = (CONFIG, METRICS, MANIFEST, CHECKPOINTS)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)

    def __fspath__(self) -> str:  # Path(run_dir), open(run_dir / ...) work on a RunDir
        return str(self.path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    # ---- where things are ----
    @property
    def checkpoints(self) -> Path:
        return self.path / self.CHECKPOINTS

    @property
    def hydra_config(self) -> Path:
        """Hydra's own copy of the composed config (unresolved), `.hydra/config.yaml`."""
        return self.path / self.HYDRA / self.CONFIG

    def hydra_file(self, name: str) -> Path:
        """A file of Hydra's `.hydra/` copies (`overrides.yaml`, `hydra.yaml`)."""
        return self.path / self.HYDRA / name

    @classmethod
    def find(cls, path: str | Path) -> RunDir:
        """The run dir of `path`: the dir itself, or the run holding a checkpoint file.

        Raises:
            ModelError: `path` is not inside a run dir.
        """
        path = resolve_latest(path).resolve()  # `sweeps/<base>/3`: through the .latest pointer
        for candidate in (path, *path.parents):
            if (candidate / cls.CONFIG).is_file() and (candidate / cls.LABEL_MAP).is_file():
                return cls(candidate)
        raise ModelError(
            f"{path} is not inside a bertlab run dir (a folder with {cls.CONFIG} and "
            f"{cls.LABEL_MAP}, as train.py writes under outputs/). Pass the run dir or one of "
            "its checkpoints."
        )

    def holds_run(self) -> list[str]:
        """The run files (and claim marker) already in the dir; empty for a fresh dir."""
        names = (self.MARKER, *self.RUN_FILES)
        return [name for name in names if (self.path / name).exists()]

    # ---- claiming ----
    def claim(self) -> None:
        """Claim the dir for this run: create its marker exclusively, so two runs started into
        one dir (the same second, a copied command with hydra.run.dir) cannot both write there.

        Raises:
            RunDirError: the dir already holds (or is being written by) another run.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        found = [name for name in self.RUN_FILES if (self.path / name).exists()]
        try:
            fd = os.open(self.path / self.MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            found.insert(0, self.MARKER)
        else:
            claim = {"host": socket.gethostname(), "pid": os.getpid(), "time": time.time()}
            with os.fdopen(fd, "w") as f:
                json.dump(claim, f)
        if found:
            raise self.taken(found)

    def taken(self, found: list[str]) -> RunDirError:
        """The error for a new run into this dir, which holds `found`."""
        return RunDirError(
            f"{self.path} already holds a run ({', '.join(found)}). Each run needs its own dir: "
            f"drop hydra.run.dir to get a fresh one, or continue that run with resume={self.path}."
        )

    # ---- reading ----
    def read_json(self, name: str) -> dict:
        """A run file as JSON, or one error naming it.

        Raises:
            RunDirError: the file is missing or not JSON.
        """
        path = self.path / name
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise RunDirError(f"{path} is missing: this run dir is incomplete.") from err
        except (OSError, ValueError) as err:
            raise RunDirError(
                f"{path} cannot be read as JSON ({err}): the run dir is damaged."
            ) from err

    def read_json_or_empty(self, name: str) -> dict:
        """A run file as JSON; {} when it is missing (optional records).

        Raises:
            RunDirError: the file is there but damaged (a record read as empty would be a
                silently wrong one).
        """
        if not (self.path / name).exists():
            return {}
        return self.read_json(name)

    def metrics(self) -> dict:
        """`metrics.json` ({} when the run has none yet)."""
        return self.read_json_or_empty(self.METRICS)

    def manifest(self) -> dict:
        """`split_manifest.json` ({} when the run has none)."""
        return self.read_json_or_empty(self.MANIFEST)

    def encoding_record(self) -> dict | None:
        """`encoding.json` as written (None for a run made before the file existed)."""
        return self.read_json(self.ENCODING) if (self.path / self.ENCODING).is_file() else None

    def labels(self) -> tuple[str, list[str]]:
        """(task name, label names in id order) from `label_map.json`."""
        label_map = self.read_json(self.LABEL_MAP)
        ids = label_map.get("id2label", {})
        return label_map.get("problem_type"), [ids[k] for k in sorted(ids, key=int)]

    def config(self) -> DictConfig:
        """The run's composed, resolved config, with paths.output_dir = where the dir is now.

        Runs made before data.problem_type was renamed data.task are read with the new name;
        a class path in data.task is read as `{_target_: <path>}`, so that building the run's
        data checks it against the allow-list like any other `_target_`."""
        cfg = OmegaConf.load(self.path / self.CONFIG)
        OmegaConf.update(cfg, "paths.output_dir", str(self.path), force_add=True)
        data = cfg.get("data")
        if isinstance(data, DictConfig) and "problem_type" in data and "task" not in data:
            with open_dict(data):
                data.task = data.pop("problem_type")
        task = data.get("task") if isinstance(data, DictConfig) else None
        if isinstance(task, str) and "." in task:
            data.task = {"_target_": task}
        return cfg

    @property
    def config_origin(self) -> str:
        """Where the run's config comes from (named in messages about its `_target_`s)."""
        return str(self.path / self.CONFIG)

    # ---- writing (rank 0 only) ----
    def write_config(self, cfg: DictConfig) -> None:
        save_config(cfg, self.path / self.CONFIG)

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        atomic_write_json(self.path / self.MANIFEST, dict(manifest))

    def write_labels(self, task_name: str, label_names: list[str]) -> None:
        atomic_write_json(
            self.path / self.LABEL_MAP,
            {"problem_type": task_name, "id2label": dict(enumerate(label_names))},
        )

    def write_encoding(self, record: Mapping[str, Any]) -> None:
        atomic_write_json(self.path / self.ENCODING, dict(record))

    def write_metrics(self, record: Mapping[str, Any]) -> None:
        atomic_write_json(self.path / self.METRICS, dict(record))

    def write_test_predictions(
        self, ids: np.ndarray, logits: np.ndarray, labels: np.ndarray
    ) -> None:
        """Each test example's id, logits and (encoded) label, in test-split order."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, ids=np.asarray(ids).astype(str), logits=logits, labels=labels)
        atomic_write(self.path / self.TEST_PREDICTIONS, lambda f: f.write(buffer.getvalue()))

    def test_predictions(self) -> dict[str, np.ndarray] | None:
        """`{"ids", "logits", "labels"}` of the tested run; None where none were stored.

        Raises:
            RunDirError: the file exists but cannot be read.
        """
        path = self.path / self.TEST_PREDICTIONS
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in ("ids", "logits", "labels")}
        except (OSError, ValueError, KeyError) as err:
            raise RunDirError(f"{path} cannot be read ({err}): the run dir is damaged.") from err

    def write_failure(self, err: BaseException) -> None:
        """Leave FAILED.txt (the error), so nothing here looks like a good run."""
        if not self.path.is_dir():
            return
        text = "".join(traceback.format_exception_only(type(err), err))
        with contextlib.suppress(OSError):  # e.g. a full disk stopped the run: the error shows
            atomic_write_text(self.path / self.FAILED, text)

    def clear_failure(self) -> None:
        """Remove the FAILED.txt of an earlier attempt (a resumed run)."""
        (self.path / self.FAILED).unlink(missing_ok=True)

    # ---- checkpoints ----
    def checkpoint(self, which: str | Path = "best") -> Path:
        """The `best` (named in metrics.json) or `last` checkpoint, or a given .ckpt path.

        `best` is looked up by name in this dir's own checkpoints/, so a copied or moved run
        dir loads its own file, never the original's.

        Raises:
            ModelError: no such checkpoint.
        """
        if str(which) == "last":
            path = self.checkpoints / "last.ckpt"
        elif str(which) == "best":
            best = self.metrics().get("best_checkpoint")
            if not best:
                raise ModelError(
                    f"{self.path} records no best checkpoint ({self.METRICS} is missing or has "
                    "none: did the run finish?). Use --checkpoint last or a path to a .ckpt file."
                )
            path = self.checkpoints / Path(best).name
        else:
            path = Path(which).expanduser()
        if not path.is_file():
            raise ModelError(f"Checkpoint {path} does not exist; use best, last or a .ckpt path.")
        return path

    def newest_checkpoint(self) -> Path:
        """The newest checkpoint that loads; a damaged newer one is skipped (logged).

        Raises:
            RunDirError: the folder holds no checkpoint, or none that loads.
        """
        found = [p for p in self.checkpoints.glob("*.ckpt") if not p.name.startswith(".")]
        if not found:
            raise RunDirError(
                f"resume={self.path}: no checkpoint in {self.checkpoints}. Pass the run dir of an "
                "earlier run (outputs/<task>/runs/<time>) that saved checkpoints, or drop resume= "
                "to start afresh."
            )
        newest_first = sorted(
            found, key=lambda p: (p.stat().st_mtime_ns, p.name == "last.ckpt"), reverse=True
        )
        problems = []
        for path in newest_first:
            try:
                load_checkpoint_file(path, mmap=True)
            except ModelError as err:
                log.warning("Skipping checkpoint %s: %s", path, err)
                problems.append(path.name)
                continue
            if problems:
                log.warning(
                    "resume: the newer checkpoint(s) %s cannot be loaded; resuming from %s instead",
                    ", ".join(problems),
                    path,
                )
            return path
        raise RunDirError(
            f"resume={self.path}: none of its checkpoints loads ({', '.join(problems)}): all are "
            "damaged. Start a new run without resume=."
        )

    # ---- verification: is this still the run's data and setup? ----
    def check_same_split(self, current: Mapping[str, Any]) -> None:
        """Refuse when the data now gives another split than the run's manifest.

        Raises:
            DataError: naming each split that changed.
        """
        diffs = split_differences(self.read_json(self.MANIFEST), current)
        if diffs:
            raise DataError(
                f"The data changed since {self.path} was trained: {'; '.join(diffs)}. Its splits "
                "can no longer be rebuilt, so a score on them would mix in other (possibly "
                "training) examples. To score a new labelled file, use "
                "`python -m bertlab.evaluate RUN --file new.csv`."
            )

    def check_same_labels(self, task_name: str, label_names: list[str]) -> None:
        """Refuse when the data's labels differ from the run's label map.

        Raises:
            DataError: naming both label lists.
        """
        recorded_task, then = self.labels()
        if recorded_task != task_name or then != list(label_names):
            raise DataError(
                f"The data now has {task_name} labels {label_names}; {self.path} was trained on "
                f"{recorded_task} labels {then}."
            )

    def check_resume_compatible(self, cfg: DictConfig) -> list[str]:
        """Refuse a resume whose data, model, seed or objective differ from the recorded run.

        Returns:
            The other keys that changed (allowed, e.g. trainer.max_epochs), for the log.

        Raises:
            RunDirError: naming the keys that differ.
        """
        path = self.path / self.CONFIG
        if not path.is_file():
            raise RunDirError(
                f"resume={self.path}: {path} is missing, so the run cannot be checked."
            )
        # where the run writes is the resume target itself: its path (recorded, and now, where
        # `${paths.output_dir}/checkpoints` and the like resolve) reads as <run> in both
        recorded = _run_relative(OmegaConf.load(path))
        current = _run_relative(cfg)
        fixed = config_differences(recorded, current, RESUME_FIXED)
        if fixed:
            raise RunDirError(
                f"resume={self.path} with another setup than the run's: {'; '.join(fixed)}. "
                f"Resume with the run's own overrides (its {self.CONFIG}), or start a new run "
                "without resume=."
            )
        others = {k.split(".", 1)[0] for k in flat(OmegaConf.to_container(current))}
        return config_differences(recorded, current, tuple(others - set(RESUME_FIXED)))


def _run_relative(cfg: DictConfig) -> DictConfig:
    """`cfg` resolved, with its own `paths.output_dir` written as `<run>` in every value."""
    tree = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    out = str((tree.get("paths") or {}).get("output_dir") or "")

    def swap(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: swap(v) for k, v in node.items()}
        if isinstance(node, list):
            return [swap(v) for v in node]
        return node.replace(out, "<run>") if out and isinstance(node, str) else node

    return OmegaConf.create(swap(tree))


def claim_run_dir(out: Path) -> None:
    """`RunDir(out).claim()` (the earlier name)."""
    RunDir(out).claim()
