"""Export a run's checkpoint as a Hugging Face model directory.

    python -m bertlab.export RUN_DIR exported/             # the best checkpoint
    python -c "from transformers import pipeline; \\
      print(pipeline('text-classification', model='exported/')('a great film'))"

The directory holds the model (`save_pretrained`, with id2label / label2id and problem_type)
and the run's tokenizer, whose model_max_length is the run's max_length: call the pipeline
with `truncation=True` to cut long texts where training cut them.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from bertlab.errors import ModelError
from bertlab.utils.cli import run_cli, tool_parser


def export(run: str | Path, out_dir: str | Path, checkpoint: str = "best") -> Path:
    """Write model + tokenizer for `transformers.pipeline("text-classification", model=out_dir)`.

    Raises:
        ModelError: the run's network is not a transformers model (e.g. a custom head such as
            MeanPoolingClassifier, which the standard pipeline cannot rebuild).
    """
    from transformers import PreTrainedModel

    from bertlab.inference import Predictor, find_run_dir

    predictor = Predictor.from_run(run, checkpoint, device="cpu")
    network = predictor.model.network
    if not isinstance(network, PreTrainedModel):
        raise ModelError(
            f"{type(predictor.model).__name__} builds a {type(network).__name__}, not a "
            "transformers model, so transformers.pipeline cannot load it. Export works for the "
            "standard head (model=minilm / bert_base); use bertlab.load(run_dir) for this one."
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    network.save_pretrained(out)
    tokenizer = predictor.tokenizer
    tokenizer.model_max_length = predictor.max_length  # truncation=True cuts where training did
    tokenizer.save_pretrained(out)
    source = {
        "run_dir": str(find_run_dir(run)),
        "checkpoint": str(checkpoint),
        "max_length": predictor.max_length,
        "text_pairs": predictor.uses_pairs,
    }
    (out / "bertlab_export.json").write_text(json.dumps(source, indent=2) + "\n")
    print(f"Exported {type(network).__name__} with labels {predictor.label_names} to {out}")
    return out


def parser() -> argparse.ArgumentParser:
    p = tool_parser("bertlab.export", __doc__)
    p.add_argument("out_dir", help="the Hugging Face model directory to write")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(lambda a: export(a.run, a.out_dir, a.checkpoint), parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
