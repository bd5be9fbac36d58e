# The dev environment. State lives in S3 with native locking; the bucket is given at init time
# (TF_STATE_BUCKET, see terraform/README.md) because it must exist before this root does.
terraform {
  required_version = ">= 1.10"

  backend "s3" {
    key          = "churn-pipeline/dev/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = { ManagedBy = "terraform", Repository = "churn-pipeline" }
  }
}

module "pipeline" {
  source = "../../modules/pipeline"

  environment        = "dev"
  name_prefix        = var.settings.name_prefix
  force_destroy      = var.settings.force_destroy
  stream             = var.settings.stream
  endpoint           = var.settings.endpoint
  jobs               = var.settings.jobs
  analytics          = var.settings.analytics
  monitoring         = var.settings.monitoring
  artifacts          = var.artifacts
  data_columns       = var.data_columns
  data_named_queries = var.data_named_queries
  model_test_auc     = var.model_test_auc

  # Glue's table optimizers on the stream's Iceberg tables.
  table_optimizers_enabled = true

  live_instance_count = var.live_instance_count
}
