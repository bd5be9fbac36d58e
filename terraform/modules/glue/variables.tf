variable "name_prefix" {
  description = "Prefix of job, trigger and security configuration names (project and environment), e.g. churn-dev."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name_prefix))
    error_message = "name_prefix must be 3-41 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "database_name" {
  description = "Name of the Glue catalog database (Athena requires lowercase letters, digits and underscores)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,254}$", var.database_name))
    error_message = "database_name must be lowercase letters, digits and underscores, starting with a letter."
  }
}

variable "buckets" {
  description = "Bucket names per purpose (keys: data, artifacts, results)."
  type = object({
    data      = string
    artifacts = string
    results   = string
  })
}

variable "kms_key_arn" {
  description = "KMS key of the security configuration (job output, logs, bookmarks)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "role_arn" {
  description = "ARN of the role both jobs run as."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", var.role_arn))
    error_message = "role_arn must be an IAM role ARN."
  }
}

variable "stream" {
  description = "The Kinesis stream the streaming job reads and the source table describes."
  type = object({
    name = string
    arn  = string
  })
}

variable "endpoint_name" {
  description = "SageMaker endpoint the jobs invoke in endpoint mode."
  type        = string
}

variable "artifacts" {
  description = "Content-addressed keys in the artifacts bucket, written by the packaging step (churn_pipeline.deploy.package)."
  type = object({
    batch_script_key  = string
    stream_script_key = string
    model_prefix      = string
    # Wheels installed on the workers (job package + its dependencies), per job: Glue versions differ in Python.
    batch_python_modules  = list(string)
    stream_python_modules = list(string)
  })

  validation {
    condition = alltrue([
      for key in [var.artifacts.batch_script_key, var.artifacts.stream_script_key] : can(regex("^code/[0-9a-f]{16,64}/[a-z_]+\\.py$", key))
    ])
    error_message = "artifacts.*_script_key must look like code/<content hash>/<script>.py."
  }

  validation {
    condition     = can(regex("^models/[0-9a-f]{16,64}/$", var.artifacts.model_prefix))
    error_message = "artifacts.model_prefix must look like models/<content hash>/."
  }

  validation {
    condition = alltrue([
      for key in concat(var.artifacts.batch_python_modules, var.artifacts.stream_python_modules) : can(regex("^wheels/[0-9a-f]{16,64}/[^/]+\\.whl$", key))
    ])
    error_message = "artifacts.*_python_modules must be keys like wheels/<content hash>/<name>.whl."
  }
}

variable "scoring" {
  description = "Settings the jobs share: where scoring happens (endpoint or in-process local model) and the churn threshold."
  type = object({
    mode          = optional(string, "endpoint")
    threshold     = optional(number, 0.5)
    output_format = optional(string, "parquet")
  })
  default = {}

  validation {
    condition     = contains(["endpoint", "local"], var.scoring.mode)
    error_message = "scoring.mode must be endpoint or local."
  }

  validation {
    condition     = var.scoring.threshold > 0 && var.scoring.threshold < 1
    error_message = "scoring.threshold must be strictly between 0 and 1."
  }

  validation {
    condition     = var.scoring.output_format == "parquet"
    error_message = "scoring.output_format must be parquet: the catalog tables read Parquet."
  }
}

variable "batch_job" {
  description = "Batch scoring job: Glue version, workers, timeout and an optional schedule (a Glue cron expression)."
  type = object({
    glue_version      = optional(string, "6.0")
    worker_type       = optional(string, "G.1X")
    number_of_workers = optional(number, 2)
    timeout_minutes   = optional(number, 60)
    schedule          = optional(string)
  })
  default = {}

  validation {
    condition     = var.batch_job.number_of_workers >= 2 && var.batch_job.timeout_minutes >= 1
    error_message = "batch_job needs at least 2 workers and a timeout of at least 1 minute."
  }

  validation {
    condition     = var.batch_job.schedule == null || can(regex("^cron\\(.+\\)$", coalesce(var.batch_job.schedule, "x")))
    error_message = "batch_job.schedule must be a Glue cron expression such as cron(0 2 * * ? *)."
  }
}

variable "stream_job" {
  description = "Streaming scoring job: Glue version (one that supports Kinesis sources), workers, window and start position."
  type = object({
    glue_version      = optional(string, "5.1")
    worker_type       = optional(string, "G.1X")
    number_of_workers = optional(number, 2)
    window_size       = optional(string, "100 seconds")
    starting_position = optional(string, "TRIM_HORIZON")
  })
  default = {}

  validation {
    condition     = contains(["TRIM_HORIZON", "LATEST"], var.stream_job.starting_position)
    error_message = "stream_job.starting_position must be TRIM_HORIZON or LATEST."
  }

  validation {
    condition     = can(regex("^[0-9]+ (second|seconds|minute|minutes)$", var.stream_job.window_size))
    error_message = "stream_job.window_size must look like \"100 seconds\"."
  }
}

variable "partition_projection_start_year" {
  description = "First ingest_year partition projection enumerates for the streaming tables."
  type        = number
  default     = 2025

  validation {
    condition     = var.partition_projection_start_year >= 2000 && var.partition_projection_start_year <= 2100
    error_message = "partition_projection_start_year must be a year between 2000 and 2100."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
