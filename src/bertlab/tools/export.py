"""Export a run's checkpoint as a Hugging Face model directory, with a model card.

    python -m bertlab.export RUN_DIR exported/             # the best checkpoint
    python -m bertlab.export RUN_DIR exported/ --onnx      # also model.onnx
    python -m bertlab.export RUN_DIR exported/ --force     # replace a previous export
    python -c "from transformers import pipeline; \\
      print(pipeline('text-classification', model='exported/')('a great film'))"

The directory holds the model (`save_pretrained`, with id2label / label2id and problem_type),
the run's tokenizer, whose model_max_length is the run's max_length (call the pipeline with
`truncation=True` to cut long texts where training cut them; a run with another
data.truncation than head is still cut at the head there, so use `bertlab.load(RUN_DIR)` to
keep its strategy, recorded in bertlab_export.json), a model card (README.md: task,
labels, data, splits, metrics, settings, usage) and, with --onnx, the classifier as an ONNX
graph (`pip install 'bertlab[onnx]'`). A custom head that transformers cannot rebuild
(model=minilm_mean) exports with --onnx only: tokenizer, model.onnx and card.

The directory appears complete or not at all: it is written beside the target and renamed into
place. A non-empty target is refused unless --force, which replaces it whole.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from bertlab.errors import ModelError
from bertlab.tools.export_dir import staged_dir
from bertlab.utils.cli import run_cli, tool_parser


def export(
    run: str | Path,
    out_dir: str | Path,
    checkpoint: str = "best",
    force: bool = False,
    onnx: bool = False,
) -> Path:
    """Write model, tokenizer and card for `pipeline("text-classification", model=out_dir)`.

    Args:
        run: a run dir or a checkpoint inside one.
        out_dir: the directory to write; it must be empty or missing unless `force`.
        checkpoint: best, last or a .ckpt path.
        force: replace a non-empty `out_dir` (nothing of its old contents is kept).
        onnx: also write model.onnx (needs `pip install 'bertlab[onnx]'`).

    Raises:
        ModelError: `out_dir` is not empty (and not `force`), is a file or contains the run; the
            ONNX packages are missing; or the run's network is not a transformers model (e.g.
            model.head=mean or attention, which the standard pipeline cannot rebuild), not `onnx`.
    """
    from transformers import PreTrainedModel

    from bertlab.tools.card_usage import TRUNCATION_SIDE
    from bertlab.tools.loading import find_run_dir
    from bertlab.tools.model_card import model_card
    from bertlab.tools.predictor import Predictor

    run_dir = find_run_dir(run)
    if onnx:
        from bertlab.tools.onnx_export import export_onnx, require_onnx

        require_onnx()
    with staged_dir(Path(out_dir), run_dir, force) as tmp:
        predictor = Predictor.from_run(run, checkpoint, device="cpu")
        network = predictor.model.network
        hf_model = isinstance(network, PreTrainedModel)
        if not hf_model and not onnx:
            raise ModelError(
                f"{type(predictor.model).__name__} builds a {type(network).__name__}, not a "
                "transformers model, so transformers.pipeline cannot load it. Export works for "
                "the standard head (model.head=cls); for this one pass --onnx (an "
                "ONNX graph, no transformers model) or use bertlab.load(run_dir)."
            )
        if hf_model:
            network.save_pretrained(tmp)
        tokenizer = predictor.tokenizer
        tokenizer.model_max_length = predictor.max_length  # truncation=True cuts where training did
        tokenizer.truncation_side = TRUNCATION_SIDE.get(predictor.truncation.strategy, "right")
        tokenizer.save_pretrained(tmp)
        if onnx:
            export_onnx(network, tokenizer, tmp / "model.onnx")
        ckpt = predictor.checkpoint
        card = model_card(run_dir, predictor, ckpt, ".", hf_model, onnx)  # snippets: relative
        (tmp / "README.md").write_text(card, encoding="utf-8")
        source = {
            "run_dir": str(run_dir),
            "checkpoint": str(ckpt),
            "max_length": predictor.max_length,
            "text_pairs": predictor.uses_pairs,
            "truncation": asdict(predictor.truncation),  # the export itself cuts at the head
        }
        (tmp / "bertlab_export.json").write_text(json.dumps(source, indent=2) + "\n")
    files = "model.onnx, " if onnx else ""
    print(
        f"Exported {type(network).__name__} ({files}model card) with labels "
        f"{predictor.label_names} to {out_dir}"
    )
    return Path(out_dir)


def parser() -> argparse.ArgumentParser:
    p = tool_parser("bertlab.export", __doc__)
    p.add_argument("out_dir", help="the Hugging Face model directory to write")
    p.add_argument("--onnx", action="store_true", help="also write model.onnx (bertlab[onnx])")
    p.add_argument("--force", action="store_true", help="replace OUT_DIR if it is not empty")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(
        lambda a: export(a.run, a.out_dir, a.checkpoint, force=a.force, onnx=a.onnx),
        parser(),
        argv,
    )


if __name__ == "__main__":
    raise SystemExit(main())
