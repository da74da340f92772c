# On a fresh machine with Python >= 3.11:
#   make run    set up .venv (when missing or stale) and run the headline comparison
#   make venv   only set up .venv
#   make test   set up .venv, then lint, run the test suite and the regression gate (what CI runs)
# Every install goes through constraints.txt, which locks the versions that move the numbers.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.face-bench-installed
SHARED ?= ../shared
DATA ?= $(SHARED)/datasets/jp_faces_dev
# Test processes (pytest-xdist): one per core, at most 4 (each run a test starts has its own
# embedding workers).
TEST_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)
export MPLBACKEND ?= Agg
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: run venv test lint pytest gate wheel-smoke browser-deps clean

# Re-install only when the dependency declarations change.
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "face-bench needs Python >= 3.11; set PYTHON=python3.11 (or newer)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,ray]"
	@touch $(STAMP)

# The dataset is checked first (.ci/check_data.py, standard library only), so a missing
# ../shared stops the run before minutes of installing, naming the setting that chose it.
run:
	@$(PYTHON) .ci/check_data.py
	@$(MAKE) --no-print-directory $(STAMP)
	$(BIN)/face-bench roc --subset ordinary --subset young_women

venv: $(STAMP)

test: $(STAMP) lint pytest gate

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@if [ -x $(BIN)/lint-imports ] && grep -q importlinter pyproject.toml; then $(BIN)/lint-imports; fi
	$(BIN)/mypy
	$(BIN)/vulture

# In CI (CI=true) Chromium and a CJK font are installed first so the browser tests run;
# elsewhere those tests skip and say how to enable them (make browser-deps). Every test runs,
# spread over TEST_JOBS processes; the `serial` ones (signals sent at moments of a run, killed
# workers) run alone afterwards, where no other test's load moves those moments.
pytest: $(STAMP)
	@if [ "$(CI)" = "true" ]; then $(MAKE) --no-print-directory browser-deps; fi
	$(BIN)/python -m pytest -q --with-ray -m "(slow or not slow) and not serial" -n $(TEST_JOBS)
	$(BIN)/python -m pytest -q --with-ray -m "serial"

# Regression gate on a small real run against the committed baseline (numbers only): the
# headline comparison (ordinary against young_women) with the default models of
# face-bench.toml, dlib and SFace (JAPANESE FACE v1 too when its weights are present; reported,
# not gated, until a baseline includes it), so the per-subset figures and the demographic
# differentials (group rates at the reference threshold, ratios, summary measures) are gated.
# At --sample 60 no TAR@FAR target has the support to be gated; those rows say why.
gate: $(STAMP)
	@if [ -d "$(DATA)" ]; then \
		$(BIN)/face-bench roc --subset ordinary --subset young_women --data "$(DATA)" \
			--sample 60 --seed 0 --bootstrap 200 \
			--cache-dir "$${TMPDIR:-/tmp}/face-bench-ci-cache" \
			--out "$${TMPDIR:-/tmp}/face-bench-ci-run" \
			--baseline tests/baselines/headline-60.json; \
	else \
		echo "gate skipped: $(DATA) not present (the shared test data sits beside the checkout)"; \
	fi

# The wheel as a user installs it (CI runs this after `make test`): built, installed alone with
# constraints.txt into a fresh venv in a temporary folder (about 1 GB, removed afterwards), then
# a small dlib run from outside the checkout, with an empty cache (.ci/wheel-smoke).
wheel-smoke: $(STAMP)
	BUILD_PYTHON=$(BIN)/python PYTHON=$(PYTHON) SHARED=$(SHARED) bash .ci/wheel-smoke

# Headless Chromium for the report test, and a CJK font so Japanese names render in figures.
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
			|| echo "warning: could not install chromium/fonts-noto-cjk; browser tests will be skipped"; \
	fi

clean:
	rm -rf $(VENV)
