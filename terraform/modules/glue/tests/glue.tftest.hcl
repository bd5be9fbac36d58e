mock_provider "aws" {}

variables {
  name_prefix   = "churn-test"
  database_name = "churn_test_churn"
  buckets = {
    data      = "churn-test-data-123456789012"
    artifacts = "churn-test-artifacts-123456789012"
    results   = "churn-test-results-123456789012"
  }
  kms_key_arn      = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  batch_role_arn   = "arn:aws:iam::123456789012:role/churn-test-glue-batch"
  stream_role_arn  = "arn:aws:iam::123456789012:role/churn-test-glue-stream"
  quality_role_arn = "arn:aws:iam::123456789012:role/churn-test-glue-quality"
  stream           = { name = "churn-test-customer-churn", arn = "arn:aws:kinesis:us-east-1:123456789012:stream/churn-test-customer-churn" }
  region           = "us-east-1"
  endpoint_name    = "churn-test-churn"
  artifacts = {
    batch_script_key      = "code/0123456789abcdef0123456789abcdef/glue_batch_scoring.py"
    stream_script_key     = "code/fedcba9876543210fedcba9876543210/glue_stream_scoring.py"
    quality_script_key    = "code/00112233445566778899aabbccddeeff/glue_quality.py"
    model_prefix          = "models/00112233445566778899aabbccddeeff/"
    batch_python_modules  = ["wheels/0123456789abcdef0123456789abcdef/churn_pipeline-0.1.0-py3-none-any.whl"]
    stream_python_modules = ["wheels/0123456789abcdef0123456789abcdef/churn_pipeline-0.1.0-py3-none-any.whl"]
  }
  # A model's data columns (dataset.json's catalog columns), in file order.
  data_columns = [
    { name = "customer id", type = "string" },
    { name = "tenure", type = "int" },
    { name = "monthly charges", type = "double" },
  ]
}

run "each_scoring_job_runs_as_its_own_role" {
  command = plan

  assert {
    condition     = aws_glue_job.this["batch"].role_arn == var.batch_role_arn && aws_glue_job.this["stream"].role_arn == var.stream_role_arn && aws_glue_job.this["quality"].role_arn == var.quality_role_arn
    error_message = "the batch, streaming and quality jobs each run as their own role"
  }

  assert {
    condition     = aws_glue_job.this["stream"].default_arguments["--checkpoint_path"] == "s3://churn-test-data-123456789012/checkpoints/stream-scoring/"
    error_message = "the streaming job checkpoints under the contract's stream_checkpoint location, which only its role may write"
  }
}

run "one_role_for_both_scoring_jobs_is_refused" {
  command = plan

  variables {
    stream_role_arn = "arn:aws:iam::123456789012:role/churn-test-glue-batch"
  }

  expect_failures = [aws_glue_job.this["batch"], aws_glue_job.this["stream"], aws_glue_job.this["quality"]]
}

