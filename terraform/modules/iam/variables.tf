variable "name_prefix" {
  description = "Prefix of the role names (project and environment), e.g. churn-dev."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,40}$", var.name_prefix))
    error_message = "name_prefix must be 2-41 letters, digits or hyphens, starting with a letter."
  }
}

variable "bucket_arns" {
  description = "ARNs of the data, artifacts and results buckets (keys: data, artifacts, results)."
  type        = map(string)

  validation {
    condition     = alltrue([for k in ["data", "artifacts", "results"] : can(regex("^arn:aws[a-z-]*:s3:::", var.bucket_arns[k]))])
    error_message = "bucket_arns needs S3 bucket ARNs under the keys data, artifacts and results."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the buckets, stream and logs."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "stream_arn" {
  description = "ARN of the Kinesis stream the streaming job reads."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kinesis:", var.stream_arn))
    error_message = "stream_arn must be a Kinesis stream ARN."
  }
}

variable "endpoint_name" {
  description = "Name of the SageMaker endpoint the jobs invoke."
  type        = string
}

variable "scoring_mode" {
  description = "The scoring jobs' --scoring_mode (modules/glue); null: the contract's default. Their roles may invoke the endpoint only in the endpoint mode."
  type        = string
  default     = null

  validation {
    condition     = var.scoring_mode == null || contains(jsondecode(file("${path.module}/../../contract.json")).scoring_modes, coalesce(var.scoring_mode, "-"))
    error_message = "scoring_mode must be one of the contract's scoring_modes (terraform/contract.json)."
  }
}

variable "xgboost_image_tag" {
  description = "Tag of the built-in XGBoost image the SageMaker role may pull."
  type        = string
  default     = "3.0-5"
}

variable "data_capture_enabled" {
  description = "Whether the endpoint captures data to results/data-capture/ (the SageMaker role then may write there)."
  type        = bool
  default     = false
}

variable "rollback_alarm_names" {
  description = "CloudWatch alarms a guarded rollout of the endpoint watches; SageMaker reads them with cloudwatch:DescribeAlarms. Empty: no guarded rollout."
  type        = list(string)
  default     = []
}

variable "database_name" {
  description = "The Glue database of the jobs' Iceberg tables (modules/glue creates it, `make deploy` the tables in it): the job roles' catalog grants name these tables' ARNs."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,254}$", var.database_name))
    error_message = "database_name must be lowercase letters, digits and underscores, starting with a letter."
  }
}

variable "table_optimizers_enabled" {
  description = "Whether the role Glue's table optimizers run as exists (dev and prod; moto has no optimizer API, so not envs/local)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
