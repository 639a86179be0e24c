"""Hydra finds bertlab's Optuna sweeper here (``hydra/sweeper=bertlab_optuna``)."""