run "jobs_scripts_arguments_and_encryption" {
  command = plan

  assert {
    condition     = aws_glue_job.this["batch"].command[0].script_location == "s3://churn-test-artifacts-123456789012/code/0123456789abcdef0123456789abcdef/glue_batch_scoring.py"
    error_message = "the batch job runs the uploaded entry script"
  }

  assert {
    condition     = aws_glue_job.this["stream"].command[0].name == "gluestreaming" && aws_glue_job.this["stream"].glue_version == "5.1"
    error_message = "the streaming job is a gluestreaming job on Glue 5.1"
  }

  assert {
    condition     = aws_glue_job.this["batch"].glue_version == "6.0" && aws_glue_job.this["batch"].timeout == 60
    error_message = "the batch job runs on Glue 6.0 with a timeout"
  }

  assert {
    condition     = aws_glue_job.this["stream"].default_arguments["--model_uri"] == "s3://churn-test-artifacts-123456789012/models/00112233445566778899aabbccddeeff/"
    error_message = "model_uri is the uploaded model prefix"
  }

  assert {
    condition     = aws_glue_job.this["batch"].default_arguments["--additional-python-modules"] == "s3://churn-test-artifacts-123456789012/wheels/0123456789abcdef0123456789abcdef/churn_pipeline-0.1.0-py3-none-any.whl"
    error_message = "the workers install the uploaded wheels"
  }

  assert {
    condition     = aws_glue_job.this["batch"].default_arguments["--python-modules-installer-option"] == "--no-index"
    error_message = "pip on the workers must not reach for PyPI"
  }

  assert {
    condition     = aws_glue_job.this["batch"].security_configuration == aws_glue_security_configuration.this.name && aws_glue_job.this["stream"].security_configuration == aws_glue_security_configuration.this.name
    error_message = "both jobs use the security configuration"
  }

  assert {
    condition     = aws_glue_security_configuration.this.encryption_configuration[0].s3_encryption[0].s3_encryption_mode == "SSE-KMS"
    error_message = "job output is encrypted with KMS"
  }

  assert {
    condition     = length(aws_glue_trigger.batch_schedule) == 0
    error_message = "no schedule unless asked"
  }
}

run "the_scoring_jobs_write_iceberg_tables_terraform_does_not_manage" {
  command = plan

  # `make deploy` creates the scoring jobs' Iceberg tables (churn_tools.deploy.tables); Terraform has no Hive
  # table of them, and hands each job their database and warehouse.
  assert {
    condition     = length(setintersection(keys(aws_glue_catalog_table.results), ["batch_predictions", "batch_rejects", "batch_failed", "batch_drift", "stream_predictions", "stream_dead_letter", "stream_drift"])) == 0
    error_message = "the batch job's and the stream's datasets are Iceberg tables, not Terraform's Hive tables"
  }

  assert {
    condition     = alltrue([for job in ["batch", "quality"] : aws_glue_job.this[job].default_arguments["--table_warehouse"] == "s3://churn-test-results-123456789012/tables/" && aws_glue_job.this[job].default_arguments["--table_database"] == "churn_test_churn"])
    error_message = "the batch job commits to, and the quality job reads, the tables in the module's database, their files under tables/ of the results bucket"
  }

  assert {
    condition     = alltrue([for old in ["--output_path", "--rejects_path", "--failed_path", "--drift_path", "--output_format"] : !contains(keys(aws_glue_job.this["batch"].default_arguments), old)]) && alltrue([for old in ["--batch_scored_path", "--stream_table_warehouse", "--stream_table_database"] : !contains(keys(aws_glue_job.this["quality"].default_arguments), old)])
    error_message = "the batch job's old output paths and format, and the quality job's old scored-dataset arguments, are gone"
  }

  assert {
    condition     = aws_glue_job.this["stream"].default_arguments["--table_warehouse"] == "s3://churn-test-results-123456789012/tables/" && aws_glue_job.this["stream"].default_arguments["--table_database"] == "churn_test_churn"
    error_message = "the streaming job commits to the tables in the module's database, their files under tables/ of the results bucket"
  }

  assert {
    condition     = alltrue([for old in ["--output_path", "--dead_letter_path", "--drift_path"] : !contains(keys(aws_glue_job.this["stream"].default_arguments), old)])
    error_message = "the streaming job's old output paths are gone"
  }

  assert {
    condition     = output.iceberg_tables.locations == { for name in ["batch_predictions", "batch_rejects", "batch_failed", "batch_drift", "stream_predictions", "stream_dead_letter", "stream_drift"] : name => "s3://churn-test-results-123456789012/tables/churn_test_churn/${name}" } && contains(output.table_names, "stream_predictions") && contains(output.table_names, "batch_predictions")
    error_message = "each Iceberg table lives at <warehouse><database>/<table> (tables.CatalogSettings.table_location) and is listed with the catalog's tables"
  }

  assert {
    condition     = length(aws_glue_catalog_table_optimizer.this) == 0
    error_message = "no table optimizers unless asked (envs/local: moto has none)"
  }

  assert {
    condition     = length(aws_glue_catalog_table.results["model_quality"].partition_keys) == 0 && !contains(keys(aws_glue_catalog_table.results["model_quality"].parameters), "projection.enabled")
    error_message = "the quality job's Hive tables read every batch_id folder under their location"
  }

  assert {
    condition     = aws_glue_catalog_table.kinesis_source.name == "kinesis_customer_churn" && aws_glue_catalog_table.kinesis_source.parameters["typeOfData"] == "kinesis"
    error_message = "the Kinesis source table of the stream"
  }

  assert {
    condition = alltrue([
      for name, dataset in jsondecode(file("../../contract.json")).datasets :
      [for c in aws_glue_catalog_table.results[name].storage_descriptor[0].columns : { name = c.name, type = c.type }] == concat(dataset.data_columns_first ? var.data_columns : [], dataset.columns)
      if !contains(jsondecode(file("../../contract.json")).iceberg_tables, name)
    ])
    error_message = "every result table has its writer's columns (the data's first where the writer puts them first, then churn_pipeline.contract.outputs), in order"
  }

  assert {
    condition     = [for c in aws_glue_catalog_table.kinesis_source.storage_descriptor[0].columns : { name = c.name, type = c.type }] == concat(var.data_columns, [{ name = "record_id", type = "string" }, { name = "event_time", type = "string" }])
    error_message = "the Kinesis source table: the model's data columns, then the producer's record_id and event_time"
  }

  assert {
    condition     = alltrue([for table in aws_glue_catalog_table.results : !contains(keys(table.parameters), "has_encrypted_data")])
    error_message = "SSE-KMS data is not client-side encrypted: no has_encrypted_data"
  }

  assert {
    condition     = aws_glue_job.this["batch"].default_arguments["--scoring_mode"] == "endpoint" && aws_glue_job.this["stream"].default_arguments["--window_size"] == "100 seconds" && aws_glue_job.this["stream"].default_arguments["--aws_region"] == "us-east-1"
    error_message = "unset settings take the contract's defaults; the region is passed to the workers"
  }
}

