"""bertlab: fine-tune pretrained BERT models on text classification (Lightning + Hydra)."""

from bertlab.utils.resolvers import register as _register_resolvers

__version__ = "0.1.0"
_register_resolvers()  # ${bertlab.fast_precision:...}, ${bertlab.cwd:} in configs/


def load(path, checkpoint="best", device=None, batch_size=None):
    """Load a finished run (its dir, or a checkpoint inside it) for prediction.

    `bertlab.load("outputs/train/runs/<time>").predict(["a great film"])` returns labels;
    `predict_proba` the class probabilities. See `bertlab.tools.predictor.Predictor`.
    """
    from bertlab.tools.predictor import Predictor  # lazy: `import bertlab` stays light

    return Predictor.from_run(path, checkpoint=checkpoint, device=device, batch_size=batch_size)
