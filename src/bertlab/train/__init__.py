"""Training: the pipeline `train.py` calls (fit → select → test → record), its checks, the
run dir, resume, distributed jobs and k-fold cross-validation."""
