variable "environment" {
  description = "Environment name: local, dev or prod."
  type        = string

  validation {
    condition     = contains(["local", "dev", "prod"], var.environment)
    error_message = "environment must be local, dev or prod."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name, e.g. churn-dev."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,20}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 4-22 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "force_destroy" {
  description = "Let destroy delete non-empty buckets and the Athena history (local and dev only)."
  type        = bool
  default     = false
}

variable "emulator_exceptions" {
  description = "Features the AWS emulator of the local root cannot model (terraform/README.md); never set outside envs/local."
  type = object({
    tls_only_bucket_policy = optional(bool, true)
  })
  default = {}
}

variable "stream" {
  description = "Kinesis stream capacity and retention."
  type = object({
    capacity_mode   = optional(string, "ON_DEMAND")
    shard_count     = optional(number, 1)
    retention_hours = optional(number, 24)
  })
  default = {}
}

variable "endpoint" {
  description = "SageMaker endpoint: instances or serverless, autoscaling, data capture, image tag."
  type = object({
    instance_type          = optional(string, "ml.m5.large")
    initial_instance_count = optional(number, 1)
    serverless = optional(object({
      memory_size_in_mb = number
      max_concurrency   = number
    }))
    autoscaling = optional(object({
      min_capacity                    = number
      max_capacity                    = number
      target_invocations_per_instance = number
      scale_in_cooldown_seconds       = optional(number, 300)
      scale_out_cooldown_seconds      = optional(number, 60)
    }))
    data_capture_enabled      = optional(bool, false)
    data_capture_sampling_pct = optional(number, 10)
    xgboost_image_tag         = optional(string, "3.0-5")
    # Guarded rollout (SageMaker deployment guardrails), on unless enabled = false: a canary of canary_instances of the
    # new fleet (fleets of 2+ instances; else all at once) bakes wait_interval_in_seconds (900 s: the latency alarm's three 5-minute periods) and is rolled back
    # when the monitoring module's endpoint 5xx or latency alarm fires. modules/model_endpoint validates it.
    rollout = optional(object({
      enabled                              = optional(bool, true)
      canary_instances                     = optional(number, 1)
      wait_interval_in_seconds             = optional(number, 900)
      termination_wait_in_seconds          = optional(number, 0)
      maximum_execution_timeout_in_seconds = optional(number, 3600)
    }), {})
  })
  default = {}
}

variable "jobs" {
  description = "Glue jobs: scoring settings shared by the scoring jobs, then the batch, streaming and model-quality job settings."
  type = object({
    # Unset: the contract's defaults (terraform/contract.json); modules/glue validates them.
    scoring = optional(object({
      mode      = optional(string)
      threshold = optional(number)
    }), {})
    batch = optional(object({
      glue_version      = optional(string, "6.0")
      worker_type       = optional(string, "G.1X")
      number_of_workers = optional(number, 2)
      timeout_minutes   = optional(number, 60)
      schedule          = optional(string)
    }), {})
    stream = optional(object({
      glue_version      = optional(string, "5.1")
      worker_type       = optional(string, "G.1X")
      number_of_workers = optional(number, 2)
      window_size       = optional(string)
      starting_position = optional(string)
      # Weekly hour (GMT) of Glue's maintenance restarts of the streaming job; modules/glue validates it.
      maintenance_window = optional(string, "Sun:02")
    }), {})
    # The model-quality job, on the batch job's Glue version; a daily schedule in UTC. horizon_days and
    # auc_margin unset: the contract's defaults; modules/glue validates them.
    quality = optional(object({
      worker_type       = optional(string, "G.1X")
      number_of_workers = optional(number, 2)
      timeout_minutes   = optional(number, 60)
      schedule          = optional(string, "cron(0 6 * * ? *)")
      horizon_days      = optional(number)
      auc_margin        = optional(number)
    }), {})
  })
  default = {}
}

variable "analytics" {
  description = "Athena settings: saved queries on or off, per-query scan cutoff."
  type = object({
    create_named_queries           = optional(bool, true)
    bytes_scanned_cutoff_per_query = optional(number, 10737418240)
  })
  default = {}
}

variable "monitoring" {
  description = "Alarm recipients and thresholds."
  type = object({
    alarm_emails = optional(list(string), [])
    thresholds = optional(object({
      endpoint_5xx_errors     = optional(number, 1)
      model_latency_ms        = optional(number, 500)
      iterator_age_ms         = optional(number, 300000)
      dead_letters_per_period = optional(number, 10)
    }), {})
  })
  default = {}
}

variable "artifacts" {
  description = "What the packaging step uploaded (content-addressed keys in the artifacts bucket) and the model version."
  type = object({
    batch_script_key      = string
    stream_script_key     = string
    quality_script_key    = string
    model_artifact_key    = string
    model_prefix          = string
    model_version         = string
    batch_python_modules  = list(string)
    stream_python_modules = list(string)
  })
}

variable "data_columns" {
  description = "The deployed model's data columns (its dataset description's catalog columns, in file order), written with `artifacts` by the packaging step: the catalog tables open with them (validated by modules/glue)."
  type = list(object({
    name = string
    type = string
  }))
}

variable "data_named_queries" {
  description = "The Athena named queries that read the data's own columns (generated from the deployed model's dataset description by the packaging step), added to the contract's fixed ones."
  type = map(object({
    description = string
    template    = string
  }))
  default = {}
}

variable "model_test_auc" {
  description = "The deployed model's AUC on its held-out test rows (metrics.json test.auc), written by the packaging step beside `data_columns`: the model-quality alarm fires when the quality job's latest AUC falls below it minus jobs.quality.auc_margin."
  type        = number

  validation {
    condition     = var.model_test_auc >= 0 && var.model_test_auc <= 1
    error_message = "model_test_auc must be an AUC between 0 and 1 (the model's metrics.json test.auc), got ${var.model_test_auc}."
  }
}

variable "table_optimizers_enabled" {
  description = "Whether Glue's table optimizers (compaction, snapshot retention, orphan-file deletion) maintain the stream's Iceberg tables, with a role of their own: true in dev and prod; false in envs/local, whose moto has no optimizer API."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource (Project and Environment are always added)."
  type        = map(string)
  default     = {}
}

variable "live_instance_count" {
  description = "Instances the deployed endpoint runs now (DescribeEndpoint), set by `make deploy` when an autoscaler owns the count: a rollout starts the new fleet at it instead of endpoint.initial_instance_count (modules/model_endpoint). Null: initial_instance_count."
  type        = number
  default     = null
}