run "accepts_every_scoring_mode_of_the_contract" {
  command = plan

  variables {
    scoring = { mode = "embedded", threshold = 0.7 }
  }

  assert {
    condition     = aws_glue_job.this["stream"].default_arguments["--scoring_mode"] == "embedded" && aws_glue_job.this["batch"].default_arguments["--threshold"] == "0.7"
    error_message = "the README's embedded mode is deployed as set"
  }
}

run "schedule_creates_a_trigger" {
  command = plan

  variables {
    batch_job = { schedule = "cron(0 2 * * ? *)" }
  }

  assert {
    condition     = aws_glue_trigger.batch_schedule[0].schedule == "cron(0 2 * * ? *)"
    error_message = "a schedule becomes a scheduled trigger"
  }
}

run "rejects_unknown_scoring_mode" {
  command = plan

  variables {
    scoring = { mode = "local" }
  }

  expect_failures = [var.scoring]
}

run "rejects_a_window_the_job_cannot_parse" {
  command = plan

  variables {
    stream_job = { window_size = "100" }
  }

  expect_failures = [var.stream_job]
}

run "rejects_a_script_key_that_is_not_content_addressed" {
  command = plan

  variables {
    artifacts = {
      batch_script_key      = "code/latest/glue_batch_scoring.py"
      stream_script_key     = "code/fedcba9876543210fedcba9876543210/glue_stream_scoring.py"
      quality_script_key    = "code/00112233445566778899aabbccddeeff/glue_quality.py"
      model_prefix          = "models/00112233445566778899aabbccddeeff/"
      batch_python_modules  = []
      stream_python_modules = []
    }
  }

  expect_failures = [var.artifacts]
}

