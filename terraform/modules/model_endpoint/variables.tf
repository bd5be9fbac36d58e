variable "name" {
  description = "Name of the SageMaker endpoint; models and endpoint configurations are named after it."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,40}$", var.name))
    error_message = "name must be 1-41 letters, digits or single hyphens (room is left for the model version suffix)."
  }
}

variable "artifacts_bucket" {
  description = "Name of the bucket holding the model archive."
  type        = string
}

variable "model_artifact_key" {
  description = "Content-addressed key of model.tar.gz in the artifacts bucket (written by the packaging step)."
  type        = string

  validation {
    condition     = can(regex("^models/[0-9a-f]{16,64}/model\\.tar\\.gz$", var.model_artifact_key))
    error_message = "model_artifact_key must look like models/<content hash>/model.tar.gz."
  }
}

variable "model_version" {
  description = "Version of the model (content hash from metrics.json); a new version rolls the endpoint to a new configuration."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{8,16}$", var.model_version))
    error_message = "model_version must be 8-16 lowercase hex characters."
  }
}

variable "xgboost_image_tag" {
  description = "Tag of the SageMaker built-in XGBoost image; must match the xgboost version the model was trained with."
  type        = string
  default     = "3.0-5"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+-[0-9]+$", var.xgboost_image_tag))
    error_message = "xgboost_image_tag must look like 3.0-5."
  }
}

variable "execution_role_arn" {
  description = "ARN of the role SageMaker assumes to pull the image and read the model."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", var.execution_role_arn))
    error_message = "execution_role_arn must be an IAM role ARN."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the instance storage volume and captured data."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "instance_type" {
  description = "Instance type of the production variant (ignored when serverless is set)."
  type        = string
  default     = "ml.m5.large"

  validation {
    condition     = startswith(var.instance_type, "ml.")
    error_message = "instance_type must be a SageMaker instance type such as ml.m5.large."
  }
}

variable "initial_instance_count" {
  description = "Instances at creation (ignored when serverless is set); autoscaling moves it between min and max afterwards."
  type        = number
  default     = 1

  validation {
    condition     = var.initial_instance_count >= 1
    error_message = "initial_instance_count must be at least 1."
  }
}

variable "serverless" {
  description = "Serverless inference instead of instances: memory (MB) and maximum concurrency. Null for instances. A serverless endpoint has no KMS key, autoscaling, network isolation or data capture (SageMaker's feature exclusions for Serverless Inference)."
  type = object({
    memory_size_in_mb = number
    max_concurrency   = number
  })
  default = null

  validation {
    condition     = var.serverless == null || contains([1024, 2048, 3072, 4096, 5120, 6144], try(var.serverless.memory_size_in_mb, 0))
    error_message = "serverless.memory_size_in_mb must be one of 1024, 2048, 3072, 4096, 5120, 6144."
  }
}

variable "autoscaling" {
  description = "Target tracking on invocations per instance: capacity range and target. Null disables it (always for serverless)."
  type = object({
    min_capacity                    = number
    max_capacity                    = number
    target_invocations_per_instance = number
    scale_in_cooldown_seconds       = optional(number, 300)
    scale_out_cooldown_seconds      = optional(number, 60)
  })
  default = {
    min_capacity                    = 1
    max_capacity                    = 2
    target_invocations_per_instance = 100
  }

  validation {
    condition     = var.autoscaling == null || try(var.autoscaling.min_capacity >= 1 && var.autoscaling.max_capacity >= var.autoscaling.min_capacity, false)
    error_message = "autoscaling needs 1 <= min_capacity <= max_capacity."
  }
}

variable "data_capture" {
  description = "Capture a sample of requests and responses to S3 (destination s3://bucket/prefix). Null disables it. Ignored, with a plan-time warning, when serverless is set (Serverless Inference does not support data capture)."
  type = object({
    destination_s3_uri          = string
    initial_sampling_percentage = optional(number, 10)
  })
  default = null

  validation {
    condition     = var.data_capture == null || can(regex("^s3://", try(var.data_capture.destination_s3_uri, "")))
    error_message = "data_capture.destination_s3_uri must start with s3://."
  }
}

variable "rollout" {
  description = "Guarded rollout (SageMaker deployment guardrails): blue/green with a canary of canary_instances instances of the new fleet (at most half of initial_instance_count), baked wait_interval_in_seconds, rolled back when any of rollback_alarm_names fires. Serverless and single-instance endpoints shift all at once (a canary must be at most half the fleet), with the same baking and rollback. Null: SageMaker's default, all traffic at once with no rollback (envs/local only: moto does not model it)."
  type = object({
    rollback_alarm_names                 = list(string)
    canary_instances                     = optional(number, 1)
    wait_interval_in_seconds             = optional(number, 900)
    termination_wait_in_seconds          = optional(number, 0)
    maximum_execution_timeout_in_seconds = optional(number, 3600)
  })
  default = null

  # Ranges of the UpdateEndpoint API: AutoRollbackConfig.Alarms 1-10, CapacitySize >= 1 (and a canary of at most half
  # the new fleet), TrafficRoutingConfig.WaitIntervalInSeconds 0-3600, TerminationWaitInSeconds 0-3600,
  # MaximumExecutionTimeoutInSeconds above the waits:
  # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_BlueGreenUpdatePolicy.html
  # The API takes a timeout up to 28800, the provider only 600-14400 (hashicorp/terraform-provider-aws,
  # internal/service/sagemaker/endpoint.go: validation.IntBetween(600, 14400)); the stricter bound is the one mirrored.
  validation {
    condition     = var.rollout == null || try(length(var.rollout.rollback_alarm_names) >= 1 && length(var.rollout.rollback_alarm_names) <= 10, false)
    error_message = "rollout.rollback_alarm_names must name 1-10 CloudWatch alarms (without one, nothing can roll a bad model back)."
  }

  validation {
    condition     = var.rollout == null || try(var.rollout.canary_instances >= 1 && (var.initial_instance_count < 2 || var.rollout.canary_instances * 2 <= var.initial_instance_count), false)
    error_message = "rollout.canary_instances must be at least 1 and at most half of initial_instance_count: SageMaker wants the canary at most 50% of the variant's instances."
  }

  validation {
    condition = var.rollout == null || try(
      var.rollout.wait_interval_in_seconds >= 0 && var.rollout.wait_interval_in_seconds <= 3600 &&
      var.rollout.termination_wait_in_seconds >= 0 && var.rollout.termination_wait_in_seconds <= 3600 &&
      var.rollout.maximum_execution_timeout_in_seconds >= 600 && var.rollout.maximum_execution_timeout_in_seconds <= 14400 &&
      var.rollout.maximum_execution_timeout_in_seconds > var.rollout.wait_interval_in_seconds + var.rollout.termination_wait_in_seconds,
    false)
    error_message = "rollout: wait_interval_in_seconds and termination_wait_in_seconds must be 0-3600, maximum_execution_timeout_in_seconds 600-14400 (the AWS provider's limit) and larger than both waits together."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
