# Infrastructure: Terraform modules and environment roots (terraform/), deployed by churn_tools.deploy.
# ENV=local runs against moto server: AWS_ENDPOINT_URL from `make local-up`, or one the deploy starts and
# `make destroy ENV=local` stops. dev/prod need AWS credentials and TF_STATE_BUCKET (terraform/README.md).
ENV ?= local
# A directory laid out as <dir>/registry.terraform.io/hashicorp/aws/...; empty: discovered (make tf-providers).
TF_PROVIDER_MIRROR ?=
# Ship the dependency wheels to the Glue workers: auto = yes for dev/prod, no for local (no Glue workers there).
DEPENDENCY_WHEELS ?= auto
TF_DIRS := $(sort $(wildcard terraform/modules/*) $(wildcard terraform/envs/*))
TF_MODULES := $(sort $(wildcard terraform/modules/*))
DEPLOY := $(BIN)/churn-deploy --env $(ENV) --model-dir "$(MODEL_DIR)" --work "$(WORK)" \
	--dependency-wheels $(DEPENDENCY_WHEELS) $(if $(TF_PROVIDER_MIRROR),--provider-mirror "$(TF_PROVIDER_MIRROR)")
# Every terraform call below runs with the generated CLI config (offline provider mirror + plugin cache).
TF := TF_CLI_CONFIG_FILE="$(abspath $(WORK))/terraform/terraformrc" TF_IN_AUTOMATION=1 terraform

.PHONY: tf-providers plan deploy destroy tf-fmt tf-validate tf-test model-artifacts

## Find the Terraform AWS provider mirror and write the CLI config: make tf-providers [TF_PROVIDER_MIRROR=dir]
tf-providers: setup
	$(BIN)/churn-providers --work "$(WORK)" $(if $(TF_PROVIDER_MIRROR),--mirror "$(TF_PROVIDER_MIRROR)")

## Train only if MODEL_DIR holds no model yet (deploy and plan reuse an existing one)
model-artifacts: setup
	@$(MAKE) model MODEL_DIR="$(MODEL_DIR)"

## Package and plan an environment; saves the plan and prints the review summary (risks, cost): make plan ENV=...
plan: model-artifacts tf-providers
	$(DEPLOY) plan
	$(BIN)/churn-plan-review "$(ENV)=$(WORK)/terraform/$(ENV)/tfplan.json" \
		| tee "$(WORK)/terraform/$(ENV)/plan-review.md"

## Train (or reuse MODEL_DIR), package, upload, terraform apply: make deploy ENV=local|dev|prod
deploy: model-artifacts tf-providers
	$(DEPLOY) deploy

## Destroy an environment; fails (non-zero, naming what is left) unless everything is gone: make destroy ENV=...
destroy: tf-providers
	$(DEPLOY) destroy

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
