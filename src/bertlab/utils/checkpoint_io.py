"""Checkpoint files: atomic saves that name a full disk, a sha256 sidecar per file checked on
every load, and loads that never unpickle code.

The sidecar `<name>.ckpt.sha256` is in `sha256sum` format (`sha256sum -c` checks it too). It
is written right after the checkpoint's rename; a kill between the two leaves a checkpoint
without one (loaded unverified, like checkpoints from before checksums) or, for an
overwritten `last.ckpt`, a stale one (reported as damaged, so resume= takes the previous)."""

from __future__ import annotations

import errno
import hashlib
import pickle
from pathlib import Path
from typing import Any, BinaryIO

import torch
from lightning.fabric.utilities.cloud_io import _is_local_file_protocol
from lightning.pytorch.plugins.io import TorchCheckpointIO

from bertlab.errors import DiskFullError, ModelError
from bertlab.utils.io import atomic_write, atomic_write_text, sha256_file

CHECKSUM_SUFFIX = ".sha256"


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
        digest = hashlib.sha256()
        try:
            atomic_write(path, lambda f: torch.save(checkpoint, _HashingWriter(f, digest)))
            atomic_write_text(checksum_path(path), f"{digest.hexdigest()}  {Path(path).name}\n")
        except (OSError, RuntimeError) as err:
            if not _is_disk_full(err):
                raise
            raise DiskFullError(
                f"No space left on device while saving checkpoint {path} (the previous "
                "checkpoint there is intact). Free space on that disk, or point "
                "paths.log_dir / hydra.run.dir at a larger one, then resume= the run."
            ) from err

    def load_checkpoint(
        self, path: str | Path, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        """Lightning's load, after the file's sha256 sidecar (if any) is checked.

        Raises:
            ModelError: the file's bytes are not the ones written.
        """
        if _is_local_file_protocol(path) and Path(path).is_file():
            verify_checksum(path)
        try:
            return super().load_checkpoint(
                path, map_location=map_location, weights_only=weights_only
            )
        except pickle.UnpicklingError as err:  # PyTorch's text suggests weights_only=False
            raise ModelError(_refused_pickle(path)) from err

    def remove_checkpoint(self, path: str | Path) -> None:
        """Delete a checkpoint and its checksum sidecar."""
        super().remove_checkpoint(path)
        if _is_local_file_protocol(path):
            checksum_path(path).unlink(missing_ok=True)


class _HashingWriter:
    """A write-only file wrapper that hashes the bytes on their way to the file."""

    def __init__(self, f: BinaryIO, digest: Any) -> None:
        self._f, self._digest = f, digest

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        return self._f.write(data)

    def flush(self) -> None:
        self._f.flush()


def checksum_path(path: str | Path) -> Path:
    """The sha256 sidecar of a checkpoint: `<name>.sha256` beside it."""
    path = Path(path)
    return path.with_name(path.name + CHECKSUM_SUFFIX)


def verify_checksum(path: str | Path) -> bool:
    """Check a checkpoint's bytes against its sidecar (False when it has none).

    Raises:
        ModelError: the bytes differ from the ones written, or the sidecar is unreadable.
    """
    sidecar = checksum_path(path)
    try:
        recorded = sidecar.read_text(encoding="utf-8").split()[0]
    except FileNotFoundError:
        return False
    except (OSError, UnicodeDecodeError, IndexError) as err:
        raise ModelError(f"Cannot read the checksum {sidecar} of checkpoint {path}: {err}") from err
    actual = sha256_file(path)
    if actual != recorded:
        raise ModelError(
            f"Checkpoint {path} is damaged: its sha256 {actual[:16]}… differs from the "
            f"{recorded[:16]}… recorded in {sidecar.name} when it was written. Use another "
            "checkpoint (resume= takes the newest undamaged one)."
        )
    return True


def _refused_pickle(path: str | Path) -> str:
    return (
        f"Refused to load {path}: it holds objects other than tensors and plain Python "
        "values, and unpickling those can run code. bertlab loads checkpoints with "
        "weights_only=True only (it never falls back to weights_only=False); use a checkpoint "
        "that bertlab (or Lightning) saved."
    )


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
        ModelError: the file holds other objects, is not a readable checkpoint, or its bytes
            differ from its sha256 sidecar.
    """
    verify_checksum(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        raise ModelError(_refused_pickle(path)) from err
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise ModelError(
            f"Cannot read checkpoint {path} ({type(err).__name__}: {str(err)[:200]}): the file "
            "is corrupt or truncated. Use another checkpoint (--checkpoint last, or a .ckpt)."
        ) from err
