variable "name_prefix" {
  description = "Prefix of every name (project and environment), e.g. churn-dev."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 4-32 lowercase letters, digits or hyphens, starting with a letter (it becomes part of bucket names)."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete non-empty buckets. True only where the data is disposable (local, dev)."
  type        = bool
  default     = false
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the customer-managed key is deleted after destroy."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30 (the range KMS accepts)."
  }
}

variable "retired_checkpoint_expiration_days" {
  description = "Days after which objects under checkpoints-retired/ in the data bucket expire: streaming checkpoints an operator retired (moved there) after deploying a new checkpoint_path. Live checkpoints under checkpoints/ never expire."
  type        = number
  default     = 30

  validation {
    condition     = var.retired_checkpoint_expiration_days >= 1 && floor(var.retired_checkpoint_expiration_days) == var.retired_checkpoint_expiration_days
    error_message = "retired_checkpoint_expiration_days must be a whole number of days, at least 1."
  }
}

variable "temporary_expiration_days" {
  description = "Days after which objects under tmp/ (Glue temporary data, Athena query results) expire."
  type        = number
  default     = 7

  validation {
    condition     = var.temporary_expiration_days >= 1
    error_message = "temporary_expiration_days must be at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced object version is kept before it expires (versioning keeps history, this bounds its cost)."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "tls_only_policy" {
  description = "Attach the bucket policy that denies every request not made over TLS. Only an emulator without TLS (the local root) turns it off."
  type        = bool
  default     = true
}

variable "key_service_access" {
  description = "AWS services allowed to use the key on our behalf, each granted as its documentation gives: log_groups, names or wildcard patterns of this account's and region's CloudWatch Logs log groups the key may encrypt (e.g. /aws-glue/*); alarms_to_sns, CloudWatch alarms publish to SNS topics encrypted with the key; events_to_sns, EventBridge rules deliver to SNS topics encrypted with the key."
  type = object({
    log_groups    = optional(list(string), [])
    alarms_to_sns = optional(bool, false)
    events_to_sns = optional(bool, false)
  })
  default  = {}
  nullable = false

  validation {
    # Log group names: 1-512 of a-z A-Z 0-9 _ - / . # (CloudWatch Logs), plus * for a pattern.
    condition     = alltrue([for group in var.key_service_access.log_groups : can(regex("^[A-Za-z0-9_./#*-]{1,512}$", group))])
    error_message = "key_service_access.log_groups must be log group names or patterns (letters, digits, _ - / . # and *), not ARNs."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
