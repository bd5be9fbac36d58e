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

variable "checkpoint_expiration_days" {
  description = "Days after which objects under checkpoints/ in the data bucket expire (streaming checkpoints of stopped jobs)."
  type        = number
  default     = 30

  validation {
    condition     = var.checkpoint_expiration_days >= 1
    error_message = "checkpoint_expiration_days must be at least 1."
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

variable "key_service_principals" {
  description = "Service principals (e.g. logs.<region>.amazonaws.com) allowed to use the key for the resources they encrypt on our behalf."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
