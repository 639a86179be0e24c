"""A CheckpointIO whose writes are atomic: a kill mid-save never leaves a truncated checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.cloud_io import _is_local_file_protocol
from lightning.pytorch.plugins.io import TorchCheckpointIO

from bertlab.utils.io import atomic_write


class AtomicCheckpointIO(TorchCheckpointIO):
    """Save local checkpoints to a hidden temporary file in the target folder, fsync, rename.

    `os.replace` is atomic on POSIX: a reader (or a resume after SIGKILL or power loss) sees
    either the previous complete file or the new complete file. The checkpoint streams
    straight into the file (no second in-memory copy). Remote paths (s3://, gs://) go through
    Lightning's own fsspec transaction.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if not _is_local_file_protocol(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options for local files.")
        atomic_write(path, lambda f: torch.save(checkpoint, f))
