# Every target creates .venv when it is missing (or older than pyproject.toml).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo dev bench bench-scale proto

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The UI tests drive Debian's chromium (Playwright's own browser download is not used).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium

# The serving benchmark's HTTP load generator, from Debian (the benchmark test runs it too).
HEY := /usr/bin/hey

$(HEY):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends hey

test: $(STAMP) $(CHROMIUM) $(HEY)
	$(BIN)/python -m pytest -q

proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=. --pyi_out=. proto/gnn_assets/proto/*.proto

# The demo's Dagster instance persists here, so `make dev` shows its runs and lineage.
DAGSTER_HOME := $(CURDIR)/.dagster_home

$(DAGSTER_HOME)/dagster.yaml: $(STAMP)
	mkdir -p $(DAGSTER_HOME)
	printf 'telemetry:\n  enabled: false\n# No community sign-up dialog over the first screen.\nnux:\n  enabled: false\n# Assets that write the warehouse run one at a time (pool gnn_assets_warehouse).\nconcurrency:\n  pools:\n    default_limit: 1\n# Runs launched from the UI or by the sensor leave the queue within a second (default 5).\nrun_coordinator:\n  module: dagster.core.run_coordinator\n  class: QueuedRunCoordinator\n  config:\n    dequeue_interval_seconds: 1\n# Evaluate the freshness windows of the tasks'"'"' embeddings.\nfreshness:\n  enabled: true\n' > $@
	DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/python -m gnn_assets.lib.instance

demo: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/python -m gnn_assets.demo

dev: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/dg dev --host 127.0.0.1 --port 3000

# Ratios measured side by side in one run: writes benchmarks/results/latest.{json,md}.
bench: $(STAMP) $(HEY)
	$(BIN)/python -m benchmarks.bench

# The whole layer-wise chain at 4M nodes / 32M edges, each step's time, peak RSS and disk (in a
# memory cgroup where the machine allows), then incremental jobs and engine BEAM against LOCAL at
# 1M nodes: writes benchmarks/results/scale.{json,md} (about 25 minutes and 10 GB of disk on 2
# cores). NODES=4000000,20000000 runs the chain at each size and the growth between them (about
# 70 minutes more and 50 GB of disk at its peak).
bench-scale: $(STAMP)
	$(BIN)/python -m benchmarks.scale_chain $(if $(NODES),--nodes $(NODES))
