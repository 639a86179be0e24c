"""A LightningModule subclass with constructor arguments of its own trains, tests, reloads and
resumes: its checkpoints hold plain hyperparameters only (issue 22, item 4)."""

from __future__ import annotations

import pytest
import torch

from bertlab.errors import ConfigError
from bertlab.model import TextClassifier
from helpers.inprocess import train_in_process
from helpers.runs import with_epochs


class ScaledClassifier(TextClassifier):
    """A researcher's subclass: one argument of its own, the rest passed through."""

    def __init__(self, temperature: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.temperature = temperature

    def forward(self, batch):
        return super().forward(batch) / self.temperature


def test_subclass_with_own_argument_trains_tests_and_reloads(tmp_path, tiny_model_dir, tiny_csv):
    out = tmp_path / "run"
    run = train_in_process(
        f"model._target_={__name__}.ScaledClassifier",
        "+model.temperature=2.0",
        "model.head=attention",
        "test_after_fit=true",
        *with_epochs(tiny_model_dir, tiny_csv, out, tmp_path / "c", epochs=1),
        env={"BERTLAB_TRUSTED_TARGETS": __name__},
    )
    assert (run.dir / "metrics.json").is_file()
    for ckpt in (run.dir / "checkpoints").glob("*.ckpt"):
        state = torch.load(ckpt, map_location="cpu", weights_only=True)  # plain data only
        hp = state["hyper_parameters"]
        assert hp["task"] == "single_label" and hp["temperature"] == 2.0
        assert hp["head"] == "attention"
        assert any(k.startswith("network.pooling.") for k in state["state_dict"])


def test_non_plain_hyperparameter_is_refused_up_front(tiny_model_dir):
    class Holder(TextClassifier):
        def __init__(self, lookup: object = None, **kwargs) -> None:
            super().__init__(**kwargs)

    with pytest.raises(ConfigError, match="lookup"):
        Holder(lookup=object(), pretrained=str(tiny_model_dir))
