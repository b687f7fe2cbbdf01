# syncd — the two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean soak

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/syncd demo --db syncd-demo.db

# headless Chromium for the HTML report's browser test; when apt cannot install it the
# test SKIPs (saying why) and `make test` goes on
.chromium:
	command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium) \
		|| echo "chromium not installed: the HTML report's browser test will SKIP"
	command -v chromium >/dev/null 2>&1 && touch .chromium || true

test: $(STAMP) .chromium
	$(BIN)/ruff check syncd tests migrations bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check syncd tests migrations bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.run --output BENCHMARKS.md

# the convergence soak: SYNCD_SOAK_STEPS (default 10000) steps, SYNCD_SOAK_SEED; writes RELIABILITY.md
soak: $(STAMP)
	$(BIN)/python -m tests.soak.run

clean:
	rm -rf $(VENV) syncd-demo.db syncd-demo.db-* syncd-demo.toml syncd-demo-report.html \
		.pytest_cache .chromium
