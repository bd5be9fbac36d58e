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
}

# ---------------------------------------------------------------- Glue job role
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

resource "aws_iam_role" "glue" {
  name               = "${var.name_prefix}-glue-jobs"
  description        = "Batch and streaming scoring jobs: read inputs, stream and artifacts, invoke the endpoint, write results."
  assume_role_policy = data.aws_iam_policy_document.trust["glue"].json
  tags               = var.tags
}

# What every Glue job needs whichever job it is: Glue fetches its script and wheels and the job its model, Spark
# lists the buckets and uses --TempDir, S3 and the security configuration use the key, the job logs under
# /aws-glue/ and publishes metrics (Glue's own with --enable-metrics, the pipeline's). Both job roles' policies
# start from it.
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

  # Listing for Spark's reads and writes (EMRFS) and the commit protocol; the artifacts bucket too, so that a
  # model file a model lacks (baseline.json, dataset.json) answers 404, not 403 (S3 answers 403 for a missing key
  # to a caller without s3:ListBucket: https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
  statement {
    sid       = "ListOwnBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.artifacts, local.data, local.results]
  }

  statement {
    sid       = "UseDataKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
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

data "aws_iam_policy_document" "glue" {
  source_policy_documents = [data.aws_iam_policy_document.glue_runtime.json]

  statement {
    sid       = "ReadBatchInput"
    actions   = ["s3:GetObject"]
    resources = ["${local.data}/input/*"]
  }

  statement {
    sid       = "ReadWriteCheckpoints"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.data}/checkpoints/*"]
  }

  statement {
    sid     = "WriteScoresRejectsAndDeadLetters"
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [
      "${local.results}/batch/*",
      "${local.results}/stream/*",
    ]
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

  statement {
    sid       = "InvokeEndpoint"
    actions   = ["sagemaker:InvokeEndpoint"]
    resources = [local.endpoint_arn]
  }
}

resource "aws_iam_role_policy" "glue" {
  name   = "least-privilege"
  role   = aws_iam_role.glue.id
  policy = data.aws_iam_policy_document.glue.json
}

# ---------------------------------------------------------------- Glue model-quality job role
# A role of its own: the quality job reads what both scoring jobs wrote and the outcome drops, and writes only its
# own datasets; it needs neither the stream nor the endpoint, and the scoring jobs need neither outcomes/ nor
# quality/. Locations from the contract (churn_pipeline.contract.outputs): the datasets and the files it reads
# and writes.
locals {
  bucket_arns_by_purpose = { data = local.data, artifacts = local.artifacts, results = local.results }
  quality_reads = [
    for location in [
      local.contract.datasets.batch_predictions, local.contract.datasets.stream_predictions,
      local.contract.locations.outcomes,
    ] : "${local.bucket_arns_by_purpose[location.bucket]}/${location.prefix}*"
  ]
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

  statement {
    sid       = "ReadScoresAndOutcomes"
    actions   = ["s3:GetObject"]
    resources = local.quality_reads
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
