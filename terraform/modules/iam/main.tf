data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

data "aws_sagemaker_prebuilt_ecr_image" "xgboost" {
  repository_name = "sagemaker-xgboost"
  image_tag       = var.xgboost_image_tag
}

locals {
  contract = jsondecode(file("${path.module}/../../contract.json"))
  # The jobs' own metric namespace (churn_pipeline.contract.metrics, via terraform/contract.json).
  metrics_namespace = local.contract.metrics.namespace

  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id
  arn_base  = "arn:${local.partition}"

  artifacts = var.bucket_arns["artifacts"]
  data      = var.bucket_arns["data"]
  results   = var.bucket_arns["results"]

  endpoint_arn = "${local.arn_base}:sagemaker:${local.region}:${local.account}:endpoint/${lower(var.endpoint_name)}"
  # The scoring jobs' mode, as modules/glue deploys it (--scoring_mode): embedded jobs never call the endpoint,
  # so their roles may not. A run started with another --scoring_mode than the deployed one is refused by IAM.
  scoring_mode     = coalesce(var.scoring_mode, local.contract.settings.scoring_mode.default)
  invokes_endpoint = local.scoring_mode == local.contract.endpoint_scoring_mode
  scoring_job_documents = concat(
    [data.aws_iam_policy_document.glue_runtime.json],
    local.invokes_endpoint ? [data.aws_iam_policy_document.invoke_endpoint.json] : [],
  )

  # The jobs' Iceberg tables (contract iceberg_tables), by name: `make deploy` creates them in this database
  # (churn_tools.deploy.tables), so their ARNs are known before they exist. A Glue action on a table needs the
  # table's, its database's and the catalog's ARN (https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html).
  glue_catalog_arn  = "${local.arn_base}:glue:${local.region}:${local.account}:catalog"
  glue_database_arn = "${local.arn_base}:glue:${local.region}:${local.account}:database/${var.database_name}"
  iceberg_tables    = local.contract.iceberg_tables
  iceberg_table_arns = {
    for name in local.iceberg_tables : name => "${local.arn_base}:glue:${local.region}:${local.account}:table/${var.database_name}/${name}"
  }
  # Each table's files (data/, metadata/) under <warehouse><database>/<table>/ (tables.CatalogSettings.table_location).
  warehouse_bucket_arn = var.bucket_arns[local.contract.table_warehouse.bucket]
  iceberg_table_keys = {
    for name in local.iceberg_tables : name => "${local.contract.table_warehouse.prefix}${var.database_name}/${name}"
  }
  iceberg_table_objects = { for name, key in local.iceberg_table_keys : name => "${local.warehouse_bucket_arn}/${key}/*" }
}

