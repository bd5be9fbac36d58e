data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  # data: raw inputs, streaming checkpoints, Glue temporary files; artifacts: code, wheels, models;
  # results: scores, rejects, dead letters, Athena query results.
  bucket_names = {
    for purpose in ["data", "artifacts", "results"] : purpose => "${var.name_prefix}-${purpose}-${local.account_id}"
  }
  # Prefixes whose objects are disposable after a while, per bucket. Live streaming checkpoints (checkpoints/)
  # never expire: Spark writes a query's checkpoint `metadata` file once, when the query first starts, and reads
  # it on every restart, so expiring it by age would break a stream that has simply run long enough. A checkpoint
  # is retired explicitly, by moving it under checkpoints-retired/ (terraform/README.md, "Retiring a streaming
  # checkpoint"), and expires from there.
  expiring_prefixes = {
    data = {
      "checkpoints-retired/" = var.retired_checkpoint_expiration_days
      "tmp/"                 = var.temporary_expiration_days
    }
    artifacts = {}
    results = {
      "athena/" = var.temporary_expiration_days
    }
  }
}

data "aws_iam_policy_document" "key" {
  # checkov:skip=CKV_AWS_111:This is a key policy: its resource "*" is the key itself, and writes are delegated to the account's IAM policies.
  # checkov:skip=CKV_AWS_356:This is a key policy: "*" is the only resource a key policy accepts and means this key.
  # checkov:skip=CKV_AWS_109:This is a key policy: key administration is delegated to the account root, AWS's documented default.
  # The account's IAM policies decide who may use the key (AWS's recommended delegation); the actions
  # are the console's administrator + user set, listed so that no statement grants `kms:*`.
  statement {
    sid = "AccountAdministersAndUsesKeyThroughIam"
    actions = [
      "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
      "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
      "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
      "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
    ]
    # In a key policy "*" means this key itself.
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root"]
    }
  }

  # Services that use the key on our behalf, each in the form its own documentation gives (no generic
  # statement: a condition one service honours can silently break another).

  # CloudWatch Logs, for the log groups Glue writes through its security configuration (SSE-KMS CloudWatch
  # encryption). Principal, actions and the encryption-context condition as documented in "Encrypt log data in
  # CloudWatch Logs using AWS Key Management Service":
  # https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
  # The condition names the log groups (ARN patterns of this account and region), so the key encrypts no other
  # log group. (kms:Describe* requests carry no encryption context, so this condition does not grant them; the
  # documented statement is conditioned the same way.)
  dynamic "statement" {
    for_each = length(var.key_service_access.log_groups) > 0 ? [1] : []
    content {
      sid     = "CloudWatchLogsEncryptsTheseLogGroups"
      actions = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
      # In a key policy "*" means this key itself.
      resources = ["*"]
      principals {
        type        = "Service"
        identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
      }
      condition {
        test     = "ArnLike"
        variable = "kms:EncryptionContext:aws:logs:arn"
        values = [
          for group in var.key_service_access.log_groups :
          "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${local.account_id}:log-group:${group}"
        ]
      }
    }
  }

  # CloudWatch alarms publishing to an SNS topic encrypted with this key. Principal and actions as documented in
  # "Enable compatibility between event sources from AWS services and encrypted topics", which gives the
  # statement without a condition:
  # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
  # Which alarms may publish is decided by the topic policy (monitoring module: aws:SourceArn of this account's
  # alarms).
  dynamic "statement" {
    for_each = var.key_service_access.alarms_to_sns ? [1] : []
    content {
      sid     = "CloudWatchAlarmsPublishToEncryptedTopics"
      actions = ["kms:Decrypt", "kms:GenerateDataKey*"]
      # In a key policy "*" means this key itself.
      resources = ["*"]
      principals {
        type        = "Service"
        identifiers = ["cloudwatch.amazonaws.com"]
      }
    }
  }

  # EventBridge rules delivering to an SNS topic encrypted with this key: kms:Decrypt and kms:GenerateDataKey for
  # events.amazonaws.com, WITHOUT a condition. AWS documents the grant unconditioned (the SNS page above, whose
  # statement is the one for every AWS service publishing to an encrypted topic; the knowledge-center article on
  # EventBridge-to-SNS delivery asks for these key permissions:
  # https://repost.aws/knowledge-center/sns-not-getting-eventbridge-notification), and the AWS Modern Data
  # Architecture Accelerator notes that aws:SourceAccount / aws:SourceArn are not supported in a KMS key policy for
  # EventBridge delivery: the KMS request carries no such key, so a condition on them makes every delivery fail
  # silently (FailedInvocations on the rule, nothing on the topic):
  # https://aws.github.io/modern-data-architecture-accelerator/typedocs/functions/_aws-mdaa_cloudwatch-constructs.grantCloudWatchAlarmsTopicAccess.html
  # (The conditions in "Authorizing EventBridge to use a customer managed key" are for encrypting an event bus,
  # which this pipeline does not do.)
  dynamic "statement" {
    for_each = var.key_service_access.events_to_sns ? [1] : []
    content {
      sid     = "EventBridgeDeliversToEncryptedTopics"
      actions = ["kms:Decrypt", "kms:GenerateDataKey"]
      # In a key policy "*" means this key itself.
      resources = ["*"]
      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name_prefix}: data lake, artifacts, stream, logs, endpoint storage"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name_prefix}"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_s3_bucket" "this" {
  # checkov:skip=CKV_AWS_18:Server access logs would need a further bucket per environment; CloudTrail data events are the audit trail of record.
  # checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice per deployment, not a default; the data is reproducible from its sources.
  # checkov:skip=CKV2_AWS_62:No consumer of S3 event notifications: the Glue jobs run on schedules and streams, and readers find new data through the catalog.
  for_each = local.bucket_names

  bucket        = each.value
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Purpose = each.key })
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = aws_s3_bucket.this

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

data "aws_iam_policy_document" "tls_only" {
  for_each = var.tls_only_policy ? aws_s3_bucket.this : {}

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = var.tls_only_policy ? aws_s3_bucket.this : {}

  bucket = each.value.id
  policy = data.aws_iam_policy_document.tls_only[each.key].json

  # A bucket policy put before the public access block can be rejected as public.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  # Old versions expire everywhere, checkpoints/ included: Spark never overwrites a checkpoint file in place
  # (metadata is written once, offsets/commits/state files are new objects per batch), so a noncurrent version
  # there is a deleted or replaced file no running query reads.
  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"
    # An empty prefix is "every object"; spelled out because S3 answers with it and an empty filter would drift.
    filter {
      prefix = ""
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  dynamic "rule" {
    for_each = local.expiring_prefixes[each.key]
    content {
      id     = "expire-${trimsuffix(rule.key, "/")}"
      status = "Enabled"
      filter {
        prefix = rule.key
      }
      expiration {
        days = rule.value
      }
    }
  }

  # Lifecycle rules on a bucket without versioning configured first behave differently for noncurrent versions.
  depends_on = [aws_s3_bucket_versioning.this]
}
