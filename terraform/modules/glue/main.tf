locals {
  s3 = { for purpose, bucket in var.buckets : purpose => "s3://${bucket}" }

  # The names, schemas and defaults the jobs' Python code defines (churn_pipeline.contract), generated into
  # terraform/contract.json by `make contract`: the catalog tables, argument values and validations read it.
  contract = jsondecode(file("${path.module}/../../contract.json"))
  datasets = local.contract.datasets
  # The columns the jobs add after the data's own (data_columns_first datasets and the stream record).
  fixed_column_names = distinct(concat(
    flatten([for dataset in local.datasets : [for c in dataset.columns : c.name] if dataset.data_columns_first]),
    [for c in local.contract.stream_record_extra_columns : c.name],
  ))

  # Settings left unset take the contract's defaults (the same ones the jobs document).
  scoring = {
    mode      = coalesce(var.scoring.mode, local.contract.settings.scoring_mode.default)
    threshold = coalesce(var.scoring.threshold, local.contract.settings.threshold.default)
  }
  stream_settings = {
    window_size       = coalesce(var.stream_job.window_size, local.contract.settings.window_size.default)
    starting_position = coalesce(var.stream_job.starting_position, local.contract.settings.starting_position.default)
  }
  quality_settings = {
    horizon_days = coalesce(var.quality_job.horizon_days, local.contract.settings.horizon_days.default)
    auc_margin   = coalesce(var.quality_job.auc_margin, local.contract.settings.auc_margin.default)
  }
  # Where files that are not catalog tables live (contract.outputs.LOCATIONS): the outcome drops, the next
  # training set, the streaming job's checkpoint (modules/iam grants it to the streaming job's role alone).
  locations = { for name, location in local.contract.locations : name => "${local.s3[location.bucket]}/${location.prefix}" }

  # The scoring jobs' datasets are Apache Iceberg tables (contract iceberg_tables), in this database, their files under
  # <warehouse>/<database>/<table> (churn_pipeline.tables.CatalogSettings.table_location). Not resources here:
  # `make deploy` creates them with the jobs' own code (churn_tools.deploy.tables) after a targeted apply of the
  # database and the results bucket, because moto's CreateTable with OpenTableFormatInput writes no metadata
  # file, and because the jobs advance each table's metadata_location: Terraform's UpdateTable sends no
  # VersionId and would put back a stale pointer. Terraform grants IAM on them by name (modules/iam) and, in dev
  # and prod, runs their optimizers (below). terraform/README.md, "Iceberg tables".
  iceberg_table_names = local.contract.iceberg_tables
  table_warehouse     = "${local.s3[local.contract.table_warehouse.bucket]}/${local.contract.table_warehouse.prefix}"
  iceberg_tables = {
    for name in local.iceberg_table_names : name => "${local.table_warehouse}${var.database_name}/${name}"
  }

  # Parquet (Hive) tables, one per dataset the quality job writes, with the writer's columns. It writes one
  # batch_id=<id> folder per run (free-form ids no projection can enumerate), so its tables are not partitioned
  # in the catalog: Athena reads every folder under the location, a new run included.
  result_tables = {
    for name, dataset in local.datasets : name => {
      location    = "${local.s3[dataset.bucket]}/${dataset.prefix}"
      description = dataset.description
      columns     = concat(dataset.data_columns_first ? var.data_columns : [], dataset.columns)
    } if !contains(local.iceberg_table_names, name)
  }

  model_uri = "${local.s3.artifacts}/${var.artifacts.model_prefix}"

  # The scoring arguments both jobs read (churn_pipeline.scoring.config.GLUE_ARGUMENTS).
  scoring_arguments = {
    "--model_uri"     = local.model_uri
    "--scoring_mode"  = local.scoring.mode
    "--endpoint_name" = var.endpoint_name
    "--threshold"     = tostring(local.scoring.threshold)
    "--aws_region"    = var.region
  }

  # Every argument jobs/glue_batch_scoring.py resolves (churn_pipeline.batch.glue.JOB_ARGUMENTS).
  batch_job_arguments = merge(local.scoring_arguments, {
    "--input_path" = "${local.s3.data}/input/"
    # The Iceberg tables the job commits to (churn_pipeline.batch.glue: tables.CatalogSettings).
    "--table_warehouse" = local.table_warehouse
    "--table_database"  = aws_glue_catalog_database.this.name
  })

  # Every argument jobs/glue_stream_scoring.py resolves (churn_pipeline.streaming.glue.JOB_ARGUMENTS).
  stream_job_arguments = merge(local.scoring_arguments, {
    "--stream_arn"        = var.stream.arn
    "--starting_position" = local.stream_settings.starting_position
    "--checkpoint_path"   = local.locations.stream_checkpoint
    # The Iceberg tables the job commits to (churn_pipeline.streaming.glue: tables.CatalogSettings).
    "--table_warehouse" = local.table_warehouse
    "--table_database"  = aws_glue_catalog_database.this.name
    "--window_size"     = local.stream_settings.window_size
  })

  # Every argument jobs/glue_quality.py resolves (churn_pipeline.quality.glue.JOB_ARGUMENTS): the model (its
  # description, version and threshold), both jobs' scored datasets, the outcome drops, its own outputs.
  quality_job_arguments = {
    "--model_uri"  = local.model_uri
    "--threshold"  = tostring(local.scoring.threshold)
    "--aws_region" = var.region
    # Both scoring jobs' scored Iceberg tables, in their catalog database and warehouse.
    "--table_warehouse"      = local.table_warehouse
    "--table_database"       = aws_glue_catalog_database.this.name
    "--outcomes_path"        = local.locations.outcomes
    "--quality_path"         = local.result_tables.model_quality.location
    "--calibration_path"     = local.result_tables.model_calibration.location
    "--outcome_rejects_path" = local.result_tables.outcome_rejects.location
    "--training_set_path"    = local.locations.next_training_set
    "--horizon_days"         = tostring(local.quality_settings.horizon_days)
    "--auc_margin"           = tostring(local.quality_settings.auc_margin)
  }

  # Glue's own parameters, the same for every job. Not set: --enable-continuous-cloudwatch-log, a Glue 4.0-and-earlier
  # feature (from 5.0 every job logs in real time:
  # https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging-enable.html), and --enable-glue-datacatalog
  # (the catalog as Spark's Hive metastore): the jobs read S3 paths, the stream by ARN and the Iceberg
  # tables through pyiceberg's own Glue client, never a catalog table through Spark.
  glue_runtime_arguments = {
    "--job-language"   = "python"
    "--TempDir"        = "${local.s3.data}/tmp/glue/"
    "--enable-metrics" = "true"
    # Workers may have no internet: pip installs only the uploaded wheels.
    "--python-modules-installer-option" = "--no-index"
  }
}

