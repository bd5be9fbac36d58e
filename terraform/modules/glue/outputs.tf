output "database_name" {
  description = "Name of the Glue catalog database."
  value       = aws_glue_catalog_database.this.name
}

output "table_names" {
  description = "Catalog tables: the Kinesis source and the result tables (one per dataset of churn_pipeline.contract.outputs)."
  value       = concat([aws_glue_catalog_table.kinesis_source.name], [for table in aws_glue_catalog_table.results : table.name])
}

output "batch_job_name" {
  description = "Name of the batch scoring job."
  value       = aws_glue_job.this["batch"].name
}

output "stream_job_name" {
  description = "Name of the streaming scoring job."
  value       = aws_glue_job.this["stream"].name
}

output "quality_job" {
  description = "The model-quality job: its name and the auc_margin it runs with (the contract's default when unset), for the alarm on the AUC it publishes."
  value = {
    name       = aws_glue_job.this["quality"].name
    auc_margin = local.quality_settings.auc_margin
  }
}

output "security_configuration_name" {
  description = "Name of the Glue security configuration every job uses."
  value       = aws_glue_security_configuration.this.name
}
