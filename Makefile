# Two commands on a fresh machine (each creates its own virtualenv in .venv):
#   make demo   set up, then label the project's own sample PDFs offline and build the dataset
#   make test   set up and run the test suite (what CI runs, via .ci/run)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
RUN    ?= runs/demo
DATASET ?= $(RUN)_dataset

.PHONY: demo test bench samples clean

# The stamp depends on pyproject.toml, so a changed dependency list reinstalls by itself.
$(VENV)/.installed-%: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$*]"
	touch $@

# The offline textlayer teacher (no key, no network) on data/samples; tests/test_demo.py runs the same.
demo: $(VENV)/.installed-dev
	$(PY) -m pipeline.distill data/samples --out $(RUN) --teacher textlayer
	$(PY) -m pipeline.build_dataset $(RUN) --out $(DATASET)

# Tests need the train extra (one of them really runs llamafactory-cli train on a tiny Gemma 3) and
# the wandb extra (run logging is tested offline, WANDB_MODE=offline).
test: $(VENV)/.installed-dev,train,wandb
	$(PY) -m pytest

bench: $(VENV)/.installed-dev
	$(PY) bench/render.py

# Regenerates data/samples (committed; the script is deterministic).
samples: $(VENV)/.installed-dev
	$(PY) data/make_samples.py

clean:
	rm -rf $(VENV) runs .pytest_cache