# ---------------------------------------------------------------- Glue scoring jobs' roles
# Each role may be assumed only by its service, on behalf of this account.
data "aws_iam_policy_document" "trust" {
  for_each = { glue = "glue.amazonaws.com", sagemaker = "sagemaker.amazonaws.com" }

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [each.value]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

# What every Glue job needs whichever job it is: Glue fetches its script and wheels and the job its model, Spark
# lists the buckets and uses --TempDir, S3 and the security configuration use the key, the job logs under
# /aws-glue/ and publishes metrics (Glue's own with --enable-metrics, the pipeline's). Every job role's policy
# starts from it.
data "aws_iam_policy_document" "glue_runtime" {
  statement {
    sid     = "ReadCodeWheelsAndModels"
    actions = ["s3:GetObject"]
    resources = [
      "${local.artifacts}/code/*",
      "${local.artifacts}/wheels/*",
      "${local.artifacts}/models/*",
    ]
  }

  # Glue's --TempDir (data/tmp/glue/, modules/glue) for every job.
  statement {
    sid       = "ReadWriteTemporaryData"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.data}/tmp/*"]
  }

  # Listing for Spark's reads and writes (EMRFS) and for pyarrow's S3 file system, which lists a key it finds
  # missing (pyiceberg creates table files with overwrite=False: a HEAD first); the artifacts bucket too, so that a
  # model file a model lacks (baseline.json, dataset.json) answers 404, not 403 (S3 answers 403 for a missing key
  # to a caller without s3:ListBucket: https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
  statement {
    sid       = "ListOwnBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.artifacts, local.data, local.results]
  }

  # SSE-KMS: S3 needs kms:GenerateDataKey from a writer and kms:Decrypt from a reader
  # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html, "Permissions"; the same for
  # directory buckets: https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-express-UsingKMSEncryption.html),
  # a Kinesis consumer kms:Decrypt. No kms:Encrypt: the only thing the security configuration would encrypt with
  # the key itself is a job bookmark (CSE-KMS), and no job writes one: the batch and quality jobs run with
  # job-bookmark-disable, and "streaming jobs use checkpoints rather than job bookmarks"
  # (https://docs.aws.amazon.com/glue/latest/dg/add-job-streaming.html). First deployment checklist.
  statement {
    sid       = "UseDataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "WriteJobLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"]
    resources = ["${local.arn_base}:logs:${local.region}:${local.account}:log-group:/aws-glue/*"]
  }

  statement {
    sid     = "PublishJobMetrics"
    actions = ["cloudwatch:PutMetricData"]
    # PutMetricData has no resource-level permissions: "*" is the only resource AWS accepts; the namespace
    # condition narrows it to the job metrics.
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["Glue", local.metrics_namespace]
    }
  }
}

# The scoring jobs invoke the endpoint in endpoint mode only (both read the same --scoring_mode and --endpoint_name):
# local.scoring_job_documents.
data "aws_iam_policy_document" "invoke_endpoint" {
  statement {
    sid       = "InvokeEndpoint"
    actions   = ["sagemaker:InvokeEndpoint"]
    resources = [local.endpoint_arn]
  }
}

# ---------------------------------------------------------------- the batch scoring job's role
# Derived from its arguments (modules/glue): --input_path (its input drops), --table_warehouse and
# --table_database (its four Iceberg tables: contract iceberg_tables_by_job.batch), the scoring arguments (the
# model, the endpoint). Nothing of the streaming job's: no stream, no checkpoint, no stream table.
locals {
  batch_input   = "${local.data}/input/*"
  batch_tables  = local.contract.iceberg_tables_by_job.batch
  stream_tables = local.contract.iceberg_tables_by_job.stream
}

resource "aws_iam_role" "glue_batch" {
  name               = "${var.name_prefix}-glue-batch"
  description        = "Batch scoring job: read input drops and artifacts, invoke the endpoint, commit its Iceberg tables."
  assume_role_policy = data.aws_iam_policy_document.trust["glue"].json
  tags               = var.tags
}

data "aws_iam_policy_document" "glue_batch" {
  source_policy_documents = local.scoring_job_documents

  statement {
    sid       = "ReadBatchInput"
    actions   = ["s3:GetObject"]
    resources = [local.batch_input]
  }

  # The batch job's Iceberg commit (churn_pipeline.tables, pyiceberg 0.12.0; batch.table_layout.commit_run):
  # Spark tasks put data files under each of its tables' data/, the driver reads the table's metadata and
  # manifests and puts new ones under metadata/ (a HEAD first: pyiceberg creates them with overwrite=False), then
  # moves the catalog's pointer. Nothing is deleted: files no snapshot references are the orphan-file optimizer's.
  statement {
    sid       = "WriteBatchTableFiles"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [for name in local.batch_tables : local.iceberg_table_objects[name]]
  }

  # GetTable to load a table, UpdateTable with the VersionId it read to commit (and to add an input's undescribed
  # columns to its tables: a schema commit). No CreateTable: `make deploy` creates the tables.
  statement {
    sid       = "CommitBatchTables"
    actions   = ["glue:GetTable", "glue:UpdateTable"]
    resources = concat([local.glue_catalog_arn, local.glue_database_arn], [for name in local.batch_tables : local.iceberg_table_arns[name]])
  }

  # pyiceberg 0.12.0's commit also reads the database, once per commit, to tell an S3 Tables federated database
  # from a plain one (pyiceberg/catalog/glue.py, GlueCatalog.commit_table -> _is_s3tables_database).
  statement {
    sid       = "ReadBatchTablesDatabase"
    actions   = ["glue:GetDatabase"]
    resources = [local.glue_catalog_arn, local.glue_database_arn]
  }
}

resource "aws_iam_role_policy" "glue_batch" {
  name   = "least-privilege"
  role   = aws_iam_role.glue_batch.id
  policy = data.aws_iam_policy_document.glue_batch.json
}

# ---------------------------------------------------------------- the streaming scoring job's role
# Derived from its arguments (modules/glue, stream_job_arguments): --stream_arn (Kinesis), --checkpoint_path
# (contract location stream_checkpoint), --table_warehouse and --table_database (its Iceberg tables), the
# scoring arguments (the model, the endpoint). Nothing of the batch job's: no input drop, no batch table.
locals {
  stream_checkpoint         = local.contract.locations.stream_checkpoint
  stream_checkpoint_objects = "${var.bucket_arns[local.stream_checkpoint.bucket]}/${local.stream_checkpoint.prefix}*"
}

resource "aws_iam_role" "glue_stream" {
  name               = "${var.name_prefix}-glue-stream"
  description        = "Streaming scoring job: read its stream, keep its checkpoint, invoke the endpoint, commit its Iceberg tables."
  assume_role_policy = data.aws_iam_policy_document.trust["glue"].json
  tags               = var.tags
}

data "aws_iam_policy_document" "glue_stream" {
  source_policy_documents = local.scoring_job_documents

  # Spark's checkpoint of the job's query (offsets, commits, metadata), under its --checkpoint_path only.
  statement {
    sid       = "ReadWriteCheckpoint"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [local.stream_checkpoint_objects]
  }

  # The streaming job's Iceberg commit (churn_pipeline.tables, pyiceberg 0.12.0) on its own tables
  # (contract iceberg_tables_by_job.stream), as the batch job's above: data files under each table's data/, new
  # metadata and manifests under metadata/ (a HEAD first), then the catalog's pointer. Nothing is deleted: files no
  # snapshot references are the orphan-file optimizer's (modules/glue; its own role below).
  statement {
    sid       = "WriteStreamTableFiles"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [for name in local.stream_tables : local.iceberg_table_objects[name]]
  }

  # GetTable to load a table (the current metadata_location), UpdateTable with the VersionId it read to commit.
  # No CreateTable: `make deploy` creates the tables, and a job that finds none fails rather than making one.
  statement {
    sid       = "CommitStreamTables"
    actions   = ["glue:GetTable", "glue:UpdateTable"]
    resources = concat([local.glue_catalog_arn, local.glue_database_arn], [for name in local.stream_tables : local.iceberg_table_arns[name]])
  }

  # pyiceberg 0.12.0's commit also reads the database, once per commit, to tell an S3 Tables federated database
  # from a plain one (pyiceberg/catalog/glue.py, GlueCatalog.commit_table -> _is_s3tables_database).
  statement {
    sid       = "ReadStreamTablesDatabase"
    actions   = ["glue:GetDatabase"]
    resources = [local.glue_catalog_arn, local.glue_database_arn]
  }

  statement {
    sid = "ReadStream"
    # Shared-throughput reads of the stream's own ARN. No kinesis:SubscribeToShard: it is an enhanced fan-out
    # action on a *consumer* ARN (stream/NAME/consumer/*), so granted on the stream ARN it never applied, and
    # the job registers no consumer (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonkinesis.html).
    actions = [
      "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
      "kinesis:GetShardIterator", "kinesis:ListShards",
    ]
    resources = [var.stream_arn]
  }
}

resource "aws_iam_role_policy" "glue_stream" {
  name   = "least-privilege"
  role   = aws_iam_role.glue_stream.id
  policy = data.aws_iam_policy_document.glue_stream.json
}

# ---------------------------------------------------------------- Glue model-quality job role
# A role of its own: the quality job reads what both scoring jobs wrote and the outcome drops, and writes only its
# own datasets; it needs neither the stream nor the endpoint, and the scoring jobs need neither outcomes/ nor
# quality/. Locations from the contract (churn_pipeline.contract.outputs): the datasets and the files it reads
# and writes.
locals {
  bucket_arns_by_purpose = { data = local.data, artifacts = local.artifacts, results = local.results }
  scored_tables          = ["batch_predictions", "stream_predictions"]
  quality_reads = concat(
    ["${local.bucket_arns_by_purpose[local.contract.locations.outcomes.bucket]}/${local.contract.locations.outcomes.prefix}*"],
    [for name in local.scored_tables : local.iceberg_table_objects[name]],
  )
  quality_writes = [
    for location in [
      local.contract.datasets.model_quality, local.contract.datasets.model_calibration,
      local.contract.datasets.outcome_rejects, local.contract.locations.next_training_set,
    ] : "${local.bucket_arns_by_purpose[location.bucket]}/${location.prefix}*"
  ]
}

resource "aws_iam_role" "glue_quality" {
  name               = "${var.name_prefix}-glue-quality"
  description        = "Model-quality job: read the scored datasets and outcome drops, write its quality datasets and the next training set."
  assume_role_policy = data.aws_iam_policy_document.trust["glue"].json
  tags               = var.tags
}

data "aws_iam_policy_document" "glue_quality" {
  source_policy_documents = [data.aws_iam_policy_document.glue_runtime.json]

  # The outcome drops and both scored Iceberg tables (their metadata, manifests and data files: tables.read_spark
  # plans them with pyiceberg, Spark reads the data files).
  statement {
    sid       = "ReadScoresAndOutcomes"
    actions   = ["s3:GetObject"]
    resources = local.quality_reads
  }

  statement {
    sid       = "LoadStreamScoredTable"
    actions   = ["glue:GetTable"]
    resources = concat([local.glue_catalog_arn, local.glue_database_arn], [for name in local.scored_tables : local.iceberg_table_arns[name]])
  }

  statement {
    sid       = "WriteQualityDatasets"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = local.quality_writes
  }
}

resource "aws_iam_role_policy" "glue_quality" {
  name   = "least-privilege"
  role   = aws_iam_role.glue_quality.id
  policy = data.aws_iam_policy_document.glue_quality.json
}

# ---------------------------------------------------------------- Glue table optimizers' role (dev and prod)
# The role Glue's table optimizers (compaction, snapshot retention, orphan-file deletion: modules/glue) run as on
# the jobs' Iceberg tables, with the permissions AWS lists for them, narrowed to these tables and their files:
# https://docs.aws.amazon.com/glue/latest/dg/optimization-prerequisites.html (S3 get/put/delete on the data and
# list on the bucket; glue:GetTable and glue:UpdateTable on the table, its database and the catalog; logs in
# /aws-glue/iceberg-compaction|iceberg-retention|iceberg-orphan-file-deletion/logs). The KMS grant is ours: the
# files are SSE-KMS with the project key, so reading and rewriting them needs it (Decrypt and GenerateDataKey).
data "aws_iam_policy_document" "table_optimizer" {
  statement {
    sid       = "MaintainTableFiles"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = values(local.iceberg_table_objects)
  }

  # Listing only under the tables' locations: orphan-file deletion lists the files under a table's location (the
  # "location" of its configuration, modules/glue, defaults to the table's: "Specifies a directory in which to look
  # for files", https://docs.aws.amazon.com/glue/latest/webapi/API_IcebergOrphanFileDeletionConfiguration.html),
  # compaction and retention read the files the metadata names. AWS's prerequisites grant s3:ListBucket on the
  # bucket of the data's location (optimization-prerequisites.html, above); s3:prefix narrows it to ListObjects
  # requests whose prefix is in a table's location ("Filters access by key name prefix", the s3:prefix condition
  # key of s3:ListBucket: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html,
  # https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html). The location itself with no
  # trailing slash is allowed too: a listing of s3://bucket/<location> sends it as the prefix. GetBucketLocation
  # (the bucket's region) takes no prefix.
  statement {
    sid       = "ListTableLocations"
    actions   = ["s3:ListBucket"]
    resources = [local.warehouse_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = flatten([for key in values(local.iceberg_table_keys) : [key, "${key}/*"]])
    }
  }

  statement {
    sid       = "LocateWarehouseBucket"
    actions   = ["s3:GetBucketLocation"]
    resources = [local.warehouse_bucket_arn]
  }

  statement {
    sid       = "CommitMaintenance"
    actions   = ["glue:GetTable", "glue:UpdateTable"]
    resources = concat([local.glue_catalog_arn, local.glue_database_arn], values(local.iceberg_table_arns))
  }

  # The tables' files are SSE-KMS objects: reading them needs kms:Decrypt, writing compacted ones
  # kms:GenerateDataKey (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html), never
  # kms:Encrypt.
  statement {
    sid       = "UseDataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid     = "WriteOptimizerLogs"
    actions = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [
      for kind in ["iceberg-compaction", "iceberg-retention", "iceberg-orphan-file-deletion"] :
      "${local.arn_base}:logs:${local.region}:${local.account}:log-group:/aws-glue/${kind}/logs:*"
    ]
  }
}

resource "aws_iam_role" "table_optimizer" {
  count = var.table_optimizers_enabled ? 1 : 0

  name               = "${var.name_prefix}-table-optimizer"
  description        = "Glue table optimizers on the jobs' Iceberg tables: compaction, snapshot retention, orphan-file deletion."
  assume_role_policy = data.aws_iam_policy_document.trust["glue"].json
  tags               = var.tags
}

resource "aws_iam_role_policy" "table_optimizer" {
  count = var.table_optimizers_enabled ? 1 : 0

  name   = "least-privilege"
  role   = aws_iam_role.table_optimizer[0].id
  policy = data.aws_iam_policy_document.table_optimizer.json
}

# ---------------------------------------------------------------- SageMaker execution role
resource "aws_iam_role" "sagemaker" {
  name               = "${var.name_prefix}-sagemaker-endpoint"
  description        = "The churn endpoint: pull the built-in XGBoost image, read the model, write logs."
  assume_role_policy = data.aws_iam_policy_document.trust["sagemaker"].json
  tags               = var.tags
}

data "aws_iam_policy_document" "sagemaker" {
  statement {
    sid       = "ReadModels"
    actions   = ["s3:GetObject"]
    resources = ["${local.artifacts}/models/*"]
  }

  dynamic "statement" {
    for_each = var.data_capture_enabled ? [1] : []
    content {
      sid       = "WriteCapturedData"
      actions   = ["s3:PutObject"]
      resources = ["${local.results}/data-capture/*"]
    }
  }

  statement {
    sid       = "UseDataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid     = "AuthenticateToEcr"
    actions = ["ecr:GetAuthorizationToken"]
    # GetAuthorizationToken has no resource-level permissions: "*" is the only resource AWS accepts.
    resources = ["*"]
  }

  statement {
    sid     = "PullXgboostImage"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [
      "${local.arn_base}:ecr:${local.region}:${data.aws_sagemaker_prebuilt_ecr_image.xgboost.registry_id}:repository/sagemaker-xgboost",
    ]
  }

  statement {
    sid       = "WriteEndpointLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${local.arn_base}:logs:${local.region}:${local.account}:log-group:/aws/sagemaker/Endpoints/${var.endpoint_name}*"]
  }

  # Deployment guardrails: "Ensure that your IAM execution role has permission to perform the
  # cloudwatch:DescribeAlarms action on the auto-rollback alarms you specify", on those alarms only:
  # https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html
  dynamic "statement" {
    for_each = length(var.rollback_alarm_names) > 0 ? [1] : []
    content {
      sid       = "ReadRollbackAlarms"
      actions   = ["cloudwatch:DescribeAlarms"]
      resources = [for name in var.rollback_alarm_names : "${local.arn_base}:cloudwatch:${local.region}:${local.account}:alarm:${name}"]
    }
  }

  statement {
    sid     = "PublishEndpointMetrics"
    actions = ["cloudwatch:PutMetricData"]
    # PutMetricData has no resource-level permissions: "*" is the only resource AWS accepts.
    resources = ["*"]
    condition {
      test     = "StringLike"
      variable = "cloudwatch:namespace"
      values   = ["/aws/sagemaker/*"]
    }
  }
}

resource "aws_iam_role_policy" "sagemaker" {
  name   = "least-privilege"
  role   = aws_iam_role.sagemaker.id
  policy = data.aws_iam_policy_document.sagemaker.json
}
