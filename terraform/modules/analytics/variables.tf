variable "name" {
  description = "Name of the Athena workgroup."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9._-]{1,128}$", var.name))
    error_message = "name must be 1-128 letters, digits, periods, underscores or hyphens."
  }
}

variable "results_bucket" {
  description = "Bucket for query results (written under athena/, which the storage module expires)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key that encrypts query results."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "database_name" {
  description = "Glue catalog database the named queries read."
  type        = string
}

variable "bytes_scanned_cutoff_per_query" {
  description = "Cancel a query that would scan more than this many bytes (cost guard; at least 10 MB)."
  type        = number
  default     = 10737418240

  validation {
    condition     = var.bytes_scanned_cutoff_per_query >= 10485760
    error_message = "bytes_scanned_cutoff_per_query must be at least 10485760 (10 MB), the Athena minimum."
  }
}

variable "data_named_queries" {
  description = "Named queries that read the data's own columns (churn rate by each categorical feature, latest scores by id): templates like the contract's, generated from the deployed model's dataset description (churn_tools.analytics)."
  type = map(object({
    description = string
    template    = string
  }))
  default = {}

  validation {
    condition     = alltrue([for name in keys(var.data_named_queries) : can(regex("^[a-z0-9_]{1,128}$", name))])
    error_message = "data_named_queries names must be 1-128 lower-case letters, digits or underscores."
  }
}

variable "create_named_queries" {
  description = "Create the saved queries (churn rate by each categorical feature, score deciles, latest predictions, dead-letter summary, drift)."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let destroy delete the workgroup with its query history."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
