output "buckets" {
  description = "Bucket names per purpose: data, artifacts, results."
  value       = module.storage.bucket_names
}

output "kms_key_arn" {
  description = "ARN of the project key."
  value       = module.storage.kms_key_arn
}

output "stream_name" {
  description = "Name of the Kinesis stream producers write customer records to."
  value       = module.stream.name
}

output "stream_arn" {
  description = "ARN of the Kinesis stream."
  value       = module.stream.arn
}

output "endpoint_name" {
  description = "Name of the SageMaker endpoint."
  value       = module.model_endpoint.endpoint_name
}

output "model_name" {
  description = "SageMaker model currently behind the endpoint."
  value       = module.model_endpoint.model_name
}

output "glue_database" {
  description = "Glue catalog database."
  value       = module.glue.database_name
}

output "glue_tables" {
  description = "Catalog tables of the pipeline."
  value       = module.glue.table_names
}

output "batch_job_name" {
  description = "Glue batch scoring job."
  value       = module.glue.batch_job_name
}

output "stream_job_name" {
  description = "Glue streaming scoring job."
  value       = module.glue.stream_job_name
}

output "quality_job_name" {
  description = "Glue model-quality job (daily: outcomes joined to the scores)."
  value       = module.glue.quality_job.name
}

output "model_quality_alarm_name" {
  description = "Alarm on the deployed model's latest AUC on outcomes (below its test AUC minus jobs.quality.auc_margin)."
  value       = module.monitoring.model_quality_alarm_name
}

output "athena_workgroup" {
  description = "Athena workgroup for the queries."
  value       = module.analytics.workgroup_name
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  value       = module.monitoring.topic_arn
}
