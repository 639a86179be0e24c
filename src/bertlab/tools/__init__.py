"""After training: load a run, evaluate it, predict with it, export it."""
