"""Checkpoint files: atomic saves that name a full disk, and loads that never unpickle code."""

from __future__ import annotations

import errno
import pickle
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.cloud_io import _is_local_file_protocol
from lightning.pytorch.plugins.io import TorchCheckpointIO

from bertlab.errors import DiskFullError, ModelError
from bertlab.utils.io import atomic_write


class AtomicCheckpointIO(TorchCheckpointIO):
    """Save local checkpoints to a hidden temporary file in the target folder, fsync, rename.

    `os.replace` is atomic on POSIX: a reader (or a resume after SIGKILL or power loss) sees
    either the previous complete file or the new complete file. The checkpoint streams
    straight into the file (no second in-memory copy). Remote paths (s3://, gs://) go through
    Lightning's own fsspec transaction. A full disk is reported as such, naming the file.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if not _is_local_file_protocol(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options for local files.")
        try:
            atomic_write(path, lambda f: torch.save(checkpoint, f))
        except (OSError, RuntimeError) as err:
            if not _is_disk_full(err):
                raise
            raise DiskFullError(
                f"No space left on device while saving checkpoint {path} (the previous "
                "checkpoint there is intact). Free space on that disk, or point "
                "paths.log_dir / hydra.run.dir at a larger one, then resume= the run."
            ) from err


def _is_disk_full(err: BaseException) -> bool:
    """ENOSPC, also when torch's zip writer reports it as a RuntimeError."""
    while err is not None:
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(err) or "file write failed" in str(err):
            return True
        err = err.__cause__ or err.__context__
    return False


def load_checkpoint_file(path: str | Path, mmap: bool = False) -> dict[str, Any]:
    """Load a checkpoint on the CPU with `weights_only=True`: tensors and plain Python only,
    so a foreign file carrying a pickle payload cannot run code. `mmap=True` maps the
    tensors instead of reading them (a cheap check that the file is whole).

    Raises:
        ModelError: the file holds other objects, or is not a readable checkpoint.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        raise ModelError(
            f"Refused to load {path}: it holds objects other than tensors and plain Python "
            "values, and unpickling those can run code. bertlab loads checkpoints with "
            "weights_only=True; use a checkpoint that bertlab (or Lightning) saved."
        ) from err
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise ModelError(
            f"Cannot read checkpoint {path} ({type(err).__name__}: {str(err)[:200]}): the file "
            "is corrupt or truncated. Use another checkpoint (--checkpoint last, or a .ckpt)."
        ) from err
