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

variable "batch_role_arn" {
  description = "ARN of the role the batch scoring job runs as (its input, its Iceberg tables, the endpoint; nothing of the stream's)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", var.batch_role_arn))
    error_message = "batch_role_arn must be an IAM role ARN."
  }
}

variable "stream_role_arn" {
  description = "ARN of the role the streaming scoring job runs as (its stream, checkpoint and Iceberg tables, the endpoint; nothing of the batch job's)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", var.stream_role_arn))
    error_message = "stream_role_arn must be an IAM role ARN."
  }
}

variable "quality_role_arn" {
  description = "ARN of the role the model-quality job runs as (reads the scored datasets and outcomes/, writes its own outputs only)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", var.quality_role_arn))
    error_message = "quality_role_arn must be an IAM role ARN."
  }
}

variable "stream" {
  description = "The Kinesis stream the streaming job reads and the source table describes."
  type = object({
    name = string
    arn  = string
  })
}

variable "data_columns" {
  description = "The columns of the deployed model's data, in file order: the catalog columns of its dataset description (dataset.json; lower-cased names, Glue types), written by `make deploy` / `make plan` (churn_tools.deploy.package). The scored tables and the Kinesis source table open with them, then their fixed columns (terraform/contract.json)."
  type = list(object({
    name = string
    type = string
  }))

  # Glue takes a column name of 1-255 characters (https://docs.aws.amazon.com/glue/latest/webapi/API_Column.html)
  # and stores it lower-cased; the writers and the catalog match names that way (contract.dataset.canonical).
  validation {
    condition     = length(var.data_columns) > 0 && alltrue([for c in var.data_columns : length(c.name) > 0 && length(c.name) <= 255 && c.name == lower(trimspace(c.name))])
    error_message = "data_columns must name at least one column, each 1-255 characters, lower-case and trimmed (as the Glue catalog stores it), got ${jsonencode([for c in var.data_columns : c.name])}."
  }

  validation {
    condition     = alltrue([for c in var.data_columns : contains(local.contract.data_column_types, c.type)])
    error_message = "data_columns types must be one of ${jsonencode(local.contract.data_column_types)}, got ${jsonencode(distinct([for c in var.data_columns : c.type]))}."
  }

  validation {
    condition     = length(distinct([for c in var.data_columns : c.name])) == length(var.data_columns)
    error_message = "data_columns names must be distinct, got ${jsonencode([for c in var.data_columns : c.name])}."
  }

  # A data column named like a fixed column after it (churn_probability, record_id, ...) would make two columns
  # of one name in a table.
  validation {
    condition     = length(setintersection([for c in var.data_columns : c.name], local.fixed_column_names)) == 0
    error_message = "data_columns must not reuse a name of the columns the jobs add after them, got ${jsonencode(setintersection([for c in var.data_columns : c.name], local.fixed_column_names))}."
  }
}