run "tables_follow_another_model_s_data_columns" {
  command = plan

  variables {
    data_columns = [
      { name = "state", type = "string" },
      { name = "day mins", type = "double" },
      { name = "churn?", type = "string" },
    ]
  }

  assert {
    condition     = [for c in aws_glue_catalog_table.kinesis_source.storage_descriptor[0].columns : c.type] == ["string", "double", "string", "string", "string"] && slice([for c in aws_glue_catalog_table.kinesis_source.storage_descriptor[0].columns : c.name], 0, 3) == ["state", "day mins", "churn?"]
    error_message = "the Kinesis source table opens with the deployed model's columns and types, whichever they are (the Iceberg tables take them at deploy: churn_tools.deploy.tables)"
  }

  assert {
    condition     = alltrue([for name in ["model_quality", "model_calibration", "outcome_rejects"] : length(aws_glue_catalog_table.results[name].storage_descriptor[0].columns) == length(jsondecode(file("../../contract.json")).datasets[name].columns)])
    error_message = "the quality job's tables, without the data's columns, keep only their fixed ones"
  }
}

run "rejects_data_columns_glue_would_not_store_as_named" {
  command = plan

  variables {
    data_columns = [{ name = "Customer ID", type = "string" }]
  }

  expect_failures = [var.data_columns]
}

run "rejects_an_empty_data_column_name" {
  command = plan

  variables {
    data_columns = [{ name = "", type = "string" }]
  }

  expect_failures = [var.data_columns]
}

run "rejects_no_data_columns" {
  command = plan

  variables {
    data_columns = []
  }

  expect_failures = [var.data_columns]
}

run "rejects_a_description_type_that_is_not_a_catalog_type" {
  command = plan

  variables {
    data_columns = [{ name = "monthly charges", type = "decimal" }]
  }

  expect_failures = [var.data_columns]
}

run "rejects_a_data_column_twice" {
  command = plan

  variables {
    data_columns = [{ name = "tenure", type = "int" }, { name = "tenure", type = "double" }]
  }

  expect_failures = [var.data_columns]
}

run "rejects_a_data_column_named_like_a_column_the_jobs_add" {
  command = plan

  variables {
    data_columns = [{ name = "tenure", type = "int" }, { name = "record_id", type = "string" }]
  }

  expect_failures = [var.data_columns]
}

# Glue restarts a streaming job run every 7 days at the hour it started unless the job has a maintenance window
# (https://docs.aws.amazon.com/glue/latest/dg/glue-streaming-maintenance.html); the batch job has none to set.
run "the_streaming_job_restarts_in_its_maintenance_window" {
  command = plan

  assert {
    condition     = aws_glue_job.this["stream"].maintenance_window == "Sun:02" && aws_glue_job.this["batch"].maintenance_window == null
    error_message = "the streaming job's maintenance window defaults to Sun:02 (GMT); the batch job has none"
  }
}

run "takes_another_maintenance_window" {
  command = plan

  variables {
    stream_job = { maintenance_window = "Wed:23" }
  }

  assert {
    condition     = aws_glue_job.this["stream"].maintenance_window == "Wed:23"
    error_message = "the configured maintenance window reaches the streaming job"
  }
}

run "rejects_a_maintenance_window_glue_does_not_take" {
  command = plan

  variables {
    stream_job = { maintenance_window = "Sunday:24" }
  }

  expect_failures = [var.stream_job]
}

