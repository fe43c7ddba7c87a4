# Two commands on a fresh machine (each creates its own virtualenv in .venv):
#   make demo   set up, then label the project's own sample PDFs offline and build the dataset
#   make test   set up and run the test suite (what CI runs, via .ci/run)
# Both install exact versions from a committed lock (requirements/*.txt, with hashes), then the
# package itself without resolving anything: what passed here installs the same everywhere.
# The installer is uv (itself pinned with hashes in requirements/uv.txt, installed by pip): it
# fetches in parallel, so the test set (CUDA torch, ~6 GB installed) takes about half a minute from an
# empty cache here, where pip took 12.5 minutes. pip reads the same lock files (.ci/base_install.sh).
# --compile-bytecode as pip does: otherwise the first import of torch, transformers and LLaMA-Factory
# in every fresh venv compiles them, in each process that gets there first (the tests' included).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
RUN    ?= runs/demo
DATASET ?= $(RUN)_dataset

.PHONY: demo test bench samples lock clean system-packages round-smoke

# One lock per install: requirements/base.txt (no extras), dev.txt (+ dev: demo, bench),
# test.txt (+ dev, train, wandb: the full suite). A venv holds one set at a time; the stamp depends
# on its lock, so a refreshed lock reinstalls by itself.
UV := $(VENV)/bin/uv
$(VENV)/.installed-%: requirements/%.txt requirements/uv.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	rm -f $(VENV)/.installed-*
	$(PY) -m pip install --quiet --require-hashes -r requirements/uv.txt
	$(UV) pip install --quiet --python $(PY) --require-hashes --compile-bytecode -r $<
	$(UV) pip install --quiet --python $(PY) --no-deps --no-build-isolation -e .
	touch $@

# demo, bench and samples need the dev set; a venv that holds the test set (a superset) is used as is.
DEV_SET := $(if $(wildcard $(VENV)/.installed-test),test,dev)

# The offline textlayer teacher (no key, no network) on data/samples; tests/test_demo.py runs the same.
# Tesseract OCR (+ Arabic, English) and Chromium from apt-get when run as root on Debian/Ubuntu;
# otherwise it prints the command to run and the rest goes on without them.
system-packages:
	bash .ci/system_packages.sh

demo: system-packages $(VENV)/.installed-$(DEV_SET)
	$(PY) -m pipeline.distill data/samples --out $(RUN) --teacher textlayer
	$(PY) -m pipeline.build_dataset $(RUN) --out $(DATASET)

# Tests need the train extra (one of them really runs llamafactory-cli train on a tiny Gemma 3) and
# the wandb extra (run logging is tested offline, WANDB_MODE=offline).
# Up to four workers (two on the 2-core CI machine), whole test files per worker so that a module's
# fixtures (a trained tiny model, a served adapter) are built once. (Three on two cores measured no
# faster: 6 min 40 s against 6 min 43 s; the suite is CPU-bound.)
PYTEST_WORKERS ?= -n auto --maxprocesses 4 --dist loadfile
test: system-packages $(VENV)/.installed-test
	$(PY) -m pytest $(PYTEST_WORKERS)

# Two rounds (python -m pipeline.round) on CPU with a tiny random Gemma 3 built offline: train, predict,
# evaluate, mine val, retrain from round 1's adapter; report in $(SMOKE)/ds/rounds/report.html. Rerun: skipped.
SMOKE ?= runs/round-smoke
SMOKE_SET = --set bf16=false --set use_cpu=true --set max_steps=2 --set save_steps=2 --set eval_steps=2 \
	--set logging_steps=1 --set gradient_accumulation_steps=1 --set lora_rank=4 --set preprocessing_num_workers=1 \
	--set dataloader_num_workers=0 --set learning_rate=1e-3 --set max_new_tokens=8
SMOKE_ENV = HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_MODE=disabled CUDA_VISIBLE_DEVICES=
round-smoke: $(VENV)/.installed-test
	test -f $(SMOKE)/tiny-gemma3/config.json || $(PY) tests/support/tiny_gemma.py $(SMOKE)/tiny-gemma3
	$(PY) -m pipeline.distill data/samples --out $(SMOKE)/run --teacher textlayer --task metadata --longest-side 256
	test -f $(SMOKE)/ds/manifest.json || $(PY) -m pipeline.build_dataset $(SMOKE)/run --out $(SMOKE)/ds \
		--val-fraction 0.35 --test-fraction 0.2 --max-image-side 128 --no-validate \
		--set model_name_or_path=$(abspath $(SMOKE))/tiny-gemma3 --set cutoff_len=1024
	$(SMOKE_ENV) $(PY) -m pipeline.round $(SMOKE)/ds --round 1 $(SMOKE_SET)
	$(SMOKE_ENV) $(PY) -m pipeline.round $(SMOKE)/ds --round 2 $(SMOKE_SET) --from-previous

bench: $(VENV)/.installed-$(DEV_SET)
	$(PY) bench/render.py

# Regenerates data/samples (committed; the script is deterministic).
samples: $(VENV)/.installed-$(DEV_SET)
	$(PY) data/make_samples.py

# Refreshes the locks from pyproject.toml with uv (in its own venv, .venv-lock; about a second each).
# Pins that still fit the ranges are kept and new dependencies added; `make lock LOCK_FLAGS=--upgrade`
# moves everything to the newest versions in range, `LOCK_FLAGS="--upgrade-package openai"` one
# package. requirements/build.in adds what building the package needs. Then `make test` (and
# .ci/base_install.sh) and commit requirements/.
LOCK_VENV  ?= .venv-lock
LOCK_FLAGS ?=
COMPILE = $(LOCK_VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--custom-compile-command "make lock" $(LOCK_FLAGS) pyproject.toml requirements/build.in

lock: $(LOCK_VENV)/.installed
	$(COMPILE) --output-file requirements/base.txt
	$(COMPILE) --extra dev --output-file requirements/dev.txt
	$(COMPILE) --extra dev --extra train --extra wandb --output-file requirements/test.txt

$(LOCK_VENV)/.installed: requirements/uv.txt
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements/uv.txt
	touch $@

clean:
	rm -rf $(VENV) $(LOCK_VENV) runs .pytest_cache
