# Infrastructure: Terraform modules and environment roots (terraform/), deployed by churn_tools.deploy.
# ENV=local runs against moto server: AWS_ENDPOINT_URL from `make local-up`, or one the deploy starts and
# `make destroy ENV=local` stops. dev/prod need AWS credentials and TF_STATE_BUCKET (terraform/README.md).
ENV ?= local
# A directory laid out as <dir>/registry.terraform.io/hashicorp/aws/...; empty: discovered (make tf-providers).
TF_PROVIDER_MIRROR ?=
# Ship the dependency wheels to the Glue workers: auto = yes for dev/prod, no for local (no Glue workers there).
DEPENDENCY_WHEELS ?= auto
# The model a plan/deploy ships: a model directory or the s3:// prefix of one (model.tar.gz, feature_spec.json,
# metrics.json). Required outside ENV=local; ENV=local defaults to MODEL_DIR, trained there if it holds no model.
MODEL ?=
# apply: the saved, reviewed plan (default: the one `make plan` saved for ENV).
PLAN ?=
DEPLOY_MODEL = $(or $(MODEL),$(if $(filter local,$(ENV)),$(MODEL_DIR)))
TF_DIRS := $(sort $(wildcard terraform/modules/*) $(wildcard terraform/envs/*))
TF_MODULES := $(sort $(wildcard terraform/modules/*))
DEPLOY = $(BIN)/churn-deploy --env $(ENV) $(if $(DEPLOY_MODEL),--model "$(DEPLOY_MODEL)") --work "$(WORK)" \
	--dependency-wheels $(DEPENDENCY_WHEELS) $(if $(TF_PROVIDER_MIRROR),--provider-mirror "$(TF_PROVIDER_MIRROR)")
# Every terraform call below runs with the generated CLI config (offline provider mirror + plugin cache).
TF := TF_CLI_CONFIG_FILE="$(abspath $(WORK))/terraform/terraformrc" TF_IN_AUTOMATION=1 terraform

.PHONY: tf-providers plan apply deploy destroy refresh tf-fmt tf-validate tf-test model-artifacts

## Find the Terraform AWS provider mirror and write the CLI config: make tf-providers [TF_PROVIDER_MIRROR=dir]
tf-providers: setup
	$(BIN)/churn-providers --work "$(WORK)" $(if $(TF_PROVIDER_MIRROR),--mirror "$(TF_PROVIDER_MIRROR)")

## The model to ship: MODEL as given; ENV=local only: train MODEL_DIR unless it holds a model (never outside local)
model-artifacts: setup
ifneq ($(MODEL),)
	@echo "model: $(MODEL)"
else ifeq ($(ENV),local)
	@$(MAKE) model MODEL_DIR="$(MODEL_DIR)"
else
	@echo "error: ENV=$(ENV) does not train a model implicitly: pass MODEL=<model directory or s3://bucket/prefix/ of one> (make train MODEL_DIR=dir makes one; docs/deployment.md)" >&2
	@exit 2
endif

## Package MODEL and plan an environment; saves the plan, its inputs' digests and the review summary: make plan ENV=... MODEL=...
plan: model-artifacts tf-providers
	$(DEPLOY) plan
	$(BIN)/churn-plan-review "$(ENV)=$(WORK)/terraform/$(ENV)/tfplan.json" \
		| tee "$(WORK)/terraform/$(ENV)/plan-review.md"

## Apply the saved, reviewed plan (refused if its inputs changed since): make apply ENV=... MODEL=... [PLAN=file]
apply: model-artifacts tf-providers
	$(DEPLOY) apply $(if $(PLAN),--plan "$(PLAN)")

## Package MODEL, upload, terraform apply: make deploy ENV=local|dev|prod MODEL=dir|s3://... (local: MODEL_DIR, trained if absent)
deploy: model-artifacts tf-providers
	$(DEPLOY) deploy

## Destroy an environment; fails (non-zero, naming what is left) unless everything is gone: make destroy ENV=...
destroy: tf-providers
	$(DEPLOY) destroy

## The state takes what AWS has, nothing in AWS changes (terraform apply -refresh-only; after a rolled-back rollout): make refresh ENV=...
refresh: tf-providers
	$(DEPLOY) refresh

## Rewrite every Terraform file in canonical format (CI runs terraform fmt -check)
tf-fmt:
	terraform fmt -recursive terraform

## terraform init (no backend) + validate on every module and environment root
tf-validate: tf-providers
	@set -e; for dir in $(TF_DIRS); do \
		echo "== $$dir"; $(TF) -chdir=$$dir init -backend=false -input=false >/dev/null; $(TF) -chdir=$$dir validate; \
	done

## Run each module's terraform test files (mock_provider, plan-level assertions and variable validation)
tf-test: tf-providers
	@set -e; for dir in $(TF_MODULES); do \
		echo "== $$dir"; $(TF) -chdir=$$dir init -backend=false -input=false >/dev/null; $(TF) -chdir=$$dir test; \
	done
