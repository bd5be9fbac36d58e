variable "name_prefix" {
  description = "Prefix of alarm, topic and dashboard names (project and environment), e.g. churn-dev."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,40}$", var.name_prefix))
    error_message = "name_prefix must be 2-41 letters, digits or hyphens, starting with a letter."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the alarm topic."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic (each must confirm the subscription)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for email in var.alarm_emails : can(regex("^[^@ ]+@[^@ ]+\\.[^@ ]+$", email))])
    error_message = "alarm_emails must be e-mail addresses."
  }
}

variable "endpoint" {
  description = "The SageMaker endpoint and variant to watch."
  type = object({
    name    = string
    variant = string
  })
}

variable "glue_job_names" {
  description = "The scoring Glue jobs: their failures and their drift (ChurnPipeline/MaxFeaturePSI) raise an alarm."
  type        = list(string)

  validation {
    condition     = length(var.glue_job_names) > 0
    error_message = "glue_job_names must name at least one job."
  }
}

variable "stream_job_name" {
  description = "The streaming job, whose dead-letter metric (namespace ChurnPipeline, DeadLetterRecords) is watched."
  type        = string
}

variable "quality" {
  description = "The model-quality Glue job and the deployed model it watches: the job's name (its failures alarm too), the model's version and test AUC (metrics.json), and auc_margin: the alarm fires when the latest AUC the job publishes for that version falls below test_auc - auc_margin."
  type = object({
    job_name      = string
    model_version = string
    test_auc      = number
    auc_margin    = number
  })

  # auc_margin's range is the contract's (modules/glue validates the setting, as the quality job does).
  validation {
    condition     = var.quality.test_auc >= 0 && var.quality.test_auc <= 1
    error_message = "quality.test_auc must be an AUC between 0 and 1 (the model's metrics.json test.auc), got ${var.quality.test_auc}."
  }
}

variable "stream_name" {
  description = "Kinesis stream whose iterator age is watched."
  type        = string
}

variable "thresholds" {
  description = "Alarm thresholds: endpoint 5xx errors per 5 minutes, model latency (ms, average), iterator age (ms), dead letters per 5 minutes."
  type = object({
    endpoint_5xx_errors     = optional(number, 1)
    model_latency_ms        = optional(number, 500)
    iterator_age_ms         = optional(number, 300000)
    dead_letters_per_period = optional(number, 10)
  })
  default = {}

  validation {
    condition     = alltrue([for value in values(var.thresholds) : value > 0])
    error_message = "Every threshold must be positive."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
