# bertlab: the two commands a fresh machine needs.
#   make train   set up .venv and fine-tune the default model on Rotten Tomatoes (offline)
#   make test    set up .venv and run the test suite (what CI runs)
#   make test-fast   the tests that neither train nor start processes (-m "not slow")
VENV ?= .venv
PY := $(VENV)/bin/python
# torch 2.13.0: a CPU build where this machine's local wheel store provides one; elsewhere pip
# resolves the default (CUDA, ~5 GB) build. For the CPU build anywhere:
#   make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu
# On a GPU machine: make setup TORCH="torch" (or your CUDA wheel).
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
ARGS ?=
# pytest-xdist workers for `make test` (one per core of a 2-core CI machine; each test file
# stays on one worker, so its module fixtures are built once). TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2

.PHONY: setup train test test-fast lint clean-cache gpu-site
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

train: setup
	$(PY) train.py $(ARGS)

test: setup
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(ARGS)

test-fast: setup
	$(PY) -m pytest -q -m "not slow" $(ARGS)

lint: setup
	$(VENV)/bin/ruff check src tests bench train.py
	$(VENV)/bin/ruff format --check src tests bench train.py

clean-cache:
	rm -rf .cache/bertlab

# Packages a lent GPU machine lacks (it has torch, transformers, lightning, torchmetrics,
# pandas), copied into the ignored .gpu_site for bench/gpu_check.sh (bench/gpu_site.py):
# carry ".gpu_site" with the device tool.
gpu-site: setup
	$(PY) bench/gpu_site.py
