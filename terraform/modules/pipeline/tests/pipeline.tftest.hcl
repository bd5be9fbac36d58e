mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_kinesis_stream" {
    defaults = { arn = "arn:aws:kinesis:us-east-1:123456789012:stream/churn-test-customer-churn" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/churn-test-role" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:churn-test-alarms" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::churn-test-bucket" }
  }
}

# Every mocked role would get the one ARN above; the scoring jobs' roles are two (modules/glue refuses one for both).
override_resource {
  target = module.iam.aws_iam_role.glue_batch
  values = { arn = "arn:aws:iam::123456789012:role/churn-test-glue-batch" }
}

override_resource {
  target = module.iam.aws_iam_role.glue_stream
  values = { arn = "arn:aws:iam::123456789012:role/churn-test-glue-stream" }
}

variables {
  environment = "dev"
  name_prefix = "churn-test"
  artifacts = {
    batch_script_key      = "code/0123456789abcdef0123456789abcdef/glue_batch_scoring.py"
    stream_script_key     = "code/fedcba9876543210fedcba9876543210/glue_stream_scoring.py"
    quality_script_key    = "code/00112233445566778899aabbccddeeff/glue_quality.py"
    model_artifact_key    = "models/00112233445566778899aabbccddeeff/model.tar.gz"
    model_prefix          = "models/00112233445566778899aabbccddeeff/"
    model_version         = "5e5e09d879cc4936"
    batch_python_modules  = []
    stream_python_modules = []
  }
  data_columns   = [{ name = "customer id", type = "string" }, { name = "tenure", type = "int" }]
  model_test_auc = 0.9
}

run "one_set_of_names_wires_every_module" {
  command = apply

  assert {
    condition     = module.glue.batch_job_name == "churn-test-batch-scoring" && module.model_endpoint.endpoint_name == "churn-test-churn"
    error_message = "jobs and endpoint are named from name_prefix"
  }

  assert {
    condition     = module.model_endpoint.model_name == "churn-test-churn-5e5e09d879cc4936"
    error_message = "the model is named after the endpoint and the packaged model version"
  }

  assert {
    condition     = module.glue.database_name == "churn_test_churn"
    error_message = "the database name is the prefix with underscores (Athena's rule)"
  }
}

run "the_quality_job_and_its_alarm_watch_the_deployed_model" {
  command = apply

  variables {
    jobs = { quality = { auc_margin = 0.1 } }
  }

  assert {
    condition     = output.quality_job_name == "churn-test-model-quality" && output.model_quality_alarm_name == "churn-test-model-quality-auc"
    error_message = "the quality job and its alarm are named from name_prefix"
  }

  assert {
    condition     = abs(module.monitoring.model_quality_alarm.threshold - 0.8) < 0.000000000001 && module.monitoring.model_quality_alarm.dimensions["ModelVersion"] == "5e5e09d879cc4936" && module.monitoring.model_quality_alarm.dimensions["JobName"] == "churn-test-model-quality"
    error_message = "the alarm watches the packaged model version's AUC from the quality job, below model_test_auc minus jobs.quality.auc_margin"
  }
}

run "rejects_a_test_auc_that_is_not_an_auc" {
  command = plan

  variables {
    model_test_auc = 1.5
  }

  expect_failures = [var.model_test_auc]
}

run "rejects_unknown_environment" {
  command = plan

  variables {
    environment = "staging"
  }

  expect_failures = [var.environment]
}

run "guarded_rollout_by_default_rolls_back_on_the_endpoint_alarms" {
  command = apply

  variables {
    endpoint = { initial_instance_count = 2 }
  }

  assert {
    condition = (
      module.model_endpoint.rollout.traffic_routing == "CANARY" &&
      toset(module.model_endpoint.rollout.rollback_alarm_names) == toset(module.monitoring.endpoint_alarm_names) &&
      toset(module.monitoring.endpoint_alarm_names) == toset(["churn-test-endpoint-5xx", "churn-test-endpoint-latency"])
    )
    error_message = "by default the endpoint rolls out as a canary, rolled back on monitoring's 5xx and latency alarms"
  }

  assert {
    condition     = module.model_endpoint.rollout.canary_instances == 1
    error_message = "the default canary is one instance of the new fleet"
  }
}

run "rollout_can_be_turned_off" {
  command = plan

  variables {
    endpoint = { rollout = { enabled = false } }
  }

  assert {
    condition     = module.model_endpoint.rollout == null
    error_message = "enabled = false leaves the endpoint unguarded (envs/local only; the plan review flags it)"
  }
}

run "no_table_optimizers_unless_asked" {
  command = apply

  assert {
    condition     = length(module.glue.table_optimizers) == 0 && module.iam.table_optimizer_role_arn == null
    error_message = "without table_optimizers_enabled (envs/local) neither optimizers nor their role"
  }
}

# Orphan files are kept longer than the longest downtime the streaming job tolerates: the stream's retention
# (terraform/README.md, "Iceberg tables").
run "the_tables_optimizers_keep_orphans_longer_than_the_stream_keeps_records" {
  command = apply

  variables {
    table_optimizers_enabled = true
    stream                   = { retention_hours = 168 }
  }

  assert {
    condition     = length(module.glue.table_optimizers) == 21 && alltrue([for o in values(module.glue.table_optimizers) : o.role_arn == module.iam.table_optimizer_role_arn])
    error_message = "three optimizers on each of the seven Iceberg tables (the batch job's four, the stream's three), all running as the optimizers' role"
  }

  assert {
    condition     = [for key, o in module.glue.table_optimizers : o.orphan_file_retention_days if endswith(key, ".orphan_file_deletion")] == [for i in range(7) : 8]
    error_message = "a 7-day stream keeps orphan files 8 days: a day past the longest downtime the job can resume from"
  }
}

run "a_one_day_stream_still_keeps_orphans_icebergs_default_three_days" {
  command = apply

  variables {
    table_optimizers_enabled = true
  }

  assert {
    condition     = [for key, o in module.glue.table_optimizers : o.orphan_file_retention_days if endswith(key, ".orphan_file_deletion")] == [for i in range(7) : 3]
    error_message = "never fewer than 3 days (Iceberg's default orphan-file age)"
  }
}

# The jobs' scoring mode (jobs.scoring.mode, modules/glue's --scoring_mode) decides their roles' endpoint grant.
run "embedded_jobs_get_no_endpoint_grant" {
  command = plan

  variables {
    jobs = { scoring = { mode = "embedded" } }
  }

  assert {
    condition     = !module.iam.scoring_jobs_invoke_endpoint
    error_message = "jobs.scoring.mode embedded: the jobs score in-process and their roles may not invoke the endpoint"
  }
}

run "endpoint_jobs_by_default" {
  command = plan

  assert {
    condition     = module.iam.scoring_jobs_invoke_endpoint
    error_message = "the contract's default mode (endpoint): the scoring jobs' roles may invoke the endpoint"
  }
}
