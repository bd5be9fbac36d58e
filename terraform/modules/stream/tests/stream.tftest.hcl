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
}

variables {
  name        = "churn-test-customer-churn"
  kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "on_demand_encrypted_by_default" {
  command = plan

  assert {
    condition     = aws_kinesis_stream.this.stream_mode_details[0].stream_mode == "ON_DEMAND" && aws_kinesis_stream.this.shard_count == null
    error_message = "default capacity is on-demand, without a shard count"
  }

  assert {
    condition     = aws_kinesis_stream.this.encryption_type == "KMS" && aws_kinesis_stream.this.kms_key_id == var.kms_key_arn
    error_message = "the stream must be encrypted with the given key"
  }

  assert {
    condition     = output.arn == "arn:aws:kinesis:us-east-1:123456789012:stream/churn-test-customer-churn"
    error_message = "the ARN is known at plan time, as Kinesis forms it"
  }
}

run "provisioned_takes_the_shard_count" {
  command = plan

  variables {
    capacity_mode   = "PROVISIONED"
    shard_count     = 3
    retention_hours = 168
  }

  assert {
    condition     = aws_kinesis_stream.this.shard_count == 3 && aws_kinesis_stream.this.retention_period == 168
    error_message = "provisioned mode uses shard_count and the retention given"
  }
}

run "rejects_unknown_capacity_mode" {
  command = plan

  variables {
    capacity_mode = "SERVERLESS"
  }

  expect_failures = [var.capacity_mode]
}

run "rejects_retention_outside_kinesis_limits" {
  command = plan

  variables {
    retention_hours = 12
  }

  expect_failures = [var.retention_hours]
}