resource "aws_glue_catalog_database" "this" {
  name        = var.database_name
  description = "Churn scoring: the Kinesis source and the scored, rejected and dead-lettered records."
}

resource "aws_glue_catalog_table" "kinesis_source" {
  name          = "kinesis_customer_churn"
  database_name = aws_glue_catalog_database.this.name
  description   = "Customer records arriving on the Kinesis stream as JSON (the streaming job's source)."
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    classification = "json"
    typeOfData     = "kinesis"
    streamARN      = var.stream.arn
  }

  storage_descriptor {
    location      = var.stream.name
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

    parameters = {
      typeOfData = "kinesis"
      streamARN  = var.stream.arn
    }

    ser_de_info {
      serialization_library = "org.openx.data.jsonserde.JsonSerDe"
    }

    # The deployed model's data columns plus the producer's record_id and event_time (contract.outputs).
    dynamic "columns" {
      for_each = concat(var.data_columns, local.contract.stream_record_extra_columns)
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

resource "aws_glue_catalog_table" "results" {
  for_each = local.result_tables

  name          = each.key
  database_name = aws_glue_catalog_database.this.name
  description   = each.value.description
  table_type    = "EXTERNAL_TABLE"

  # No has_encrypted_data: it marks client-side-encrypted data, and Athena then refuses to read it as plain
  # objects; these are SSE-KMS objects, which S3 decrypts for any reader allowed to use the key.
  # https://docs.aws.amazon.com/athena/latest/ug/creating-tables-based-on-encrypted-datasets-in-s3.html
  parameters = {
    classification        = "parquet"
    EXTERNAL              = "TRUE"
    "parquet.compression" = "SNAPPY"
  }

  storage_descriptor {
    location      = each.value.location
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }

    dynamic "columns" {
      for_each = each.value.columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

resource "aws_glue_security_configuration" "this" {
  name = "${var.name_prefix}-jobs"

  encryption_configuration {
    s3_encryption {
      s3_encryption_mode = "SSE-KMS"
      kms_key_arn        = var.kms_key_arn
    }
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "SSE-KMS"
      kms_key_arn                = var.kms_key_arn
    }
    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = var.kms_key_arn
    }
  }
}

locals {
  jobs = {
    batch = {
      name        = "${var.name_prefix}-batch-scoring"
      role_arn    = var.batch_role_arn
      description = "Scores a CSV drop of customer records; writes scores, rejects and failed rows."
      command     = "glueetl"
      settings    = var.batch_job
      script_key  = var.artifacts.batch_script_key
      wheels      = var.artifacts.batch_python_modules
      timeout     = var.batch_job.timeout_minutes
      # Maintenance windows are for streaming jobs only.
      maintenance_window = null
      arguments          = merge(local.batch_job_arguments, { "--job-bookmark-option" = "job-bookmark-disable" })
    }
    quality = {
      name        = "${var.name_prefix}-model-quality"
      description = "Joins outcomes to the scores; writes model quality per model version and week, calibration, outcome rejects and the next training set; publishes the latest AUC."
      command     = "glueetl"
      # The batch job's runtime (Glue version) and wheels: one upload set serves both Spark batch jobs.
      settings           = merge(var.quality_job, { glue_version = var.batch_job.glue_version })
      role_arn           = var.quality_role_arn
      script_key         = var.artifacts.quality_script_key
      wheels             = var.artifacts.batch_python_modules
      timeout            = var.quality_job.timeout_minutes
      maintenance_window = null
      # Each run recomputes every week from every outcome to date: nothing to bookmark.
      arguments = merge(local.quality_job_arguments, { "--job-bookmark-option" = "job-bookmark-disable" })
    }
    stream = {
      name        = "${var.name_prefix}-stream-scoring"
      role_arn    = var.stream_role_arn
      description = "Scores customer records from Kinesis in micro-batches; writes scores and dead letters."
      command     = "gluestreaming"
      settings    = var.stream_job
      script_key  = var.artifacts.stream_script_key
      wheels      = var.artifacts.stream_python_modules
      # A streaming job runs until stopped: no timeout on purpose. Glue still restarts it for maintenance, every
      # 7 days at the hour the run started unless it has a maintenance window, then within 3 hours of the window's
      # start (https://docs.aws.amazon.com/glue/latest/dg/glue-streaming-maintenance.html); it resumes from its
      # checkpoint.
      timeout            = null
      maintenance_window = var.stream_job.maintenance_window
      arguments          = local.stream_job_arguments
    }
  }
}

resource "aws_glue_job" "this" {
  for_each = local.jobs

  name                   = each.value.name
  description            = each.value.description
  role_arn               = each.value.role_arn
  glue_version           = each.value.settings.glue_version
  worker_type            = each.value.settings.worker_type
  number_of_workers      = each.value.settings.number_of_workers
  timeout                = each.value.timeout
  maintenance_window     = each.value.maintenance_window
  security_configuration = aws_glue_security_configuration.this.name
  execution_class        = "STANDARD"

  command {
    name            = each.value.command
    python_version  = "3"
    script_location = "${local.s3.artifacts}/${each.value.script_key}"
  }

  default_arguments = merge(local.glue_runtime_arguments, each.value.arguments, {
    "--additional-python-modules" = join(",", [for key in each.value.wheels : "${local.s3.artifacts}/${key}"])
  })

  execution_property {
    max_concurrent_runs = 1
  }

  tags = var.tags

  lifecycle {
    # One role for both scoring jobs would let each write the other's outputs (the batch job the stream's tables).
    # A precondition, not a validation: a validation naming another variable needs Terraform 1.9 (modules: 1.7).
    precondition {
      condition     = var.stream_role_arn != var.batch_role_arn
      error_message = "stream_role_arn must not be batch_role_arn: each scoring job runs as a role of its own."
    }
  }
}

resource "aws_glue_trigger" "batch_schedule" {
  count = var.batch_job.schedule == null ? 0 : 1

  name     = "${var.name_prefix}-batch-scoring-schedule"
  type     = "SCHEDULED"
  schedule = var.batch_job.schedule

  actions {
    job_name = aws_glue_job.this["batch"].name
  }

  tags = var.tags
}


# The quality job daily. Glue schedules are cron expressions in UTC, 5 minutes at the finest
# (https://docs.aws.amazon.com/glue/latest/dg/monitor-data-warehouse-schedule.html). A SCHEDULED trigger fires
# only once activated: the provider creates it with StartOnCreation when `enabled` is true
# (hashicorp/terraform-provider-aws internal/service/glue/trigger.go, resourceTriggerCreate).
resource "aws_glue_trigger" "quality_schedule" {
  name     = "${var.name_prefix}-model-quality-schedule"
  type     = "SCHEDULED"
  schedule = var.quality_job.schedule
  enabled  = true

  actions {
    job_name = aws_glue_job.this["quality"].name
  }

  tags = var.tags
}

# ---------------------------------------------------------------- Iceberg table optimizers (dev and prod)
# Glue's managed maintenance of the stream's Iceberg tables, which the deploy step creates before the apply that
# makes these (churn_tools.deploy.tables): compaction of the small files each micro-batch writes (one per task
# and hour every window), snapshot retention, and deletion of the files no snapshot references (an interrupted
# micro-batch's attempt: the replay writes files of its own and never references those). moto has no optimizer
# API, so envs/local leaves them out (var.table_optimizers = null). Arguments as provider 5.100 has them (no
# compaction_configuration, no run_rate_in_hours there): the compaction strategy is Glue's default (binpack).
# https://docs.aws.amazon.com/glue/latest/dg/table-optimizers.html
data "aws_caller_identity" "current" {}

locals {
  optimizer_types = ["compaction", "retention", "orphan_file_deletion"]
  table_optimizers = var.table_optimizers == null ? {} : {
    for pair in setproduct(local.iceberg_table_names, local.optimizer_types) :
    "${pair[0]}.${pair[1]}" => { table = pair[0], type = pair[1] }
  }
}

resource "aws_glue_catalog_table_optimizer" "this" {
  for_each = local.table_optimizers

  catalog_id    = data.aws_caller_identity.current.account_id
  database_name = aws_glue_catalog_database.this.name
  table_name    = each.value.table
  type          = each.value.type

  configuration {
    role_arn = var.table_optimizers.role_arn
    enabled  = true

    dynamic "retention_configuration" {
      for_each = each.value.type == "retention" ? [1] : []
      content {
        iceberg_configuration {
          snapshot_retention_period_in_days = var.table_optimizers.snapshot_retention_days
          number_of_snapshots_to_retain     = var.table_optimizers.snapshots_to_retain
          clean_expired_files               = true
        }
      }
    }

    dynamic "orphan_file_deletion_configuration" {
      for_each = each.value.type == "orphan_file_deletion" ? [1] : []
      content {
        iceberg_configuration {
          location                             = local.iceberg_tables[each.value.table]
          orphan_file_retention_period_in_days = var.table_optimizers.orphan_file_retention_days
        }
      }
    }
  }
}
