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
  # Prefixes whose objects are disposable after a while, per bucket.
  expiring_prefixes = {
    data = {
      "checkpoints/" = var.checkpoint_expiration_days
      "tmp/"         = var.temporary_expiration_days
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

  dynamic "statement" {
    for_each = length(var.key_service_principals) > 0 ? [1] : []
    content {
      sid     = "ServicesEncryptOnOurBehalf"
      actions = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
      # In a key policy "*" means this key itself.
      resources = ["*"]
      principals {
        type        = "Service"
        identifiers = var.key_service_principals
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
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
  # checkov:skip=CKV2_AWS_62:No consumer of S3 event notifications: Glue reads by schedule and partition projection.
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
