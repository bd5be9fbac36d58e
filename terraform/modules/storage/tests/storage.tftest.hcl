mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  name_prefix = "churn-test"
}

run "three_private_encrypted_versioned_buckets" {
  command = plan

  assert {
    condition     = toset([for b in aws_s3_bucket.this : b.bucket]) == toset(["churn-test-data-123456789012", "churn-test-artifacts-123456789012", "churn-test-results-123456789012"])
    error_message = "expected the data, artifacts and results buckets named <prefix>-<purpose>-<account>"
  }

  assert {
    condition     = alltrue([for v in aws_s3_bucket_versioning.this : v.versioning_configuration[0].status == "Enabled"])
    error_message = "every bucket must be versioned"
  }

  assert {
    condition = alltrue([
      for c in aws_s3_bucket_server_side_encryption_configuration.this :
      alltrue([for r in c.rule : r.apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms" && r.bucket_key_enabled])
    ])
    error_message = "every bucket must default to SSE-KMS with the customer-managed key"
  }

  assert {
    condition = alltrue([
      for p in aws_s3_bucket_public_access_block.this :
      p.block_public_acls && p.block_public_policy && p.ignore_public_acls && p.restrict_public_buckets
    ])
    error_message = "every bucket must block all public access"
  }

  assert {
    condition     = length(aws_s3_bucket_policy.this) == 3 && alltrue([for b in aws_s3_bucket.this : !b.force_destroy])
    error_message = "every bucket gets the TLS-only policy and keeps its data on destroy by default"
  }

  assert {
    condition     = aws_kms_key.this.enable_key_rotation && aws_kms_key.this.deletion_window_in_days == 30
    error_message = "the key rotates and waits 30 days before deletion by default"
  }

  assert {
    condition = toset([
      for r in aws_s3_bucket_lifecycle_configuration.this["data"].rule : r.id
    ]) == toset(["expire-noncurrent-versions", "expire-checkpoints-retired", "expire-tmp"])
    error_message = "the data bucket expires retired checkpoints and tmp/ besides old versions"
  }

  assert {
    condition = {
      for r in aws_s3_bucket_lifecycle_configuration.this["data"].rule : r.filter[0].prefix => try(r.expiration[0].days, null)
      } == {
      "" = null, "checkpoints-retired/" = 30, "tmp/" = 7
    }
    error_message = "retired checkpoints expire after 30 days and tmp/ after 7 by default; nothing else in the data bucket expires by age"
  }

  assert {
    # Spark writes a live checkpoint's metadata file once and reads it on every restart: no age-based expiry may
    # reach checkpoints/ (a prefix filter "" only expires noncurrent versions).
    condition = alltrue([
      for r in aws_s3_bucket_lifecycle_configuration.this["data"].rule :
      length(r.expiration) == 0 || !startswith("checkpoints/stream-scoring/metadata", r.filter[0].prefix)
    ])
    error_message = "no expiration rule may match live checkpoints under checkpoints/"
  }
}

run "retired_checkpoint_retention_is_a_setting" {
  command = plan

  variables {
    retired_checkpoint_expiration_days = 90
  }

  assert {
    condition     = one([for r in aws_s3_bucket_lifecycle_configuration.this["data"].rule : r.expiration[0].days if r.id == "expire-checkpoints-retired"]) == 90
    error_message = "retired_checkpoint_expiration_days sets the retention of checkpoints-retired/"
  }
}

run "no_service_may_use_the_key_unless_asked" {
  command = plan

  assert {
    condition     = [for s in data.aws_iam_policy_document.key.statement : s.sid] == ["AccountAdministersAndUsesKeyThroughIam"]
    error_message = "by default the key policy only delegates to the account's IAM policies"
  }
}

run "each_service_gets_its_documented_key_statement" {
  command = plan

  variables {
    key_service_access = {
      log_groups    = ["/aws-glue/*"]
      alarms_to_sns = true
      events_to_sns = true
    }
  }

  assert {
    condition = [for s in data.aws_iam_policy_document.key.statement : s.sid] == [
      "AccountAdministersAndUsesKeyThroughIam",
      "CloudWatchLogsEncryptsTheseLogGroups",
      "CloudWatchAlarmsPublishToEncryptedTopics",
      "EventBridgeDeliversToEncryptedTopics",
    ]
    error_message = "one statement per service, no generic service statement"
  }

  # CloudWatch Logs: regional principal, the documented actions, bound to our log groups by encryption context.
  assert {
    condition = one([
      for s in data.aws_iam_policy_document.key.statement : s
      if s.sid == "CloudWatchLogsEncryptsTheseLogGroups"
      ]).principals == toset([{ type = "Service", identifiers = toset(["logs.eu-west-1.amazonaws.com"]) }]) && toset(one([
        for s in data.aws_iam_policy_document.key.statement : s.actions
        if s.sid == "CloudWatchLogsEncryptsTheseLogGroups"
    ])) == toset(["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"])
    error_message = "CloudWatch Logs is granted as logs.<region>.amazonaws.com with the documented actions"
  }

  assert {
    condition = jsonencode(one([
      for s in data.aws_iam_policy_document.key.statement : s.condition
      if s.sid == "CloudWatchLogsEncryptsTheseLogGroups"
      ])) == jsonencode([{
      test     = "ArnLike"
      values   = ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws-glue/*"]
      variable = "kms:EncryptionContext:aws:logs:arn"
    }])
    error_message = "the logs statement is conditioned on the encryption context naming this account's and region's Glue log groups"
  }

  # EventBridge: Decrypt + GenerateDataKey and no condition at all (aws:SourceAccount would drop every delivery).
  assert {
    condition = one([
      for s in data.aws_iam_policy_document.key.statement : s
      if s.sid == "EventBridgeDeliversToEncryptedTopics"
      ]).principals == toset([{ type = "Service", identifiers = toset(["events.amazonaws.com"]) }]) && toset(one([
        for s in data.aws_iam_policy_document.key.statement : s.actions
        if s.sid == "EventBridgeDeliversToEncryptedTopics"
    ])) == toset(["kms:Decrypt", "kms:GenerateDataKey"])
    error_message = "EventBridge is granted kms:Decrypt and kms:GenerateDataKey"
  }

  assert {
    condition = length(one([
      for s in data.aws_iam_policy_document.key.statement : s.condition
      if s.sid == "EventBridgeDeliversToEncryptedTopics"
    ])) == 0
    error_message = "the EventBridge statement must carry no condition"
  }

  # CloudWatch alarms: Decrypt + GenerateDataKey*, unconditioned as the SNS guide documents it.
  assert {
    condition = one([
      for s in data.aws_iam_policy_document.key.statement : s
      if s.sid == "CloudWatchAlarmsPublishToEncryptedTopics"
      ]).principals == toset([{ type = "Service", identifiers = toset(["cloudwatch.amazonaws.com"]) }]) && toset(one([
        for s in data.aws_iam_policy_document.key.statement : s.actions
        if s.sid == "CloudWatchAlarmsPublishToEncryptedTopics"
        ])) == toset(["kms:Decrypt", "kms:GenerateDataKey*"]) && length(one([
        for s in data.aws_iam_policy_document.key.statement : s.condition
        if s.sid == "CloudWatchAlarmsPublishToEncryptedTopics"
    ])) == 0
    error_message = "CloudWatch alarms are granted kms:Decrypt and kms:GenerateDataKey* as documented"
  }
}

run "rejects_a_log_group_arn_where_a_name_is_expected" {
  command = plan

  variables {
    key_service_access = { log_groups = ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws-glue/*"] }
  }

  expect_failures = [var.key_service_access]
}

run "rejects_a_fractional_retention" {
  command = plan

  variables {
    retired_checkpoint_expiration_days = 0.5
  }

  expect_failures = [var.retired_checkpoint_expiration_days]
}

run "tls_policy_off_only_when_asked" {
  command = plan

  variables {
    tls_only_policy = false
  }

  assert {
    condition     = length(aws_s3_bucket_policy.this) == 0
    error_message = "tls_only_policy = false must drop the policy (the local emulator's exception)"
  }
}

run "rejects_a_prefix_that_cannot_name_a_bucket" {
  command = plan

  variables {
    name_prefix = "Churn_Test"
  }

  expect_failures = [var.name_prefix]
}

run "rejects_a_deletion_window_kms_refuses" {
  command = plan

  variables {
    kms_deletion_window_days = 3
  }

  expect_failures = [var.kms_deletion_window_days]
}