# ---------------------------------------------------------------- the model-quality job
run "the_quality_job_runs_daily_on_the_batch_job_s_runtime_with_its_own_role" {
  command = plan

  variables {
    batch_job = { glue_version = "5.0" }
  }

  assert {
    condition     = aws_glue_job.this["quality"].name == "churn-test-model-quality" && aws_glue_job.this["quality"].command[0].name == "glueetl" && aws_glue_job.this["quality"].command[0].script_location == "s3://churn-test-artifacts-123456789012/code/00112233445566778899aabbccddeeff/glue_quality.py"
    error_message = "the quality job is a Spark (glueetl) job running the uploaded glue_quality.py"
  }

  assert {
    condition     = aws_glue_job.this["quality"].glue_version == "5.0" && aws_glue_job.this["quality"].default_arguments["--additional-python-modules"] == aws_glue_job.this["batch"].default_arguments["--additional-python-modules"]
    error_message = "the quality job runs on the batch job's Glue version with the batch job's wheels (one upload set)"
  }

  assert {
    condition     = aws_glue_job.this["quality"].role_arn == var.quality_role_arn && aws_glue_job.this["batch"].role_arn == var.batch_role_arn && aws_glue_job.this["stream"].role_arn == var.stream_role_arn
    error_message = "the quality job runs as its own role, the scoring jobs as theirs"
  }

  assert {
    condition     = aws_glue_job.this["quality"].security_configuration == aws_glue_security_configuration.this.name && aws_glue_job.this["quality"].default_arguments["--job-bookmark-option"] == "job-bookmark-disable"
    error_message = "the quality job is encrypted like the others and bookmarks nothing (each run recomputes every week)"
  }

  assert {
    condition     = aws_glue_trigger.quality_schedule.type == "SCHEDULED" && aws_glue_trigger.quality_schedule.schedule == "cron(0 6 * * ? *)" && aws_glue_trigger.quality_schedule.enabled && [for a in aws_glue_trigger.quality_schedule.actions : a.job_name] == ["churn-test-model-quality"]
    error_message = "an activated trigger runs the quality job daily (06:00 UTC by default)"
  }

  assert {
    condition = alltrue([
      aws_glue_job.this["quality"].default_arguments["--table_warehouse"] == aws_glue_job.this["batch"].default_arguments["--table_warehouse"],
      aws_glue_job.this["quality"].default_arguments["--table_warehouse"] == aws_glue_job.this["stream"].default_arguments["--table_warehouse"],
      aws_glue_job.this["quality"].default_arguments["--table_database"] == aws_glue_job.this["batch"].default_arguments["--table_database"],
      aws_glue_job.this["quality"].default_arguments["--table_database"] == aws_glue_job.this["stream"].default_arguments["--table_database"],
      aws_glue_job.this["quality"].default_arguments["--quality_path"] == aws_glue_catalog_table.results["model_quality"].storage_descriptor[0].location,
      aws_glue_job.this["quality"].default_arguments["--calibration_path"] == aws_glue_catalog_table.results["model_calibration"].storage_descriptor[0].location,
      aws_glue_job.this["quality"].default_arguments["--outcome_rejects_path"] == aws_glue_catalog_table.results["outcome_rejects"].storage_descriptor[0].location,
    ])
    error_message = "the quality job reads both scored tables where the scoring jobs commit them, and writes where its catalog tables read"
  }

  assert {
    condition     = aws_glue_job.this["quality"].default_arguments["--outcomes_path"] == "s3://churn-test-data-123456789012/outcomes/" && aws_glue_job.this["quality"].default_arguments["--training_set_path"] == "s3://churn-test-results-123456789012/quality/training-set/"
    error_message = "outcomes are read from outcomes/ in the data bucket; the next training set goes under quality/ in the results bucket"
  }

  assert {
    condition     = aws_glue_job.this["quality"].default_arguments["--horizon_days"] == tostring(jsondecode(file("../../contract.json")).settings.horizon_days.default) && aws_glue_job.this["quality"].default_arguments["--auc_margin"] == tostring(jsondecode(file("../../contract.json")).settings.auc_margin.default) && output.quality_job.auc_margin == jsondecode(file("../../contract.json")).settings.auc_margin.default
    error_message = "unset quality settings take the contract's defaults, and the alarm gets the margin the job runs with"
  }

  assert {
    condition     = length([for name, table in aws_glue_catalog_table.results : name if contains(["model_quality", "model_calibration", "outcome_rejects"], name) && length(table.partition_keys) == 0]) == 3
    error_message = "the quality tables exist, unpartitioned (one batch_id=<run> folder per run, as the batch tables)"
  }
}

