"""Helpers shared by the test modules (fixtures stay in tests/conftest.py).

`tests/` is on sys.path (pyproject's `pythonpath`), so: `from helpers.runs import run_train`.
- runs: train.py in a subprocess, the tiny-model overrides, HANG_GUARD_S
- inprocess: the same runs composed and run in this process (no interpreter start-up);
  `run_here`: any command line (train.py, python -m bertlab.…) here, exit code and output
- trained: one trained run per session and the docs' code blocks (after-training tests)
- distributed: train / evaluate / read back for the DDP and resume tests
- faults: a callback that SIGKILLs its process (for the kill tests' subprocesses)
"""
