# The quality job (issue 29): outcomes joined to the scores, model quality, the next training set, retraining.
# Thin wrappers over churn-quality and churn-outcomes.

# make quality writes OUT (given on the command line; the Makefile's own OUT is make data's file) or here.
QUALITY_OUT ?= $(WORK)/quality
QUALITY_DIR = $(if $(filter command line,$(origin OUT)),$(OUT),$(QUALITY_OUT))
# The batch job's scored table (database.table, e.g. batch.batch_predictions) in BATCH_CATALOG's BATCH_WAREHOUSE
# (mk/batch.mk: the warehouse make batch commits to), in the stream's catalog kind.
BATCH_TABLE ?=
BATCH_CATALOG ?= $(STREAM_CATALOG)
OUTCOMES ?=
HORIZON_DAYS ?= 90
AUC_MARGIN ?= 0.05
TRAINING_SET ?= $(QUALITY_OUT)/training-set
CANDIDATE ?= $(WORK)/candidate

.PHONY: quality retrain outcomes-check

## Model quality from outcomes: make quality [BATCH_TABLE=<database.table of the batch's scored table in BATCH_WAREHOUSE>] [STREAM_TABLE=<database.table of the stream's scored table in WAREHOUSE>] OUTCOMES=<csv|dir> MODEL_DIR=<dir> OUT=<dir> [HORIZON_DAYS=90] [AUC_MARGIN=0.05] [THRESHOLD=0.5]
quality: setup java-check
	@if [ -z "$(BATCH_TABLE)$(STREAM_TABLE)" ] || [ -z "$(OUTCOMES)" ]; then echo "error: BATCH_TABLE=<database.table> or STREAM_TABLE=<database.table>, and OUTCOMES=<csv|dir> are required" >&2; exit 2; fi
	$(BIN)/churn-quality $(if $(BATCH_TABLE),--batch-table $(BATCH_CATALOG) "$(BATCH_WAREHOUSE)" "$(BATCH_TABLE)") \
		$(if $(STREAM_TABLE),--stream-table $(STREAM_CATALOG) "$(WAREHOUSE)" "$(STREAM_TABLE)") \
		--outcomes "$(OUTCOMES)" --model-uri "$(MODEL_DIR)" \
		--out "$(QUALITY_DIR)" --horizon-days $(HORIZON_DAYS) --auc-margin $(AUC_MARGIN) --threshold $(THRESHOLD)

## Check outcome file(s) against the deployed model's description before upload: make outcomes-check OUTCOMES=<csv> [MODEL_DIR=]
outcomes-check: setup
	@if [ -z "$(OUTCOMES)" ]; then echo "error: OUTCOMES=<csv> is required" >&2; exit 2; fi
	$(BIN)/churn-outcomes check "$(MODEL_DIR)" $(OUTCOMES)

## Train a candidate on the next training set and compare it with MODEL_DIR on held-out outcomes (exit 1 if not better): make retrain [TRAINING_SET=] [MODEL_DIR=] [CANDIDATE=]
retrain: setup
	$(BIN)/churn-outcomes retrain --training-set "$(TRAINING_SET)" --model-dir "$(MODEL_DIR)" --candidate "$(CANDIDATE)"
