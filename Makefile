# Two commands on a fresh machine (each creates its own virtualenv in .venv):
#   make demo   set up, then label the project's own sample PDFs offline and build the dataset
#   make test   set up and run the test suite (what CI runs, via .ci/run)
# Both install exact versions from a committed lock (requirements/*.txt, with hashes), then the
# package itself without resolving anything: what passed here installs the same everywhere.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
RUN    ?= runs/demo
DATASET ?= $(RUN)_dataset

.PHONY: demo test bench samples lock clean

# One lock per install: requirements/base.txt (no extras), dev.txt (+ dev: demo, bench),
# test.txt (+ dev, train, wandb: the full suite). A venv holds one set at a time; the stamp depends
# on its lock, so a refreshed lock reinstalls by itself.
$(VENV)/.installed-%: requirements/%.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	rm -f $(VENV)/.installed-*
	$(PY) -m pip install --quiet --require-hashes -r $<
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# demo, bench and samples need the dev set; a venv that holds the test set (a superset) is used as is.
DEV_SET := $(if $(wildcard $(VENV)/.installed-test),test,dev)

# The offline textlayer teacher (no key, no network) on data/samples; tests/test_demo.py runs the same.
demo: $(VENV)/.installed-$(DEV_SET)
	$(PY) -m pipeline.distill data/samples --out $(RUN) --teacher textlayer
	$(PY) -m pipeline.build_dataset $(RUN) --out $(DATASET)

# Tests need the train extra (one of them really runs llamafactory-cli train on a tiny Gemma 3) and
# the wandb extra (run logging is tested offline, WANDB_MODE=offline).
test: $(VENV)/.installed-test
	$(PY) -m pytest

bench: $(VENV)/.installed-$(DEV_SET)
	$(PY) bench/render.py

# Regenerates data/samples (committed; the script is deterministic).
samples: $(VENV)/.installed-$(DEV_SET)
	$(PY) data/make_samples.py

# Refreshes the locks from pyproject.toml with pip-tools (in its own venv, .venv-lock). Pins that
# still fit the ranges are kept and new dependencies added; `make lock LOCK_FLAGS=--upgrade` moves
# everything to the newest versions in range, `LOCK_FLAGS="--upgrade-package openai"` one package.
# Then `make test` (and .ci/base_install.sh) and commit requirements/.
LOCK_VENV  ?= .venv-lock
PIP_TOOLS  := pip-tools==7.7.0
LOCK_FLAGS ?=
COMPILE = $(LOCK_VENV)/bin/pip-compile --quiet --strip-extras --allow-unsafe --generate-hashes \
	--build-deps-for editable --no-emit-index-url --no-emit-find-links $(LOCK_FLAGS) pyproject.toml

lock: $(LOCK_VENV)/.installed
	$(COMPILE) --output-file requirements/base.txt
	$(COMPILE) --extra dev --output-file requirements/dev.txt
	$(COMPILE) --extra dev --extra train --extra wandb --output-file requirements/test.txt

$(LOCK_VENV)/.installed:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet $(PIP_TOOLS)
	touch $@

clean:
	rm -rf $(VENV) $(LOCK_VENV) runs .pytest_cache
