# Plan reviews (docs/plan-review.md): Markdown summary of a saved plan, checkov, workflow validation.
# checkov and check-jsonschema live in their own venv: their dependency pins clash with the project's.
REVIEW_TOOLS ?= $(WORK)/review-tools
REVIEW_TOOLS_LOCK := src/churn_tools/plan_review/tools-requirements.lock
PLAN_JSON ?=
CHECKOV_JSON ?=
CHECKOV_OUT ?= $(WORK)/review/checkov.json
# Set CHECKOV_SOFT_FAIL=1 to write the report without failing on failed checks (the PR summary does).
CHECKOV_SOFT_FAIL ?=
BATCH_RUN_MINUTES ?= 15

.PHONY: review-tools plan-summary checkov workflow-lint

## Install checkov + check-jsonschema, pinned by tools-requirements.lock, into .work/review-tools
review-tools: $(REVIEW_TOOLS)/.installed

$(REVIEW_TOOLS)/.installed: $(REVIEW_TOOLS_LOCK)
	$(PYTHON) -m venv $(REVIEW_TOOLS)
	$(REVIEW_TOOLS)/bin/python -m pip install --quiet --upgrade pip==25.3
	$(REVIEW_TOOLS)/bin/python -m pip install --quiet --no-deps -r $(REVIEW_TOOLS_LOCK)
	@touch $@

## Print the Markdown review of a plan: make plan-summary PLAN_JSON=<terraform show -json> [CHECKOV_JSON=report]
plan-summary: setup
	@if [ -z "$(PLAN_JSON)" ]; then echo "error: give PLAN_JSON=<output of terraform show -json planfile>" >&2; exit 2; fi
	@$(BIN)/churn-plan-review "$(PLAN_JSON)" --batch-run-minutes $(BATCH_RUN_MINUTES) \
		$(if $(CHECKOV_JSON),--checkov "$(CHECKOV_JSON)")

## Run checkov on terraform/ and write its JSON report: make checkov [CHECKOV_OUT=path] [CHECKOV_SOFT_FAIL=1]
checkov: review-tools
	@mkdir -p "$(dir $(CHECKOV_OUT))"
	$(REVIEW_TOOLS)/bin/checkov --directory terraform --framework terraform --output json --compact --skip-download \
		$(if $(CHECKOV_SOFT_FAIL),--soft-fail) > "$(CHECKOV_OUT)"

## Validate .github/workflows/*.yml against check-jsonschema's vendored GitHub workflow schema
workflow-lint: review-tools
	$(REVIEW_TOOLS)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