run "takes_another_schedule_horizon_and_margin" {
  command = plan

  variables {
    quality_job = { schedule = "cron(30 4 * * ? *)", horizon_days = 30, auc_margin = 0 }
  }

  assert {
    condition     = aws_glue_trigger.quality_schedule.schedule == "cron(30 4 * * ? *)" && aws_glue_job.this["quality"].default_arguments["--horizon_days"] == "30" && aws_glue_job.this["quality"].default_arguments["--auc_margin"] == "0"
    error_message = "the configured schedule and settings reach the trigger and the job"
  }
}

run "rejects_a_quality_schedule_that_is_not_a_cron_expression" {
  command = plan

  variables {
    quality_job = { schedule = "daily" }
  }

  expect_failures = [var.quality_job]
}

run "rejects_a_fractional_horizon" {
  command = plan

  variables {
    quality_job = { horizon_days = 1.5 }
  }

  expect_failures = [var.quality_job]
}

run "rejects_a_margin_at_its_upper_bound" {
  command = plan

  variables {
    quality_job = { auc_margin = 0.5 }
  }

  expect_failures = [var.quality_job]
}

# ---------------------------------------------------------------- Iceberg table optimizers (dev and prod)
run "each_iceberg_table_gets_compaction_retention_and_orphan_file_deletion" {
  command = plan

  variables {
    table_optimizers = {
      role_arn                   = "arn:aws:iam::123456789012:role/churn-test-table-optimizer"
      orphan_file_retention_days = 8
    }
  }

  assert {
    condition     = toset(keys(aws_glue_catalog_table_optimizer.this)) == toset(flatten([for table in ["batch_predictions", "batch_rejects", "batch_failed", "batch_drift", "stream_predictions", "stream_dead_letter", "stream_drift"] : [for type in ["compaction", "retention", "orphan_file_deletion"] : "${table}.${type}"]]))
    error_message = "compaction, snapshot retention and orphan-file deletion on each of the jobs' Iceberg tables, on no other table"
  }

  assert {
    condition     = alltrue([for o in aws_glue_catalog_table_optimizer.this : o.database_name == "churn_test_churn" && o.configuration[0].role_arn == "arn:aws:iam::123456789012:role/churn-test-table-optimizer" && o.configuration[0].enabled])
    error_message = "every optimizer is enabled and runs as the optimizers' role"
  }

  assert {
    condition     = aws_glue_catalog_table_optimizer.this["stream_predictions.orphan_file_deletion"].configuration[0].orphan_file_deletion_configuration[0].iceberg_configuration[0].location == "s3://churn-test-results-123456789012/tables/churn_test_churn/stream_predictions" && aws_glue_catalog_table_optimizer.this["stream_predictions.orphan_file_deletion"].configuration[0].orphan_file_deletion_configuration[0].iceberg_configuration[0].orphan_file_retention_period_in_days == 8
    error_message = "orphan-file deletion looks under the table's own location and keeps files the days asked"
  }

  assert {
    condition     = aws_glue_catalog_table_optimizer.this["stream_drift.retention"].configuration[0].retention_configuration[0].iceberg_configuration[0].clean_expired_files && aws_glue_catalog_table_optimizer.this["stream_drift.retention"].configuration[0].retention_configuration[0].iceberg_configuration[0].snapshot_retention_period_in_days == 7 && length(aws_glue_catalog_table_optimizer.this["stream_drift.compaction"].configuration[0].retention_configuration) == 0
    error_message = "snapshot retention deletes expired snapshots' files after the default 7 days; compaction has no retention block"
  }
}

run "rejects_an_orphan_file_retention_of_no_days" {
  command = plan

  variables {
    table_optimizers = {
      role_arn                   = "arn:aws:iam::123456789012:role/churn-test-table-optimizer"
      orphan_file_retention_days = 0
    }
  }

  expect_failures = [var.table_optimizers]
}
