# Streaming scoring job, local AWS stand-ins, producer and latency probe (issue 4). Thin wrappers over CLIs.

RUN_DIR ?= $(WORK)/run
MOTO_PORT ?= 5000
STREAM ?= churn-stream
STREAM_SHARDS ?= 4
RATE ?=
# The stream's Iceberg tables (scored, dead letter, drift): pyiceberg's SQL catalog in WAREHOUSE, database
# STREAM_DATABASE (STREAM_CATALOG=glue with an s3:// WAREHOUSE and AWS_REGION for the Glue Data Catalog).
STREAM_CATALOG ?= sql
WAREHOUSE ?= $(WORK)/stream/warehouse
STREAM_DATABASE ?= stream
CHECKPOINT ?= $(WORK)/stream/checkpoint
TRIGGER_SECONDS ?= 2
STARTING_POSITION ?= TRIM_HORIZON
STOP_WHEN_IDLE ?=
# Also set by the batch fragment (same defaults); repeated so this fragment stands on its own.
MODE ?= embedded
ENDPOINT ?= churn-local
PORT ?= 8080
THRESHOLD ?= 0.5
LATENCY_RATE ?= 1000
LATENCY_SECONDS ?= 60

.PHONY: local-up local-down produce stream bench-stream-latency

## Start moto (AWS API) + the local endpoint in the background, create STREAM; prints the env vars to export
local-up: setup
	@$(MAKE) model MODEL_DIR="$(MODEL_DIR)"
	$(BIN)/churn-local up --run-dir "$(RUN_DIR)" --model-dir "$(MODEL_DIR)" --moto-port $(MOTO_PORT) \
		--endpoint-port $(PORT) --stream "$(STREAM)" --shards $(STREAM_SHARDS)

## Stop what local-up started (fails if a process cannot be stopped)
local-down: setup
	$(BIN)/churn-local down --run-dir "$(RUN_DIR)"

## Replay a churn CSV into Kinesis as JSON records: make produce DATA=<csv> STREAM=<name> [DATASET=description.json] [RATE=records/s]
produce: setup
	@if [ -z "$(DATA)" ]; then echo "error: DATA=<csv> is required" >&2; exit 2; fi
	$(BIN)/churn-produce --data "$(DATA)" --stream "$(STREAM)" $(if $(DATASET),--dataset "$(DATASET)") \
		$(if $(RATE),--rate $(RATE))

# The records' fields come from MODEL_DIR's dataset description (dataset.json): no DATASET is needed here.
## Run the streaming job: make stream STREAM=<name> WAREHOUSE=<dir> CHECKPOINT=<dir> [MODE=embedded|endpoint] [STOP_WHEN_IDLE=s]
stream: setup java-check
	$(BIN)/churn-stream --stream "$(STREAM)" --catalog $(STREAM_CATALOG) --warehouse "$(WAREHOUSE)" \
		--database "$(STREAM_DATABASE)" $(if $(AWS_REGION),--region $(AWS_REGION)) \
		--checkpoint "$(CHECKPOINT)" --mode $(MODE) --model-uri "$(MODEL_DIR)" \
		--endpoint-name "$(ENDPOINT)" --threshold $(THRESHOLD) --trigger-seconds $(TRIGGER_SECONDS) \
		--starting-position $(STARTING_POSITION) $(if $(STOP_WHEN_IDLE),--stop-when-idle $(STOP_WHEN_IDLE))

## Measure PutRecords-to-visible latency (p50/p95/max) at LATENCY_RATE records/s for LATENCY_SECONDS, locally
bench-stream-latency: setup java-check
	@$(MAKE) model MODEL_DIR="$(MODEL_DIR)"
	$(BIN)/churn-bench-stream --model-dir "$(MODEL_DIR)" --rate $(LATENCY_RATE) \
		--seconds $(LATENCY_SECONDS) --work-dir "$(WORK)/bench-stream-latency"