variable "region" {
  description = "Region of the jobs' AWS clients on the workers (job argument --aws_region): a Glue worker's environment does not promise one."
  type        = string

  validation {
    condition     = can(regex(local.contract.aws_region_pattern, var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "endpoint_name" {
  description = "SageMaker endpoint the jobs invoke in endpoint mode."
  type        = string
}

variable "artifacts" {
  description = "Content-addressed keys in the artifacts bucket, written by the packaging step (churn_tools.deploy.package)."
  type = object({
    batch_script_key   = string
    stream_script_key  = string
    quality_script_key = string
    model_prefix       = string
    # Wheels installed on the workers (job package + its dependencies), per job: Glue versions differ in Python.
    # The quality job runs on the batch job's Glue version, with its wheels.
    batch_python_modules  = list(string)
    stream_python_modules = list(string)
  })

  validation {
    condition = alltrue([
      for key in [var.artifacts.batch_script_key, var.artifacts.stream_script_key, var.artifacts.quality_script_key] : can(regex("^code/[0-9a-f]{16,64}/[a-z_]+\\.py$", key))
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
  description = "Settings the jobs share: scoring mode (embedded or endpoint) and churn threshold. Unset: the contract's defaults (terraform/contract.json)."
  type = object({
    mode      = optional(string)
    threshold = optional(number)
  })
  default = {}

  # Allowed values, patterns and messages come from the contract the job code checks its arguments with
  # (churn_pipeline.contract.settings): Terraform accepts a value exactly when the job does.
  validation {
    condition     = var.scoring.mode == null || contains(local.contract.scoring_modes, coalesce(var.scoring.mode, "-"))
    error_message = "${local.contract.settings.scoring_mode.tfvars_key} (job argument --scoring_mode) must be ${local.contract.settings.scoring_mode.allowed}, got ${jsonencode(var.scoring.mode)}."
  }

  validation {
    condition     = var.scoring.threshold == null || (coalesce(var.scoring.threshold, 0.5) > local.contract.threshold_bounds[0] && coalesce(var.scoring.threshold, 0.5) < local.contract.threshold_bounds[1])
    error_message = "${local.contract.settings.threshold.tfvars_key} (job argument --threshold) must be ${local.contract.settings.threshold.allowed}, got ${jsonencode(var.scoring.threshold)}."
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
  description = "Streaming scoring job: Glue version (one that supports Kinesis sources), workers, window and start position (unset: the contract's defaults), and maintenance_window, the weekly hour (GMT, \"Sun:02\") in which Glue restarts the run for its maintenance instead of 7 days after the run started."
  type = object({
    glue_version       = optional(string, "5.1")
    worker_type        = optional(string, "G.1X")
    number_of_workers  = optional(number, 2)
    window_size        = optional(string)
    starting_position  = optional(string)
    maintenance_window = optional(string, "Sun:02")
  })
  default = {}

  # Glue's MaintenanceWindow pattern (botocore's glue service model, shape MaintenanceWindow); the provider passes
  # any string through (5.100.0), so CreateJob would be the first to refuse it.
  validation {
    condition     = can(regex("^(Sun|Mon|Tue|Wed|Thu|Fri|Sat):([01]?[0-9]|2[0-3])$", var.stream_job.maintenance_window))
    error_message = "stream_job.maintenance_window must be a weekday and an hour in GMT as Glue takes it, Sun:02 or Wed:23 (Sun-Sat, 0-23), got ${jsonencode(var.stream_job.maintenance_window)}."
  }

  validation {
    condition     = var.stream_job.starting_position == null || contains(local.contract.starting_positions, coalesce(var.stream_job.starting_position, "-")) || can(regex(local.contract.starting_timestamp_pattern, coalesce(var.stream_job.starting_position, "-")))
    error_message = "${local.contract.settings.starting_position.tfvars_key} (job argument --starting_position) must be ${local.contract.settings.starting_position.allowed}, got ${jsonencode(var.stream_job.starting_position)}."
  }

  validation {
    condition     = var.stream_job.window_size == null || can(regex(local.contract.window_size_pattern, coalesce(var.stream_job.window_size, "-")))
    error_message = "${local.contract.settings.window_size.tfvars_key} (job argument --window_size) must be ${local.contract.settings.window_size.allowed}, got ${jsonencode(var.stream_job.window_size)}."
  }
}

variable "quality_job" {
  description = "Model-quality job (on the batch job's Glue version and wheels): workers, timeout, its daily schedule (a Glue cron expression, UTC), and its settings horizon_days (how much older than an outcome a score may be) and auc_margin (the alarm fires below the model's test AUC minus it); unset settings take the contract's defaults."
  type = object({
    worker_type       = optional(string, "G.1X")
    number_of_workers = optional(number, 2)
    timeout_minutes   = optional(number, 60)
    schedule          = optional(string, "cron(0 6 * * ? *)")
    horizon_days      = optional(number)
    auc_margin        = optional(number)
  })
  default = {}

  validation {
    condition     = var.quality_job.number_of_workers >= 2 && var.quality_job.timeout_minutes >= 1
    error_message = "quality_job needs at least 2 workers and a timeout of at least 1 minute."
  }

  validation {
    condition     = can(regex("^cron\\(.+\\)$", var.quality_job.schedule))
    error_message = "quality_job.schedule must be a Glue cron expression (UTC) such as cron(0 6 * * ? *), got ${jsonencode(var.quality_job.schedule)}."
  }

  # Ranges and messages from the contract the quality job checks its arguments with
  # (churn_pipeline.contract.settings): Terraform accepts a value exactly when the job does.
  validation {
    condition     = var.quality_job.horizon_days == null || (floor(coalesce(var.quality_job.horizon_days, 1)) == coalesce(var.quality_job.horizon_days, 1) && coalesce(var.quality_job.horizon_days, 1) >= local.contract.horizon_days_bounds[0] && coalesce(var.quality_job.horizon_days, 1) <= local.contract.horizon_days_bounds[1])
    error_message = "${local.contract.settings.horizon_days.tfvars_key} (job argument --horizon_days) must be ${local.contract.settings.horizon_days.allowed}, got ${jsonencode(var.quality_job.horizon_days)}."
  }

  validation {
    condition     = var.quality_job.auc_margin == null || (coalesce(var.quality_job.auc_margin, 0) >= local.contract.auc_margin_bounds[0] && coalesce(var.quality_job.auc_margin, 0) < local.contract.auc_margin_bounds[1])
    error_message = "${local.contract.settings.auc_margin.tfvars_key} (job argument --auc_margin) must be ${local.contract.settings.auc_margin.allowed}, got ${jsonencode(var.quality_job.auc_margin)}."
  }
}

variable "table_optimizers" {
  description = "Glue table optimizers (compaction, snapshot retention, orphan-file deletion) on the stream's Iceberg tables, or null for none (envs/local: moto has no optimizer API). role_arn: the role they run as (modules/iam); orphan_file_retention_days: how long a file no snapshot references is kept (longer than the longest downtime the streaming job tolerates, terraform/README.md); snapshot_retention_days and snapshots_to_retain: what retention keeps (time travel reaches that far back)."
  type = object({
    role_arn                   = string
    orphan_file_retention_days = number
    snapshot_retention_days    = optional(number, 7)
    snapshots_to_retain        = optional(number, 10)
  })
  default = null

  validation {
    condition     = var.table_optimizers == null || try(var.table_optimizers.orphan_file_retention_days >= 1 && var.table_optimizers.snapshot_retention_days >= 1 && var.table_optimizers.snapshots_to_retain >= 1, false)
    error_message = "table_optimizers: orphan_file_retention_days, snapshot_retention_days and snapshots_to_retain must each be at least 1."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
