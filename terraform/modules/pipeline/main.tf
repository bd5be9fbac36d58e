data "aws_region" "current" {}

locals {
  tags          = merge(var.tags, { Project = "churn-pipeline", Environment = var.environment })
  endpoint_name = "${var.name_prefix}-churn"
  database_name = replace("${var.name_prefix}_churn", "-", "_")
  # Off only where the emulator cannot model it (envs/local, terraform/README.md); the plan review flags turning it off.
  guarded_rollout = var.endpoint.rollout.enabled
}

module "storage" {
  source = "../storage"

  name_prefix     = var.name_prefix
  force_destroy   = var.force_destroy
  tls_only_policy = var.emulator_exceptions.tls_only_bucket_policy
  # Services that use the key on our behalf, one documented statement each (storage/main.tf):
  key_service_access = {
    # The Glue jobs' security configuration encrypts their CloudWatch logs with the key. Every log group name
    # Glue documents for jobs starts with /aws-glue/ (/aws-glue/jobs/output and /aws-glue/jobs/error, and with a
    # security configuration /aws-glue/jobs-<role name>-<security configuration name>/..., API_JobRun.html,
    # LogGroupName), and the Glue role may write logs only under /aws-glue/ (iam module). terraform/README.md, "First deployment checklist", says how to confirm it.
    log_groups = ["/aws-glue/*"]
    # The alarm topic (monitoring) is encrypted with the key; alarms and the Glue job-failure rule publish to it.
    alarms_to_sns = true
    events_to_sns = true
  }
  tags = local.tags
}

module "stream" {
  source = "../stream"

  name            = "${var.name_prefix}-customer-churn"
  capacity_mode   = var.stream.capacity_mode
  shard_count     = var.stream.shard_count
  retention_hours = var.stream.retention_hours
  kms_key_arn     = module.storage.kms_key_arn
  tags            = local.tags
}

module "iam" {
  source = "../iam"

  name_prefix          = var.name_prefix
  bucket_arns          = module.storage.bucket_arns
  kms_key_arn          = module.storage.kms_key_arn
  stream_arn           = module.stream.arn
  endpoint_name        = local.endpoint_name
  scoring_mode         = var.jobs.scoring.mode
  xgboost_image_tag    = var.endpoint.xgboost_image_tag
  data_capture_enabled = var.endpoint.data_capture_enabled
  rollback_alarm_names = local.guarded_rollout ? module.monitoring.endpoint_alarm_names : []
  tags                 = local.tags

  # The stream's Iceberg tables are granted by name in this database (`make deploy` creates them).
  database_name            = local.database_name
  table_optimizers_enabled = var.table_optimizers_enabled
}

module "model_endpoint" {
  source = "../model_endpoint"

  name                   = local.endpoint_name
  artifacts_bucket       = module.storage.bucket_names["artifacts"]
  model_artifact_key     = var.artifacts.model_artifact_key
  model_version          = var.artifacts.model_version
  xgboost_image_tag      = var.endpoint.xgboost_image_tag
  execution_role_arn     = module.iam.sagemaker_role_arn
  kms_key_arn            = module.storage.kms_key_arn
  instance_type          = var.endpoint.instance_type
  initial_instance_count = var.endpoint.initial_instance_count
  live_instance_count    = var.live_instance_count
  serverless             = var.endpoint.serverless
  autoscaling            = var.endpoint.autoscaling
  data_capture = var.endpoint.data_capture_enabled ? {
    destination_s3_uri          = "s3://${module.storage.bucket_names["results"]}/data-capture/"
    initial_sampling_percentage = var.endpoint.data_capture_sampling_pct
  } : null
  # Guarded rollout: canary, baked, rolled back on the endpoint alarms of monitoring. The alarms exist before the
  # endpoint takes them (monitoring watches local.endpoint_name, not the endpoint resource, so there is no cycle).
  rollout = local.guarded_rollout ? {
    rollback_alarm_names                 = module.monitoring.endpoint_alarm_names
    canary_instances                     = var.endpoint.rollout.canary_instances
    wait_interval_in_seconds             = var.endpoint.rollout.wait_interval_in_seconds
    termination_wait_in_seconds          = var.endpoint.rollout.termination_wait_in_seconds
    maximum_execution_timeout_in_seconds = var.endpoint.rollout.maximum_execution_timeout_in_seconds
  } : null
  tags = local.tags
}

