data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  # The stream's ARN as Kinesis forms it (arn:<partition>:kinesis:<region>:<account>:stream/<name>), known at
  # plan time: a plan then shows the streaming job's --stream_arn and the policies that name the stream,
  # instead of "known after apply". The name comes from the resource, so users of the ARN still wait for it.
  # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonkinesis.html#amazonkinesis-resources-for-iam-policies
  arn = "arn:${data.aws_partition.current.partition}:kinesis:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:stream/${aws_kinesis_stream.this.name}"
}

resource "aws_kinesis_stream" "this" {
  name             = var.name
  shard_count      = var.capacity_mode == "PROVISIONED" ? var.shard_count : null
  retention_period = var.retention_hours
  encryption_type  = "KMS"
  kms_key_id       = var.kms_key_arn

  stream_mode_details {
    stream_mode = var.capacity_mode
  }

  tags = var.tags
}
