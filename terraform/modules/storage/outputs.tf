output "kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts the buckets (and, by the other modules, the stream, logs and endpoint)."
  value       = aws_kms_key.this.arn
}

output "bucket_names" {
  description = "Bucket name per purpose: data, artifacts, results."
  # The configured name (known at plan time, unlike the computed id), so a plan shows the Glue jobs' paths.
  value = { for purpose, bucket in aws_s3_bucket.this : purpose => bucket.bucket }
}

output "bucket_arns" {
  description = "Bucket ARN per purpose: data, artifacts, results."
  value       = { for purpose, bucket in aws_s3_bucket.this : purpose => bucket.arn }
}
