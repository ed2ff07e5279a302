# The two commands: `make demo` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
OUT    ?= report

.PHONY: install demo test lint sample-models bench wheel clean

install: $(STAMP)

# torch is installed first with an exact pin: that is a CPU wheel; a looser requirement
# pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/pruneaudit audit --config sample_models/audit.yaml --card sample_models/card.yaml --out $(OUT)

test: install lint
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check pruneaudit tests benchmarks sample_models
	$(BIN)/ruff format --check pruneaudit tests benchmarks sample_models

sample-models: install
	$(BIN)/python sample_models/build.py

bench: install
	$(BIN)/python benchmarks/bench_metrics.py
	$(BIN)/python benchmarks/bench_pareto.py
	$(BIN)/python benchmarks/bench_audit.py
	$(BIN)/python benchmarks/bench_logits.py
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/gpu.py

wheel: install
	rm -rf dist && $(BIN)/python -m build --wheel --no-isolation --outdir dist .

clean:
	rm -rf $(VENV) build dist $(OUT) .pytest_cache pruneaudit.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
