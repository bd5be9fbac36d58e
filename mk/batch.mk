# Batch scoring job and the local model endpoint (issue 3). Thin wrappers over churn_pipeline CLIs.

INPUT ?= $(OUT)
# The batch tables (Iceberg, pyiceberg's SQL catalog) live in this warehouse directory, database BATCH_DATABASE.
BATCH_WAREHOUSE ?= $(WORK)/batch/warehouse
BATCH_DATABASE ?= batch
MODE ?= embedded
ENDPOINT ?= churn-local
PORT ?= 8080
THRESHOLD ?= 0.5
# Where a local endpoint is reached in MODE=endpoint; empty means boto3's normal resolution (AWS).
ENDPOINT_URL ?=
ENDPOINT_RUN_DIR ?= $(WORK)/endpoint
FAULTS ?=
BENCH_ROWS ?= 1000000
BENCH_DATA ?= $(WORK)/data/churn-$(BENCH_ROWS).csv
BENCH_PER_ROW_SAMPLE ?= 2000

.PHONY: batch endpoint endpoint-start endpoint-stop bench-batch

# The data is read as MODEL_DIR's dataset description (its dataset.json); MODE=none scores nothing and reads it
# as DATASET's (default: the tutorial's).
## Score a CSV into Iceberg tables: make batch INPUT=<csv|dir> [BATCH_WAREHOUSE=<dir>] MODE=embedded|endpoint|none [MODEL_DIR=] [ENDPOINT=] [ENDPOINT_URL=] [DATASET= (MODE=none only)]
batch: setup
	$(if $(ENDPOINT_URL),AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=$(ENDPOINT_URL) AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID:-testing} AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY:-testing} AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1}) \
	$(BIN)/churn-batch --input "$(INPUT)" --warehouse "$(BATCH_WAREHOUSE)" --database "$(BATCH_DATABASE)" --mode $(MODE) \
		$(if $(filter none,$(MODE)),$(if $(DATASET),--dataset "$(DATASET)"),--model-uri "$(MODEL_DIR)") \
		--endpoint-name "$(ENDPOINT)" --threshold $(THRESHOLD)

## Serve MODEL_DIR as a local SageMaker-compatible endpoint in the foreground: make endpoint [MODEL_DIR=] [PORT=8080]
endpoint: setup
	$(BIN)/churn-endpoint serve --model-dir "$(MODEL_DIR)" --port $(PORT) $(FAULTS)

## Start the local endpoint in the background (pid + log in ENDPOINT_RUN_DIR): make endpoint-start [PORT=] [FAULTS="--throttle-ratio 0.2"]
endpoint-start: setup
	$(BIN)/churn-endpoint start --model-dir "$(MODEL_DIR)" --port $(PORT) --run-dir "$(ENDPOINT_RUN_DIR)" $(FAULTS)

## Stop the background local endpoint of ENDPOINT_RUN_DIR
endpoint-stop: setup
	$(BIN)/churn-endpoint stop --run-dir "$(ENDPOINT_RUN_DIR)"

## Measure batch throughput side by side: per-row calls vs endpoint vs embedded vs no scoring [BENCH_ROWS=1000000]
bench-batch: setup
	@if [ ! -f "$(BENCH_DATA)" ]; then $(MAKE) data ROWS=$(BENCH_ROWS) OUT=$(BENCH_DATA); fi
	@$(MAKE) model MODEL_DIR="$(MODEL_DIR)"
	$(BIN)/churn-bench-batch --data "$(BENCH_DATA)" --model-dir "$(MODEL_DIR)" \
		--work-dir "$(WORK)/bench-batch" --per-row-sample $(BENCH_PER_ROW_SAMPLE)