module "glue" {
  source = "../glue"

  name_prefix     = var.name_prefix
  database_name   = local.database_name
  buckets         = module.storage.bucket_names
  kms_key_arn     = module.storage.kms_key_arn
  batch_role_arn  = module.iam.glue_batch_role_arn
  stream_role_arn = module.iam.glue_stream_role_arn
  region          = data.aws_region.current.name
  stream          = { name = module.stream.name, arn = module.stream.arn }
  # The name, not the endpoint's output: the endpoint waits for the monitoring alarms (its rollback), which watch
  # these jobs, so the jobs must not wait for the endpoint. They call it by name at run time.
  endpoint_name    = local.endpoint_name
  quality_role_arn = module.iam.glue_quality_role_arn
  artifacts = {
    batch_script_key      = var.artifacts.batch_script_key
    stream_script_key     = var.artifacts.stream_script_key
    quality_script_key    = var.artifacts.quality_script_key
    model_prefix          = var.artifacts.model_prefix
    batch_python_modules  = var.artifacts.batch_python_modules
    stream_python_modules = var.artifacts.stream_python_modules
  }
  scoring     = var.jobs.scoring
  batch_job   = var.jobs.batch
  stream_job  = var.jobs.stream
  quality_job = var.jobs.quality
  tags        = local.tags

  # The deployed model's data columns: the scored and source catalog tables open with them.
  data_columns = var.data_columns

  # Orphan files (an interrupted micro-batch's, never referenced: the replay writes its own) are kept longer than
  # the longest downtime the streaming job tolerates, the stream's retention: after it, unread records are gone
  # and the job cannot resume without loss. So the files of an attempt interrupted at the start of such an
  # outage are still there when the job is back and has replayed the batch, for the post-incident check of what
  # was in flight (docs/streaming-commit-protocol.md); and never fewer than Iceberg's default 3 days. The batch
  # tables take the same: a batch run's files are orphans only once it failed, and a run lasts at most its timeout
  # (hours), far below 3 days, so no file of a run still going is ever taken for an orphan.
  table_optimizers = var.table_optimizers_enabled ? {
    role_arn                   = module.iam.table_optimizer_role_arn
    orphan_file_retention_days = max(3, ceil(var.stream.retention_hours / 24) + 1)
  } : null
}

module "analytics" {
  source = "../analytics"

  name                           = "${var.name_prefix}-churn"
  results_bucket                 = module.storage.bucket_names["results"]
  kms_key_arn                    = module.storage.kms_key_arn
  database_name                  = module.glue.database_name
  create_named_queries           = var.analytics.create_named_queries
  data_named_queries             = var.data_named_queries
  bytes_scanned_cutoff_per_query = var.analytics.bytes_scanned_cutoff_per_query
  force_destroy                  = var.force_destroy
  tags                           = local.tags
}

module "monitoring" {
  source = "../monitoring"

  name_prefix  = var.name_prefix
  kms_key_arn  = module.storage.kms_key_arn
  alarm_emails = var.monitoring.alarm_emails
  # The name, not the endpoint's output: the endpoint's guarded rollout depends on these alarms (model_endpoint).
  endpoint        = { name = local.endpoint_name, variant = module.model_endpoint.variant_name }
  glue_job_names  = [module.glue.batch_job_name, module.glue.stream_job_name]
  stream_job_name = module.glue.stream_job_name
  stream_name     = module.stream.name
  thresholds      = var.monitoring.thresholds
  # The deployed model's quality on outcomes: its version (the ModelVersion the scorers write beside each score)
  # and its test AUC from its metrics.json (the packaging step's model_test_auc), never a hand-written figure.
  quality = {
    job_name      = module.glue.quality_job.name
    model_version = var.artifacts.model_version
    test_auc      = var.model_test_auc
    auc_margin    = module.glue.quality_job.auc_margin
  }
  tags = local.tags
}
