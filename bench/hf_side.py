"""The baseline: Hugging Face `Trainer` with its defaults (random batches, dynamic padding,
eval batch 8), bf16 on GPU as a user would switch it on. Mirrors shared/anchors/*.py."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import (
    BertForSequenceClassification,
    DataCollatorWithPadding,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from common import DEVICE, PeakMemory, StepClock, sync


class _Clock(TrainerCallback):
    def __init__(self, clock: StepClock) -> None:
        self.clock = clock

    def on_train_begin(self, args, state, control, **kwargs):
        self.clock.begin()

    def on_step_end(self, args, state, control, **kwargs):
        self.clock.step_done(state.global_step)


class _Padder:
    """`tokenizer.pad` for checkpoints without tokenizer files (random bert-base on GPU)."""

    pad_token_id, padding_side = 0, "right"
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]

    def pad(
        self, features, padding=True, max_length=None, pad_to_multiple_of=None, return_tensors="pt"
    ):
        width = max(len(f["input_ids"]) for f in features)
        out = {}
        for key in ("input_ids", "token_type_ids"):
            out[key] = torch.tensor([f[key] + [0] * (width - len(f[key])) for f in features])
        out["attention_mask"] = torch.tensor(
            [[1] * len(f["input_ids"]) + [0] * (width - len(f["input_ids"])) for f in features]
        )
        out["labels"] = torch.tensor([f["labels"] for f in features])
        return out


def _tokenizer(model_dir: Path):
    from transformers import AutoTokenizer

    if (model_dir / "tokenizer.json").is_file() or (model_dir / "vocab.txt").is_file():
        return AutoTokenizer.from_pretrained(str(model_dir))
    return _Padder()


def _accuracy(pred) -> dict[str, float]:
    return {"accuracy": float((np.argmax(pred.predictions, -1) == pred.label_ids).mean())}


def _trainer(
    model_dir: Path, train, batch_size: int, steps: int, clock: StepClock | None
) -> Trainer:
    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(
        str(model_dir), num_labels=2, attn_implementation="sdpa"
    )
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="hf_bench_"),
        per_device_train_batch_size=batch_size,
        max_steps=steps,
        bf16=DEVICE == "cuda",
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        use_cpu=DEVICE != "cuda",
        disable_tqdm=True,
    )
    return Trainer(
        model=model,
        args=args,
        train_dataset=train,
        data_collator=DataCollatorWithPadding(_tokenizer(model_dir)),
        compute_metrics=_accuracy,
        callbacks=[_Clock(clock)] if clock else [],
    )


def train(model_dir: Path, examples: list[dict], batch_size: int, steps: int, warmup: int) -> dict:
    """Training samples/s over steps warmup+1..steps, and peak memory."""
    clock = StepClock(warmup, steps)
    trainer = _trainer(model_dir, examples, batch_size, steps, clock)
    with PeakMemory() as mem:
        trainer.train()
    return {**clock.rates(batch_size), "peak_mib": mem.peak_mib}


def evaluate(model_dir: Path, examples: list[dict], batch_size: int) -> dict:
    """Evaluation samples/s (second of two passes over `examples`; the first warms up)."""
    trainer = _trainer(model_dir, examples, batch_size, 1, None)
    trainer.evaluate(eval_dataset=examples)
    with PeakMemory() as mem:
        sync()
        start = time.perf_counter()
        metrics = trainer.evaluate(eval_dataset=examples)
        sync()
        seconds = time.perf_counter() - start
    return {
        "samples_per_s": len(examples) / seconds,
        "peak_mib": mem.peak_mib,
        "accuracy": metrics.get("eval_accuracy"),
        "batch_size": trainer.args.per_device_eval_batch_size,
    }
