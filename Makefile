# The two commands of the README: `make demo` and `make test`. Both set up everything themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run

.PHONY: demo test lint typecheck unit bench bench-deps docs clean policies prices

# `make demo` installs cniguard and what it runs on; `make test` (and the rest) the dev tools too.
$(RUN_STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing cniguard into it (no dev tools)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing cniguard with the dev tools (pytest, mypy, ruff, moto)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP) $(RUN_STAMP)

demo: $(RUN_STAMP)
	@echo "==> auditing the built-in demo fleet (16 clusters, 3 accounts; no AWS account needed)"
	$(BIN)/cniguard demo
	@echo "==> next: $(BIN)/cniguard demo --format html -o demo.html   (evidence and fixes)"
	@echo "    for a real account: . $(BIN)/activate, then cniguard permissions (the read-only"
	@echo "    policy to grant), then cniguard scan --profile PROFILE  (README: Quick start)"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

docs: $(STAMP)
	$(BIN)/cniguard rules --markdown -o docs/rules.md

# Benchmarks (not part of the test suite); each prints its own figures.
bench: $(STAMP)
	$(BIN)/python bench/bench_engine.py
	$(BIN)/python bench/bench_iac.py --checkov-venv .bench/checkov
	$(BIN)/python bench/bench_collect.py
	$(BIN)/python bench/bench_store.py

# checkov for the IaC comparison, in its own venv (installed here, never during a benchmark).
bench-deps:
	$(PYTHON) -m venv .bench/checkov
	.bench/checkov/bin/python -m pip install --quiet checkov

clean:
	rm -rf $(VENV) .bench .mypy_cache .ruff_cache .pytest_cache

# The container image, built and smoke-run with what this machine reaches (docs/deploy.md).
.PHONY: image
image:
	scripts/build_image.sh

# Refresh the bundled AWS-managed policy documents (downloads; never run by the tests).
policies: $(STAMP)
	$(BIN)/python scripts/update_managed_policies.py
# Refresh the bundled on-demand price table from the AWS Price List API (needs AWS credentials
# allowed pricing:GetProducts; never run by the tests). See docs/finops.md.
prices: $(STAMP)
	$(BIN)/python scripts/update_prices.py
