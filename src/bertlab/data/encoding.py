"""How a run turns text into batches: the one owner of that contract.

`Encoding` holds the tokenizer (as configured, and the sha256 of its files once pinned), the
longest sequence, what to keep of longer texts, whether inputs are text pairs, and how
evaluation batches are padded and sized. The DataModule builds it once from `cfg.data`; the
training pipeline saves it in the run dir (pinned), and prediction, evaluation, export, the
model card and the TensorBoard figures read it back instead of re-reading data settings by
hand. A run made before the file existed gets it from its config.yaml (`from_config`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bertlab.data.batching import PadSpec, length_buckets
from bertlab.data.tokenize import tokenizer_fingerprint
from bertlab.data.truncation import Truncation
from bertlab.errors import DataError
from bertlab.pretrained import resolve_pretrained

AUTO = "auto"


def auto_padding(device_type: str, max_length: int) -> tuple[int, ...] | None:
    """What `pad_to_multiple_of: auto` means on a device: on a GPU one of <= 16 length buckets
    up to `max_length` (a bounded set of shapes for compile, cuDNN attention plans and CUDA
    graphs); on a CPU none (pad tokens are only extra work there)."""
    return tuple(length_buckets(max_length)) if device_type == "cuda" else None


@dataclass(frozen=True)
class Encoding:
    """Text → token ids → padded batches, as a run does it.

    Args:
        tokenizer: `data.tokenizer` as configured ("default", a directory or a hub name).
        max_length: the longest token sequence the model reads.
        truncation: what to keep of longer texts (`bertlab.data.truncation`).
        text_pairs: the inputs are (text, text pair).
        pad_to_multiple_of: the batch padding (`bertlab.data.batching.parse_pad_spec`), or
            "auto" (by device, `auto_padding`).
        eval_batch_size: examples per evaluation / prediction batch.
        tokenizer_sha256: sha256 of the tokenizer files the run used (`pinned()`); None until
            pinned. A pinned encoding refuses a tokenizer whose files differ.
    """

    tokenizer: str = "default"
    max_length: int = 128
    truncation: Truncation = field(default_factory=Truncation)
    text_pairs: bool = False
    pad_to_multiple_of: PadSpec = AUTO
    eval_batch_size: int = 128
    tokenizer_sha256: str | None = None

    def __post_init__(self) -> None:
        pad = self.pad_to_multiple_of  # a list from a config or JSON: one hashable form
        if pad is not None and not isinstance(pad, int | str):
            object.__setattr__(self, "pad_to_multiple_of", tuple(pad))

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> Encoding:
        """The encoding of a data config (`cfg.data`); absent keys take the defaults."""
        source = data.get("source") or {}
        return cls(
            tokenizer=str(data.get("tokenizer", "default")),
            max_length=int(data.get("max_length", 128)),
            truncation=Truncation.from_config(data),
            text_pairs=source.get("text_pair_column") is not None,
            pad_to_multiple_of=data.get("pad_to_multiple_of", AUTO),
            eval_batch_size=int(data.get("eval_batch_size", 128)),
        )

    def check(self) -> None:
        """Raise a ConfigError naming the data key of an invalid truncation setting."""
        self.truncation.check(self.max_length, self.text_pairs)

    # ---- the tokenizer ----
    def tokenizer_dir(self) -> Path:
        """The local directory of the tokenizer (resolved like `model.pretrained`)."""
        return resolve_pretrained(self.tokenizer)

    def pinned(self) -> Encoding:
        """This encoding with the sha256 of its tokenizer's files (what a run records)."""
        return dataclasses.replace(
            self, tokenizer_sha256=tokenizer_fingerprint(self.tokenizer_dir())
        )

    def verify_tokenizer(self, where: str = "this run") -> Path:
        """The tokenizer's directory, after checking its files against the pinned sha256.

        Raises:
            DataError: the tokenizer's files differ from the ones the run used.
        """
        directory = self.tokenizer_dir()
        if self.tokenizer_sha256 is not None:
            now = tokenizer_fingerprint(directory)
            if now != self.tokenizer_sha256:
                raise DataError(
                    f"The tokenizer files in {directory} changed since {where} was trained "
                    f"(sha256 {now[:12]}… now, {self.tokenizer_sha256[:12]}… recorded): the "
                    "same text would give other token ids, so every output would be wrong. "
                    f"Restore that directory's tokenizer files (data.tokenizer={self.tokenizer})."
                )
        return directory

    def load_tokenizer(self, where: str = "this run"):
        """The tokenizer (checked by `verify_tokenizer`)."""
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(self.verify_tokenizer(where)))

    # ---- batches ----
    def padding(self, device_type: str) -> PadSpec:
        """The padding setting with "auto" resolved for a device ("cuda", "cpu", ...)."""
        if self.pad_to_multiple_of == AUTO:
            return auto_padding(device_type, self.max_length)
        return self.pad_to_multiple_of

    # ---- the run's file ----
    def to_json(self) -> dict[str, Any]:
        """Plain JSON (what the run dir stores)."""
        out = dataclasses.asdict(self)
        if isinstance(self.pad_to_multiple_of, tuple):
            out["pad_to_multiple_of"] = list(self.pad_to_multiple_of)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Encoding:
        """The inverse of `to_json`; unknown keys are refused (a file of another version)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise DataError(f"Unknown encoding settings {unknown}: the run's file is damaged.")
        values = dict(data)
        values["truncation"] = Truncation(**values.get("truncation", {}))
        return cls(**values)
