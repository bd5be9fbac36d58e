locals {
  s3 = { for purpose, bucket in var.buckets : purpose => "s3://${bucket}" }

  # The tutorial's record, as the Glue catalog names it (lower-cased raw names; churn_pipeline.schema.RAW_COLUMNS).
  raw_columns = [
    { name = "state", type = "string" },
    { name = "account length", type = "int" },
    { name = "area code", type = "int" },
    { name = "phone", type = "string" },
    { name = "int'l plan", type = "string" },
    { name = "vmail plan", type = "string" },
    { name = "vmail message", type = "int" },
    { name = "day mins", type = "double" },
    { name = "day calls", type = "int" },
    { name = "day charge", type = "double" },
    { name = "eve mins", type = "double" },
    { name = "eve calls", type = "int" },
    { name = "eve charge", type = "double" },
    { name = "night mins", type = "double" },
    { name = "night calls", type = "int" },
    { name = "night charge", type = "double" },
    { name = "intl mins", type = "double" },
    { name = "intl calls", type = "int" },
    { name = "intl charge", type = "double" },
    { name = "custserv calls", type = "int" },
    { name = "churn?", type = "string" },
  ]

  # What the scoring writes beside the record (churn_pipeline.spark_scoring.OUTPUT_COLUMNS).
  score_columns = [
    { name = "churn_probability", type = "double" },
    { name = "churn_prediction", type = "int" },
    { name = "model_version", type = "string" },
    { name = "scored_at", type = "timestamp" },
  ]

  # Kinesis metadata the streaming job keeps per record (churn_pipeline.streaming.handler).
  kinesis_columns = [
    { name = "record_id", type = "string" },
    { name = "kinesis_shard_id", type = "string" },
    { name = "kinesis_sequence_number", type = "string" },
    { name = "kinesis_arrival_time", type = "timestamp" },
  ]

  # The streaming datasets are Hive-partitioned by arrival hour; integer projection enumerates the
  # partitions, so Athena sees a new hour without crawlers or MSCK REPAIR.
  ingest_partitions = [
    { name = "ingest_year", range = "${var.partition_projection_start_year},2100", digits = "4" },
    { name = "ingest_month", range = "1,12", digits = "2" },
    { name = "ingest_day", range = "1,31", digits = "2" },
    { name = "ingest_hour", range = "0,23", digits = "2" },
  ]

  # Parquet tables. The batch job writes one batch_id=<id> folder per run (free-form ids no projection can
  # enumerate), so its tables are not partitioned in the catalog: Athena reads every folder under the location,
  # a new run included, without crawlers.
  result_tables = {
    batch_predictions = {
      location   = "${local.s3.results}/batch/predictions/"
      columns    = concat(local.raw_columns, local.score_columns)
      partitions = []
    }
    batch_rejects = {
      location = "${local.s3.results}/batch/rejects/"
      columns = concat(local.raw_columns, [
        { name = "error_code", type = "string" },
        { name = "error_reason", type = "string" },
      ])
      partitions = []
    }
    stream_predictions = {
      location   = "${local.s3.results}/stream/predictions/"
      columns    = concat(local.raw_columns, [{ name = "event_time", type = "string" }], local.score_columns, local.kinesis_columns)
      partitions = local.ingest_partitions
    }
    stream_dead_letter = {
      location = "${local.s3.results}/stream/dead-letter/"
      columns = [
        { name = "raw_payload", type = "binary" },
        { name = "error_code", type = "string" },
        { name = "error_reason", type = "string" },
        { name = "record_id", type = "string" },
        { name = "kinesis_shard_id", type = "string" },
        { name = "kinesis_sequence_number", type = "string" },
        { name = "kinesis_partition_key", type = "string" },
        { name = "kinesis_arrival_time", type = "timestamp" },
        { name = "dead_lettered_at", type = "timestamp" },
      ]
      partitions = local.ingest_partitions
    }
  }

  model_uri = "${local.s3.artifacts}/${var.artifacts.model_prefix}"

  # Every argument jobs/glue_batch_scoring.py resolves (its REQUIRED_ARGS, less JOB_NAME which Glue supplies).
  batch_job_arguments = {
    "--input_path"    = "${local.s3.data}/input/"
    "--output_path"   = "${local.s3.results}/batch/predictions/"
    "--rejects_path"  = "${local.s3.results}/batch/rejects/"
    "--failed_path"   = "${local.s3.results}/batch/failed/"
    "--model_uri"     = local.model_uri
    "--mode"          = var.scoring.mode
    "--endpoint_name" = var.endpoint_name
    "--threshold"     = tostring(var.scoring.threshold)
    "--output_format" = var.scoring.output_format
  }

  # Every argument jobs/glue_stream_scoring.py resolves (its REQUIRED_ARGS, less JOB_NAME).
  stream_job_arguments = {
    "--stream_arn"        = var.stream.arn
    "--starting_position" = var.stream_job.starting_position
    "--checkpoint_path"   = "${local.s3.data}/checkpoints/stream-scoring/"
    "--output_path"       = "${local.s3.results}/stream/predictions/"
    "--dead_letter_path"  = "${local.s3.results}/stream/dead-letter/"
    "--model_uri"         = local.model_uri
    "--mode"              = var.scoring.mode
    "--endpoint_name"     = var.endpoint_name
    "--threshold"         = tostring(var.scoring.threshold)
    "--window_size"       = var.stream_job.window_size
  }

  # Glue's own parameters, the same for both jobs.
  glue_runtime_arguments = {
    "--job-language"                     = "python"
    "--TempDir"                          = "${local.s3.data}/tmp/glue/"
    "--enable-metrics"                   = "true"
    "--enable-continuous-cloudwatch-log" = "true"
    "--enable-glue-datacatalog"          = "true"
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

    # The producer adds record_id and event_time to the tutorial's fields.
    dynamic "columns" {
      for_each = concat(local.raw_columns, [{ name = "record_id", type = "string" }, { name = "event_time", type = "string" }])
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
  table_type    = "EXTERNAL_TABLE"

  parameters = merge(
    {
      classification        = "parquet"
      EXTERNAL              = "TRUE"
      "parquet.compression" = "SNAPPY"
      has_encrypted_data    = "true"
    },
    length(each.value.partitions) == 0 ? {} : merge(
      {
        "projection.enabled"        = "true"
        "storage.location.template" = "${each.value.location}${join("/", [for p in each.value.partitions : "${p.name}=$${${p.name}}"])}/"
      },
      merge([for p in each.value.partitions : {
        "projection.${p.name}.type"   = "integer"
        "projection.${p.name}.range"  = p.range
        "projection.${p.name}.digits" = p.digits
      }]...),
    ),
  )

  dynamic "partition_keys" {
    for_each = each.value.partitions
    content {
      name = partition_keys.value.name
      type = "string"
    }
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
      description = "Scores a CSV drop of customer records; writes scores, rejects and failed rows."
      command     = "glueetl"
      settings    = var.batch_job
      script_key  = var.artifacts.batch_script_key
      wheels      = var.artifacts.batch_python_modules
      timeout     = var.batch_job.timeout_minutes
      arguments   = merge(local.batch_job_arguments, { "--job-bookmark-option" = "job-bookmark-disable" })
    }
    stream = {
      description = "Scores customer records from Kinesis in micro-batches; writes scores and dead letters."
      command     = "gluestreaming"
      settings    = var.stream_job
      script_key  = var.artifacts.stream_script_key
      wheels      = var.artifacts.stream_python_modules
      # A streaming job runs until stopped: no timeout on purpose.
      timeout   = null
      arguments = local.stream_job_arguments
    }
  }
}

resource "aws_glue_job" "this" {
  for_each = local.jobs

  name                   = "${var.name_prefix}-${each.key}-scoring"
  description            = each.value.description
  role_arn               = var.role_arn
  glue_version           = each.value.settings.glue_version
  worker_type            = each.value.settings.worker_type
  number_of_workers      = each.value.settings.number_of_workers
  timeout                = each.value.timeout
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

