# The whole benchmark (issue 7): every scoring path side by side in one run. Thin wrapper over the package CLI.

BENCH_REPEAT ?= $(or $(REPEAT),3)
BENCH_SUITE_ROWS ?= $(if $(filter command line environment,$(origin ROWS)),$(ROWS),1000000)
BENCH_OUT ?= bench
# More flags of `python -m churn_tools.bench`, e.g. BENCH_ARGS="--scale-factors '' --stream-rates 1000"
BENCH_ARGS ?=

.PHONY: bench

## Benchmark every scoring path side by side, write bench/results.{json,png,md}: make bench [ROWS=1000000] [REPEAT=3]
bench: setup java-check
	@# The model trains on the usual 20,000 rows, not on ROWS (which sizes the benchmark).
	@$(MAKE) model MODEL_DIR="$(MODEL_DIR)" ROWS=20000
	$(BIN)/churn-bench --rows $(BENCH_SUITE_ROWS) --repeat $(BENCH_REPEAT) --model-dir "$(MODEL_DIR)" \
		--data-dir "$(WORK)/data" --work-dir "$(WORK)/bench" --out-dir "$(BENCH_OUT)" $(BENCH_ARGS)
