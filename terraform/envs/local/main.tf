# The local environment: the same modules, applied to moto server (an AWS API emulator on loopback).
# Credentials come from the environment (fake ones, set by churn_tools.deploy for ENV=local).
terraform {
  required_version = ">= 1.10"

  # State stays on this machine; its path is given at init (under .work, beside the moto server it describes).
  backend "local" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

variable "endpoint_url" {
  description = "URL of the moto server every AWS service is reached at, e.g. http://127.0.0.1:5000."
  type        = string

  validation {
    condition     = can(regex("^http://(127\\.0\\.0\\.1|localhost):[0-9]+$", var.endpoint_url))
    error_message = "endpoint_url must be a loopback http URL (the local root never talks to AWS)."
  }
}

locals {
  services = [
    "applicationautoscaling", "athena", "cloudwatch", "events", "glue", "iam", "kinesis", "kms", "logs",
    "s3", "sagemaker", "sns", "sts",
  ]
}

provider "aws" {
  region                      = var.region
  s3_use_path_style           = true
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {
    applicationautoscaling = var.endpoint_url
    athena                 = var.endpoint_url
    cloudwatch             = var.endpoint_url
    events                 = var.endpoint_url
    glue                   = var.endpoint_url
    iam                    = var.endpoint_url
    kinesis                = var.endpoint_url
    kms                    = var.endpoint_url
    logs                   = var.endpoint_url
    s3                     = var.endpoint_url
    sagemaker              = var.endpoint_url
    sns                    = var.endpoint_url
    sts                    = var.endpoint_url
  }
}

module "pipeline" {
  source = "../../modules/pipeline"

  environment        = "local"
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

  # Glue's table optimizers on the stream's Iceberg tables (moto has no optimizer API).
  table_optimizers_enabled = false

  live_instance_count = var.live_instance_count

  # moto evaluates bucket-policy conditions without the request context, so the TLS-only policy denies every
  # object request, and it serves plain HTTP anyway: the emulator cannot model it (terraform/README.md).
  emulator_exceptions = { tls_only_bucket_policy = false }
}
