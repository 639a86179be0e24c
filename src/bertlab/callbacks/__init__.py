"""Lightning callbacks bertlab adds to a fit: validation history, NaN guard and checkpoints
(`training`), resumable random state, learning rate and epoch log lines, the progress bar,
TensorBoard figures, and the Optuna pruning callback of a sweep trial. Configs name them by
module path."""
