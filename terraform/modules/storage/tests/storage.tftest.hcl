mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
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
    ]) == toset(["expire-noncurrent-versions", "expire-checkpoints", "expire-tmp"])
    error_message = "the data bucket expires checkpoints/ and tmp/ besides old versions"
  }
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
