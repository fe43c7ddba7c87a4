# Two commands on a fresh machine (each creates its own virtualenv in .venv):
#   make demo   set up and run the pipeline on the project's own sample PDFs
#   make test   set up and run the test suite (what CI runs, via .ci/run)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
RUN    ?= runs/demo

.PHONY: demo test bench samples clean

# The stamp depends on pyproject.toml, so a changed dependency list reinstalls by itself.
$(VENV)/.installed-%: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$*]"
	touch $@

demo: $(VENV)/.installed-dev
	$(PY) -m pipeline.distill data/samples --out $(RUN) --render-only

test: $(VENV)/.installed-dev
	$(PY) -m pytest

bench: $(VENV)/.installed-dev
	$(PY) bench/render.py

# Regenerates data/samples (committed; the script is deterministic).
samples: $(VENV)/.installed-dev
	$(PY) data/make_samples.py

clean:
	rm -rf $(VENV) runs .pytest_cache
