"""Hyperparameter sweeps: Optuna sweeper support, pruning callback, summary, lockbox."""
