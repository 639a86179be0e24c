"""The pruning hook: no callback outside a trial; a pruned fit stops cleanly after reporting."""

import lightning as L
import optuna
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from bertlab.callbacks.pruning import trial_callbacks
from bertlab.sweep import context


class Tiny(L.LightningModule):
    """A linear regression that logs val/loss once per validation epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, _):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val/loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit(callbacks, epochs: int = 4) -> L.Trainer:
    data = TensorDataset(torch.randn(32, 4), torch.randn(32, 1))
    trainer = L.Trainer(
        max_epochs=epochs,
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=1,
    )
    loader = DataLoader(data, batch_size=8)
    trainer.fit(Tiny(), train_dataloaders=loader, val_dataloaders=loader)
    return trainer


def test_no_callbacks_outside_a_trial(monkeypatch):
    monkeypatch.delenv(context.ENV, raising=False)
    assert trial_callbacks("val/loss") == []


PRUNE_ALL = optuna.pruners.ThresholdPruner(upper=-1.0)  # every report says prune


@pytest.mark.parametrize(
    ("pruner", "epochs", "epochs_run", "pruned"),
    [
        (PRUNE_ALL, 4, 1, True),
        (optuna.pruners.NopPruner(), 4, 4, False),
        (PRUNE_ALL, 1, 1, False),  # the final epoch: nothing to save, the trial completes
    ],
)
def test_pruned_fit_stops_after_the_report(pruner, epochs, epochs_run, pruned):
    study = optuna.create_study(pruner=pruner)
    trial = study.ask()
    with context.active_trial(trial) as record:
        callbacks = trial_callbacks("val/loss")
        assert len(callbacks) == 1
        trainer = fit(callbacks, epochs)
    assert context.current() is None
    assert record.pruned is pruned
    assert sorted(record.values) == list(range(epochs_run))  # sanity check not reported
    assert trainer.current_epoch == epochs_run
    frozen = study._storage.get_trial(trial._trial_id)
    assert list(frozen.intermediate_values) == list(range(epochs_run))
    assert (context.PRUNED_AT in frozen.user_attrs) is pruned


def test_a_job_in_another_process_finds_the_trial_through_the_environment(tmp_path, monkeypatch):
    from bertlab.sweep.study import storage_for

    url = str(tmp_path / "optuna.journal")
    study = optuna.create_study(study_name="s", storage=storage_for(url))
    trial = study.ask()
    monkeypatch.setenv(context.ENV, context.trial_env(url, "s", trial._trial_id))
    record = context.current()
    assert record is not None and record.trial.number == trial.number
    assert record.report(0.5, 0) is False
    assert study.trials[0].intermediate_values == {0: 0.5}
