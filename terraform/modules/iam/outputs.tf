output "glue_batch_role_arn" {
  description = "ARN of the role the Glue batch scoring job runs as."
  value       = aws_iam_role.glue_batch.arn
  # Consumers wait for the permissions, not just the role: Glue and SageMaker check them at creation.
  depends_on = [aws_iam_role_policy.glue_batch]
}

output "glue_batch_role_name" {
  description = "Name of the role the Glue batch scoring job runs as."
  value       = aws_iam_role.glue_batch.name
}

output "glue_stream_role_arn" {
  description = "ARN of the role the Glue streaming scoring job runs as."
  value       = aws_iam_role.glue_stream.arn
  depends_on  = [aws_iam_role_policy.glue_stream]
}

output "glue_stream_role_name" {
  description = "Name of the role the Glue streaming scoring job runs as."
  value       = aws_iam_role.glue_stream.name
}

output "glue_quality_role_arn" {
  description = "ARN of the role the Glue model-quality job runs as."
  value       = aws_iam_role.glue_quality.arn
  depends_on  = [aws_iam_role_policy.glue_quality]
}

output "glue_quality_role_name" {
  description = "Name of the role the Glue model-quality job runs as."
  value       = aws_iam_role.glue_quality.name
}

output "sagemaker_role_arn" {
  description = "ARN of the SageMaker execution role of the endpoint."
  value       = aws_iam_role.sagemaker.arn
  depends_on  = [aws_iam_role_policy.sagemaker]
}

output "table_optimizer_role_arn" {
  description = "ARN of the role Glue's table optimizers run as on the jobs' Iceberg tables; null unless table_optimizers_enabled."
  value       = one(aws_iam_role.table_optimizer[*].arn)
  depends_on  = [aws_iam_role_policy.table_optimizer]
}

output "scoring_jobs_invoke_endpoint" {
  description = "Whether the scoring jobs' roles may invoke the endpoint: only when they score in the endpoint mode (scoring_mode)."
  value       = local.invokes_endpoint
}
