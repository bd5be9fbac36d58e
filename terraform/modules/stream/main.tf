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
