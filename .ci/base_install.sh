#!/usr/bin/env bash
# The base install on its own, in a new virtualenv: the package without extras (requirements/base.txt),
# plus only the test runner. Runs the demo and the cloud-teacher tests (gemini, openai,
# openai-compatible, batch) against the local provider stubs. This is what catches an import that only
# an extra or a warm machine brings in: httpx, which google-genai 3.x and openai 3.x no longer depend on.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
# The teacher tests; update the list when tests move (pytest stops with an error on a missing path).
TESTS=(tests/teachers/test_teacher_gemini.py tests/teachers/test_teacher_openai.py tests/label/test_batch.py tests/test_imports.py)
# pytest and what it needs, at the dev lock's versions and hashes; `pip check` below fails if this
# list misses one of their dependencies.
RUNNER=(pytest pytest-timeout pluggy iniconfig pygments packaging)

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
start=$SECONDS
"$PYTHON" -m venv "$WORK/venv"
PY=$WORK/venv/bin/python
"$PY" -m pip install --quiet --require-hashes -r requirements/base.txt
"$PY" -m pip install --quiet --no-deps --no-build-isolation -e .
# The runner's entries (name==version and their hash lines) copied out of the dev lock.
"$PY" - "${RUNNER[@]}" > "$WORK/runner.txt" <<'PYEOF'
import re, sys
wanted, keep = set(sys.argv[1:]), False
for line in open("requirements/dev.txt"):
    match = re.match(r"([A-Za-z0-9._-]+)==", line)
    if match:
        keep = match[1].lower() in wanted
        wanted.discard(match[1].lower())
    elif not line.startswith(" "):
        keep = False
    if keep:
        sys.stdout.write(line)
if wanted:
    sys.exit(f"not in requirements/dev.txt: {' '.join(sorted(wanted))}")
PYEOF
"$PY" -m pip install --quiet --no-deps --require-hashes -r "$WORK/runner.txt"
"$PY" -m pip check
echo "base install: $((SECONDS - start)) s; google-genai $("$PY" -c 'import importlib.metadata as m; print(m.version("google-genai"))'), openai $("$PY" -c 'import importlib.metadata as m; print(m.version("openai"))')"

# While the locked SDKs do not bring httpx, nothing else may: it is exactly what the base install lacks.
if ! grep -q '^httpx==' requirements/base.txt; then
    if "$PY" -c 'import httpx' 2>/dev/null; then
        echo "httpx is installed in the base venv although requirements/base.txt does not pin it" >&2
        exit 1
    fi
fi

# The README's demo, without the dev extra.
"$PY" -m pipeline.distill data/samples --out "$WORK/run" --teacher textlayer --json > "$WORK/distill.json"
"$PY" -m pipeline.build_dataset "$WORK/run" --out "$WORK/dataset" --json > "$WORK/dataset.json"
echo "base demo: ok"

"$PY" -m pytest -p no:cacheprovider "${TESTS[@]}"
echo "base install job: $((SECONDS - start)) s"
